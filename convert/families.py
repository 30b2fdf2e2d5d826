"""Which CodeGen family a checkpoint belongs to, and its hyperparameters.

The family decides the llama.cpp architecture (`phi2` for CodeGen1/2, `llama`
for CodeGen2.5), the tokenizer and whether the model can infill.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoint import Checkpoint
from .errors import BrokenCheckpoint, UnsupportedModel

CONTEXT_LENGTH = 2048


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


def _need(config: dict, key: str, source: str) -> int:
    value = config.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise BrokenCheckpoint(f"{source} config.json lacks a positive '{key}'.")
    return value


def detect(checkpoint: Checkpoint, mp_num: int | None = None) -> ModelSpec:
    """Read the spec from config.json, refusing architectures we cannot map.

    CodeGen1 and CodeGen2 share a config; the tokenizer tells them apart later.
    """
    config = checkpoint.config
    where = str(checkpoint.path)
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    if model_type == "codegen" or "CodeGenForCausalLM" in architectures:
        return _codegen_spec(config, where, mp_num)
    if model_type == "llama" or "LlamaForCausalLM" in architectures:
        if not _is_codegen25(checkpoint):
            raise UnsupportedModel(
                f"{where} is a Llama model but not CodeGen2.5; convert it with llama.cpp's convert_hf_to_gguf.py."
            )
        return _codegen25_spec(config, where)
    kind = model_type or (architectures[0] if architectures else "unknown")
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
    n_embd = _need(config, "n_embd", where)
    n_head = _need(config, "n_head", where)
    rotary_dim = config.get("rotary_dim") or n_embd // n_head
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
        n_vocab=_need(config, "vocab_size", where),
        n_embd=n_embd,
        n_layer=_need(config, "n_layer", where),
        n_head=n_head,
        n_head_kv=n_head,
        n_ff=config.get("n_inner") or 4 * n_embd,
        rotary_dim=rotary_dim,
        norm_eps=float(config.get("layer_norm_epsilon", 1e-5)),
        context_length=int(config.get("n_positions") or config.get("n_ctx") or CONTEXT_LENGTH),
        mp_num=mp_num,
    )


def _codegen25_spec(config: dict, where: str) -> ModelSpec:
    n_embd = _need(config, "hidden_size", where)
    n_head = _need(config, "num_attention_heads", where)
    return ModelSpec(
        family="codegen25",
        arch="llama",
        n_vocab=_need(config, "vocab_size", where),
        n_embd=n_embd,
        n_layer=_need(config, "num_hidden_layers", where),
        n_head=n_head,
        n_head_kv=int(config.get("num_key_value_heads") or n_head),
        n_ff=_need(config, "intermediate_size", where),
        rotary_dim=n_embd // n_head,
        norm_eps=float(config.get("rms_norm_eps", 1e-6)),
        context_length=int(config.get("max_position_embeddings") or CONTEXT_LENGTH),
        rope_theta=float(config.get("rope_theta") or 10000.0),
    )
