"""F32 GGUF vs transformers fp32 on real Python source, through stock llama.cpp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cga.convert.pipeline import convert
from cga.convert.verify import codegen25_tiktoken
from cga.core.native import load_model
from tests.builders import build_codegen, python_source

N_TOKENS = 256


def reference_ids(built, text: str) -> list[int]:
    if built.model.config.model_type == "llama":
        return codegen25_tiktoken().encode(text)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(built.path))(text)["input_ids"]


def assert_parity(built, gguf_path) -> None:
    text = python_source()
    ids = reference_ids(built, text)[:N_TOKENS]
    llm = load_model(gguf_path, n_ctx=N_TOKENS, logits_all=True)
    assert llm.tokenize(text.encode(), add_bos=False, special=False)[:N_TOKENS] == ids
    llm.eval(ids)
    got = np.asarray(llm.scores[:N_TOKENS])
    with torch.no_grad():
        ref = built.model(torch.tensor([ids])).logits[0].numpy()
    logit_range = ref.max() - ref.min()
    assert np.abs(got - ref).max() < 0.005 * logit_range
    # A random model's logits are nearly flat; a flipped argmax is allowed only
    # where the reference itself has a near-tie.
    ref_top, got_top = ref.argmax(-1), got.argmax(-1)
    rows = np.arange(len(ids))
    margins = ref[rows, ref_top] - ref[rows, got_top]
    assert (ref_top == got_top).mean() >= 0.99
    assert margins.max() < 0.01


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param({}, id="codegen1-350M-like"),
        pytest.param({"rotary_dim": 32}, id="rotary-dim-equals-head-dim"),
        pytest.param({"n_embd": 256, "n_head": 8, "mp_num": 8}, id="mp_num-8"),
        pytest.param({"infill": True, "seed": 3}, id="codegen2-specials"),
        pytest.param({"whitespace": False, "seed": 5}, id="codegen1-nl-no-added-tokens"),
    ],
)
def test_codegen_f32_matches_transformers(tmp_path, shape):
    built = build_codegen(tmp_path / "ckpt", **shape)
    result = convert(built.path, tmp_path / "model.gguf", "f32")
    assert result.spec.arch == "phi2"
    assert_parity(built, result.path)


def test_codegen25_f32_matches_transformers(tmp_path, codegen25):
    result = convert(codegen25.path, tmp_path / "model.gguf", "f32")
    assert (result.spec.family, result.spec.arch, result.can_infill) == ("codegen25", "llama", True)
    assert_parity(codegen25, result.path)


def test_mp_num_override_reads_the_layout_the_user_names(tmp_path, codegen2_mp8):
    """Forcing the wrong block count scrambles heads; the right one matches transformers."""
    wrong = convert(codegen2_mp8.path, tmp_path / "wrong.gguf", "f32", mp_num=4)
    right = convert(codegen2_mp8.path, tmp_path / "right.gguf", "f32", mp_num=8)
    assert_parity(codegen2_mp8, right.path)
    with pytest.raises(AssertionError):
        assert_parity(codegen2_mp8, wrong.path)
