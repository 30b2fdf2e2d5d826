"""Typed server settings from initializationOptions and workspace/didChangeConfiguration (camelCase on the wire)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cga.assistant.server_url import BadServerUrl, parse_server_url, shown
from cga.core.limits import MAX_THREADS
from cga.core.wording import brief

# Editor-side settings that clients send along with ours: how to start us, the client's own switch for
# completions, and VS Code's standard `<section>.trace.server`.
CLIENT_ONLY = {"command", "enable", "trace"}
DEVICES = ("auto", "cpu", "gpu")
DEFAULT_CONTEXT_TOKENS = 1536
# bench/suggestion_bench.py: 97 % of the right characters, 45 % fewer junk ones; bench/insertion_bench.py: every
# accepted character of the uncut suggestions at about half their latency, openers never empty (README).
DEFAULT_CONFIDENCE_CUT = 0.2
# Off: bench/project_context_bench.py (32 cross-file cursors in the standard library and PyPI packages, the
# embedded SmolLM2) found no gain: exact lines 6/32 without, 6/32 with 128 tokens of imported definitions, 4-5/32
# with 384 or with chunks of files; a model trained on repository context may use it.
DEFAULT_PROJECT_CONTEXT_TOKENS = 0
DEFAULT_BLOCK_TIME_LIMIT_MS = 2000


def _count(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _server_url(value: Any) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, str) and bool(parse_server_url(value))
    except BadServerUrl:
        return False


def _brief(value: Any) -> str:
    """A value as an error message may quote it: short, and a URL without its password."""
    if isinstance(value, str) and "://" in value:
        return shown(value)
    return brief(repr(value))


def setting(wire: str, default: Any, valid: Callable[[Any], bool]) -> Any:
    """A field, its name on the wire (camelCase, as editors send it) and what a valid value is: one row each."""
    return field(default=default, metadata={"wire": wire, "valid": valid})


@dataclass(frozen=True, kw_only=True)
class Settings:
    model: str | None = setting("model", None, lambda v: v is None or isinstance(v, str))
    device: str = setting("device", "auto", lambda v: v in DEVICES)
    threads: int | None = setting("threads", None, lambda v: v is None or _count(1, MAX_THREADS)(v))
    max_tokens: int = setting("maxTokens", 64, _count(1, 2048))
    gpu_layers: str = setting("gpuLayers", "auto", lambda v: isinstance(v, (str, int)) and not isinstance(v, bool))
    debounce_ms: int = setting("debounceMs", 0, _count(0, 5000))
    disabled_languages: tuple[str, ...] = setting(
        "disabledLanguages", (), lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)
    )
    # The model's window: prompt plus answer. The KV cache is allocated for all of it up front, so this
    # is the setting that sets the server's memory (and how long a cold file takes); capped at the model's own.
    context_tokens: int = setting("contextTokens", DEFAULT_CONTEXT_TOKENS, _count(256, 131072))
    # Stop a suggestion before the first token the model gives less than this probability (0: never); see
    # bench/suggestion_bench.py for the measurement behind the default. Local models and llama-server.
    confidence_cut: float = setting(
        "confidenceCut",
        DEFAULT_CONFIDENCE_CUT,
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
    )
    # A block suggestion shows what it has this long after its first line break, ending on its last whole line
    # (llama.vim: 1 s); 0 waits for the block's end or maxTokens. At 64 tokens it is reached only where the model
    # writes under about 30 tokens a second.
    block_time_limit_ms: int = setting("blockTimeLimitMs", DEFAULT_BLOCK_TIME_LIMIT_MS, _count(0, 60000))
    # At most this many tokens of the prompt go to the rest of the project (lsp/project_context.py): the
    # definitions the file imports and chunks of files opened, edited or saved lately; 0 shows the model only
    # the file at the cursor.
    project_context_tokens: int = setting("projectContextTokens", DEFAULT_PROJECT_CONTEXT_TOKENS, _count(0, 65536))
    # Complete in files that look like secrets (lsp/secret_files.py: .env, keys, credentials); off, they are
    # never read, tokenized or sent to a server.
    complete_secret_files: bool = setting("completeSecretFiles", False, lambda v: isinstance(v, bool))
    # Answer cga.refine and cga.followUp at once and make the edit when the model is done (workspace/applyEdit):
    # for clients that block while a command runs (Emacs's eglot).
    refine_in_background: bool = setting("refineInBackground", False, lambda v: isinstance(v, bool))
    # A team's completion server (llama.cpp's llama-server or llama-cpp-python's): then no model loads here.
    remote_url: str | None = setting("remoteUrl", None, _server_url)

    @property
    def layers(self) -> str:
        """GPU layers as the engine takes them: `device` wins where it is explicit."""
        return {"cpu": "none", "gpu": "all"}.get(self.device, self.gpu_layers)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        values = json.loads(text)
        return cls(**{**values, "disabled_languages": tuple(values.get("disabled_languages", ()))})

    def reload_needed(self, other: Settings) -> bool:
        """Whether going from self to other means loading the model again."""
        return (self.model, self.threads, self.layers, self.context_tokens, self.remote_url) != (
            other.model,
            other.threads,
            other.layers,
            other.context_tokens,
            other.remote_url,
        )


FIELDS = {f.metadata["wire"]: f for f in dataclasses.fields(Settings)}
CAMEL = {wire: f.name for wire, f in FIELDS.items()}  # the names editors send, and ours


def parse_settings(raw: Any, base: Settings = Settings()) -> tuple[Settings, list[str]]:
    """base updated with raw, plus one message per invalid value (which keeps base's value, never kills the server)."""
    if raw is None:
        return base, []
    if not isinstance(raw, dict):
        return base, ["Settings must be an object; keeping the current ones."]
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        known = FIELDS.get(key)
        if known is None:
            if key not in CLIENT_ONLY:
                problems.append(f"Unknown setting '{key}' ignored.")
            continue
        name = known.name
        if name == "model" and value == "":
            value = None  # editors' way of saying "not set"
        if not known.metadata["valid"](value):
            problems.append(
                f"Setting '{key}' has an invalid value {_brief(value)} ({known.type}); "
                f"keeping {_brief(getattr(base, name))}."
            )
            continue
        values[name] = tuple(value) if name == "disabled_languages" else (str(value) if name == "gpu_layers" else value)
    settings = dataclasses.replace(base, **values)
    if settings.max_tokens > settings.context_tokens // 2:
        problems.append(
            f"maxTokens {settings.max_tokens} leaves too little of contextTokens {settings.context_tokens} "
            f"for the code before the cursor; using {settings.context_tokens // 2}."
        )
        settings = dataclasses.replace(settings, max_tokens=settings.context_tokens // 2)
    return settings, problems


def section(raw: Any) -> Any:
    """Our part of a didChangeConfiguration payload: {"cga": {...}} from most editors, or the bare object."""
    if isinstance(raw, dict) and "cga" in raw:
        return raw["cga"]
    return raw


def wire_names() -> list[str]:
    """Every setting's name as editors send it, in the order of Settings: what help and editor docs list."""
    return [f.metadata["wire"] for f in dataclasses.fields(Settings)]
