"""The `cga` / `codegen-assistant` entry point."""

from __future__ import annotations

# llama_cpp must be imported before numpy: on some CUDA builds the reverse
# order makes every model load crash.
import assistant.native  # noqa: F401  (import order)

import typer

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


def main() -> None:
    app()
