"""`cga eval`: HumanEval pass@k, MTPB multi- vs single-turn, and perplexity across quantizations."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cga.core.wording import plural

from .consoles import plain_console
from .errors import fail, stderr, user_errors
from .options import GpuLayers, ModelOption, RemoteUrl, Threads
from .progress import phase_progress

console = plain_console(soft_wrap=True)

app = typer.Typer(
    rich_markup_mode=None,  # help text is plain: install hints such as [torch] must show as written
    name="eval",
    help="Measure a model on this machine: HumanEval, the multi-turn benchmark (MTPB), perplexity.",
    no_args_is_help=True,
)

Output = Annotated[Path | None, typer.Option("--json", help="Write every sample and result to this JSON file.")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N problems.")]
TemperatureOpt = Annotated[float, typer.Option(min=0.0, max=2.0, help="Sampling temperature (paper: 0.2 for pass@1).")]
TopP = Annotated[float, typer.Option(min=0.0, max=1.0, help="Nucleus sampling (paper: 0.95).")]
Timeout = Annotated[float, typer.Option(min=0.5, max=3600, help="Seconds each generated program may run.")]
Parallel = Annotated[
    int,
    typer.Option(min=1, max=64, help="Requests sent at once to a --remote server (use its number of parallel slots)."),
]


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="eval")


def _generator(model: str | None, remote: str | None, threads: int | None, gpu_layers: str, parallel: int = 1):
    from cga.assistant.opening import remote_url
    from cga.evaluation.generator import BackendGenerator

    from .loading import open_for_command

    if parallel > 1 and not remote_url(remote):
        fail("--parallel needs --remote: a local model answers one request at a time.")

    return BackendGenerator(open_for_command(model, remote=remote, gpu_layers=gpu_layers, threads=threads))


def _check_json_target(path: Path | None) -> None:
    """Before the run, not after it: a place where the results cannot go fails now, with nothing lost. Only
    a regular file is ever replaced (a symlink, a device or a folder named by mistake stays as it is)."""
    if path is None:
        return
    if path.is_symlink() or (path.exists() and not path.is_file()):
        fail(f"Cannot write the results to {path}: it is not a regular file; give a new file name.")
    if not path.parent.is_dir():
        fail(f"Cannot write {path}: the folder {path.parent} does not exist.")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"Cannot write {path}: permission denied; give a place you can write to.")


def _write_json(path: Path | None, payload: dict) -> None:
    if path is None:
        return
    _check_json_target(path)  # again: the run took a while
    from cga.core.atomic_files import publish, temporary_beside

    with temporary_beside(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2))
        publish(tmp, path)
    stderr.print(f"Wrote {path}.")


@app.command(
    "humaneval",
    help="""HumanEval pass@k, with the Codex/CodeGen protocol (164 problems).

Generated programs run in a separate process with a time limit, a memory
limit, no network and a scratch directory.

Examples:

  cga eval humaneval --model codegen-350M-mono --samples 1

  cga eval humaneval --samples 10 -k 1 -k 10 --temperature 0.6 --json he.json
""",
)
@user_errors
def humaneval_command(
    model: ModelOption = None,
    samples: Annotated[int, typer.Option("--samples", "-s", min=1, help="Samples per problem.")] = 1,
    k: Annotated[list[int] | None, typer.Option("-k", help="pass@k to report (repeatable; default 1).")] = None,
    temperature: TemperatureOpt = 0.2,
    top_p: TopP = 0.95,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest completion.")] = 512,
    limit: Limit = None,
    timeout: Timeout = 10.0,
    output: Output = None,
    remote: RemoteUrl = None,
    parallel: Parallel = 1,
    threads: Threads = None,
    gpu_layers: GpuLayers = "auto",
) -> None:
    from cga.evaluation import humaneval
    from cga.evaluation.generator import Sampling
    from cga.evaluation.sandbox import Limits

    ks = tuple(sorted(set(k or [1])))
    if max(ks) > samples:
        fail(f"pass@{max(ks)} needs at least {max(ks)} samples per problem; pass --samples {max(ks)} or more.")
    _check_json_target(output)
    generate = _generator(model, remote, threads, gpu_layers, parallel)
    _say_how_programs_run()
    problems = humaneval.load_problems(limit)
    answer = humaneval.model_answer(generate, Sampling(temperature, top_p), max_tokens)
    with phase_progress() as progress, generate.stopping():
        results = humaneval.evaluate(
            problems,
            answer,
            samples,
            Limits(seconds=timeout),
            progress=lambda done, total: progress("problems", done, total),
            parallel=parallel,
        )
    scores = humaneval.scores(results, ks)
    table = Table(
        title=f"HumanEval: {generate.name}, {plural(len(problems), 'problem')} × {plural(samples, 'sample')}, "
        f"temperature {temperature}, top-p {top_p}",
        title_justify="left",
    )
    for name in scores:
        table.add_column(name, justify="right")
    table.add_row(*(f"{v:.2%}" for v in scores.values()))
    console.print(table)
    _say_why_programs_failed("HumanEval", [o for r in results for o in r.outcomes])
    _write_json(
        output,
        {
            "benchmark": "humaneval",
            "model": generate.name,
            "samples": samples,
            "temperature": temperature,
            "top_p": top_p,
            "scores": scores,
            "results": [asdict(r) for r in results],
        },
    )


@app.command(
    "mtpb",
    help="""The Multi-Turn Programming Benchmark: one program written in turns vs in one prompt.

The CodeGen paper's central claim: multi-turn specification writes correct
programs more often. 115 problems × 5 test cases (data: BSD-3, Salesforce).

Examples:

  cga eval mtpb --model codegen-350M-mono --limit 20

  cga eval mtpb --mode multi --json mtpb.json
""",
)
@user_errors
def mtpb_command(
    model: ModelOption = None,
    mode: Annotated[str, typer.Option(help="multi, single or both.")] = "both",
    temperature: TemperatureOpt = 0.2,
    top_p: TopP = 0.95,
    limit: Limit = None,
    data: Annotated[Path | None, typer.Option(help="Another MTPB-format file (default: the bundled one).")] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(min=1, help="Cap each turn's length (default: the problem's max_gen_length, as in the paper)."),
    ] = None,
    timeout: Timeout = 10.0,
    output: Output = None,
    remote: RemoteUrl = None,
    parallel: Parallel = 1,
    threads: Threads = None,
    gpu_layers: GpuLayers = "auto",
) -> None:
    from cga.evaluation import mtpb
    from cga.evaluation.generator import Sampling
    from cga.evaluation.sandbox import Limits

    modes = {"multi": ("multi",), "single": ("single",), "both": ("multi", "single")}.get(mode)
    if modes is None:
        fail(f"--mode takes multi, single or both, not '{mode}'.")
    try:
        problems = mtpb.load_problems(data or mtpb.DATA, limit)
    except OSError as exc:
        fail(f"Cannot read {data}: {exc.strerror}.")
    except mtpb.BadData as exc:
        fail(str(exc))
    if max_tokens is not None:
        problems = [replace(p, max_gen_length=min(p.max_gen_length, max_tokens)) for p in problems]
    _check_json_target(output)
    generate = _generator(model, remote, threads, gpu_layers, parallel)
    _say_how_programs_run()
    with phase_progress() as progress, generate.stopping():
        report = mtpb.evaluate(
            problems,
            mtpb.model_answer(generate, Sampling(temperature, top_p)),
            modes,
            Limits(seconds=timeout),
            progress=lambda done, total: progress("programs", done, total),
            parallel=parallel,
        )
    table = Table(
        title=f"MTPB: {generate.name}, {plural(len(problems), 'problem')}, temperature {temperature}",
        title_justify="left",
    )
    for m in modes:
        table.add_column(f"{m}-turn pass rate", justify="right")
    table.add_row(*(f"{report.pass_rate(m):.2%}" for m in modes))
    console.print(table)
    for m in modes:
        _say_why_programs_failed(f"{m}-turn", [r.outcome for r in report.results if r.mode == m])
    _write_json(
        output,
        {
            "benchmark": "mtpb",
            "model": generate.name,
            "temperature": temperature,
            "top_p": top_p,
            "pass_rate": {m: report.pass_rate(m) for m in modes},
            "results": [asdict(r) for r in report.results],
        },
    )


@app.command(
    "perplexity",
    help="""Perplexity of one or more GGUF files on a folder of source files, side by side.

Give several quantizations of one model to see what each costs in accuracy.

Example:

  cga eval perplexity ./src --model m.f16.gguf --model m.q8_0.gguf --model m.q4_k_m.gguf
""",
)
@user_errors
def perplexity_command(
    folder: Annotated[Path, typer.Argument(help="Folder of source files to score.", show_default=False)],
    models: Annotated[list[str], typer.Option("--model", "-m", help="A GGUF file or installed model (repeatable).")],
    window: Annotated[int, typer.Option(min=16, max=512, help="Tokens per scored window.")] = 512,
    output: Output = None,
    threads: Threads = None,
) -> None:
    from cga.assistant.model_choice import choose_model
    from cga.evaluation.perplexity import measure, source_files

    if not folder.is_dir():
        fail(f"{folder} is not a folder; give a folder of source files.")
    try:
        files = source_files(folder)
    except ValueError as exc:
        fail(str(exc))
    paths = [choose_model(m).path for m in models]
    _check_json_target(output)
    rows = []
    with phase_progress() as progress:
        for path in paths:
            rows.append(
                measure(
                    path,
                    files,
                    window=window,
                    threads=threads,
                    progress=functools.partial(progress, f"{path.name} tokens"),
                )
            )
    table = Table(title=f"Perplexity on {plural(len(files), 'file')} in {folder}", title_justify="left")
    for column in ("model", "type", "tokens", "perplexity", "vs first"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        table.add_row(
            row.model.name,
            row.file_type,
            str(row.tokens),
            f"{row.perplexity:.4f}",
            f"{row.perplexity / rows[0].perplexity - 1:+.2%}",
        )
    console.print(table)
    _write_json(
        output,
        {"folder": str(folder), "files": len(files), "results": [{**asdict(r), "model": str(r.model)} for r in rows]},
    )


def _say_why_programs_failed(what: str, outcomes: list[str]) -> None:
    """A score of 0 % from prose that does not parse reads differently from one of wrong answers."""
    from cga.evaluation.verdict import PASSED

    failed: dict[str, int] = {}
    for outcome in outcomes:
        if outcome != PASSED:
            failed[outcome] = failed.get(outcome, 0) + 1
    if failed:
        reasons = ", ".join(f"{count} {kind}" for kind, count in sorted(failed.items(), key=lambda i: (-i[1], i[0])))
        console.print(f"{what} programs that failed: {reasons} (each one's reason is in --json).")


def _say_how_programs_run() -> None:
    from cga.evaluation.sandbox import described

    how, contained = described()
    if contained:
        stderr.print(f"Generated programs run contained ({how}).")
    else:
        stderr.print(
            f"Generated programs run with time, memory and process limits ({how}). On Linux, "
            "`apt install bubblewrap` (with user namespaces allowed) contains them.",
            style="yellow",
        )
