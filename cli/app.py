"""The `cga` / `codegen-assistant` entry point."""

from __future__ import annotations

import signal
import sys
from importlib.metadata import version
from typing import Annotated

import typer

from . import (
    bench_cmd,
    chat_cmd,
    complete_cmd,
    convert_cmd,
    doctor_cmd,
    editor_cmd,
    eval_cmd,
    help_format,
    lsp_cmd,
    models_cmd,
)

help_format.apply()
app = typer.Typer(
    rich_markup_mode=None,  # help text is plain: install hints such as [torch] must show as written
    name="cga",
    help="A local, quantized CodeGen code assistant: convert checkpoints, chat, complete, serve editors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"cga {version('codegen-assistant')}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    # llama_cpp must be imported before numpy: on some CUDA builds the reverse order makes every model load
    # crash. The command modules import numpy only when their command runs, so importing it here, before any
    # command, keeps the order. `cga lsp` skips it: it replaces itself with the bare server at once, and an
    # editor waits for that server to start (the server loads llama.cpp when it opens the model).
    if ctx.invoked_subcommand != "lsp":
        import cga.core.native  # noqa: F401


convert_cmd.register(app)
complete_cmd.register(app)
chat_cmd.register(app)
lsp_cmd.register(app)
models_cmd.register(app)
doctor_cmd.register(app)
editor_cmd.register(app)
eval_cmd.register(app)
bench_cmd.register(app)


def _exit_on(signum: int, frame: object) -> None:
    # SystemExit, not KeyboardInterrupt: every `finally` runs (temporaries are removed, a child quantizer is
    # killed), but chat's Ctrl-C handling, which cancels one answer and goes on, does not catch it.
    raise SystemExit(128 + signum)


def main() -> None:
    if sys.stdout is None or sys.stderr is None:  # started with `>&-` or `2>&-`: print() would raise
        if sys.stderr is not None:
            sys.stderr.write("Error: standard output is closed; run cga with it open, or send it to a file.\n")
        raise SystemExit(1)
    for name in ("SIGTERM", "SIGHUP"):  # SIGHUP: the terminal was closed (there is none on Windows)
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on)
    app(prog_name="cga")  # also under `python -m cga.cli`
