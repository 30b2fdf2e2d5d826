"""What this machine can run: memory, CPU features, the GPU llama.cpp was built for, and a recommendation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

import psutil

from cga.core import native

from .speed_probe import Estimate, Probe, estimate


@dataclass(frozen=True)
class Gpu:
    name: str
    total_bytes: int | None
    free_bytes: int | None  # None where it cannot be read


@dataclass(frozen=True)
class Machine:
    cpu_threads: int
    cpu_cores: int
    cpu_features: list[str]
    total_memory: int
    available_memory: int
    gpu_backends: list[str]  # llama.cpp backends other than the CPU ("CUDA", "Metal", …)
    gpu_offload: bool  # whether llama.cpp can put layers on a GPU at all
    gpus: list[Gpu]


def available_memory() -> int:
    return psutil.virtual_memory().available


def nvidia_gpus() -> list[Gpu]:
    """From nvidia-smi, where it is installed; an empty list otherwise."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, total, free = (x.strip() for x in line.rsplit(",", 2))
        gpus.append(Gpu(name, int(float(total)) * 2**20, int(float(free)) * 2**20))
    return gpus


def inspect() -> Machine:
    info = native.system_info()
    vm = psutil.virtual_memory()
    gpus = nvidia_gpus()
    backends = [name for name in info if name != "CPU"]
    if sys.platform == "darwin" and any(b.lower().startswith("metal") for b in backends):
        gpus = [Gpu("Apple GPU (unified memory)", vm.total, vm.available)]
    return Machine(
        cpu_threads=psutil.cpu_count(logical=True) or 1,
        cpu_cores=psutil.cpu_count(logical=False) or 1,
        cpu_features=info.get("CPU", []),
        total_memory=vm.total,
        available_memory=vm.available,
        gpu_backends=backends,
        gpu_offload=native.supports_gpu_offload(),
        gpus=gpus,
    )


# Python models, best HumanEval pass@1 first: CodeGen1-mono 16.1B/6.1B/2.7B/350M score 29.3/26.1/23.7/12.8 in
# the CodeGen paper, and CodeGen2.5's release puts its 7B mono above CodeGen1-16B-mono.
BEST_FIRST = ("codegen25-7b-mono", "codegen-16B-mono", "codegen-6B-mono", "codegen-2B-mono", "codegen-350M-mono")


EDITOR_WARM_S, EDITOR_COLD_S = 0.5, 3.0  # as-you-type: a suggestion while still typing; a new file soon after
CHAT_DECODE_TPS = 5.0  # chat: about reading speed
TYPES_BEST_FIRST = ("q8_0", "q4_k_m")


@dataclass(frozen=True)
class Recommendation:
    use: str  # "editor" or "chat"
    model: str
    quant: str
    memory_gb: float
    estimate: Estimate
    why: str


def memory_budget_gb(machine: Machine) -> tuple[float, str]:
    """60 % of what is free now (the editor and the rest keep running), or of the free VRAM on a GPU."""
    on_gpu = machine.gpu_offload and any(g.free_bytes for g in machine.gpus)
    free = max(g.free_bytes or 0 for g in machine.gpus) if on_gpu else machine.available_memory
    return free * 0.6 / 1e9, "free VRAM" if on_gpu else "free RAM"


def meets(use: str, estimate: Estimate) -> bool:
    if use == "editor":
        return estimate.warm_s <= EDITOR_WARM_S and estimate.cold_s <= EDITOR_COLD_S
    return estimate.decode_tps >= CHAT_DECODE_TPS


def best_type(entry, use: str, measured: Probe, budget_gb: float) -> tuple[str, Estimate] | None:
    """The most faithful type of a catalog entry that fits the memory and meets the use's budget here."""
    for quant in TYPES_BEST_FIRST:
        guess = estimate(measured, entry.params_b, entry.file_gb(quant))
        if entry.memory_gb(quant) <= budget_gb and meets(use, guess):
            return quant, guess
    return None


def recommend(machine: Machine, measured: Probe) -> list[Recommendation]:
    """The best Python model for completion as you type, and for chat, by measured speed and the memory there is.

    As you type: a warm single-line suggestion within EDITOR_WARM_S and a cold one within EDITOR_COLD_S; chat:
    at least CHAT_DECODE_TPS. When nothing meets a budget, the smallest model, saying so.
    """
    from cga.models.catalog import known

    budget, where = memory_budget_gb(machine)
    picks = []
    for use in ("editor", "chat"):
        goal = (
            f"a suggestion in {EDITOR_WARM_S:g} s, a new file in {EDITOR_COLD_S:g} s"
            if use == "editor"
            else f"{CHAT_DECODE_TPS:g} tokens/s"
        )
        for name in BEST_FIRST:
            entry = known(name)
            found = best_type(entry, use, measured, budget)
            if found:
                quant, guess = found
                picks.append(
                    Recommendation(
                        use,
                        name,
                        quant,
                        entry.memory_gb(quant),
                        guess,
                        f"the best Python model that meets {goal} here and fits in 60 % of the "
                        f"{where} ({budget:.1f} GB)",
                    )
                )
                break
        else:
            entry = known(BEST_FIRST[-1])
            picks.append(
                Recommendation(
                    use,
                    entry.name,
                    "q4_k_m",
                    entry.memory_gb("q4_k_m"),
                    estimate(measured, entry.params_b, entry.file_gb("q4_k_m")),
                    f"the smallest; nothing meets {goal} on this machine",
                )
            )
    return picks


def pull_type(entry, machine: Machine, measured: Probe) -> tuple[str, str]:
    """The type `models pull NAME` installs when none is given, and why: the most faithful that meets the
    as-you-type budget here, else the chat budget, else the smallest."""
    budget, _ = memory_budget_gb(machine)
    for use, what in (("editor", "as you type"), ("chat", "for chat")):
        found = best_type(entry, use, measured, budget)
        if found:
            quant, guess = found
            return quant, (
                f"the most faithful type fast enough {what} here (estimated: a suggestion "
                f"{guess.warm_s:.2f} s, {guess.decode_tps:.0f} tokens/s)"
            )
    return "q4_k_m", "the smallest type; this machine is slow for this model (see cga doctor)"
