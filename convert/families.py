"""Which CodeGen family a checkpoint belongs to, and its hyperparameters.

The family decides the llama.cpp architecture (`phi2` for CodeGen1/2, `llama`
for CodeGen2.5), the tokenizer and whether the model can infill.
"""

from __future__ import annotations

from dataclasses import dataclass

from cga.core.limits import MAX_EMBEDDING, MAX_LAYERS, MAX_VOCAB

from .checkpoint import Checkpoint
from .errors import BrokenCheckpoint, UnsupportedModel

CONTEXT_LENGTH = 2048
# CodeGen was trained on 2,048 positions; a fine-tune may stretch them, but a config that claims a million
# (which llama.cpp then allocates a KV cache for) is not a CodeGen checkpoint.
MAX_CODEGEN_CONTEXT = 16 * CONTEXT_LENGTH


@dataclass(frozen=True)
class ModelSpec:
    family: str  # "codegen1", "codegen2" or "codegen25"
    arch: str  # the llama.cpp architecture written to the GGUF
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    rotary_dim: int
    norm_eps: float
    context_length: int
    mp_num: int = 4  # CodeGen only: how qkv_proj rows are blocked
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


def _whole(config: dict, key: str, where: str, high: int, default: int | None = None) -> int:
    """A positive whole number within what any real checkpoint uses (a hostile one could ask for terabytes)."""
    value = config.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        shown = "missing" if value is None else repr(value)[:40]
        raise BrokenCheckpoint(
            f"{where} config.json has '{key}' {shown}; it must be a whole number from 1 to {high:,}."
        )
    return value


def _real(config: dict, key: str, where: str, default: float, low: float, high: float) -> float:
    value = config.get(key)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low < value < high:
        raise BrokenCheckpoint(
            f"{where} config.json has '{key}' {repr(value)[:40]}; it must be a number between {low:g} and {high:g}."
        )
    return float(value)


def detect(checkpoint: Checkpoint, mp_num: int | None = None) -> ModelSpec:
    """Read the spec from config.json, refusing architectures we cannot map.

    CodeGen1 and CodeGen2 share a config; the tokenizer tells them apart later.
    """
    config = checkpoint.config
    where = str(checkpoint.path)
    model_type = config.get("model_type")
    architectures = config.get("architectures")
    architectures = [a for a in architectures if isinstance(a, str)] if isinstance(architectures, list) else []
    if model_type == "codegen" or "CodeGenForCausalLM" in architectures:
        return _codegen_spec(config, where, mp_num)
    if model_type == "llama" or "LlamaForCausalLM" in architectures:
        if not _is_codegen25(checkpoint):
            raise UnsupportedModel(
                f"{where} is a Llama model but not CodeGen2.5; convert it with llama.cpp's convert_hf_to_gguf.py."
            )
        return _codegen25_spec(config, where)
    kind = str(model_type or (architectures[0] if architectures else "unknown"))[:60]
    raise UnsupportedModel(
        f"{where} is a '{kind}' model; only CodeGen (CodeGenForCausalLM) and CodeGen2.5 checkpoints are supported."
    )


def _is_codegen25(checkpoint: Checkpoint) -> bool:
    tokenizer_config = checkpoint.read_json("tokenizer_config.json") or {}
    auto_map = str(tokenizer_config.get("auto_map", ""))
    return (
        tokenizer_config.get("tokenizer_class") == "CodeGen25Tokenizer"
        or "tokenization_codegen25" in auto_map
        or (checkpoint.path / "tokenization_codegen25.py").is_file()
    )


def _codegen_spec(config: dict, where: str, mp_num: int | None) -> ModelSpec:
    n_embd = _whole(config, "n_embd", where, MAX_EMBEDDING)
    n_head = _whole(config, "n_head", where, n_embd)
    rotary_dim = _whole(config, "rotary_dim", where, n_embd, default=n_embd // n_head)
    if mp_num is None:
        # codegen2-1B and codegen2-3_7B use 8 model-parallel blocks; their
        # configs are the only CodeGen ones with an explicit head_dim key.
        mp_num = 8 if "head_dim" in config else 4
    if n_embd % n_head or n_head % mp_num or rotary_dim % 2 or rotary_dim > n_embd // n_head:
        raise BrokenCheckpoint(
            f"{where} config.json is inconsistent: n_embd {n_embd}, n_head {n_head}, "
            f"rotary_dim {rotary_dim}, mp_num {mp_num}."
        )
    return ModelSpec(
        family="codegen1",
        arch="phi2",
        n_vocab=_whole(config, "vocab_size", where, MAX_VOCAB),
        n_embd=n_embd,
        n_layer=_whole(config, "n_layer", where, MAX_LAYERS),
        n_head=n_head,
        n_head_kv=n_head,
        n_ff=_whole(config, "n_inner", where, 8 * MAX_EMBEDDING, default=4 * n_embd),
        rotary_dim=rotary_dim,
        norm_eps=_real(config, "layer_norm_epsilon", where, 1e-5, 0, 1),
        context_length=_whole(
            config,
            "n_positions",
            where,
            MAX_CODEGEN_CONTEXT,
            default=_whole(config, "n_ctx", where, MAX_CODEGEN_CONTEXT, default=CONTEXT_LENGTH),
        ),
        mp_num=mp_num,
    )


def _codegen25_spec(config: dict, where: str) -> ModelSpec:
    n_embd = _whole(config, "hidden_size", where, MAX_EMBEDDING)
    n_head = _whole(config, "num_attention_heads", where, n_embd)
    n_head_kv = _whole(config, "num_key_value_heads", where, n_head, default=n_head)
    if n_embd % n_head or n_head % n_head_kv:
        raise BrokenCheckpoint(
            f"{where} config.json is inconsistent: hidden_size {n_embd}, "
            f"num_attention_heads {n_head}, num_key_value_heads {n_head_kv}."
        )
    return ModelSpec(
        family="codegen25",
        arch="llama",
        n_vocab=_whole(config, "vocab_size", where, MAX_VOCAB),
        n_embd=n_embd,
        n_layer=_whole(config, "num_hidden_layers", where, MAX_LAYERS),
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ff=_whole(config, "intermediate_size", where, 8 * MAX_EMBEDDING),
        rotary_dim=n_embd // n_head,
        norm_eps=_real(config, "rms_norm_eps", where, 1e-6, 0, 1),
        context_length=_whole(config, "max_position_embeddings", where, MAX_CODEGEN_CONTEXT, default=CONTEXT_LENGTH),
        rope_theta=_real(config, "rope_theta", where, 10000.0, 0, 1e12),
    )
