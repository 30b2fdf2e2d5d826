"""What a GGUF says about itself, read from its metadata without loading weights.

Our CodeGen files carry `codegen.*` keys (family, infill ability, special ids);
any other GGUF is described by llama.cpp's standard keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import gguf_keys
from .errors import ModelLoadError
from .limits import MAX_CONTEXT, MAX_LAYERS, MAX_VOCAB


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    arch: str
    family: str  # "codegen1", "codegen2", "codegen25" or "other"
    context_length: int
    block_count: int = 0
    can_infill: bool = False
    special_ids: dict[str, int] = field(default_factory=dict)  # "sep", "eom", "mask_1", "eos", …
    chat_template: str | None = None

    @property
    def is_codegen(self) -> bool:
        return self.family.startswith("codegen")

    @property
    def is_chat_model(self) -> bool:
        """A model that answers messages in Markdown (its template) rather than continuing code: its answers
        are read for the code in them."""
        return not self.is_codegen and bool(self.chat_template)


INFILL_IDS = ("mask_1", "eos", "sep", "eom")  # what prompts.infill and its stop need


def read_model_info(path: Path) -> ModelInfo:
    """What a GGUF says about itself, every number bound-checked: llama.cpp aborts on absurd ones."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path} does not exist; give the path of a .gguf file or an installed model's name.")
    from .native import read_header  # llama_cpp: only where a file is read

    header = read_header(path)
    if header is None:
        raise ModelLoadError(f"{path} is not a readable GGUF file; re-download or re-convert it.")
    size = path.stat().st_size
    if size < header.data_end:
        raise ModelLoadError(
            f"{path} is cut off ({size:,} of {header.data_end:,} bytes); download or convert it again."
        )
    if header.repeated_token is not None:
        raise ModelLoadError(
            f"{path} has a damaged vocabulary: the token {header.repeated_token[:40]!r} is in it twice, which "
            "llama.cpp cannot load; download or convert it again."
        )
    values = header.values
    arch = str(values.get("general.architecture", "unknown"))

    def number(key: str, default: int, low: int, high: int) -> int:
        value = values.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ModelLoadError(
                f"{path} has a damaged {key} ({str(value)[:40]!r}, expected {low}–{high}); "
                "download or convert it again."
            )
        return value

    vocab = header.array_lengths.get("tokenizer.ggml.tokens", MAX_VOCAB)
    ids = {
        key: number(gguf_keys.TOKEN_ID.format(key), 0, 0, vocab - 1)
        for key in ("sep", "eom", "mask_1", "eos", "bos", "fim_prefix", "fim_middle", "fim_suffix")
        if gguf_keys.TOKEN_ID.format(key) in values
    }
    if "eos" not in ids and "tokenizer.ggml.eos_token_id" in values:
        ids["eos"] = number("tokenizer.ggml.eos_token_id", 0, 0, vocab - 1)
    for added in ("bos", "eos", "sep"):  # a token the tokenizer adds must exist, or llama.cpp aborts tokenizing
        if values.get(f"tokenizer.ggml.add_{added}_token") is True and f"tokenizer.ggml.{added}_token_id" in values:
            number(f"tokenizer.ggml.{added}_token_id", 0, 0, vocab - 1)
    block_count = (
        number(f"{arch}.block_count", 0, 1, min(MAX_LAYERS, header.tensor_count))
        if f"{arch}.block_count" in values
        else 0
    )
    can_infill = bool(values.get(gguf_keys.CAN_INFILL, False))
    if can_infill and not set(INFILL_IDS) <= ids.keys():
        missing = ", ".join(k for k in INFILL_IDS if k not in ids)
        raise ModelLoadError(
            f"{path} says it can fill in the middle but lacks the token ids for {missing}; convert it again."
        )
    template = values.get("tokenizer.chat_template")
    return ModelInfo(
        path=path,
        # Ours carry the checkpoint's name; another file is known by its file name, which is what the user chose
        # and sees (general.name can be a generated "Smollm2 135M 8k Lc100K Mix1 Ep2").
        name=str(values.get("general.name") or path.stem) if gguf_keys.FAMILY in values else path.stem,
        arch=arch,
        family=str(values.get(gguf_keys.FAMILY, "other")),
        context_length=number(f"{arch}.context_length", 2048, 1, MAX_CONTEXT),
        block_count=block_count,
        can_infill=can_infill,
        special_ids=ids,
        chat_template=template if isinstance(template, str) else None,
    )
