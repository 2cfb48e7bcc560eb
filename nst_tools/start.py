"""``python3 nst_utils.py start``: the one command that opens the course, whatever the download does.

1. Weights: if none are found (``--weights``-less lookup: ``$NST_VGG_PATH``, else ``pretrained-model/``), try the
   download; if it fails (or is interrupted), say every way to the weights (``nst_utils.WEIGHTS_HELP``) and go on.
2. The learner's working copies: each learner notebook of ``notebooks/`` that ``course/`` does not have yet is
   copied there (a notebook already there is the learner's work and is never overwritten), and so are the
   figures (``course/figures/``). ``course/`` is git-ignored: answers and outputs (``course/outputs/``) stay there.
3. ``jupyter lab course/``, in place of this process, with the options given (``--no-browser``, ``--port``,
   anything after ``--``).
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
from pathlib import Path

from nst_utils import ROOT, WEIGHTS_HELP, NSTError, resolve_weights_path

NOTEBOOKS = ROOT / "notebooks"      # the tracked learner notebooks (and their figures/)
COURSE = ROOT / "course"            # the learner's copies: git-ignored


def add_parser(sub):
    """Register ``start`` on the CLI's subparsers."""
    st = sub.add_parser("start", help="get the weights if they are missing, copy the course to course/ and open "
                        "it in JupyterLab", description="Get the VGG weights if they are missing (a failed download only "
                        "says every way to them), copy the learner notebooks that course/ lacks (never overwriting "
                        "one) and the figures there, then run jupyter lab course/.")
    st.add_argument("--no-download", action="store_true", help="do not try to download missing weights")
    st.add_argument("--no-browser", action="store_true", help="do not open a browser (jupyter lab --no-browser)")
    st.add_argument("--port", type=_port, help="the port JupyterLab listens on (jupyter lab --port)")
    st.add_argument("jupyter_args", nargs="*", metavar="-- JUPYTER_LAB_ARGS",
                    help="anything after -- is passed to jupyter lab as it is")
    return st


def _port(text):
    """argparse type: a TCP port, 1-65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(text)


def ensure_weights(download=True, fetch=None, say=print) -> Path | None:
    """The weights file, fetched with ``fetch()`` (``download_weights``) if missing and ``download``; None if
    there are still none, after saying every way to them. Never raises for a failed download."""
    path = resolve_weights_path()
    if path.is_file():
        say(f"weights: {path}")
        return path
    why = "download skipped (--no-download)"
    if os.environ.get("NST_VGG_PATH"):
        why = "NST_VGG_PATH names a file that is not there, so nothing was downloaded"
    elif download:
        if fetch is None:
            from nst_tools.download import download_weights as fetch
        say(f"no VGG weights at {path}: downloading them (535 MB; Ctrl-C skips, run start again to resume)")
        try:
            return fetch()
        except NSTError as exc:
            why = str(exc) if str(exc).startswith("download failed") else f"the download failed: {exc}"
        except KeyboardInterrupt:
            why = "the download was interrupted (the part fetched is kept)"
        except OSError as exc:
            why = f"the download failed: {exc}"
    say(f"No VGG weights at {path} ({why}). From {ROOT}, {WEIGHTS_HELP}. The course opens anyway; notebook 00 "
        "says this again, and the notebooks need the weights to run.")
    return None


def learner_notebooks(source=NOTEBOOKS) -> list[Path]:
    """The learner notebooks, in the course's order (not the solutions)."""
    return sorted(source.glob("[0-9][0-9]_*.ipynb"))


def make_course(dest=COURSE, source=NOTEBOOKS, say=print) -> list[Path]:
    """Copy into ``dest`` each learner notebook it lacks (never one it has) and the figures (new or changed);
    the notebooks it added."""
    notebooks = learner_notebooks(source)
    if not notebooks:
        raise NSTError(f"no learner notebooks in {source}")
    if dest.exists() and not dest.is_dir():
        raise NSTError(f"{dest} is in the way: it should be the folder of your copies of the course")
    dest.mkdir(exist_ok=True)
    added, kept = [], []
    for nb in notebooks:
        target = dest / nb.name
        if target.exists():
            kept.append(target)
        else:
            shutil.copy2(nb, target)
            added.append(target)
    figures = 0
    if (source / "figures").is_dir():
        (dest / "figures").mkdir(exist_ok=True)
        for fig in sorted((source / "figures").iterdir()):
            target = dest / "figures" / fig.name
            if fig.is_file() and not (target.is_file() and filecmp.cmp(fig, target, shallow=False)):
                shutil.copy2(fig, target)
                figures += 1
    where = _shown(dest)
    if added:
        say(f"added to {where}/: {', '.join(p.name for p in added)}")
    if kept:
        say(f"kept your {len(kept)} notebook(s) already in {where}/ (never overwritten; delete one there and run "
            "start again to get it afresh)")
    if figures:
        say(f"copied {figures} figure(s) to {where}/figures/")
    return added


def jupyter_command(course=COURSE, no_browser=False, port=None, extra=()) -> list[str]:
    """``jupyter lab COURSE [options]`` run by this Python."""
    cmd = [sys.executable, "-m", "jupyterlab", str(course)]
    if no_browser:
        cmd.append("--no-browser")
    if port is not None:
        cmd.append(f"--port={port}")
    if getattr(os, "geteuid", lambda: 1)() == 0 and "--allow-root" not in extra:
        cmd.append("--allow-root")  # as root (a container), jupyter lab would refuse to start without it
    return cmd + list(extra)


def main(args) -> int:
    """``start``: weights, copies, then ``jupyter lab course/`` in place of this process."""
    extra = [a for a in args.jupyter_args if a != "--"]
    ensure_weights(download=not args.no_download)
    make_course(COURSE, NOTEBOOKS)
    cmd = jupyter_command(COURSE, args.no_browser, args.port, extra)
    print(f"opening the course: jupyter lab {_shown(COURSE)}/ (start with 00_setup_and_vgg19.ipynb; "
          "your answers and outputs stay in there, git ignores it)", flush=True)
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    return 0  # only when os.execv is a test's stand-in


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
