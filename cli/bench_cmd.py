"""`cga bench`: prefill and decode speed, time to first token and memory of models on this machine."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from .consoles import plain_console
from .errors import fail, stderr, user_errors
from .options import GpuLayers, Threads

console = plain_console(soft_wrap=True)

HELP = """Measure prefill and decode tokens/s, time to first token and peak memory of one or more models.

Each model runs in its own process, so its memory is its own. Give several
quantizations of one model (and optionally its original checkpoint with
--transformers) to pick one by looking: a table, --json and a --plot image.

Examples:

  cga bench codegen-350M-mono.f16.gguf codegen-350M-mono.q8_0.gguf codegen-350M-mono.q4_k_m.gguf

  cga bench codegen-350M-mono --transformers ./codegen-350M-mono --plot bench.png --json bench.json
"""


def register(app: typer.Typer) -> None:
    app.command("bench", help=HELP)(bench_command)


@user_errors
def bench_command(
    models: Annotated[list[str], typer.Argument(help="GGUF files or installed model names.", show_default=False)],
    transformers: Annotated[
        Path | None, typer.Option(help="Also run this checkpoint folder in transformers fp32.")
    ] = None,
    prompt_tokens: Annotated[int, typer.Option(min=8, max=4096, help="Prompt length.")] = 512,
    gen_tokens: Annotated[int, typer.Option(min=2, max=4096, help="Tokens to generate.")] = 128,
    repeat: Annotated[int, typer.Option(min=1, max=50, help="Runs per model (medians are reported).")] = 3,
    output: Annotated[Path | None, typer.Option("--json", help="Write the results to this JSON file.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Draw the results into this PNG file.")] = None,
    threads: Threads = None,
    gpu_layers: GpuLayers = "auto",
) -> None:
    from cga.assistant.benchmark import measure_in_child
    from cga.assistant.model_choice import choose_model

    for target in (output, plot):
        if target is not None and not target.parent.is_dir():
            fail(f"Cannot write {target}: the folder {target.parent} does not exist.")
    if plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            fail("--plot needs matplotlib: pip install 'codegen-assistant[plot]'.")
    if transformers is not None and not (transformers / "config.json").is_file():
        fail(f"{transformers} is not a checkpoint folder (no config.json).")
    jobs = [("gguf", choose_model(m).path) for m in models]
    if transformers is not None:
        jobs.append(("transformers", transformers))
    results = []
    for kind, path in jobs:
        with stderr.status(f"Measuring {path.name} ({kind}), {repeat} run(s)…"):
            try:
                results.append(
                    measure_in_child(
                        kind,
                        path,
                        prompt_tokens=prompt_tokens,
                        gen_tokens=gen_tokens,
                        repeat=repeat,
                        threads=threads,
                        gpu_layers=gpu_layers,
                    )
                )
            except RuntimeError as exc:
                fail(f"Measuring {path.name} failed: {exc}")
    table = Table(
        title=f"{prompt_tokens}-token prompt, {gen_tokens} tokens generated, median of {repeat}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    rows = [
        (
            r.model,
            r.runner,
            r.file_type,
            _rate(r.prefill_tps),
            _rate(r.decode_tps),
            f"{r.ttft_s:.2f} s",
            f"{r.peak_mib:,.0f} MiB",
        )
        for r in results
    ]
    for i, column in enumerate(
        ("model", "runner", "type", "prefill\ntok/s", "decode\ntok/s", "first\ntoken", "peak\nmemory")
    ):
        # Every figure and runner whole at 80 columns; a long file name folds onto more lines instead.
        table.add_column(
            column,
            justify="left" if i < 3 else "right",
            overflow="fold",
            min_width=None if i == 0 else max(len(row[i]) for row in rows),
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if output is not None:
        _atomic_write(
            output,
            json.dumps(
                {
                    "prompt_tokens": prompt_tokens,
                    "gen_tokens": gen_tokens,
                    "repeat": repeat,
                    "results": [asdict(r) for r in results],
                },
                indent=2,
            ).encode(),
        )
        stderr.print(f"Wrote {output}.")
    if plot is not None:
        _plot(results, plot)
        stderr.print(f"Wrote {plot}.")


def _atomic_write(path: Path, data: bytes) -> None:
    from cga.core.atomic_files import publish, temporary_beside

    with temporary_beside(path) as tmp:
        tmp.write_bytes(data)
        publish(tmp, path)


def _rate(tokens_per_s: float) -> str:
    """Tokens/s as precise as it is worth: 3.5 for a big model on a CPU, 17,127 for a tiny one."""
    return f"{tokens_per_s:.1f}" if tokens_per_s < 100 else f"{tokens_per_s:,.0f}"


def _plot(results, path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.model}\n{r.runner}" for r in results]
    panels = (
        ("prefill tok/s", [r.prefill_tps for r in results]),
        ("decode tok/s", [r.decode_tps for r in results]),
        ("first token (s)", [r.ttft_s for r in results]),
        ("peak memory (MiB)", [r.peak_mib for r in results]),
    )
    fig, axes = plt.subplots(1, 4, figsize=(4 * 4, 4.5))
    for ax, (title, values) in zip(axes, panels, strict=True):
        bars = ax.bar(range(len(values)), values, color="#4c72b0")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_title(title)
        ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    _atomic_write(path, buffer.getvalue())
