"""`cga lsp`: the language server for VS Code, Neovim and any LSP editor."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

HELP = """Serve completions to an editor over the Language Server Protocol (stdio by default).

Settings come from the editor's initializationOptions: model, threads, maxTokens,
gpuLayers, disabledLanguages.

Example (Neovim): vim.lsp.start({ name = "cga", cmd = { "cga", "lsp" } })
"""


def register(app: typer.Typer) -> None:
    app.command("lsp", help=HELP)(lsp_command)


def lsp_command(
    tcp: Annotated[Optional[int], typer.Option(help="Listen on this TCP port on 127.0.0.1 (for debugging).")] = None,
) -> None:
    import threading

    from lsp.server import main_thread, server

    target = (lambda: server.start_tcp("127.0.0.1", tcp)) if tcp is not None else server.start_io
    protocol = threading.Thread(target=target, name="lsp-protocol", daemon=True)
    protocol.start()
    main_thread.serve_while(protocol)  # the model runs here; see lsp/main_thread.py
