"""Prompt-lookup decoding: drafts come from the context, and the answer is plain greedy's."""

from __future__ import annotations

from cga.assistant import chat_template
from cga.assistant.backend import Generation
from cga.assistant.engine import Engine
from cga.assistant.model_choice import embedded_default
from cga.assistant.prompt_lookup import find_draft


def test_find_draft_copies_what_followed_the_latest_match():
    assert find_draft([1, 2, 3, 4, 5, 9, 1, 2, 3], length=3) == [4, 5, 9]
    assert find_draft([7, 8, 1, 2, 6, 1, 2], length=2) == [6, 1]  # the latest occurrence wins
    assert find_draft([1, 2, 3, 4], length=3) == []  # no earlier match
    assert find_draft([5, 1, 5], length=3) == []  # a one-token match is not enough


def refinement_prompt(engine) -> list[int]:
    code = "\n".join(f"def step_{i}(value):\n    total = value * {i}\n    return total + {i}\n" for i in range(8))
    messages = [{"role": "user", "content": "Rename total to result and give the whole code back:\n\n" + code}]
    text = chat_template.render(engine.info.chat_template, messages)
    return engine.llm.tokenize(text.encode(), add_bos=False, special=True)


def test_lookup_gives_the_greedy_answer_with_accepted_drafts():
    """With flash attention llama.cpp computes a token in a batch exactly as alone, so the drafted answer must be
    plain greedy's to the bit, whatever the cache held before (without it, near ties flip: the bench says how
    often)."""
    engine = Engine(embedded_default(), threads=2, n_ctx=2048, flash_attention=True)
    try:
        prompt = refinement_prompt(engine)
        engine.complete(prompt[:40] + engine.tokenize("something else entirely"), Generation(max_tokens=8))
        plain = engine.complete(prompt, Generation(max_tokens=160))
        answer = engine.stream(prompt, Generation(max_tokens=160, prompt_lookup=True))
        assert answer.text() == plain
        assert answer.stats.accepted > 0 and answer.stats.generated <= 160
    finally:
        engine.close()


def test_lookup_reuses_the_cached_prefix(smollm):
    prompt = refinement_prompt(smollm)
    smollm.complete(prompt, Generation(max_tokens=4))
    answer = smollm.stream(prompt + smollm.tokenize("def"), Generation(max_tokens=4, prompt_lookup=True))
    answer.text()
    assert answer.stats.reused_tokens >= len(prompt) - 1
