"""Ctrl-C during a run: stop at the next iteration and keep the best image, instead of a KeyboardInterrupt
raised at a random place (between two scales, inside TensorFlow, in a destructor that swallows it).
"""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def ctrl_c_stops():
    """``with ctrl_c_stops() as event:`` while the block runs, Ctrl-C sets ``event`` (a threading.Event;
    the transfer then ends after the current step with its best image); a second Ctrl-C raises
    KeyboardInterrupt. Only in the main thread and over
    Python's own handler (a program with its own handler, like the command line, keeps it)."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield event
        return

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
