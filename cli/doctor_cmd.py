"""`cga doctor`: what this machine has, what llama.cpp was built for, and which model to use."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cga.core.wording import plural

from .consoles import plain_console
from .errors import user_errors
from .options import Threads

console = plain_console(soft_wrap=True)

HELP = """Show the CPU features, memory and GPU llama.cpp can use here, and the models that fit.

Example:

  cga doctor
"""


def register(app) -> None:
    app.command("doctor", help=HELP)(doctor_command)


def llama_cpp_requirement() -> str:
    """The llama-cpp-python this project is pinned to (its installed metadata: pyproject.toml is the one home of
    the pin); a reinstall without it would build whatever release is newest."""
    from importlib import metadata

    try:
        for requirement in metadata.requires("codegen-assistant") or []:
            if requirement.lower().startswith("llama-cpp-python") and "extra ==" not in requirement:
                return requirement.split(";")[0].strip()
    except metadata.PackageNotFoundError:
        pass
    from cga.core import native

    return f"llama-cpp-python=={native.version()}"


def gpu_build_hint() -> str:
    """How to rebuild llama.cpp with the GPU backend of this OS, in this OS's shell."""
    package = llama_cpp_requirement()
    install = f"pip install --force-reinstall --no-cache-dir {package}"
    if sys.platform == "darwin":
        return f'For Metal (Apple silicon) reinstall with CMAKE_ARGS="-DGGML_METAL=on" {install}'
    if sys.platform == "win32":
        return f'For an NVIDIA GPU reinstall, in PowerShell: $env:CMAKE_ARGS="-DGGML_CUDA=on"; {install}'
    return f'For an NVIDIA GPU reinstall with CMAKE_ARGS="-DGGML_CUDA=on" {install}'


@user_errors
def doctor_command(
    threads: Threads = None,
    probe_again: Annotated[bool, typer.Option("--probe", help="Measure this machine's speed again.")] = False,
) -> None:
    from cga.assistant.machine import inspect, recommend
    from cga.assistant.speed_probe import probe
    from cga.models import store

    m = inspect()
    console.print(
        f"CPU        {m.cpu_cores} cores, {m.cpu_threads} threads; llama.cpp uses "
        f"{', '.join(m.cpu_features) or 'no SIMD features'}"
    )
    simd = {"AVX2", "NEON", "AVX512"} & {f.split("=")[0] for f in m.cpu_features}
    if not simd and m.cpu_features:
        console.print("           no AVX2 or NEON: expect slow generation; prefer the 350M model", style="yellow")
    console.print(f"Memory     {m.total_memory / 2**30:.1f} GiB, {m.available_memory / 2**30:.1f} GiB available")
    if m.gpu_offload:
        console.print(f"GPU build  llama.cpp built with {', '.join(m.gpu_backends) or 'a GPU backend'}")
    else:
        console.print(f"GPU build  none: llama.cpp was built for the CPU only. {gpu_build_hint()}")
    for gpu in m.gpus:
        free = (
            f"{gpu.free_bytes / 2**30:.1f} GiB free of {gpu.total_bytes / 2**30:.1f}"
            if gpu.free_bytes and gpu.total_bytes
            else "free memory unknown"
        )
        console.print(f"GPU        {gpu.name}: {free}" + ("" if m.gpu_offload else " (unused by this build)"))
    installed = store.installed()
    console.print(
        f"Installed  {plural(len(installed), 'model')} in {store.models_dir()}"
        + (": " + ", ".join(i.name for i in installed) if installed else "")
    )
    with console.status("Measuring this machine's speed with the embedded model…"):
        measured = probe(threads, fresh=probe_again)
    console.print(
        f"Speed      {measured.prefill_tps:,.0f} tokens/s reading a prompt, {measured.decode_tps:,.0f} "
        f"writing, with SmolLM2-135M ({measured.key}; {measured.when()}; cga doctor --probe measures again)"
    )
    if measured.under_load:
        console.print(
            "           other work kept the CPU busy, so these figures are low and were not kept; "
            "run cga doctor again when the machine is quieter",
            style="yellow",
        )
    for pick in recommend(m, measured):
        have = any(i.base == pick.model for i in installed)
        guess = pick.estimate
        console.print(
            f"For {pick.use:<6} {pick.model}:{pick.quant} ({pick.memory_gb:.1f} GB) — {pick.why}; "
            f"estimated here: a suggestion {guess.warm_s:.2f} s, in a new file {guess.cold_s:.1f} s, "
            f"{guess.decode_tps:.0f} tokens/s."
            + ("" if have else f" Get it: cga models pull {pick.model}:{pick.quant}")
        )
