"""llama.cpp's quantizer, run in a child process so that an interrupt stops it.

`llama_model_quantize` is one C call with no way to stop it. Run in this
process, Ctrl-C would surface only in llama.cpp's log callback (as a
traceback that callback cannot raise) and the file would be finished anyway,
with exit status 0. In a child, the parent keeps waiting in Python, so Ctrl-C,
SIGTERM or SIGHUP reach it at once; it kills the child and its temporaries
are removed on the way out. The child runs in a session of its own, so the
terminal's Ctrl-C (sent to the whole foreground process group) reaches only
the parent, which decides; before, a Ctrl-C that came while the child was
still starting Python killed it there, and the parent reported a failed
quantization instead of an interruption.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cga.core.child_command import child_command

from .errors import QuantizeError


def quantize(source: Path, dest: Path, quant: str, threads: int | None) -> None:
    """Quantize source into dest; raises QuantizeError on failure, and whatever stopped the parent on interrupt."""
    command = child_command(__name__, "main", str(source), str(dest), quant, str(threads or 0), str(os.getpid()))
    noted: list[int] = []
    with _stop_signals_noted(noted):
        with _stop_signals_blocked():  # neither process is stopped halfway through starting the child
            child = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        try:
            while child.poll() is None and not noted:
                try:
                    child.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    for number in noted:
        signal.raise_signal(number)  # the user's signal, as if it had come now: the temporaries go on the way out
    said = child.stdout.read().strip() if child.stdout else ""
    if child.returncode != 0:
        error = said.splitlines()[-1] if said else f"the quantizer exited with {child.returncode}"
        raise QuantizeError(f"Quantizing to {quant} failed: {error}")


_STOP_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


@contextmanager
def _stop_signals_noted(noted: list[int]) -> Iterator[None]:
    """For the whole quantization, a stop signal is only noted (the caller stops the child and raises it after).

    Python runs a signal's handler later, on the main thread, whichever handler is installed by then; swapping
    handlers only around the child's start let a Ctrl-C that came in between be handled by neither. Signals
    are blocked while the handlers change, so one that comes then waits for the handler in place after.
    """
    if threading.current_thread() is not threading.main_thread():  # signal.signal works only there
        yield
        return
    with _stop_signals_blocked():
        previous = {
            number: signal.signal(number, lambda n, _: noted.append(n))
            for number in _STOP_SIGNALS
            if signal.getsignal(number) is not signal.SIG_IGN
        }  # ignored stays ignored (a background job)
    try:
        yield
    finally:
        with _stop_signals_blocked():
            for number, handler in previous.items():
                signal.signal(number, handler)


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Stop signals wait (in this thread; a child started meanwhile inherits the mask and lifts it as it starts)."""
    posix_masks = hasattr(signal, "pthread_sigmask")  # not on Windows
    if posix_masks:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        if posix_masks:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def main(args: list[str]) -> None:
    """The child: quantize, print llama.cpp's complaint and exit 1 on failure."""
    source, dest, quant, threads, parent = args
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # the parent's hold is inherited
    threading.Thread(target=_exit_when_orphaned, args=(int(parent),), daemon=True).start()
    from cga.core.native import quantize as native_quantize

    try:
        native_quantize(Path(source), Path(dest), quant, int(threads) or None)
    except RuntimeError as exc:
        print(exc, flush=True)
        sys.exit(1)


def _exit_when_orphaned(parent: int) -> None:
    """A parent killed outright (SIGKILL) cannot kill this process; stop working for nobody."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
