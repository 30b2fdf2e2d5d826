"""The local model store: GGUF files in the user data directory's `models/` folder.

A model's name is its file name without `.gguf`. Pulled and imported models
are named `BASE.QUANT` (`codegen-350M-mono.q4_k_m`), so `--model BASE` finds
the best installed quantization of BASE and `--model BASE:QUANT` one in
particular. This is also where `cga` looks for the best CodeGen model when no
model is named.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from cga.core.errors import ModelLoadError
from cga.core.limits import QUANT_TYPES
from cga.core.model_info import ModelInfo, read_model_info
from cga.core.paths import user_dir

from . import manifest
from .errors import StoreError
from .manifest import Record

# When several quantizations of one model are installed, --model BASE takes the most faithful.
QUANT_PREFERENCE = QUANT_TYPES


@dataclass(frozen=True)
class Installed:
    name: str
    path: Path
    info: ModelInfo
    size: int
    record: Record | None

    @property
    def base(self) -> str:
        stem, _, quant = self.name.rpartition(".")
        return stem if stem and quant in QUANT_PREFERENCE else self.name


NAME_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
MAX_NAME = 100  # with ".gguf" and the temporary suffixes of an install (about 60), well inside any file system's 255


def check_name(name: str) -> str:
    """A model name is one plain file name in the store: no folders, no hidden files, nothing that escapes it."""
    if not NAME_CHARS.fullmatch(name) or name.endswith(".") or len(name) > MAX_NAME:
        raise StoreError(
            f"'{name[:MAX_NAME]}' cannot be a model name: use up to {MAX_NAME} letters, digits and "
            "'.', '_', '+' or '-', starting with a letter or digit (for example codegen-350M-mono.q4_k_m)."
        )
    return name


def models_dir() -> Path:
    return user_dir() / "models"


def installed() -> list[Installed]:
    """Every readable GGUF in the store; unreadable files are skipped, not fatal."""
    folder = models_dir()
    records = manifest.load(folder)
    found = []
    for path in sorted(folder.glob("*.gguf")):
        try:
            info = read_model_info(path)
        except ModelLoadError:
            continue
        found.append(Installed(path.stem, path, info, path.stat().st_size, records.get(path.stem)))
    return found


def find(name: str) -> Installed | None:
    """By exact name, BASE:QUANT, or BASE (its most faithful installed quantization)."""
    models = installed()
    wanted = name.replace(":", ".", 1) if ":" in name else name
    exact = next((m for m in models if m.name == wanted), None)
    if exact is not None or ":" in name:
        return exact
    same_base = [m for m in models if m.base == name]
    return min(same_base, key=lambda m: QUANT_PREFERENCE.index(m.name.rpartition(".")[2]), default=None)


def unreadable(name: str) -> str | None:
    """Why the store's file for name cannot be read, if there is such a file (installed() leaves it out)."""
    try:
        path = models_dir() / f"{check_name(name.replace(':', '.', 1))}.gguf"
    except StoreError:
        return None
    if not path.exists():
        return None
    try:
        read_model_info(path)
    except ModelLoadError as exc:
        return str(exc).rstrip(".")
    return None


def checked(model: Installed) -> Installed:
    """The model, after its file is checked against the manifest (raises TamperedModel)."""
    manifest.check(models_dir(), model.name, model.path)
    return model


def closest_names(name: str) -> list[str]:
    names = {m.name for m in installed()} | {m.base for m in installed()}
    return difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.5)


def best_codegen(language: str | None = None) -> Installed | None:
    """The largest installed CodeGen model: more weights, better code, as the paper's tables show. For a
    language, the largest trained for it where one is installed: a Python-only (mono) model for Python, a
    multi-language one for the rest."""
    codegen = [m for m in installed() if m.info.is_codegen]
    if language:
        codegen = [m for m in codegen if trained_for(m.base, language)] or codegen
    return max(codegen, key=lambda m: m.size, default=None)


def trained_for(base: str, language: str) -> bool:
    """By the catalog's naming: -mono models know Python only, -nl ones natural language, the rest many languages."""
    name = base.lower()
    if language == "python":
        return "mono" in name
    return "mono" not in name and not name.endswith("-nl")
