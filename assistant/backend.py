"""What generates text, behind one interface: the local llama.cpp engine or a team's server.

The CLI, chat, the language server and the evaluation harnesses hold a
`Backend` and never ask which kind it is; `opening.open_backend` is the one
place that decides which.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from cga.core.model_info import ModelInfo

from .stopping import TextFilters

MIN_ANSWER_TOKENS = 16  # a prompt that leaves less room than this in the context is refused (PromptTooLong)


@dataclass
class Stats:
    """How one answer went, filled in as it is produced."""

    prompt_tokens: int | None = None
    reused_tokens: int | None = None  # of the prompt, already in the cache (None: the server does not say)
    generated: int = 0
    # "end" (the model ended), "stop" (a stop string), "block" (a line indented less than min_indent), "truncated"
    # (the program rule cut the rest), "length" (it reached max_tokens), "time" (time_limit_ms), "unsure" (a token
    # under min_probability) or "cancelled"
    stop: str = "length"
    drafted: int = 0  # prompt lookup: tokens proposed from the context
    accepted: int = 0  # and accepted by the model
    first_text_seconds: float | None = None  # from the first read of the answer to its first text
    seconds: float | None = None  # from the first read to the end


class Answer:
    """An answer as it is produced: iterate for its text; its stats are complete once the text has ended.

    The times are taken here, the same way for every backend, from the first read (a backend starts
    work when its answer is first read, not when it is asked).
    """

    def __init__(self, chunks: Iterator[str], stats: Stats) -> None:
        self.stats = stats
        self._chunks = chunks
        self._started: float | None = None

    def __iter__(self) -> Answer:
        return self

    def __next__(self) -> str:
        if self._started is None:
            self._started = time.perf_counter()
        try:
            text = next(self._chunks)
        except StopIteration:
            self.stats.seconds = time.perf_counter() - self._started
            raise
        if self.stats.first_text_seconds is None and text:
            self.stats.first_text_seconds = time.perf_counter() - self._started
        return text

    def text(self) -> str:
        return "".join(self)


@dataclass
class Generation:
    """Options for one answer."""

    max_tokens: int = 256  # 0: read the prompt into the cache and write nothing (warming it for what comes)
    temperature: float = 0.0
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    truncate_program: bool = False
    inside_block: bool = False
    prompt_lookup: bool = False  # greedy only: draft from the context (refinement turns)
    # Stop before the first token the model gives less than this probability (0: never), so a suggestion ends
    # where the model stops being sure instead of running on into guesses. Local models and llama-server (its
    # n_probs); an OpenAI-style server ignores it. It trims the end of
    # an answer, never refuses one: it applies only once the answer holds its first line (sure_enough).
    min_probability: float = 0.0
    # Let the model choose again how the white space the prompt ends in splits into tokens (assistant/
    # token_healing.py): for prompts that end where the user is typing. Local models only.
    heal_whitespace: bool = False
    # End the answer before its first non-blank line indented by fewer characters than this (0: never): a block
    # suggestion ends where its block does (llama-server's n_indent).
    min_indent: int = 0
    # Once the answer holds a line break, end it after this many milliseconds from its first text (0: never): a
    # multi-line suggestion on a slow machine shows what it has instead of keeping the user waiting
    # (llama-server's t_max_predict_ms, llama.vim's way).
    time_limit_ms: int = 0
    # The document this prompt is for: the local engine keeps the KV cache of the last few documents, so going
    # back to a file does not read it all again. A server keeps its own cache.
    cache_key: str | None = None
    cancel: threading.Event | None = None

    def sure_enough(self, written: str) -> bool:
        """Whether an answer that begins with written may be cut from here on: it has a visible character and,
        unless it is one line ("\n" is a stop string), a line break after one. A model is least sure at a block
        opener, where the user most wants a suggestion (issue 19: `def fibonacci(n):` + Enter came back empty)."""
        visible = len(written) - len(written.lstrip())
        if visible == len(written):
            return False
        return "\n" in self.stop or "\n" in written[visible:]

    def filters(self) -> TextFilters:
        return TextFilters(self.stop, self.truncate_program, self.inside_block, self.min_indent)


class ConfidenceCut:
    """Where an answer stops being sure (Generation.min_probability), one rule for every backend: before the
    first token under the threshold, once the answer is sure_enough to be cut."""

    def __init__(self, options: Generation, threshold: float) -> None:
        self.options, self.threshold = options, threshold
        self.written: str | None = "" if threshold > 0 else None  # the answer until the cut may apply

    def unsure(self, probability: float) -> bool:
        """Whether to stop before a token of this probability."""
        return self.written is None and self.threshold > 0 and probability < self.threshold

    def wrote(self, text: str) -> None:
        if self.written is not None:
            self.written += text
            if self.options.sure_enough(self.written):
                self.written = None


def filter_stream(chunks: Iterator[str], options: Generation, stats: Stats) -> Iterator[str]:
    """What the user sees of raw text chunks: stop strings, truncation and cancellation applied."""
    filters = options.filters()
    started: float | None = None
    new_line = False
    for chunk in chunks:
        started = time.perf_counter() if started is None else started
        out = filters.feed(chunk)
        if out:
            new_line = new_line or "\n" in out
            yield out
        if filters.stopped:
            stats.stop = filters.stop_reason
            return
        if options.cancel is not None and options.cancel.is_set():
            stats.stop = "cancelled"
            break
        if new_line and options.time_limit_ms and time.perf_counter() - started > options.time_limit_ms / 1000:
            stats.stop = "time"
            break
    out = filters.feed("", final=True)
    if out:
        yield out


class Backend(Protocol):
    """A model that answers prompts, wherever it runs."""

    info: ModelInfo
    n_ctx: int  # tokens of prompt and answer together

    @property
    def drafts_pay(self) -> bool:
        """Prompt-lookup drafts are checked in batches cheap enough to pay: a model all on a GPU. On a CPU a batch
        costs about half a decode per token and refinements came out no faster (bench/prompt_lookup_bench.py)."""

    def describe(self) -> str:
        """Where it runs, for the user: "CPU, 4 threads", "the server at http://…"."""

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids; with special, control-token text (<|im_start|>, <mask_1>) becomes its id."""

    def text_of(self, tokens: list[int]) -> str:
        """The text of tokens; control tokens render as nothing."""

    def stream(self, prompt: list[int] | str, options: Generation) -> Answer:
        """The answer, produced as it is read; stops between two tokens on cancel."""

    def close(self) -> None:
        """Free the model (or the connection) now."""
