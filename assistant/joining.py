"""Where the typed text and the model's answer meet: white space is neither doubled nor lost.

GPT-2-style vocabularies (CodeGen's, SmolLM2's) carry a word's leading space
inside the word's token (` +`, ` return`). A prompt that ends in a space the
user typed is an unusual tokenization for the model, which mostly answers with
the spaced token anyway: `return a ` → ` + b`, inserted as `return a  + b`.
The editor (lsp/completion_context.shape) and `cga complete` both go through
this one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_HORIZONTAL = " \t"


def typed_space(prompt: str) -> str:
    """ "mid-line" if the prompt ends in white space after text on its line, "indent" if its last line is only
    white space (the indentation typed on an empty line), else ""."""
    if not prompt or prompt[-1] not in _HORIZONTAL:
        return ""
    line = prompt[prompt.rfind("\n") + 1 :]
    return "mid-line" if line.strip(_HORIZONTAL) else "indent"


def join(prompt: str, answer: str) -> str:
    """The answer as it goes after prompt.

    After a space typed mid-line, the answer's leading spaces go (a second space there is never meant). After
    indentation typed on an empty line, one space goes when a word follows it (deeper indentation the model
    writes on purpose, four spaces, is kept).
    """
    where = typed_space(prompt)
    if where == "mid-line":
        return answer.lstrip(_HORIZONTAL)
    if where == "indent" and answer[:1] == " " and answer[1:2].strip():
        return answer[1:]
    return answer


def join_stream(prompt: str, chunks: Iterable[str]) -> Iterator[str]:
    """join() over an answer that arrives in pieces: held back only while it is all white space."""
    if not typed_space(prompt):
        yield from chunks
        return
    held = ""
    chunks = iter(chunks)
    for chunk in chunks:
        held += chunk
        if held.strip(_HORIZONTAL):
            break
    if out := join(prompt, held):
        yield out
    yield from chunks  # the rest as it comes (nothing, where the loop ran out)
