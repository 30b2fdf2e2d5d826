"""Showing chat answers as they stream: code as code (fenced or not), a chat model's Markdown as Markdown, plain
text to a pipe.

At a terminal the answer is redrawn as it grows (rich's Live), wrapped at the
terminal's width instead of cut; an answer taller than the terminal shows its
top while streaming and all of it once it ends. A pipe gets the raw text as it
comes and a blank line after each answer, so answers never run together.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.syntax import Syntax

from cga.assistant.answer_code import with_code_fenced

from .terminal_text import printable

THEME = "ansi_dark"  # the terminal's own colours: readable on dark and light backgrounds


def rendered(text: str, *, markdown: bool, language: str) -> RenderableType:
    if markdown:  # code the model wrote without fences shows as code too, line for line
        return Markdown(with_code_fenced(text, language), code_theme=THEME)
    return Syntax(text, language, theme=THEME, word_wrap=True, background_color="default")


def show_answer(chunks: Iterable[str], out: Console, *, markdown: bool, language: str) -> str:
    """Stream an answer to out and return its text."""
    parts: list[str] = []
    if not out.is_terminal:
        for text in chunks:
            parts.append(text)
            out.file.write(text)
            out.file.flush()
        answer = "".join(parts)
        if answer:  # an empty answer is explained on stderr; no separator for nothing
            out.file.write(("" if answer.endswith("\n") else "\n") + "\n")
            out.file.flush()
        return answer
    with Live(console=out, refresh_per_second=12, vertical_overflow="ellipsis") as live:
        for text in chunks:
            parts.append(text)
            live.update(rendered(printable("".join(parts), colours=False), markdown=markdown, language=language))
    return "".join(parts)


def show_code(code: str, out: Console, *, language: str) -> None:
    """A program (/show): highlighted at a terminal, exactly as is to a pipe."""
    if out.is_terminal:
        out.print(rendered(printable(code, colours=False), markdown=False, language=language))
    else:
        out.file.write(code)
        out.file.flush()
