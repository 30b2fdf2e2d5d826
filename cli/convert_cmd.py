"""`cga convert` and `cga verify`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cga.core.limits import QUANT_TYPES

from .consoles import plain_console
from .errors import fail, user_errors
from .options import CheckpointDir, MpNum, Threads
from .progress import phase_progress

if TYPE_CHECKING:
    from cga.convert.verify import VerifyReport

console = plain_console(stderr=True, soft_wrap=True)

CONVERT_HELP = """Convert a CodeGen checkpoint folder into a GGUF file that llama.cpp runs.

Examples:

  cga convert ./codegen-350M-mono -o codegen-350M-mono.q4_k_m.gguf --quant q4_k_m

  cga convert ./codegen2-1B -o codegen2-1B.f16.gguf --verify
"""


def register(app: typer.Typer) -> None:
    app.command("convert", help=CONVERT_HELP)(convert_command)
    app.command("verify", help=VERIFY_HELP)(verify_command)


@user_errors
def convert_command(
    source: CheckpointDir,
    output: Annotated[Path, typer.Option("--output", "-o", help="The GGUF file to write.", show_default=False)],
    quant: Annotated[str, typer.Option("--quant", "-q", help=f"One of {', '.join(QUANT_TYPES)}.")] = "f16",
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
    mp_num: MpNum = None,
    name: Annotated[str | None, typer.Option(help="Model name to record (default: folder name).")] = None,
    license: Annotated[str | None, typer.Option(help="License to record (default: from the model card).")] = None,
    verify_after: Annotated[bool, typer.Option("--verify", help="Check the result against transformers.")] = False,
    threads: Threads = None,
) -> None:
    from cga.convert.pipeline import convert  # numpy and gguf: not for every command (see app.py)

    with phase_progress() as report:
        result = convert(
            source,
            output,
            quant,
            force=force,
            mp_num=mp_num,
            name=name,
            license=license,
            threads=threads,
            progress=report,
        )
    console.print(
        f"Wrote {result.path} ({result.size / 2**20:.1f} MiB, {result.quant}, {result.spec.family} on llama.cpp's "
        f"'{result.spec.arch}', infill {'yes' if result.can_infill else 'no'})."
    )
    if verify_after:
        _verify_and_print(source, output, mp_num=mp_num, threads=threads)


VERIFY_HELP = """Run transformers and llama.cpp on the same real source text and compare them.

Prints token agreement, top-1 agreement, max |Δlogit| and mean KL divergence;
exits 2 when the GGUF is past the thresholds for its type. Needs torch and
transformers: pip install 'codegen-assistant[torch]'.

Example:

  cga verify ./codegen-350M-mono codegen-350M-mono.q4_k_m.gguf
"""


@user_errors
def verify_command(
    checkpoint: CheckpointDir,
    gguf_file: Annotated[Path, typer.Argument(metavar="GGUF", help="The converted file.", show_default=False)],
    text: Annotated[Path | None, typer.Option(help="Source file to compare on (default: Python stdlib code).")] = None,
    tokens: Annotated[int, typer.Option(min=16, max=2048, help="How many tokens to compare.")] = 256,
    max_kl: Annotated[float | None, typer.Option(help="Mean KL limit (default depends on the type).")] = None,
    mp_num: MpNum = None,
    threads: Threads = None,
) -> None:
    sample = None
    if text is not None:
        try:
            sample = text.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"Cannot read {text} as UTF-8 text ({exc}).")
    _verify_and_print(
        checkpoint, gguf_file, text=sample, n_tokens=tokens, max_kl=max_kl, mp_num=mp_num, threads=threads
    )


def _verify_and_print(checkpoint: Path, gguf_file: Path, **kwargs) -> None:
    from cga.convert.verify import check, verify

    if not Path(gguf_file).is_file():
        fail(f"{gguf_file} does not exist; convert the checkpoint first.")
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        fail("verify needs torch and transformers: pip install 'codegen-assistant[torch]'.")
    with console.status("Running transformers and llama.cpp on the same text…"):
        report = verify(checkpoint, gguf_file, **kwargs)
    print(format_report(report))
    check(report)
    console.print("Passed.", style="green")


def format_report(r: VerifyReport) -> str:
    return "\n".join(
        [
            f"file type          {r.file_type}",
            f"tokens compared    {r.n_tokens}",
            f"token ids agree    {r.token_agreement:.2%}",
            f"top-1 agreement    {r.top1_agreement:.2%}",
            f"max |Δlogit|       {r.max_abs_diff:.4f} (reference logit range {r.logit_range:.2f})",
            f"mean KL            {r.mean_kl:.3e} (limit {r.max_kl:.0e})",
        ]
    )
