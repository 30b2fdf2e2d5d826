"""A Backend that answers from a script, for fast tests of the rules around generation.

The CLI, chat and language-server logic (latest request wins, caching, windows,
refinement turns) is tested against this in a second; everything end to end
keeps the real llama.cpp. One character is one token (its code point), so
prompt budgets are easy to reason about.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from cga.assistant.backend import Answer, Generation, Stats, filter_stream
from cga.core.model_info import ModelInfo

CONTROL = {"<mask_1>": 0x110000, "<|endoftext|>": 0x110001, "<sep>": 0x110002, "<eom>": 0x110003}
INFILL_INFO = {
    "mask_1": CONTROL["<mask_1>"],
    "eos": CONTROL["<|endoftext|>"],
    "sep": CONTROL["<sep>"],
    "eom": CONTROL["<eom>"],
}


class FakeBackend:
    drafts_pay = False

    def __init__(
        self,
        answer: Callable[[str], str] | str = "",
        *,
        n_ctx: int = 512,
        infill: bool = False,
        name: str = "fake",
        codegen: bool = False,
        chat_template: str | None = None,
    ) -> None:
        self.answer = answer if callable(answer) else (lambda prompt: answer)
        self.n_ctx = n_ctx
        family = "codegen2" if infill or codegen else "other"
        self.info = ModelInfo(
            Path(f"/models/{name}.gguf"),
            name,
            "phi2",
            family,
            2048,
            can_infill=infill,
            special_ids=INFILL_INFO if infill else {},
            chat_template=chat_template,
        )
        self.prompts: list[str] = []  # every prompt streamed, as text (control tokens as their names)
        self.asked: list[Generation] = []  # and the options it came with
        # Prompts of the suggestions the language server computes ahead, on its "cga-next" thread (lsp/service.py
        # prepare_next): kept apart, so that a test of what a request asked for is not raced by them.
        self.ahead: list[str] = []
        self.gate: threading.Event | None = None  # set: streaming waits here after the first character
        self.streaming = threading.Event()  # set once a stream has started
        self.closed = False

    def describe(self) -> str:
        return "a script"

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        if special:
            for name, token in CONTROL.items():
                if text == name:
                    return [token]
        return [ord(c) for c in text]

    def text_of(self, tokens: list[int]) -> str:
        return "".join(chr(t) for t in tokens if t < 0x110000)

    def _prompt_text(self, prompt: list[int] | str) -> str:
        if isinstance(prompt, str):
            return prompt
        names = {v: k for k, v in CONTROL.items()}
        return "".join(names.get(t) or chr(t) for t in prompt)

    def stream(self, prompt: list[int] | str, options: Generation) -> Answer:
        stats = Stats()
        return Answer(self._answer(prompt, options, stats), stats)

    def _answer(self, prompt: list[int] | str, options: Generation, stats: Stats) -> Iterator[str]:
        if self.closed:
            raise RuntimeError("used after close")  # llama.cpp would crash here
        text = self._prompt_text(prompt)
        if threading.current_thread().name == "cga-next":
            self.ahead.append(text)
        else:
            self.prompts.append(text)
            self.asked.append(options)
        stats.prompt_tokens = len(prompt) if isinstance(prompt, list) else len(text)
        stats.reused_tokens = 0
        yield from filter_stream(self._chunks(self.answer(text), options, stats), options, stats)

    def _chunks(self, answer: str, options: Generation, stats: Stats) -> Iterator[str]:
        self.streaming.set()
        for n, char in enumerate(answer[: options.max_tokens]):
            if n == 1 and self.gate is not None:
                self.gate.wait(10)
            if options.cancel is not None and options.cancel.is_set():
                stats.stop = "cancelled"
                return
            stats.generated += 1
            yield char
        stats.stop = "end" if len(answer) <= options.max_tokens else "length"

    def close(self) -> None:
        self.closed = True
        self.prompts_before_close = list(self.prompts)
