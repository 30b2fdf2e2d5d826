"""What this machine can run: memory, CPU features, the GPU llama.cpp was built for, and a recommendation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

import psutil

from core import native


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
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
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


@dataclass(frozen=True)
class Recommendation:
    use: str  # "editor" or "chat"
    model: str
    quant: str
    memory_gb: float
    why: str


def recommend(machine: Machine) -> list[Recommendation]:
    """The best CodeGen model for completion as you type, and for chat, in the memory there is.

    Memory budget: 60 % of what is free now (the editor and the rest keep
    running), or of the free VRAM when llama.cpp can use a GPU. As-you-type
    completion on a CPU wants small models (latency grows with size); chat
    can wait for a bigger one.
    """
    from models.catalog import lookup

    on_gpu = machine.gpu_offload and any(g.free_bytes for g in machine.gpus)
    budget = (max(g.free_bytes or 0 for g in machine.gpus) if on_gpu else machine.available_memory) * 0.6 / 1e9
    where = "free VRAM" if on_gpu else "free RAM"
    picks = []
    for use, limit in (("editor", None if on_gpu else 2.7), ("chat", None)):
        for name in BEST_FIRST:
            entry = lookup(name)
            quant = next((q for q in ("q8_0", "q4_k_m") if entry.memory_gb(q) <= budget), None)
            if quant and (limit is None or entry.params_b <= limit):
                picks.append(Recommendation(
                    use, name, quant, entry.memory_gb(quant),
                    f"the best Python model whose {quant} fits in 60 % of the {where} ({budget:.1f} GB)"
                    + ("" if limit is None else "; at most 2.7B parameters for as-you-type latency on a CPU")))
                break
    return picks
