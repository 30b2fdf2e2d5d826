"""Fuzzing the readers of files we do not control: whatever a checkpoint holds, the answer is a spec, a tensor
or one ConvertError, never another exception, a hang or a huge allocation.

Bounded in time: a fixed number of examples each, derandomized so that CI runs the same cases every time
(set HYPOTHESIS_PROFILE=explore for a longer random search).
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cga.convert.checkpoint import Checkpoint, open_checkpoint
from cga.convert.errors import ConvertError
from cga.convert.families import ModelSpec, detect
from cga.convert.vocab import build_vocab

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from([0, 1, 2, 4, 64, 128, 2048, 50295, 51200]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
CODEGEN_KEYS = [
    "architectures",
    "n_embd",
    "n_head",
    "n_layer",
    "vocab_size",
    "rotary_dim",
    "n_inner",
    "n_positions",
    "n_ctx",
    "layer_norm_epsilon",
    "head_dim",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "num_hidden_layers",
    "intermediate_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
]
CONFIGS = st.fixed_dictionaries(
    {"model_type": st.sampled_from(["codegen", "llama", "gpt2", None])},
    optional={key: SCALARS | JSON for key in CODEGEN_KEYS},
)


@given(config=CONFIGS)
def test_any_config_gives_a_bounded_spec_or_one_error(config, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config))
    try:
        spec = detect(Checkpoint(tmp_path, config, ()))
    except ConvertError:
        return
    assert isinstance(spec, ModelSpec)
    assert 1 <= spec.n_layer <= 1024 and 1 <= spec.n_vocab <= 1 << 20 and 1 <= spec.context_length <= 1 << 20
    assert spec.n_embd % spec.n_head == 0 and 0 < spec.rotary_dim <= spec.head_dim and 0 < spec.norm_eps < 1


DTYPES = st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "F64", "bogus", None, 3])
ENTRIES = st.one_of(
    st.fixed_dictionaries(
        {
            "dtype": DTYPES,
            "shape": st.lists(st.integers(-2, 2**62), max_size=3) | JSON,
            "data_offsets": st.lists(st.integers(-64, 2**62), max_size=3) | JSON,
        }
    ),
    JSON,
)
HEADERS = st.dictionaries(st.text(min_size=1, max_size=8), ENTRIES, max_size=4) | JSON


@given(header=HEADERS, data=st.binary(max_size=64))
def test_any_safetensors_header_gives_tensors_or_one_error(header, data, tmp_path):
    encoded = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    (tmp_path / "config.json").write_text("{}")
    try:
        for _name, array in open_checkpoint(tmp_path).tensors():
            assert isinstance(array, np.ndarray) and array.nbytes <= len(data)
    except ConvertError:
        pass


@given(raw=st.binary(max_size=64), length=st.integers(0, 2**64 - 1))
def test_any_safetensors_prefix_gives_one_error(raw, length, tmp_path):
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", length) + raw)
    (tmp_path / "config.json").write_text("{}")
    try:
        list(open_checkpoint(tmp_path).tensors())
    except ConvertError:
        pass


TOKEN_IDS = st.dictionaries(st.text(max_size=6), SCALARS | JSON, max_size=4)


@given(vocab=TOKEN_IDS, added=TOKEN_IDS | JSON, decoder=JSON)
def test_any_tokenizer_files_give_a_vocabulary_or_one_error(vocab, added, decoder, tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    (tmp_path / "added_tokens.json").write_text(json.dumps(added))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": decoder}))
    try:
        built = build_vocab(Checkpoint(tmp_path, {}, ()), "codegen1", 64)
    except ConvertError:
        return
    assert len(built.tokens) == len(built.types) == 64


TOKENIZER_JSON = st.fixed_dictionaries(
    {},
    optional={
        "model": st.fixed_dictionaries(
            {"type": st.sampled_from(["BPE", "WordPiece", None])},
            optional={"vocab": TOKEN_IDS | JSON, "merges": st.lists(JSON | st.text(), max_size=3)},
        ),
        "added_tokens": st.lists(st.dictionaries(st.sampled_from(["content", "id", "special"]), SCALARS), max_size=3)
        | JSON,
    },
)


@given(tokenizer=TOKENIZER_JSON)
def test_any_tokenizer_json_gives_a_vocabulary_or_one_error(tokenizer, tmp_path):
    for stale in ("vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json"):
        (tmp_path / stale).unlink(missing_ok=True)
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer))
    try:
        built = build_vocab(Checkpoint(tmp_path, {}, ()), "codegen1", 64)
    except ConvertError:
        return
    assert len(built.tokens) == len(built.types) == 64
