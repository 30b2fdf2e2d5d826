"""Token healing of typed white space: the model, not the tokenizer, chooses how the typed indentation splits.

A prompt that ends in white space the user typed ends in tokens the model
rarely saw there: SmolLM2's and CodeGen's vocabularies merge a newline with the
indentation after it (`"\\n    "`) and a space with the word after it (`" +"`),
so `def f(n):` + Enter + four spaces ends in the token `"\\n    "`, where the
model itself would write `"\\n   "` + `" if"`; conditioned on the tokenizer's
split it often ends at once or writes a line at another depth (issue 19: 3
of 24 block openers came back empty). Here those trailing white-space tokens
are taken off the prompt and the model picks the next tokens among those that
spell the same text (or extend it); what it writes beyond the typed text is the
suggestion. Local llama.cpp only: a server picks its own tokens.
"""

from __future__ import annotations

import numpy as np

from cga.core import native

MOST_TOKENS = 4  # of trailing white space taken back: an indentation and a newline at most


def whitespace_tail(pieces: list[bytes], prompt: list[int]) -> int:
    """How many of the prompt's last tokens are white space only (and so are chosen again)."""
    count = 0
    while count < min(MOST_TOKENS, len(prompt) - 1):
        piece = pieces[prompt[-1 - count]]
        if not piece or piece.strip():
            break
        count += 1
    return count


class Healer:
    """The tokens that can spell a given text's beginning, indexed once per model by their first byte."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        by_byte: dict[int, list[int]] = {}
        for token, piece in enumerate(pieces):
            if piece[:1].isspace():  # only white space is ever taken back, so only these can spell it
                by_byte.setdefault(piece[0], []).append(token)
        self.by_byte = {byte: np.array(tokens) for byte, tokens in by_byte.items()}
        self.cache: dict[bytes, np.ndarray] = {}

    def spelling(self, text: bytes) -> np.ndarray:
        """Tokens that text starts with, or that start with text and go on with something visible: the typed
        indentation is the line's, so a token that would indent it further is not among them."""
        found = self.cache.get(text)
        if found is None:
            found = np.array(
                [
                    t
                    for t in self.by_byte.get(text[0], ())
                    if text.startswith(self.pieces[t])
                    or (self.pieces[t].startswith(text) and not self.pieces[t][len(text) :][:1].isspace())
                ],
                dtype=np.intc,
            )
            if len(self.cache) > 256:
                self.cache.clear()
            self.cache[text] = found
        return found

    def choose(self, llm, base: list[int], typed: bytes) -> list[int] | None:
        """The model's most likely tokens after base that spell typed (the last of them may go beyond it), or
        None where the vocabulary cannot spell it.

        All but the last are decoded into the context; generation decodes that one as its prompt's last.
        """
        shared = min(native.cached_prefix(llm, base), len(base) - 1)  # the last one's logits are needed
        native.keep_cached(llm, shared)
        logits = native.decode_for_next(llm, base[shared:])
        chosen: list[int] = []
        while typed:
            candidates = self.spelling(typed)
            if not len(candidates):
                return None
            token = int(candidates[int(np.argmax(logits[candidates]))])
            chosen.append(token)
            piece = self.pieces[token]
            typed = typed[len(piece) :] if typed.startswith(piece) else b""
            if typed:
                logits = native.decode_for_next(llm, [token])
        return chosen
