"""One text-in, text-out interface over the local engine and a remote server, for the harnesses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from assistant.engine import Engine, Generation
from assistant.remote import RemoteEngine


@dataclass(frozen=True)
class Sampling:
    """The paper's decoding settings: temperature 0.2 and top-p 0.95 for pass@1 (0 means greedy)."""

    temperature: float = 0.2
    top_p: float = 0.95


class Generator(Protocol):
    name: str

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str: ...


class LocalGenerator:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name = engine.info.name

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str:
        tokens = self.engine.tokenize(prompt)[-(self.engine.n_ctx - max_tokens):]
        return self.engine.complete(tokens, Generation(max_tokens=max_tokens, temperature=sampling.temperature,
                                                       top_p=sampling.top_p, stop=stop))


class RemoteGenerator:
    def __init__(self, remote: RemoteEngine) -> None:
        self.remote = remote
        self.name = remote.describe()

    def __call__(self, prompt: str, max_tokens: int, sampling: Sampling, stop: tuple[str, ...] = ()) -> str:
        options = Generation(max_tokens=max_tokens, temperature=sampling.temperature, top_p=sampling.top_p, stop=stop)
        return "".join(self.remote.stream_text(prompt, options))
