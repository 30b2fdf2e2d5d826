"""A GGUF's metadata as ggml's parser reads it: the same values gguf-py finds, in milliseconds, and bad files refused."""

from __future__ import annotations

import dataclasses

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cga.assistant.engine import Engine
from cga.assistant.errors import ModelLoadError
from cga.assistant.model_choice import embedded_default
from cga.core.model_info import read_model_info
from cga.core.native import read_file_type, read_metadata
from tests.gguf_edit import T, with_metadata
from tests.run_cli import run_cga


def gguf_py_scalars(path) -> dict:
    reader = gguf.GGUFReader(path)
    return {
        name: field.contents()
        for name, field in reader.fields.items()
        if field.types and field.types[0] != gguf.GGUFValueType.ARRAY and not name.startswith("GGUF.")
    }


@pytest.mark.parametrize("which", ["codegen2_gguf", "embedded"])
def test_metadata_matches_gguf_py(which, request):
    path = embedded_default() if which == "embedded" else request.getfixturevalue(which)
    ours, theirs = read_metadata(path), gguf_py_scalars(path)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value) if isinstance(value, float) else ours[key] == value, key


def test_model_info_of_an_infill_codegen_file(codegen2_gguf):
    info = read_model_info(codegen2_gguf)
    assert (info.family, info.arch, info.is_codegen, info.can_infill) == ("codegen2", "phi2", True, True)
    assert info.block_count > 0 and info.context_length == 2048
    assert {"sep", "eom", "mask_1", "eos"} <= info.special_ids.keys()
    assert read_file_type(codegen2_gguf) == "q8_0"


@pytest.mark.parametrize("content", [b"", b"not a gguf at all", b"GGUF\x03\x00\x00\x00" + b"\xff" * 64])
def test_unreadable_files_are_refused_with_a_sentence(tmp_path, content):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    with pytest.raises(ModelLoadError, match="not a readable GGUF file"):
        read_model_info(bad)


DAMAGE = {
    "four billion layers": ({"phi2.block_count": (T.UINT32, 4_000_000_000)}, "damaged phi2.block_count"),
    "more layers than tensors": ({"phi2.block_count": (T.UINT32, 900)}, "damaged phi2.block_count"),
    "four billion tokens of context": (
        {"phi2.context_length": (T.UINT32, 4_000_000_000)},
        "damaged phi2.context_length",
    ),
    "a context of 'lots'": ({"phi2.context_length": (T.STRING, "lots")}, "damaged phi2.context_length"),
    "an end-of-text id past the vocabulary": (
        {"codegen.eos_token_id": (T.UINT32, 10**6)},
        "damaged codegen.eos_token_id",
    ),
    "infill without its token ids": (
        {"codegen.mask_1_token_id": None, "codegen.sep_token_id": None},
        "lacks the token ids for mask_1, sep",
    ),
}


@pytest.mark.parametrize("what", DAMAGE)
def test_damaged_metadata_is_one_sentence_before_llama_cpp_sees_it(tmp_path, codegen2_gguf, isolated_home, what):
    changes, phrase = DAMAGE[what]
    damaged = with_metadata(codegen2_gguf, tmp_path / "damaged.gguf", changes)
    # In a child process: before the bound checks, llama.cpp aborted the process on some of these.
    completed = run_cga("complete", "--model", damaged, "--suffix", "\n    return x\n", "-n", "4", "def f(x):\n")
    assert completed.returncode == 1 and phrase in completed.stderr, completed.stderr
    assert completed.stderr.startswith("Error:") and "Traceback" not in completed.stderr
    imported = run_cga("models", "import", damaged)
    assert imported.returncode == 1 and phrase in imported.stderr
    assert not list((isolated_home / "models").glob("*.gguf"))


def test_an_unchanged_copy_still_loads(tmp_path, codegen2_gguf):
    """The editing above changes only what it is asked to (so the refusals come from the damage)."""
    copy = with_metadata(codegen2_gguf, tmp_path / "copy.gguf", {})
    assert read_model_info(copy) == dataclasses.replace(read_model_info(codegen2_gguf), path=copy)
    assert run_cga("complete", "--model", copy, "-n", "2", "x = ").returncode == 0


def test_a_gguf_cut_in_half_is_refused_by_import_and_complete(tmp_path, codegen2_gguf, isolated_home):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(codegen2_gguf.read_bytes()[: codegen2_gguf.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="is cut off"):
        read_model_info(cut)
    imported = run_cga("models", "import", cut)
    assert imported.returncode == 1 and "is cut off" in imported.stderr and "Traceback" not in imported.stderr
    assert not list((isolated_home / "models").glob("*.gguf"))


def test_threads_beyond_llama_cpp_are_refused_not_aborted():
    refused = run_cga("complete", "--threads", "100000", "-n", "2", "x = ")
    assert refused.returncode == 2 and "512" in refused.stderr  # before: SIGABRT inside llama.cpp
    with pytest.raises(ModelLoadError, match="more than llama.cpp can run"):
        Engine(embedded_default(), threads=100000)


def _small_gguf(path) -> bytes:
    """A minimal file with every key read_model_info reads, so mutations land on what matters."""
    writer = gguf.GGUFWriter(path, "phi2")
    writer.add_context_length(2048)
    writer.add_block_count(1)
    writer.add_token_list([f"t{i}" for i in range(8)])
    writer.add_uint32("codegen.eos_token_id", 7)
    writer.add_bool("codegen.can_infill", False)
    writer.add_string("codegen.family", "codegen1")
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(4, dtype=np.float32))
    writer.add_tensor("token_embd.weight", np.ones((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.none() | st.integers(0, 10**6),
)
def test_any_damaged_gguf_gives_its_info_or_one_error(tmp_path, flips, cut):
    original = tmp_path / "small.gguf"
    data = bytearray(original.read_bytes() if original.exists() else _small_gguf(original))
    for position, value in flips:
        data[position % len(data)] = value
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(bytes(data[:cut] if cut is not None else data))
    try:
        info = read_model_info(damaged)
    except ModelLoadError:
        event("refused")
        return
    event("read")
    assert 1 <= info.context_length <= 1 << 20 and 0 <= info.block_count <= 1024
    assert all(0 <= i < 1 << 20 for i in info.special_ids.values())


def _vocabulary(path) -> list[str]:
    field = gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


@pytest.fixture(scope="module")
def repeated_token_gguf(tmp_path_factory):
    """The embedded model with one token's text given to the next id too: llama.cpp asserts and aborts on it."""
    tokens = _vocabulary(embedded_default())
    tokens[1001] = tokens[1000]
    return with_metadata(
        embedded_default(),
        tmp_path_factory.mktemp("repeated") / "repeated.gguf",
        {"tokenizer.ggml.tokens": (T.ARRAY, tokens)},
    )


def test_a_vocabulary_with_a_token_twice_is_one_sentence_not_an_abort(repeated_token_gguf, isolated_home):
    """Issue 41, item 1: every command that loaded such a file exited 134 with no word, and cga lsp died at the
    first completion."""
    with pytest.raises(ModelLoadError, match="is in it twice, which llama.cpp cannot load"):
        read_model_info(repeated_token_gguf)
    done = run_cga("complete", "def f", "--model", repeated_token_gguf, "-n", "2")
    assert done.returncode == 1 and "is in it twice" in done.stderr and "Traceback" not in done.stderr
    imported = run_cga("models", "import", repeated_token_gguf)
    assert imported.returncode == 1 and not list((isolated_home / "models").glob("*.gguf"))


def test_import_test_loads_what_it_installs(tmp_path, isolated_home):
    """A GGUF whose tokenizer model llama.cpp does not know (`zzzz`) was installed and then never loaded."""
    unknown = with_metadata(embedded_default(), tmp_path / "zzzz.gguf", {"tokenizer.ggml.model": (T.STRING, "zzzz")})
    imported = run_cga("models", "import", unknown)
    assert imported.returncode == 1 and "Traceback" not in imported.stderr
    assert "llama.cpp cannot load" in imported.stderr and "unknown tokenizer: 'zzzz'" in imported.stderr
    assert not list((isolated_home / "models").glob("*.gguf")) and not list((isolated_home / "models").glob(".*"))
    assert run_cga("models", "import", embedded_default(), "--name", "fine").returncode == 0
