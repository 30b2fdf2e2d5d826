"""The local model store: GGUF files in the user data directory's `models/` folder.

A model's name is its file name without `.gguf`. This is the folder `cga`
looks in when --model names a model rather than a file, and where it looks for
the best CodeGen model when no model is named.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelLoadError
from assistant.model_info import ModelInfo, read_model_info
from assistant.paths import user_dir


@dataclass(frozen=True)
class Installed:
    name: str
    path: Path
    info: ModelInfo
    size: int


def models_dir() -> Path:
    path = user_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def installed() -> list[Installed]:
    """Every readable GGUF in the store; unreadable files are skipped, not fatal."""
    found = []
    for path in sorted(models_dir().glob("*.gguf")):
        try:
            info = read_model_info(path)
        except ModelLoadError:
            continue
        found.append(Installed(path.stem, path, info, path.stat().st_size))
    return found


def find(name: str) -> Installed | None:
    return next((m for m in installed() if m.name == name), None)


def closest_names(name: str) -> list[str]:
    return difflib.get_close_matches(name, [m.name for m in installed()], n=3, cutoff=0.5)


def best_codegen() -> Installed | None:
    """The largest installed CodeGen model: more weights, better code, as the paper's tables show."""
    codegen = [m for m in installed() if m.info.is_codegen]
    return max(codegen, key=lambda m: m.size, default=None)
