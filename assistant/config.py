"""Settings from `config.toml` in the user directory (flags and environment win over it).

remote_url = "http://build-box:8080"   # an OpenAI-compatible completions server
api_key = "…"                           # its key (llama-server --api-key), sent as Bearer; CGA_API_KEY wins
model = "/models/codegen-350M-mono.q4_k_m.gguf"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from cga.core.paths import user_dir

from .errors import EngineError
from .server_url import BadServerUrl, parse_server_url


@dataclass(frozen=True)
class Config:
    remote_url: str | None = None
    model: str | None = None
    api_key: str | None = None


def load_config() -> Config:
    path = user_dir() / "config.toml"
    if not path.is_file():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise EngineError(f"{path} is not valid TOML ({exc}); fix or delete it.") from None
    except OSError as exc:
        raise EngineError(f"{path} cannot be read ({exc.strerror or exc}); check its permissions.") from None
    unknown = set(data) - {"remote_url", "model", "api_key"}
    if unknown:
        raise EngineError(
            f"{path} has unknown setting(s) {', '.join(sorted(unknown))}; known: remote_url, api_key, model."
        )
    for key in ("remote_url", "model", "api_key"):
        if key in data and not isinstance(data[key], str):
            raise EngineError(f"{path}: {key} must be a string.")
    if data.get("remote_url"):
        try:
            parse_server_url(data["remote_url"])
        except BadServerUrl as exc:
            raise EngineError(f"{path}: remote_url: {exc}") from None
    return Config(remote_url=data.get("remote_url"), model=data.get("model"), api_key=data.get("api_key"))
