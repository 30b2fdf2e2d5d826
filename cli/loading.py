"""Opening the backend a command talks to, with the user told what answers."""

from __future__ import annotations

from cga.assistant.backend import Backend
from cga.assistant.opening import open_backend, remote_url
from cga.assistant.server_url import redacted

from .errors import stderr


def open_for_command(
    model: str | None, *, remote: str | None = None, gpu_layers: str = "auto", threads: int | None = None
) -> Backend:
    url = remote_url(remote)
    with stderr.status(f"Connecting to {redacted(url)}…" if url else "Loading the model…"):
        backend, reason = open_backend(model, remote=url, threads=threads, gpu_layers=gpu_layers)
    stderr.print(f"Model: {backend.info.name} — {reason}. Running on {backend.describe()}.", style="dim")
    if not url and backend.n_ctx < backend.info.context_length:
        stderr.print(
            f"The model's window is {backend.info.context_length:,} tokens; this command uses {backend.n_ctx:,}, "
            "which keeps its memory in bounds.",
            style="dim",
        )
    return backend
