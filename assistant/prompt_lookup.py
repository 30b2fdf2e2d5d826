"""Greedy prompt-lookup decoding: draft tokens by copying from the context.

A refinement turn mostly rewrites code already in the prompt, so the next few
tokens can often be guessed by finding the last few generated tokens earlier in
the context and copying what followed. The model checks a whole draft in one
batch; every accepted token saves a decode step. With greedy sampling the
output is the one plain greedy decoding gives (up to the last bits of float
noise between batched and single-token kernels).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cga.core import native

from .backend import Stats

MAX_NGRAM = 3
MIN_NGRAM = 2  # a single-token match drafts mostly junk, and a rejected draft costs a wider batch
DRAFT_LENGTH = 6
# On a CPU each drafted token costs about half a decode, taken or not (SmolLM2, 2 threads: 1 token 14 ms, 2 19 ms,
# 7 49-61 ms, 16 100 ms), so a draft must be mostly right to pay: its length follows how the last one did.
MAX_DRAFT_LENGTH = 16


def find_draft(tokens: list[int], max_ngram: int = MAX_NGRAM, length: int = DRAFT_LENGTH) -> list[int]:
    """What followed the latest earlier occurrence of the context's last n-gram (longest n first)."""
    for n in range(min(max_ngram, len(tokens) - 1), MIN_NGRAM - 1, -1):
        tail = tokens[-n:]
        for start in range(len(tokens) - n - 1, -1, -1):
            if tokens[start : start + n] == tail:
                return tokens[start + n : start + n + length]
    return []


def greedy_tokens(llm, prompt: list[int], stats: Stats) -> Iterator[int]:
    """Greedy tokens after prompt, drafted from the context and verified in batches."""
    shared = min(native.cached_prefix(llm, prompt), len(prompt) - 1)
    native.keep_cached(llm, shared)
    logits = native.decode_for_next(llm, prompt[shared:])
    context = list(prompt)
    stats.drafted = stats.accepted = 0
    token = int(np.argmax(logits))
    length = DRAFT_LENGTH
    while True:
        context.append(token)
        draft = find_draft(context, length=length)
        logits = native.decode_with_logits(llm, [token, *draft])
        choices = logits.argmax(-1)
        accepted = 0
        while accepted < len(draft) and choices[accepted] == draft[accepted]:
            accepted += 1
        native.keep_cached(llm, llm.n_tokens - (len(draft) - accepted))
        stats.drafted += len(draft)
        stats.accepted += accepted
        if draft:  # a draft taken whole earns a longer one; one cut short, one as long as what was taken
            length = min(2 * length, MAX_DRAFT_LENGTH) if accepted == len(draft) else max(1, accepted)
        yield token
        for t in draft[:accepted]:
            context.append(t)
            yield t
        token = int(choices[accepted])
