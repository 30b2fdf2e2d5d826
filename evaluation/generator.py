"""The harnesses' text-in, text-out view of a backend (local or a server)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from assistant.backend import Backend, Generation
from assistant.errors import EngineError


@dataclass(frozen=True)
class Sampling:
    """The paper's decoding settings: temperature 0.2 and top-p 0.95 for pass@1 (0 means greedy)."""

    temperature: float = 0.2
    top_p: float = 0.95


class Generator(Protocol):
    name: str

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str: ...


class BackendGenerator:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.info.name

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str:
        options = Generation(max_tokens=max_tokens, temperature=sampling.temperature, top_p=sampling.top_p, stop=stop)
        try:
            tokens = self.backend.tokenize(prompt)
        except EngineError:  # a server without a tokenizer: the prompt goes as text, and the server cuts it
            return "".join(self.backend.stream(prompt, options))
        return "".join(self.backend.stream(tokens[-(self.backend.n_ctx - max_tokens):], options))


Job = TypeVar("Job")
Out = TypeVar("Out")


def in_order(work: Callable[[Job], Out], jobs: Iterable[Job], parallel: int = 1) -> Iterator[Out]:
    """work(job) for every job, results in the jobs' order; up to `parallel` at once (a server's slots).

    One at a time stays on the calling thread: a local model is never driven from another one.
    """
    if parallel <= 1:
        yield from map(work, jobs)
        return
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cga-eval") as pool:
        yield from pool.map(work, jobs)
