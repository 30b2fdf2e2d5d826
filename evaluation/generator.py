"""The harnesses' text-in, text-out view of a backend (local or a server)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cga.assistant.backend import Backend, Generation
from cga.assistant.errors import EngineError

MIN_PROMPT_TOKENS = 64  # of the context, kept for the problem itself


@dataclass(frozen=True)
class Sampling:
    """The paper's decoding settings: temperature 0.2 and top-p 0.95 for pass@1 (0 means greedy)."""

    temperature: float = 0.2
    top_p: float = 0.95


class Generator(Protocol):
    name: str
    chat_model: bool  # answers in Markdown: the harnesses take the code out of it (assistant/answer_code.py)

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str: ...


class BackendGenerator:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.info.name
        self.chat_model = backend.info.is_chat_model
        # Set when the run is interrupted: answers being written stop (a server's connections hang up).
        self.stopped = threading.Event()

    @contextlib.contextmanager
    def stopping(self) -> Iterator[None]:
        """A run that, when interrupted (Ctrl-C, SIGTERM) or failing, stops the answers other threads are
        waiting for, so that the process ends now rather than when the last of them is written."""
        try:
            yield
        except BaseException:
            self.stopped.set()
            raise

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str:
        if self.stopped.is_set():
            raise Interrupted("The evaluation was interrupted.")
        options = Generation(
            max_tokens=max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            stop=stop,
            cancel=self.stopped,
        )
        if self.backend.n_ctx - max_tokens < MIN_PROMPT_TOKENS:
            raise EngineError(
                f"Answers of up to {max_tokens:,} tokens leave no room for the prompt in {self.name}'s "
                f"{self.backend.n_ctx:,}-token context; pass --max-tokens {self.backend.n_ctx // 2} or "
                "less."
            )
        try:
            tokens = self.backend.tokenize(prompt)
        except EngineError:  # a server without a tokenizer: the prompt goes as text, and the server cuts it
            return "".join(self.backend.stream(prompt, options))
        return "".join(self.backend.stream(tokens[-(self.backend.n_ctx - max_tokens) :], options))


class Interrupted(EngineError):
    """Work asked for after the run was stopped."""


Job = TypeVar("Job")
Out = TypeVar("Out")


def in_order(work: Callable[[Job], Out], jobs: Iterable[Job], parallel: int = 1) -> Iterator[Out]:
    """work(job) for every job, results in the jobs' order; up to `parallel` at once (a server's slots).

    One at a time stays on the calling thread: a local model is never driven from another one.
    """
    if parallel <= 1:
        yield from map(work, jobs)
        return
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cga-eval")
    try:
        yield from pool.map(work, jobs)
    except BaseException:
        # Ctrl-C, SIGTERM or an error: the jobs not started are dropped now instead of the pool waiting for
        # every one of them (the caller stops those under way: BackendGenerator.stopped).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
