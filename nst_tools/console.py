"""The ``nst`` console script (``pip install .``): the command line of nst_tools.cli, with what
``python3 nst_utils.py`` gets before it: TensorFlow loaded quietly, and a signal while it loads one line
and status 130. Nothing heavy is imported before ``main`` has set that up.
"""
import contextlib
import os
import signal
import sys


def main():
    """``nst stylize|bench|download-weights ...`` (and ``python3 nst_utils.py ...``); exits with the command's status."""
    said = b'{"error": "interrupted", "status": 130}\n' * ("--json" in sys.argv[1:])
    fd = os.dup(2)  # TensorFlow's import silences descriptor 2 for a while

    def early_signal(*_):
        with contextlib.suppress(OSError):  # a dead terminal still gets its exit status
            os.write(fd, os.path.basename(sys.argv[0]).encode() + b": interrupted\n")
            os.write(1, said)
        os._exit(130)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:  # one ignored (nohup) stays so
            signal.signal(sig, early_signal)
    import nst_utils  # noqa: F401  (first: it quietens TensorFlow's start-up)
    from nst_tools.cli import main as cli_main

    return cli_main()
