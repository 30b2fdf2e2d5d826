"""The `cga` / `codegen-assistant` entry point."""

from __future__ import annotations

import signal

import typer

# llama_cpp must be imported before numpy: on some CUDA builds the reverse
# order makes every model load crash.
import core.native  # noqa: F401  (import order)

from . import bench_cmd, chat_cmd, complete_cmd, convert_cmd, doctor_cmd, eval_cmd, lsp_cmd, models_cmd

app = typer.Typer(
    name="cga",
    help="A local, quantized CodeGen code assistant: convert checkpoints, chat, complete, serve editors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
convert_cmd.register(app)
complete_cmd.register(app)
chat_cmd.register(app)
lsp_cmd.register(app)
models_cmd.register(app)
doctor_cmd.register(app)
eval_cmd.register(app)
bench_cmd.register(app)


def _exit_on(signum: int, frame: object) -> None:
    # SystemExit, not KeyboardInterrupt: every `finally` runs (temporaries are removed, a child quantizer is
    # killed), but chat's Ctrl-C handling, which cancels one answer and goes on, does not catch it.
    raise SystemExit(128 + signum)


def main() -> None:
    for name in ("SIGTERM", "SIGHUP"):  # SIGHUP: the terminal was closed (there is none on Windows)
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on)
    app()
