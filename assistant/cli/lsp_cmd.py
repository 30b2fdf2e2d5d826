"""`cga lsp`: the language server for VS Code, Neovim and any LSP editor."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .options import GpuLayers, ModelOption, Threads

HELP = """Serve completions and refinement commands to an editor over the Language Server Protocol (stdio).

The options set the defaults; the editor's initializationOptions and
workspace/didChangeConfiguration (section "cga") override them: model, device
(auto, cpu, gpu), threads, gpuLayers, maxTokens, debounceMs, disabledLanguages.

Example (Neovim 0.8+): vim.lsp.start({ name = "cga", cmd = { "cga", "lsp" } })
"""


def register(app: typer.Typer) -> None:
    app.command("lsp", help=HELP)(lsp_command)


def lsp_command(
    model: ModelOption = None,
    threads: Threads = None,
    gpu_layers: GpuLayers = "auto",
    tcp: Annotated[Optional[int], typer.Option(help="Listen on this TCP port on 127.0.0.1 (for debugging).")] = None,
) -> None:
    import threading

    from lsp.server import main_thread, server
    from lsp.settings import Settings

    server.base_settings = server.settings = Settings(model=model, threads=threads, gpu_layers=gpu_layers)
    target = (lambda: server.start_tcp("127.0.0.1", tcp)) if tcp is not None else server.start_io
    protocol = threading.Thread(target=target, name="lsp-protocol", daemon=True)
    protocol.start()
    main_thread.serve_while(protocol)  # the model runs here; see lsp/main_thread.py
