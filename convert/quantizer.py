"""llama.cpp's quantizer, run in a child process so that an interrupt stops it.

`llama_model_quantize` is one C call with no way to stop it. Run in this
process, Ctrl-C would surface only in llama.cpp's log callback (as a
traceback that callback cannot raise) and the file would be finished anyway,
with exit status 0. In a child, the parent keeps waiting in Python, so Ctrl-C,
SIGTERM or SIGHUP reach it at once; it kills the child and its temporaries
are removed on the way out.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from .errors import QuantizeError


def quantize(source: Path, dest: Path, quant: str, threads: int | None) -> None:
    """Quantize source into dest; raises QuantizeError on failure, and whatever stopped the parent on interrupt."""
    spawn = multiprocessing.get_context("spawn")  # never fork a process that holds llama.cpp's threads
    receiver, sender = spawn.Pipe(duplex=False)
    child = spawn.Process(target=_child, args=(str(source), str(dest), quant, threads, os.getpid(), sender),
                          name="cga-quantize", daemon=True)
    with _stop_signals_held():
        child.start()
    sender.close()
    try:
        child.join()
    finally:
        if child.is_alive():
            child.kill()
            child.join()
    error = _message(receiver)
    if error or child.exitcode != 0:
        raise QuantizeError(f"Quantizing to {quant} failed: {error or f'the quantizer exited with {child.exitcode}'}")


_STOP_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Delay a stop signal until the child is started, so that neither process is stopped halfway through it.

    Two layers: Python's handlers are swapped for ones that only note the signal (another thread, such as
    the progress bar's, may take delivery and Python would still run the handler here, mid-start), and the
    signals are blocked in this thread, a mask the child inherits and lifts once it ignores Ctrl-C itself.
    """
    noted: list[int] = []
    swap = threading.current_thread() is threading.main_thread()  # signal.signal works only there
    previous = {number: signal.signal(number, lambda n, _: noted.append(n)) for number in _STOP_SIGNALS} if swap else {}
    masked = hasattr(signal, "pthread_sigmask")  # not on Windows
    if masked:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in noted:
            signal.raise_signal(number)


def _message(receiver: Connection) -> str | None:
    try:
        return receiver.recv() if receiver.poll() else None
    except EOFError:  # the child ended without a word: it succeeded, or its exit code says why not
        return None


def _child(source: str, dest: str, quant: str, threads: int | None, parent: int, report: Connection) -> None:
    # The terminal sends Ctrl-C to the whole process group; the parent decides and kills this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    from core.native import quantize as native_quantize

    try:
        native_quantize(Path(source), Path(dest), quant, threads)
    except RuntimeError as exc:
        report.send(str(exc))


def _exit_when_orphaned(parent: int) -> None:
    """A parent killed outright (SIGKILL) cannot kill this process; stop working for nobody."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
