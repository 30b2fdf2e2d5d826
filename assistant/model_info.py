"""What a GGUF says about itself, read from its metadata without loading weights.

Our CodeGen files carry `codegen.*` keys (family, infill ability, special ids);
any other GGUF is described by llama.cpp's standard keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelLoadError
from .native import read_metadata


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
    values = read_metadata(path)
    if values is None:
        raise ModelLoadError(f"{path} is not a readable GGUF file; re-download or re-convert it.")
    arch = str(values.get("general.architecture", "unknown"))
    ids = {key: int(values[f"codegen.{key}_token_id"])
           for key in ("sep", "eom", "mask_1", "eos", "bos", "fim_prefix", "fim_middle", "fim_suffix")
           if f"codegen.{key}_token_id" in values}
    if "eos" not in ids and "tokenizer.ggml.eos_token_id" in values:
        ids["eos"] = int(values["tokenizer.ggml.eos_token_id"])
    return ModelInfo(
        path=path,
        name=str(values.get("general.name") or path.stem),
        arch=arch,
        family=str(values.get("codegen.family", "other")),
        context_length=int(values.get(f"{arch}.context_length", 2048)),
        block_count=int(values.get(f"{arch}.block_count", 0)),
        can_infill=bool(values.get("codegen.can_infill", False)),
        special_ids=ids,
        chat_template=values.get("tokenizer.chat_template"),
    )
