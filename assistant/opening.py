"""Which backend answers a command or an editor: a team's server, or a model loaded here.

In this order: the --remote flag (or the editor's remoteUrl), the CGA_REMOTE_URL
environment variable, `remote_url` in config.toml, else a local model chosen by
`model_choice`. Apart from the interface (backend.py) that the engine and the
remote backend implement: this module imports both, and neither imports it.
"""

from __future__ import annotations

import os

from .backend import Backend

REMOTE_ENV = "CGA_REMOTE_URL"


def remote_url(flag: str | None) -> str | None:
    """The server to use, if any: flag, then environment, then config.toml."""
    from .config import load_config

    return flag or os.environ.get(REMOTE_ENV) or load_config().remote_url


API_KEY_ENV = "CGA_API_KEY"


def api_key() -> str | None:
    """The team server's key: CGA_API_KEY, else api_key in config.toml (a key in the URL wins over both)."""
    from .config import load_config

    return os.environ.get(API_KEY_ENV) or load_config().api_key


def open_backend(
    model: str | None = None,
    *,
    remote: str | None = None,
    threads: int | None = None,
    gpu_layers: str = "auto",
    n_ctx: int | None = None,
    language: str | None = None,
) -> tuple[Backend, str]:
    """The backend for a command or the language server, and why it was chosen (to tell the user); language:
    the document's, so that without a --model a Python file gets a Python model where one is installed."""
    from .config import load_config

    url = remote_url(remote)
    model = model or load_config().model
    if url:
        from .remote import RemoteBackend

        backend = RemoteBackend(url, expected=model, api_key=api_key())
        return backend, f"served by {backend.url}"
    from .engine import Engine
    from .model_choice import choose_model

    choice = choose_model(model, language)
    return Engine(choice.path, threads=threads, gpu_layers=gpu_layers, n_ctx=n_ctx), choice.reason
