"""What generates text, behind one interface: the local llama.cpp engine or a team's server.

The CLI, chat, the language server and the evaluation harnesses hold a
`Backend` and never ask which kind it is. `open_backend` is the one place that
decides, in this order: the --remote flag (or the editor's remoteUrl), the
CGA_REMOTE_URL environment variable, `remote_url` in config.toml, else a local
model chosen by `model_choice`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from core.model_info import ModelInfo

from .stopping import TextFilters

REMOTE_ENV = "CGA_REMOTE_URL"
MIN_ANSWER_TOKENS = 16  # a prompt that leaves less room than this in the context is refused (PromptTooLong)


@dataclass
class Stats:
    """How one answer went, filled in as it is produced."""

    prompt_tokens: int | None = None
    reused_tokens: int | None = None  # of the prompt, already in the cache (None: the server does not say)
    generated: int = 0
    stop: str = "length"  # "end" (the model ended), "stop" (a stop rule), "length" or "cancelled"
    drafted: int = 0  # prompt lookup: tokens proposed from the context
    accepted: int = 0  # and accepted by the model


@dataclass
class Generation:
    """Options for one answer, and its Stats once it is produced."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    truncate_program: bool = False
    inside_block: bool = False
    prompt_lookup: bool = False  # greedy only: draft from the context (refinement turns)
    cancel: threading.Event | None = None
    stats: Stats = field(default_factory=Stats)

    def filters(self) -> TextFilters:
        return TextFilters(self.stop, self.truncate_program, self.inside_block)


def filter_stream(chunks: Iterator[str], options: Generation) -> Iterator[str]:
    """What the user sees of raw text chunks: stop strings, truncation and cancellation applied."""
    filters = options.filters()
    for chunk in chunks:
        out = filters.feed(chunk)
        if out:
            yield out
        if filters.stopped:
            options.stats.stop = "stop"
            return
        if options.cancel is not None and options.cancel.is_set():
            options.stats.stop = "cancelled"
            break
    out = filters.feed("", final=True)
    if out:
        yield out


class Backend(Protocol):
    """A model that answers prompts, wherever it runs."""

    info: ModelInfo
    n_ctx: int  # tokens of prompt and answer together

    def describe(self) -> str:
        """Where it runs, for the user: "CPU, 4 threads", "the server at http://…"."""

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids; with special, control-token text (<|im_start|>, <mask_1>) becomes its id."""

    def text_of(self, tokens: list[int]) -> str:
        """The text of tokens; control tokens render as nothing."""

    def stream(self, prompt: list[int] | str, options: Generation) -> Iterator[str]:
        """The answer's text as it is produced; options.stats is filled in; stops between tokens on cancel."""

    def close(self) -> None:
        """Free the model (or the connection) now."""


def remote_url(flag: str | None) -> str | None:
    """The server to use, if any: flag, then environment, then config.toml."""
    from .config import load_config

    return flag or os.environ.get(REMOTE_ENV) or load_config().remote_url


def open_backend(model: str | None = None, *, remote: str | None = None, threads: int | None = None,
                 gpu_layers: str = "auto", n_ctx: int | None = None) -> tuple[Backend, str]:
    """The backend for a command or the language server, and why it was chosen (to tell the user)."""
    from .config import load_config

    url = remote_url(remote)
    model = model or load_config().model
    if url:
        from .remote import RemoteBackend

        backend = RemoteBackend(url, expected=model)
        return backend, f"served by {backend.url}"
    from .engine import Engine
    from .model_choice import choose_model

    choice = choose_model(model)
    return Engine(choice.path, threads=threads, gpu_layers=gpu_layers, n_ctx=n_ctx), choice.reason
