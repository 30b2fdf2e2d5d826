"""Run llama.cpp work on the process's main thread.

llama.cpp's CPU backend parallelizes with OpenMP. Measured here, a warm
32-token completion takes 0.9 s when llama.cpp is driven from the main thread
but 1.6 s from any other thread (as slow as with OMP_WAIT_POLICY=passive): the
per-token parallel regions lose their spinning worker team. So the server
speaks LSP on a background thread and hands model work to the main thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class MainThreadWorker:
    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[Callable[..., Any], tuple, Future]] = queue.Queue()
        self.serving = False

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(*args) on the main thread (directly, if this is it or nobody serves) and return its result."""
        if not self.serving or threading.current_thread() is threading.main_thread():
            return fn(*args)
        future: Future = Future()
        self.jobs.put((fn, args, future))
        return future.result()

    def serve_while(self, thread: threading.Thread) -> None:
        """Run jobs on this (the main) thread until thread ends."""
        self.serving = True
        try:
            while thread.is_alive():
                try:
                    fn, args, future = self.jobs.get(timeout=0.1)
                except queue.Empty:
                    continue
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args))
                    except BaseException as exc:
                        future.set_exception(exc)
        finally:
            self.serving = False
