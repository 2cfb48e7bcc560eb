"""docs/course/render.py writes every course figure, and the committed notebooks/figures/ matches docs/course/README.md."""
import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "course"
FIGURES_DIR = ROOT / "notebooks" / "figures"   # where the notebooks link them: figures/NAME
FIGURES = ["00_network.png", "01_content_reconstructions.jpg", "02_unrolling.png",
           "03_style_reconstructions.jpg", "04_beta_alpha_grid.jpg", "05_result.jpg", "07_extras.jpg"]
MAX_WIDTH = 1400


def check_image(path):
    """``path`` opens as an image of its extension's format, at most MAX_WIDTH wide and of sensible size."""
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == ("PNG" if path.suffix == ".png" else "JPEG"), path.name
        w, h = img.size
        extrema = img.convert("L").getextrema()
    assert 300 <= w <= MAX_WIDTH and 100 <= h <= MAX_WIDTH, f"{path.name}: {w}x{h}"
    assert extrema[1] - extrema[0] > 100, f"{path.name} is nearly blank: grey levels {extrema}"


def test_smoke_render_writes_every_figure(tiny_vgg_path, tmp_path):
    out = tmp_path / "figures"
    before = sorted(FIGURES_DIR.iterdir()), [p.stat().st_mtime_ns for p in sorted(FIGURES_DIR.iterdir())]
    proc = subprocess.run([sys.executable, str(COURSE / "render.py"), "--smoke", "--weights", str(tiny_vgg_path),
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(FIGURES)
    for name in FIGURES:
        check_image(out / name)
    after = sorted(FIGURES_DIR.iterdir()), [p.stat().st_mtime_ns for p in sorted(FIGURES_DIR.iterdir())]
    assert after == before, "the smoke run wrote into notebooks/figures"


def test_only_renders_one_figure(tiny_vgg_path, tmp_path):
    proc = subprocess.run([sys.executable, str(COURSE / "render.py"), "--smoke", "--weights", str(tiny_vgg_path),
                           "--out", str(tmp_path), "--only", "02_unrolling"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir()] == ["02_unrolling.png"]


def test_unknown_figure_is_one_error_line(tmp_path):
    proc = subprocess.run([sys.executable, str(COURSE / "render.py"), "--smoke", "--weights", "x.mat",
                           "--out", str(tmp_path), "--only", "08_nothing"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("render.py: error: ")
    assert "00_network" in proc.stderr and not list(tmp_path.iterdir())


def readme_items():
    """{file name: its list item's text, continuation lines joined} from docs/course/README.md's list."""
    items, current = {}, None
    for line in (COURSE / "README.md").read_text().splitlines():
        m = re.match(r"- \[`?([0-9]{2}_[a-z_]+\.(?:png|jpg))`?\]\(\.\./\.\./notebooks/figures/\1\)(.*)", line)
        if m:
            current = m.group(1)
            items[current] = m.group(2)
        elif current and line.startswith("  "):
            items[current] += " " + line.strip()
        else:
            current = None
    return items


def test_committed_figures_are_listed_and_captioned():
    items = readme_items()
    assert sorted(items) == sorted(FIGURES)
    assert sorted(p.name for p in FIGURES_DIR.iterdir()) == sorted(FIGURES)
    text = (COURSE / "README.md").read_text()
    for name in FIGURES:  # each one shown, not only linked
        assert f"](../../notebooks/figures/{name})" in text.replace(f"[`{name}`](", "")
    assert not list(COURSE.glob("*.jpg")) + list(COURSE.glob("*.png")), "figures belong in notebooks/figures/"
    total = 0
    for name in FIGURES:
        check_image(FIGURES_DIR / name)
        total += (FIGURES_DIR / name).stat().st_size
        text = items[name]
        if name == "02_unrolling.png":
            assert "no weights" in text
        else:
            assert "VGG16 stand-in weights" in text, name
            assert re.search(r"\d+ ?x ?\d+", text), f"{name}: no size in its caption"
        if name not in ("00_network.png", "02_unrolling.png"):
            assert re.search(r"\d+ (L-BFGS )?iterations", text), f"{name}: no iterations in its caption"
    assert "16 conv" in items["00_network.png"] and "VGG19" in items["00_network.png"]
    assert total < 2.5e6, f"notebooks/figures/ take {total / 1e6:.2f} MB"


def test_readme_opens_with_the_result():
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[0].startswith("# ")
    assert lines[1].startswith("![") and "(notebooks/figures/05_result.jpg)" in lines[1]
    assert "VGG16 stand-in weights" in lines[2] and "docs/course/README.md" in lines[2]


def test_every_notebook_image_lies_under_the_folder_jupyter_serves():
    """`jupyter lab notebooks/` (and the learner's copy, course/) serves only what is under its folder: each
    image a learner notebook links must be a file there, named relative to the notebook (no ``..``)."""
    linked = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", "".join(cell["source"])):
                assert not target.startswith(("/", "..")) and "://" not in target, f"{path.name}: {target}"
                assert (path.parent / target).resolve().is_file(), f"{path.name}: {target} is missing"
                linked.append(Path(target).name)
    assert sorted(set(linked)) == sorted(set(FIGURES) - {"02_unrolling.png"})
