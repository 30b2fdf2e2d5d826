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

from .errors import QuantizeError

ROOT = Path(__file__).resolve().parents[1]  # the folder holding the packages, for the child's imports


def quantize(source: Path, dest: Path, quant: str, threads: int | None) -> None:
    """Quantize source into dest; raises QuantizeError on failure, and whatever stopped the parent on interrupt."""
    command = [sys.executable, "-m", "convert.quantizer", str(source), str(dest), quant, str(threads or 0),
               str(os.getpid())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with _stop_signals_held():
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                 text=True, env=env, start_new_session=True)
    try:
        said, _ = child.communicate()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode != 0:
        error = said.strip().splitlines()[-1] if said.strip() else f"the quantizer exited with {child.returncode}"
        raise QuantizeError(f"Quantizing to {quant} failed: {error}")


_STOP_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Delay a stop signal until the child is started, so that neither process is stopped halfway through it.

    Two layers: Python's handlers are swapped for ones that only note the signal (another thread, such as
    the progress bar's, may take delivery and Python would still run the handler here, mid-start), and the
    signals are blocked in this thread, a mask the child inherits and lifts as it starts.
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


def main(args: list[str]) -> None:
    """The child: quantize, print llama.cpp's complaint and exit 1 on failure."""
    source, dest, quant, threads, parent = args
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # the parent's hold is inherited
    threading.Thread(target=_exit_when_orphaned, args=(int(parent),), daemon=True).start()
    from core.native import quantize as native_quantize

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


if __name__ == "__main__":
    main(sys.argv[1:])
