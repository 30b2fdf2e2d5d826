"""Every type loads and generates; metadata is complete; storage layouts agree."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from cga.convert.pipeline import convert
from cga.convert.verify import verify
from cga.core.limits import QUANT_TYPES
from cga.core.native import load_model, read_file_type
from tests.builders import build_codegen


def field(reader: gguf.GGUFReader, key: str):
    value = reader.get_field(key)
    return None if value is None else value.contents()


@pytest.mark.parametrize("quant", QUANT_TYPES)
def test_every_type_loads_and_generates(tmp_path, codegen1, quant):
    result = convert(codegen1.path, tmp_path / f"m.{quant}.gguf", quant)
    assert read_file_type(result.path) == quant
    llm = load_model(result.path, n_ctx=128)
    out = llm.create_completion("def fibonacci(n):\n", max_tokens=8, temperature=0.0)
    assert out["usage"]["completion_tokens"] > 0
    assert not list(tmp_path.glob(".*")), "temporary files were left behind"


def test_quantized_sizes_shrink_in_order(tmp_path, codegen1):
    sizes = {q: convert(codegen1.path, tmp_path / f"{q}.gguf", q).size for q in ("f32", "f16", "q8_0", "q4_k_m")}
    assert sizes["f32"] > sizes["f16"] > sizes["q8_0"] > sizes["q4_k_m"]


def test_q8_0_stays_close_to_transformers(tmp_path, codegen1):
    path = convert(codegen1.path, tmp_path / "q8.gguf", "q8_0").path
    report = verify(codegen1.path, path)
    assert report.passed and report.token_agreement == 1.0
    assert report.mean_kl < 1e-2


def test_metadata_records_source_family_and_special_ids(tmp_path, codegen2_mp8):
    (codegen2_mp8.path / "README.md").write_text("---\nlicense: apache-2.0\n---\n# A model card\n")
    result = convert(codegen2_mp8.path, tmp_path / "c2.gguf", "f16", revision="abc123")
    reader = gguf.GGUFReader(result.path)
    assert field(reader, "general.architecture") == "phi2"
    assert field(reader, "general.name") == "ckpt"
    assert field(reader, "codegen.source") == str(codegen2_mp8.path.resolve())
    assert field(reader, "codegen.source_revision") == "abc123"
    assert field(reader, "general.license") == "apache-2.0"
    assert field(reader, "codegen.family") == "codegen2"
    assert field(reader, "codegen.can_infill") is True
    assert field(reader, "phi2.context_length") == 2048
    assert field(reader, "phi2.rope.dimension_count") == 16
    assert field(reader, "codegen.sep_token_id") == 50317
    assert field(reader, "codegen.eom_token_id") == 50318
    assert field(reader, "codegen.mask_1_token_id") == 51199
    assert field(reader, gguf.Keys.Tokenizer.EOM_ID) == 50318
    assert field(reader, gguf.Keys.Tokenizer.FIM_PRE_ID) == 50295
    assert field(reader, gguf.Keys.Tokenizer.EOS_ID) == 50256
    assert field(reader, gguf.Keys.General.FILE_TYPE) == gguf.LlamaFileType.MOSTLY_F16


def test_codegen1_cannot_infill(tmp_path, codegen1):
    reader = gguf.GGUFReader(convert(codegen1.path, tmp_path / "c1.gguf", "f16").path)
    assert field(reader, "codegen.family") == "codegen1"
    assert field(reader, "codegen.can_infill") is False
    assert field(reader, "codegen.sep_token_id") is None


def tensors(path) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.data) for t in gguf.GGUFReader(path).tensors}


@pytest.mark.parametrize(
    "storage",
    [
        pytest.param({"storage": "safetensors", "shards": 3}, id="sharded-safetensors"),
        pytest.param({"storage": "bin"}, id="bin"),
        pytest.param({"storage": "bin", "shards": 2}, id="sharded-bin"),
    ],
)
def test_every_storage_layout_gives_the_same_tensors(tmp_path, storage):
    single = build_codegen(tmp_path / "single", seed=7)
    other = build_codegen(tmp_path / "other", seed=7, **storage)
    a = tensors(convert(single.path, tmp_path / "a.gguf", "f16").path)
    b = tensors(convert(other.path, tmp_path / "b.gguf", "f16").path)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_checkpoints_convert_and_verify(tmp_path, dtype):
    import torch

    built = build_codegen(tmp_path / "ckpt", dtype=getattr(torch, dtype), seed=4)
    path = convert(built.path, tmp_path / "m.gguf", "f16").path
    report = verify(built.path, path)
    assert report.passed, report


def test_every_type_we_write_is_one_llama_cpp_quantizes():
    from cga.core.native import FTYPES

    assert tuple(FTYPES) == QUANT_TYPES
