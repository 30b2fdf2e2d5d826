"""Hugging Face tensor names → GGUF tensor names (and layout fixes) per family."""

from __future__ import annotations

import re

import gguf
import numpy as np

from .families import ModelSpec
from .qkv_layout import codegen_qkv_to_phi2, llama_rope_permute

T = gguf.MODEL_TENSOR

# Buffers that some `.bin` checkpoints carry; they are recomputed, not weights.
IGNORED = re.compile(r".*\.(attn\.causal_mask|attn\.masked_bias|attn\.bias|rotary_emb\.inv_freq)$")

_CODEGEN_BLOCK = {
    "ln_1.weight": T.ATTN_NORM,
    "ln_1.bias": T.ATTN_NORM,
    "attn.qkv_proj.weight": T.ATTN_QKV,
    "attn.out_proj.weight": T.ATTN_OUT,
    "mlp.fc_in.weight": T.FFN_UP,
    "mlp.fc_in.bias": T.FFN_UP,
    "mlp.fc_out.weight": T.FFN_DOWN,
    "mlp.fc_out.bias": T.FFN_DOWN,
}
_CODEGEN_TOP = {
    "transformer.wte.weight": T.TOKEN_EMBD,
    "transformer.ln_f.weight": T.OUTPUT_NORM,
    "transformer.ln_f.bias": T.OUTPUT_NORM,
    "lm_head.weight": T.OUTPUT,
    "lm_head.bias": T.OUTPUT,
}
_LLAMA_BLOCK = {
    "input_layernorm.weight": T.ATTN_NORM,
    "self_attn.q_proj.weight": T.ATTN_Q,
    "self_attn.k_proj.weight": T.ATTN_K,
    "self_attn.v_proj.weight": T.ATTN_V,
    "self_attn.o_proj.weight": T.ATTN_OUT,
    "post_attention_layernorm.weight": T.FFN_NORM,
    "mlp.gate_proj.weight": T.FFN_GATE,
    "mlp.up_proj.weight": T.FFN_UP,
    "mlp.down_proj.weight": T.FFN_DOWN,
}
_LLAMA_TOP = {
    "model.embed_tokens.weight": T.TOKEN_EMBD,
    "model.norm.weight": T.OUTPUT_NORM,
    "lm_head.weight": T.OUTPUT,
}
_BLOCK = re.compile(r"^(?:transformer\.h|model\.layers)\.(\d+)\.(.+)$")


def gguf_name(kind: gguf.MODEL_TENSOR, hf_name: str, bid: int | None = None) -> str:
    suffix = hf_name.rsplit(".", 1)[-1]
    return gguf.TENSOR_NAMES[kind].format(bid=bid) + "." + suffix


def map_name(spec: ModelSpec, hf_name: str) -> tuple[str, gguf.MODEL_TENSOR] | None:
    """The GGUF name (and tensor kind) for a checkpoint tensor; None for buffers we skip."""
    if IGNORED.match(hf_name):
        return None
    block_map, top_map = (_LLAMA_BLOCK, _LLAMA_TOP) if spec.arch == "llama" else (_CODEGEN_BLOCK, _CODEGEN_TOP)
    match = _BLOCK.match(hf_name)
    if match:
        bid, rest = int(match.group(1)), match.group(2)
        kind = block_map.get(rest)
        if kind is None or bid >= spec.n_layer:
            return None
        return gguf_name(kind, hf_name, bid), kind
    kind = top_map.get(hf_name)
    return None if kind is None else (gguf_name(kind, hf_name), kind)


def to_gguf_layout(spec: ModelSpec, kind: gguf.MODEL_TENSOR, array: np.ndarray) -> np.ndarray:
    """The tensor's data as llama.cpp's graph for this architecture expects it."""
    if kind == T.ATTN_QKV and array.ndim == 2:
        return codegen_qkv_to_phi2(array, spec.mp_num, spec.n_head, spec.rotary_dim)
    if kind == T.ATTN_Q:
        return llama_rope_permute(array, spec.n_head)
    if kind == T.ATTN_K:
        return llama_rope_permute(array, spec.n_head_kv)
    return array


def expected_tensors(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Every GGUF tensor the architecture needs from the checkpoint, with its shape."""
    e, ff, v = spec.n_embd, spec.n_ff, spec.n_vocab
    names: dict[str, tuple[int, ...]] = {}
    top: dict[gguf.MODEL_TENSOR, list[tuple[str, tuple[int, ...]]]]
    block: dict[gguf.MODEL_TENSOR, list[tuple[str, tuple[int, ...]]]]
    if spec.arch == "llama":
        kv = spec.n_head_kv * spec.head_dim
        top = {T.TOKEN_EMBD: [("weight", (v, e))], T.OUTPUT_NORM: [("weight", (e,))], T.OUTPUT: [("weight", (v, e))]}
        block = {
            T.ATTN_NORM: [("weight", (e,))],
            T.ATTN_Q: [("weight", (e, e))],
            T.ATTN_K: [("weight", (kv, e))],
            T.ATTN_V: [("weight", (kv, e))],
            T.ATTN_OUT: [("weight", (e, e))],
            T.FFN_NORM: [("weight", (e,))],
            T.FFN_GATE: [("weight", (ff, e))],
            T.FFN_UP: [("weight", (ff, e))],
            T.FFN_DOWN: [("weight", (e, ff))],
        }
    else:
        top = {
            T.TOKEN_EMBD: [("weight", (v, e))],
            T.OUTPUT_NORM: [("weight", (e,)), ("bias", (e,))],
            T.OUTPUT: [("weight", (v, e)), ("bias", (v,))],
        }
        block = {
            T.ATTN_NORM: [("weight", (e,)), ("bias", (e,))],
            T.ATTN_QKV: [("weight", (3 * e, e))],
            T.ATTN_OUT: [("weight", (e, e))],
            T.FFN_UP: [("weight", (ff, e)), ("bias", (ff,))],
            T.FFN_DOWN: [("weight", (e, ff)), ("bias", (e,))],
        }
    for kind, parts in top.items():
        for suffix, shape in parts:
            names[gguf.TENSOR_NAMES[kind] + "." + suffix] = shape
    for bid in range(spec.n_layer):
        for kind, parts in block.items():
            for suffix, shape in parts:
                names[gguf.TENSOR_NAMES[kind].format(bid=bid) + "." + suffix] = shape
    return names


def zero_biases(spec: ModelSpec) -> dict[str, np.ndarray]:
    """Biases phi2 requires but CodeGen has none of: written as zeros."""
    if spec.arch != "phi2":
        return {}
    out: dict[str, np.ndarray] = {}
    for bid in range(spec.n_layer):
        out[gguf.TENSOR_NAMES[T.ATTN_QKV].format(bid=bid) + ".bias"] = np.zeros(3 * spec.n_embd, np.float32)
        out[gguf.TENSOR_NAMES[T.ATTN_OUT].format(bid=bid) + ".bias"] = np.zeros(spec.n_embd, np.float32)
    return out
