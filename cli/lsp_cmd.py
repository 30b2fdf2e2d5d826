"""`cga lsp`: the language server for VS Code, Neovim and any LSP editor."""

from __future__ import annotations

import os
import sys
import textwrap
from typing import Annotated

import typer

from cga.core.child_command import child_command
from cga.lsp.settings import DEFAULT_CONTEXT_TOKENS, Settings, wire_names

from .options import GpuLayers, ModelOption, RemoteUrl, Threads

HELP = """Serve completions and refinement commands to an editor over the Language Server Protocol (stdio).

The options set the defaults; the editor's initializationOptions and
workspace/didChangeConfiguration (section "cga") override them:
{settings}.

Editors: the VS Code extension in lsp/editors/vscode and the Neovim (0.7+)
plugin in lsp/editors/nvim give ghost text, the popup and the refinement
commands; any LSP client can start `cga lsp` on stdio.
""".format(settings="\n".join(textwrap.wrap(", ".join(wire_names()), 78)))  # the list has one home: lsp/settings.py


def register(app: typer.Typer) -> None:
    app.command("lsp", help=HELP)(lsp_command)


def lsp_command(
    model: ModelOption = None,
    threads: Threads = None,
    gpu_layers: GpuLayers = "auto",
    context: Annotated[
        int,
        typer.Option(
            "--context",
            min=256,
            help="Tokens the model sees at once, prompt and answer (at most the model's own "
            "context). Memory grows with it: about 60 KiB a token for codegen-350M, 245 KiB for 2B.",
        ),
    ] = DEFAULT_CONTEXT_TOKENS,
    tcp: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Listen on this TCP port on 127.0.0.1 for one client (for debugging); its first line must be the token printed at start.",
        ),
    ] = None,
    remote: RemoteUrl = None,
) -> None:
    settings = Settings(model=model, threads=threads, gpu_layers=gpu_layers, context_tokens=context, remote_url=remote)
    if os.name == "posix":  # become the bare server (same process and pipes): see lsp/__main__.py
        sys.stdout.flush()
        port = [] if tcp is None else [str(tcp)]
        os.execv(sys.executable, child_command("cga.lsp.__main__", "main", settings.to_json(), *port))
    from cga.lsp.server import serve

    sys.exit(serve(settings, tcp))
