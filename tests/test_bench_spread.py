"""bench --seeds / --pairs: the quality part over several content/style pairs and seeds, reported as median
and spread; and the fixed cost apart from the per-iteration cost (tiny weights, tiny images)."""
import json

import numpy as np
import pytest

from nst_tools import bench, cli


def test_spread_is_median_quartiles_and_range():
    st = bench.spread([4.0, None, 1.0, 3.0, 2.0, 10.0])  # None: a run with no number, left out
    assert st == {"median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 10.0, "n": 5}
    assert bench.spread([None]) is None and bench.spread([]) is None


def _run(method, seconds, reached=True, J_at=1.0):
    return {"method": method, "reached": reached, "seconds_to_target": seconds if reached else None,
            "speedup": 10 / seconds if reached else None, "J_at": J_at, "fixed_seconds": 0.1, "ms_per_iteration": 5}


def test_aggregate_counts_unreached_runs_but_keeps_them_out_of_the_times():
    runs = [{"quality": {"methods": [_run("dlai", 10), _run("lbfgs", s, reached=s < 9, J_at=s)]}}
            for s in (1.0, 2.0, 4.0, 9.5)]
    a = bench.aggregate(runs)
    assert a["lbfgs"]["runs"] == 4 and a["lbfgs"]["reached"] == 3
    assert a["lbfgs"]["seconds_to_target"]["median"] == 2.0 and a["lbfgs"]["seconds_to_target"]["max"] == 4.0
    assert a["lbfgs"]["speedup"]["min"] == pytest.approx(2.5) and a["lbfgs"]["speedup"]["n"] == 3
    assert a["lbfgs"]["J_at"]["n"] == 4 and a["lbfgs"]["J_at"]["max"] == 9.5  # J after N: every run has one
    assert a["dlai"]["reached"] == 4 and a["dlai"]["speedup"]["median"] == 1.0


def test_bench_seeds_and_pairs_report_the_spread(tiny_vgg_path, tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for k in range(4):
        paths.append(tmp_path / f"im{k}.png")
        Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(paths[-1])
    pairs = f"{paths[0]}:{paths[1]},{paths[2]}:{paths[3]}"
    code = cli.main(["bench", "--weights", str(tiny_vgg_path), "--size", "40x56", "--iterations", "6",
                     "--methods", "dlai,lbfgs", "--parts", "quality", "--quick", "--json", "--seeds", "2",
                     "--seed", "3", "--pairs", pairs])
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert code == 0 and "over 2 content/style pair(s) x 2 seed(s)" in "\n".join(out)
    sp = result["spread"]
    assert sp["seeds"] == [3, 4] and sp["j_at"] == 6 and len(sp["pairs"]) == 2 and len(sp["runs"]) == 4
    assert [(r["pair"][0], r["seed"]) for r in sp["runs"]] == [(str(p), s) for p in paths[::2] for s in (3, 4)]
    for method in ("dlai", "lbfgs"):
        rows = [m for r in sp["runs"] for m in r["methods"] if m["method"] == method]
        agg = sp["methods"][method]
        assert agg["runs"] == 4 and agg["reached"] == sum(m["reached"] for m in rows)
        assert agg["J_at"]["median"] == pytest.approx(np.median([m["J_at"] for m in rows]))
        assert agg["J_at"]["min"] == min(m["J_at"] for m in rows)
        done = [m["seconds_to_target"] for m in rows if m["reached"]]
        if done:
            assert agg["seconds_to_target"]["median"] == pytest.approx(np.median(done))
        assert all(m["fixed_seconds"] is not None and m["fixed_seconds"] < 60 for m in rows)
    # each run's target is its own dlai's J: the runs differ by pair and seed
    assert len({r["target_J"] for r in sp["runs"]}) == 4
    assert result["quality"]["methods"][0]["J_at"] == sp["runs"][0]["methods"][0]["J_at"]


def test_bench_rejects_bad_pairs(tiny_vgg_path, tmp_path, capsys):
    assert cli.main(["bench", "--weights", str(tiny_vgg_path), "--pairs", "a.png"]) == 1
    assert "--pairs takes content:style pairs" in capsys.readouterr().err
    assert cli.main(["bench", "--weights", str(tiny_vgg_path), "--pairs", f"{tmp_path}/no.png:b.png"]) == 1
    assert "is not a file" in capsys.readouterr().err


def test_a_start_without_noise_runs_once_a_pair_and_each_seed_reads_its_target_off_it(tiny_model, make_images,
                                                                                    monkeypatch):
    content, style = make_images(24, 32, 0)
    started = []
    run_transfer = bench.run_transfer

    def spy(model, c, s, settings, **kw):
        started.append((settings.init, settings.optimizer, settings.seed))
        return run_transfer(model, c, s, settings, **kw)

    monkeypatch.setattr(bench, "run_transfer", spy)
    given, run_method = {}, bench._run_method

    def shared(*args):  # the colours run: note the targets it gets, and give each seed a hit of its own
        run, hits = run_method(*args)
        given.update(targets=args[5], hits=[{"iteration": 2, "seconds": 0.5}, {}, {"iteration": 1, "seconds": 0.25}])
        return run, given["hits"]

    monkeypatch.setattr(bench, "_run_method", shared)
    assert bench.seeded("dlai") and bench.seeded("lbfgs") and not bench.seeded("colours")
    qs = bench.bench_seeds(tiny_model, content, style, ["dlai", "lbfgs", "colours"], 8, [5, 6, 7], j_at=4)
    # dlai and the noisy L-BFGS from each seed; the colours start once, whatever the seed
    assert sorted(started) == sorted([("noise", "adam", k) for k in (5, 6, 7)] + [("noise", "lbfgs", k) for k in
                                     (5, 6, 7)] + [("colours", "lbfgs", 5)])
    assert [q["target_J"] for q in qs] == [q["methods"][0]["J"] for q in qs] == given["targets"]
    assert len(set(given["targets"])) == 3
    colours = [q["methods"][2] for q in qs]
    assert all(m["method"] == "colours" and m["shared_run"] for m in colours)
    assert all("shared_run" not in m for q in qs for m in q["methods"][:2])
    for q, m, hit in zip(qs, colours, given["hits"]):  # each seed gets its own target's hit, in order
        assert m["reached"] == bool(hit) and m["seconds_to_target"] == hit.get("seconds")
        assert m["iterations_to_target"] == hit.get("iteration")
        assert m["speedup"] == (round(q["methods"][0]["seconds_to_target"] / hit["seconds"], 2) if hit else None)
    a = bench.aggregate([{"quality": q} for q in qs])
    assert a["colours"]["shared_run"] and "shared_run" not in a["lbfgs"] and a["colours"]["runs"] == 3
    one = bench.bench_quality(tiny_model, content, style, ["dlai", "colours"], 8, seed=5)
    assert "shared_run" not in one["methods"][1]  # one seed: nothing shared


def test_one_run_notes_when_it_first_reaches_each_target(tiny_model, make_images):
    content, style = make_images(24, 32, 0)
    ref, _ = bench._run_method(tiny_model, content, style, "colours", 8, None, 0, None)
    Js = [J for _, J in ref["curve"]]
    targets = [Js[5], Js[1], Js[3], -1.0]  # reached at iterations 6, 2 and 4, and never
    run, hits = bench._run_method(tiny_model, content, style, "colours", 8, targets, 0, None)
    Js = [J for _, J in run["curve"]]
    for target, hit in zip(targets[:3], hits):
        i = next(i for i, J in enumerate(Js) if J <= target)
        assert hit == {"iteration": i + 1, "seconds": run["curve"][i][0]}
    assert hits[3] == {} and run["iterations"] == 8  # an unreached target: the run goes on to its end
    assert len({h["iteration"] for h in hits[:3]}) == 3
