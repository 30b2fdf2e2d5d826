"""The engine on real llama.cpp: exact text, clean stops, prefix reuse, cancellation, bad files."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cga.assistant import prompts
from cga.assistant.backend import Generation
from cga.assistant.engine import Engine, lean_memory, resolve_gpu_layers
from cga.assistant.errors import ModelLoadError, PromptTooLong
from cga.assistant.model_choice import embedded_default
from tests.run_cli import run_cga

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.parametrize("setting, on_a_gpu_build", [("none", 0), ("all", 31), ("12", 12), ("99", 31), ("auto", 31)])
def test_gpu_layer_settings(setting, on_a_gpu_build):
    """On a build without a GPU every setting is 0 layers: llama.cpp would otherwise take the number, run on the CPU
    and report layers it never offloaded."""
    from cga.core import native

    assert resolve_gpu_layers(setting, 30) == (on_a_gpu_build if native.supports_gpu_offload() else 0)


def test_gpu_layers_asked_of_a_build_without_a_gpu_are_reported_honestly():
    from cga.core import native

    shown = run_cga("complete", "def f():", "-n", "2", "--gpu-layers", "all")
    assert shown.returncode == 0
    if native.supports_gpu_offload():  # a CUDA or Metal build: the layers are where it says
        assert "layers on the GPU" in shown.stderr
        return
    assert "Running on CPU, " in shown.stderr and "this llama-cpp-python has no GPU support" in shown.stderr
    assert "layers on the GPU" not in shown.stderr
    assert "GPU" not in run_cga("complete", "def f():", "-n", "2").stderr.split("Running on", 1)[1]


def test_bad_gpu_layer_setting():
    with pytest.raises(ModelLoadError, match="auto, all, none or a number"):
        resolve_gpu_layers("lots", 30)


def test_the_probability_of_each_token_is_the_models_own(smollm):
    """What the confidence cut reads, checked against a full softmax over logits computed separately."""
    import numpy as np

    from cga.core import native

    prompt = smollm.tokenize("def add(a, b):\n    return")
    smollm.llm.reset()
    tokens, seen = [], []
    for token in smollm.llm.generate(prompt, temp=0.0, top_k=40, min_p=0.0, repeat_penalty=1.0):
        tokens.append(token)
        seen.append(native.probability_of(smollm.llm, token))
        if len(tokens) == 6:
            break
    # The same settings and the same batches as the engine's (llama.cpp's sums depend on both): the prompt in one
    # piece, then each token alone.
    reference = native.load_model(embedded_default(), n_ctx=512, n_threads=2, memory=lean_memory(embedded_default()))
    rows = [native.decode_for_next(reference, prompt)]
    rows += [native.decode_for_next(reference, [token]) for token in tokens[:-1]]
    for token, probability, row in zip(tokens, seen, rows, strict=True):
        row = row.astype(np.float64)
        assert probability == pytest.approx(np.exp(row[token] - row.max()) / np.exp(row - row.max()).sum(), abs=1e-4)


def test_a_confidence_cut_stops_before_the_first_unsure_token(smollm):
    prompt = smollm.tokenize("import os\n\nfiles = os.")
    full = smollm.stream(prompt, Generation(max_tokens=24, stop=("\n",)))
    full_text = full.text()
    cut = smollm.stream(prompt, Generation(max_tokens=24, stop=("\n",), min_probability=0.5))
    cut_text = cut.text()
    assert cut.stats.stop == "unsure" and cut.stats.generated < full.stats.generated
    assert full_text.startswith(cut_text) and cut_text.strip()
    assert smollm.stream(prompt, Generation(max_tokens=24, stop=("\n",), min_probability=1e-9)).text() == full_text


def test_the_cut_trims_an_answer_but_never_refuses_one(smollm):
    """Issue 19: after a block opener the model is unsure of its first token, and the cut emptied the suggestion.
    It now applies once the first line is written (a multi-line answer) or its first visible text (one line)."""
    for text in ("def fibonacci(n):\n    ", "import os\n\ndef fibonacci(n):\n    "):
        prompt = smollm.tokenize(text)
        block = smollm.stream(prompt, Generation(max_tokens=48, min_probability=0.99)).text()
        first = block.lstrip().split("\n", 1)[0]
        assert first.strip(), f"empty suggestion after {text!r}"
        full = smollm.stream(prompt, Generation(max_tokens=48)).text()
        assert full.startswith(block) and full.lstrip().split("\n", 1)[0] == first  # the whole first line
    for text in ("def add(a, b):\n    return a", "import os\n\nfiles = os."):
        line = smollm.stream(smollm.tokenize(text), Generation(max_tokens=48, stop=("\n",), min_probability=0.99))
        assert line.text().strip(), f"empty suggestion after {text!r}"


DAMAGE = r"""
import sys
from pathlib import Path
from cga.assistant.backend import Generation
from cga.assistant.engine import Engine
from cga.assistant.model_choice import embedded_default

engine = Engine(embedded_default(), threads=2, n_ctx=1024)
docs = {name: engine.tokenize("".join(f"{word}_{i} = {i} * {i}\n" for i in range(60)))
        for name, word in (("first.py", "alpha"), ("second.py", "beta"), ("third.py", "gamma"))}
answers = {name: engine.stream(tokens, Generation(max_tokens=6, cache_key=name)).text() for name, tokens in docs.items()}
first, second = engine.kept["first.py"].path, engine.kept["second.py"].path
how = sys.argv[1]
if how == "cut":
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
elif how == "flipped":
    data = bytearray(first.read_bytes()); data[len(data) // 2] ^= 0xFF; first.write_bytes(bytes(data))
elif how == "foreign":  # another document's cache (the same model and shapes) in its place
    first.write_bytes(second.read_bytes()[: first.stat().st_size].ljust(first.stat().st_size, b"\0"))
back = engine.stream(docs["first.py"], Generation(max_tokens=6, cache_key="first.py"))
text = back.text()
assert text == answers["first.py"], (text, answers["first.py"])
assert back.stats.reused_tokens == 0, back.stats.reused_tokens  # read again, not restored
assert not first.exists()  # the doubtful file is gone
print("read again")
"""


@pytest.mark.parametrize("how", ["cut", "flipped", "foreign"])
def test_a_damaged_kept_cache_is_deleted_and_the_document_read_again(how, isolated_home, tmp_path):
    """Issue 20: a kept cache cut to half its size made llama.cpp abort the whole language server (SIGABRT). Run in
    a child, so that a regression is this test failing, not the test run dying."""
    script = tmp_path / "damage.py"
    script.write_text(DAMAGE)
    done = subprocess.run(
        [sys.executable, str(script), how],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "read again" in done.stdout


def test_a_save_that_cannot_be_written_whole_leaves_no_file(isolated_home, tmp_path):
    from cga.core import native

    engine = Engine(embedded_default(), threads=2, n_ctx=512)
    engine.stream(engine.tokenize("x = 1\n" * 20), Generation(max_tokens=1)).text()
    folder = tmp_path / "gone"
    assert native.save_cache(engine.llm, folder / "a.kv") is None  # nowhere to write it
    assert not (folder / "a.kv").exists()
    engine.close()


def test_going_back_to_a_document_brings_its_cache_back(isolated_home):
    engine = Engine(embedded_default(), threads=2, n_ctx=1024)
    first = engine.tokenize("".join(f"def first_{i}(x):\n    return x + {i}\n\n" for i in range(25)))
    second = engine.tokenize("".join(f"class Second{i}:\n    size = {i}\n\n" for i in range(25)))
    answer = engine.stream(first, Generation(max_tokens=6, cache_key="first.py"))
    before = answer.text()
    engine.stream(second, Generation(max_tokens=6, cache_key="second.py")).text()
    back = engine.stream(first, Generation(max_tokens=6, cache_key="first.py"))
    assert back.text() == before  # the restored cache computes what reading the file again would
    assert back.stats.reused_tokens >= len(first) - 1 and answer.stats.reused_tokens == 0
    assert set(engine.kept) == {"second.py"} and engine.cache_key == "first.py"
    kept = engine.kept["second.py"].path
    assert kept.is_file() and kept.is_relative_to(isolated_home)  # a file in the cache folder, not memory
    engine.close()
    assert not kept.parent.exists()
    tight = Engine(embedded_default(), threads=2, n_ctx=1024, keep_bytes=0)  # no room to keep anything
    for key, tokens in (("first.py", first), ("second.py", second), ("first.py", first)):
        again = tight.stream(tokens, Generation(max_tokens=2, cache_key=key))
        again.text()
    assert again.stats.reused_tokens == 0 and not tight.kept


def test_a_cancel_stops_reading_a_long_prompt_and_keeps_what_was_read():
    engine = Engine(embedded_default(), threads=2, n_ctx=2048)
    prompt = engine.tokenize("".join(f"def step_{i}(value):\n    return value * {i} + 1\n\n" for i in range(120)))[
        :1800
    ]
    started = time.monotonic()
    engine.stream(prompt, Generation(max_tokens=1)).text()
    whole = time.monotonic() - started  # reading all of it, cold
    engine.llm.reset()
    cancel = threading.Event()
    threading.Timer(whole / 5, cancel.set).start()
    started = time.monotonic()
    answer = engine.stream(prompt, Generation(max_tokens=8, cancel=cancel))
    assert answer.text() == "" and answer.stats.stop == "cancelled"
    assert time.monotonic() - started < whole / 2
    again = engine.stream(prompt, Generation(max_tokens=1, cancel=threading.Event()))
    again.text()
    assert 0 < again.stats.reused_tokens < len(prompt)  # the part read before the cancel was kept


def test_no_tokens_to_write_reads_the_prompt_into_the_cache_and_writes_nothing(smollm):
    """The language server warms a document with max_tokens 0 (llama-server's n_predict 0): the prompt is read,
    no token is sampled, and the request that comes next reads only its last token."""
    prompt = smollm.tokenize("".join(f"def step_{i}(value):\n    return value * {i}\n\n" for i in range(12)))
    for cancel in (None, threading.Event()):
        smollm.llm.reset()
        warm = smollm.stream(prompt, Generation(max_tokens=0, cancel=cancel))
        assert warm.text() == "" and warm.stats.generated == 0 and warm.stats.stop == "length"
        assert smollm.llm.n_tokens == len(prompt) - 1
    answer = smollm.stream(prompt, Generation(max_tokens=4))
    assert answer.text() and answer.stats.reused_tokens == len(prompt) - 1


def test_where_it_runs_is_said_in_plain_words():
    from cga.assistant.engine import Placement

    assert Placement(0, 24, 1).describe() == "CPU, 1 thread"
    assert Placement(0, 24, 4).describe() == "CPU, 4 threads"
    assert Placement(10, 24, 1).describe() == "10 of 24 layers on the GPU, the rest on 1 CPU thread"
    assert Placement(25, 24, 1).all_on_gpu and not Placement(10, 24, 1).all_on_gpu


def test_prompt_lookup_is_taken_only_where_its_batches_are_cheap(smollm):
    """On a CPU a drafted token costs about half a decode, taken or not: refinements came out no faster."""
    assert smollm.placement.gpu_layers == 0 and not smollm.drafts_pay


def test_typed_white_space_is_chosen_again_by_the_model(smollm):
    """Issue 19: after `def fibonacci(n):` + Enter + the typed indentation the prompt ends in the token
    "\\n    ", which the model rarely saw; it answered with an empty line (one line: nothing to show). Healed,
    the model picks "\\n   " + " if" itself, and the answer is what comes after what was typed."""
    opener = smollm.tokenize("import os\n\n\ndef fibonacci(n):\n    ")
    one_line = Generation(max_tokens=16, stop=("\n",))
    assert smollm.complete(opener, one_line).strip() == ""  # the tokenizer's split, as the model sees it
    healed = smollm.complete(opener, replace(one_line, heal_whitespace=True))
    assert healed.strip() and healed[0] not in " \t\n", repr(healed)  # code at once, at the typed depth
    spaced = smollm.complete(smollm.tokenize("def add(a, b):\n    return a "), replace(one_line, heal_whitespace=True))
    assert spaced.strip() and not spaced.startswith(" "), repr(spaced)  # the typed space is not written again
    plain = smollm.tokenize("def add(a, b):\n    return a")  # nothing typed to heal: the same answer
    assert smollm.complete(plain, replace(one_line, heal_whitespace=True)) == smollm.complete(plain, one_line)
