"""How every package words what a message counts or quotes: one rule for plurals, one for user text too
long to repeat whole (a 5,000-character --model, a 10 MB setting)."""

from __future__ import annotations

BRIEF_CHARS = 80


def plural(count: int, word: str, words: str | None = None) -> str:
    """ "1 token", "2 tokens", "0 tokens"."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def brief(text: str, limit: int = BRIEF_CHARS) -> str:
    """text, cut to limit characters with an ellipsis where it was longer."""
    return text if len(text) <= limit else text[:limit] + "…"
