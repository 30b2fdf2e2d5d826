"""Typed server settings from initializationOptions (camelCase on the wire)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

CAMEL = {"model": "model", "threads": "threads", "maxTokens": "max_tokens", "gpuLayers": "gpu_layers",
         "disabledLanguages": "disabled_languages"}


@dataclass(frozen=True, kw_only=True)
class Settings:
    model: str | None = None
    threads: int | None = None
    max_tokens: int = 64
    gpu_layers: str = "auto"
    disabled_languages: tuple[str, ...] = ()


def parse_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Settings, plus one message per invalid value (which keeps its default, never kills the server)."""
    if not isinstance(raw, dict):
        return Settings(), ([] if raw is None else ["initializationOptions must be an object; using defaults."])
    values: dict[str, Any] = {}
    problems: list[str] = []
    types = {f.name: f.type for f in fields(Settings)}
    for key, value in raw.items():
        name = CAMEL.get(key)
        if name is None:
            problems.append(f"Unknown setting '{key}' ignored.")
            continue
        ok = {
            "model": lambda v: isinstance(v, str) or v is None,
            "threads": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
            "max_tokens": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 2048,
            "gpu_layers": lambda v: isinstance(v, (str, int)) and not isinstance(v, bool),
            "disabled_languages": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        }[name](value)
        if not ok:
            problems.append(f"Setting '{key}' has an invalid value {value!r} ({types[name]}); using the default.")
            continue
        values[name] = tuple(value) if name == "disabled_languages" else (str(value) if name == "gpu_layers" else value)
    return Settings(**values), problems
