"""Prompt formats per model family, as token lists where text would be wrong.

Infill cannot go through text: `<mask_1>` and `<sep>` are control tokens that
must never be produced from a user's code, and llama-cpp-python's own
`suffix=` path hard-codes FIM ids of 0. So the infill prompt is assembled from
ids: prefix <mask_1> suffix <|endoftext|> <sep> <mask_1>, ending at <eom>.
"""

from __future__ import annotations

from collections.abc import Callable

from cga.core.model_info import ModelInfo

Tokenize = Callable[[str], list[int]]


def left_to_right(tokenize: Tokenize, text: str) -> list[int]:
    return tokenize(text)


def infill(info: ModelInfo, tokenize: Tokenize, prefix: str, suffix: str) -> list[int]:
    ids = info.special_ids
    return tokenize(prefix) + [ids["mask_1"]] + tokenize(suffix) + [ids["eos"], ids["sep"], ids["mask_1"]]


def chat_messages(system: str, turns: list[tuple[str, str]], request: str) -> list[dict[str, str]]:
    """OpenAI-style messages for models that carry a chat template."""
    messages = [{"role": "system", "content": system}]
    for user, assistant in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": request})
    return messages
