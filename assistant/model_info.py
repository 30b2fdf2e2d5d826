"""What a GGUF says about itself, read from its metadata without loading weights.

Our CodeGen files carry `codegen.*` keys (family, infill ability, special ids);
any other GGUF is described by llama.cpp's standard keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gguf

from .errors import ModelLoadError


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


def read_model_info(path: Path) -> ModelInfo:
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path} does not exist; give the path of a .gguf file or an installed model's name.")
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, OSError, KeyError, IndexError) as exc:
        raise ModelLoadError(f"{path} is not a readable GGUF file ({exc}); re-download or re-convert it.") from exc

    def get(key: str, default=None):
        value = reader.get_field(key)
        return default if value is None else value.contents()

    arch = get(gguf.Keys.General.ARCHITECTURE, "unknown")
    family = get("codegen.family", "other")
    ids = {}
    for key in ("sep", "eom", "mask_1", "eos", "bos", "fim_prefix", "fim_middle", "fim_suffix"):
        value = get(f"codegen.{key}_token_id")
        if value is not None:
            ids[key] = int(value)
    if "eos" not in ids and get(gguf.Keys.Tokenizer.EOS_ID) is not None:
        ids["eos"] = int(get(gguf.Keys.Tokenizer.EOS_ID))
    return ModelInfo(
        path=path,
        name=get(gguf.Keys.General.NAME) or path.stem,
        arch=arch,
        family=family,
        context_length=int(get(f"{arch}.context_length", 2048)),
        block_count=int(get(f"{arch}.block_count", 0)),
        can_infill=bool(get("codegen.can_infill", False)),
        special_ids=ids,
        chat_template=get(gguf.Keys.Tokenizer.CHAT_TEMPLATE),
    )
