"""The engine on real llama.cpp: exact text, clean stops, prefix reuse, cancellation, bad files."""

from __future__ import annotations

import threading

import pytest

from assistant import prompts
from assistant.backend import Generation
from assistant.engine import Engine, resolve_gpu_layers
from assistant.errors import ModelLoadError, PromptTooLong

LONG_TOKENS = [35496, 38093, 16529, 27193]  # GPT-2 pieces of 128, 66, 65 and 64 bytes


def test_pieces_are_exact_where_llama_cpp_python_truncates(codegen2):
    for token in LONG_TOKENS:
        assert len(codegen2.pieces[token]) > 32
        # llama-cpp-python's detokenizer cuts every piece at 32 bytes; ours does not.
        assert len(codegen2.llm.detokenize([token])) <= 32
    text = "# " + "=" * 79 + "\n# " + "-" * 64 + "\nemoji = '🚀👩‍💻'\n"
    assert codegen2.text_of(codegen2.tokenize(text)) == text


def test_stream_is_the_same_text_as_the_tokens(smollm):
    answer = smollm.stream(smollm.tokenize("def is_prime(n):\n"), Generation(max_tokens=40))
    text = answer.text()
    assert answer.stats.generated > 0 and answer.stats.seconds >= answer.stats.first_text_seconds > 0
    assert text and "\ufffd" not in text


def test_a_stop_string_never_leaks(smollm):
    prompt = smollm.tokenize("Here is a list of fruits: apple, banana,")
    full = smollm.complete(prompt, Generation(max_tokens=40))
    assert len(full) > 12
    stop = full[8:12]
    cut = smollm.complete(prompt, Generation(max_tokens=40, stop=(stop,)))
    assert cut == full[: full.index(stop)]
    assert stop not in cut


def test_prefix_is_reused_between_requests(smollm):
    base = "def add(a, b):\n    return a + b\n\n" * 5
    smollm.complete(smollm.tokenize(base + "def mul(a, b):\n"), Generation(max_tokens=4))
    prompt = smollm.tokenize(base + "def sub(a, b):\n")
    second = smollm.stream(prompt, Generation(max_tokens=4))
    second.text()
    assert second.stats.reused_tokens >= len(smollm.tokenize(base)) - 1
    assert second.stats.reused_tokens < len(prompt)


def test_cancellation_takes_effect_between_two_tokens(smollm):
    cancel = threading.Event()
    options = Generation(max_tokens=100, cancel=cancel)
    stream = smollm.stream(smollm.tokenize("Once upon a time"), options)
    next(stream)
    cancel.set()
    list(stream)
    assert stream.stats.stop == "cancelled"
    assert stream.stats.generated <= 3


def test_prompt_longer_than_the_context_is_refused(smollm):
    with pytest.raises(PromptTooLong, match="context is 512"):
        smollm.complete(smollm.tokenize("word " * 600), Generation())


def test_max_tokens_is_honoured(smollm):
    answer = smollm.stream(smollm.tokenize("1, 2, 3, 4,"), Generation(max_tokens=5))
    answer.text()
    assert answer.stats.generated <= 5


def test_infill_prompt_is_the_codegen2_token_layout(codegen2):
    assert codegen2.info.can_infill and codegen2.info.family == "codegen2"
    tokens = prompts.infill(codegen2.info, codegen2.tokenize, "prefix", "suffix")
    assert tokens == [40290, 51199, 37333, 844, 50256, 50317, 51199]
    answer = codegen2.stream(tokens, Generation(max_tokens=8))
    answer.text()
    assert answer.stats.prompt_tokens == 7


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Engine(tmp_path / "nope.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 100)
    with pytest.raises(ModelLoadError):
        Engine(bad)
    text = tmp_path / "notes.gguf"
    text.write_text("just some text")
    with pytest.raises(ModelLoadError, match="not a readable GGUF"):
        Engine(text)


@pytest.mark.parametrize(
    "setting, expected",
    [("none", 0), ("all", 31), ("12", 12), ("99", 31), ("auto", 0)],  # CPU build: auto means none
)
def test_gpu_layer_settings(setting, expected):
    from core import native

    if setting == "auto" and native.supports_gpu_offload():
        expected = 31
    assert resolve_gpu_layers(setting, 30) == expected


def test_bad_gpu_layer_setting():
    with pytest.raises(ModelLoadError, match="auto, all, none or a number"):
        resolve_gpu_layers("lots", 30)
