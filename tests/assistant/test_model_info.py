"""A GGUF's metadata as ggml's parser reads it: the same values gguf-py finds, in milliseconds, and bad files refused."""

from __future__ import annotations

import gguf
import pytest

from assistant.errors import ModelLoadError
from assistant.model_choice import embedded_default
from assistant.model_info import read_model_info
from assistant.native import read_file_type, read_metadata


def gguf_py_scalars(path) -> dict:
    reader = gguf.GGUFReader(path)
    return {name: field.contents() for name, field in reader.fields.items()
            if field.types and field.types[0] != gguf.GGUFValueType.ARRAY and not name.startswith("GGUF.")}


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
