"""The README's command line is the parser's: the synopsis names every option (and its choices), the
stylize defaults table gives the parser's defaults, and every command it shows parses."""
import re
import shlex
from pathlib import Path

import pytest

import nst_utils as nst
from nst_tools import cli, transfer

README = (nst.ROOT / "README.md").read_text()
SECTION = README[README.index("## The command line\n"):README.index("## Speed\n")]
SYNOPSIS = re.search(r"```\n(python3 nst_utils\.py stylize .*?)```", SECTION, re.S).group(1)
FLAG = re.compile(r"(?<![\w-])(-o|--[a-z][a-z0-9-]*)")


def _subparser(name):
    return cli.build_parser()._subparsers._group_actions[0].choices[name]


def _options(name):
    return [a for a in _subparser(name)._actions if a.option_strings and a.dest != "help"]


def _synopsis(name):
    """The synopsis lines of one command (its first line and the indented ones after it)."""
    m = re.search(rf"^python3 nst_utils\.py {name} .*?(?=^python3 |\Z)", SYNOPSIS, re.S | re.M)
    return m.group(0)


def _shown(default):
    if default is None or default is False:
        return "—"
    return ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


@pytest.mark.parametrize("name", ["stylize", "bench", "download-weights"])
def test_the_synopsis_names_every_option_and_no_other(name):
    text = _synopsis(name)
    named = set(FLAG.findall(text))
    options = _options(name)
    missing = [a.option_strings[-1] for a in options if not named & set(a.option_strings)]
    unknown = named - {s for a in options for s in a.option_strings}
    assert not missing and not unknown, (missing, unknown)
    for a in options:  # --flag a|b|c: exactly the parser's choices
        if a.choices:
            flag = next(s for s in a.option_strings if s in named)
            listed = re.search(rf"{flag} ([\w|-]+)", text).group(1).split("|")
            assert sorted(listed) == sorted(a.choices), (flag, listed, a.choices)


def test_the_stylize_defaults_table_is_the_parsers():
    rows = dict(re.findall(r"^\| (`--[^|]+`) \| ([^|]+) \|", SECTION, re.M))
    table = {}
    for flags, default in rows.items():
        for flag in re.findall(r"`(--[a-z-]+)`", flags):
            table[flag] = default.strip()
    quiet = {"--output", "--json", "--quiet"}  # no default to give
    options = {a.option_strings[-1]: a for a in _options("stylize")}
    assert set(table) == set(options) - quiet
    for flag, default in table.items():
        want = "—" if flag == "--animation-every" else _shown(options[flag].default)  # its 10 is the help's
        assert default == want, (flag, default, want)


def test_help_shows_every_default():
    for name in ("stylize", "bench", "download-weights"):
        text = _subparser(name).format_help()
        for a in _options(name):
            if a.default is not None and a.default is not False:
                flag = a.option_strings[-1]
                entry = re.search(rf"^  (?:-\w, )?{flag}\b.*?(?=^  -|^\S|\Z)", text, re.S | re.M).group(0)
                assert "default" in entry, (name, entry)


def test_every_command_the_readme_shows_parses():
    commands = re.findall(r"^python3 nst_utils\.py ((?:stylize|bench|download-weights) .*)$",
                          README.replace("\\\n", " "), re.M)
    shown = [c for c in commands if "[" not in c and "CONTENT" not in c]
    assert len(shown) >= 4
    for command in shown:
        argv = shlex.split(command)
        cli.build_parser().parse_args(argv)  # SystemExit (argparse's error) fails the test


def test_the_quick_command_is_repeatable():
    """Its start has no noise (the colours), or its noise a seed: the same J on every run, as the README says."""
    quick = re.search(r"^python3 nst_utils\.py (stylize images/chelsea\.jpg images/style_swirls\.jpg -o cat\.png .*)$",
                      README, re.M).group(1)
    args = cli.build_parser().parse_args(shlex.split(quick))
    assert args.init == "colours" or args.init == "noise" and args.seed is not None


def test_the_bench_has_the_quick_commands_method_in_both_precisions():
    """`bench` measures what the quick command runs, with bfloat16 (where the hardware has it, --precision auto)
    and without: a method whose settings are the command's, in each precision."""
    from nst_tools import bench

    quick = re.search(r"^python3 nst_utils\.py (stylize images/chelsea\.jpg images/style_swirls\.jpg -o cat\.png .*)$",
                      README, re.M).group(1)
    args = cli.build_parser().parse_args(shlex.split(quick))
    assert args.precision == "auto"
    for precision in ("float32", "bfloat16"):
        command = transfer.TransferSettings(optimizer=args.optimizer, init=args.init, scales=args.scales,
                                            precision=precision)
        assert [m for m in bench.BENCH_DEFAULT if bench.BENCH_METHODS[m][1] == command], precision


def _render():
    """docs/course/render.py as a module (it renders nothing when imported)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_render", nst.ROOT / "docs" / "course" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quick_command_paints_the_headline_figure_at_the_size_the_readme_states():
    """The quick command, parsed by stylize's parser: the size stylize computes for it (--max-size's longest side,
    the photo's shape kept) is the one the README's first caption and the lines after the command state, and its
    settings are those docs/course/render.py paints the headline figure (notebooks/figures/05_result.jpg) with."""
    from nst_tools.fast import content_size
    from nst_tools.transfer import TransferSettings

    quick = re.search(r"^python3 nst_utils\.py (stylize images/chelsea\.jpg .*)$", README, re.M).group(1)
    args = cli.build_parser().parse_args(shlex.split(quick))
    size = content_size(nst.ROOT / args.content, args.size, args.max_size)
    assert size == nst.load_image(nst.ROOT / args.content, max_size=args.max_size).shape[:2] == (266, 400)
    lines = [line for line in README.splitlines() if line.strip()]
    caption = lines[2]
    after = README[README.index(quick):README.index("## The course\n")]
    for text in (caption, after):
        assert f"{size[0]}x{size[1]}" in text and not re.search(r"\b300x400\b", text), text
    assert f"{args.iterations} L-BFGS iterations" in caption
    assert "the content in the style's colours" in caption if args.init == "colours" else f"seed {args.seed}" in caption
    assert ("--scales auto" in caption) == (args.scales == "auto") and ("one scale" in caption) == (args.scales is None)

    figure = _render().SETTINGS["05_result"]
    cli_settings = TransferSettings(iterations=args.iterations, optimizer=args.optimizer, alpha=args.alpha,
                                    beta=args.beta, lr=args.lr, init=args.init, seed=args.seed,
                                    tv_weight=args.tv_weight, scales=args.scales, precision=args.precision)
    assert figure["transfer"] == cli_settings
    assert (figure["content"], figure["style"], figure["max_size"]) == ("chelsea.jpg", "style_swirls.jpg",
                                                                         args.max_size)
    assert [Path(p).name for p in [args.content, *args.style]] == [figure["content"], figure["style"]]


def _slug(heading):
    """GitHub's anchor for a Markdown heading: lower case, punctuation but - and _ dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_to_a_section_finds_its_heading():
    text_outside_code = re.sub(r"```.*?```", "", README, flags=re.S)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.*)$", text_outside_code, re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", text_outside_code)
    assert _slug("Measure: `python3 nst_utils.py bench`") == "measure-python3-nst_utilspy-bench"
    assert _slug("As work grows: 512, 1024 and 2048 px") == "as-work-grows-512-1024-and-2048-px"
    assert sorted({a for a in links if a not in anchors}) == []
