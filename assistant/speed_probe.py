"""How fast this machine runs a model, measured, and what that predicts for each catalog model.

A probe runs the embedded SmolLM2-135M (always here, no download) for a second or
two (a warm-up of a few tokens, then one run): prefill tokens/s and decode tokens/s. Decoding reads every weight once per
token, so it scales with the file's size; prefill is matrix arithmetic, so it
scales with the parameter count. From those two figures come an as-you-type
estimate for any catalog model and type: a warm single-line suggestion (about
SINGLE_LINE tokens of decode) and a cold one (a COLD_PROMPT-token prefill first).
The estimates are coarse (another architecture, another quantization kernel);
they rank models and reject the hopeless, which is what a recommendation needs.
The probe is kept in the user folder, keyed by what it depends on, for
MAX_AGE_DAYS; one taken while other work kept the CPU busy is not kept (it
measured the other work: 21 tokens/s instead of 314 on a busy laptop).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cga.core import native
from cga.core.errors import UserDirError
from cga.core.limits import default_threads
from cga.core.paths import created, user_dir

PROBE_PARAMS_B = 0.135  # SmolLM2-135M
PROBE_PROMPT, PROBE_DECODE = 256, 24
SINGLE_LINE = 16  # tokens in a typical single-line suggestion
COLD_PROMPT = 1500  # tokens of a file opened for the first time (the language server's default window)
OVERHEAD_S = 0.03  # per request, measured by bench/lsp_bench.py (prompt building, protocol)
MAX_AGE_DAYS = 30  # a kept probe older than this is taken again (llama.cpp, drivers and the machine change)
BUSY_PERCENT = 30  # other work using more of the CPU than this just before the probe: the figures are not kept


@dataclass(frozen=True)
class Probe:
    prefill_tps: float
    decode_tps: float
    file_bytes: int
    on_gpu: bool
    key: str  # what the figures depend on: threads, llama.cpp, device
    taken: float  # when (seconds since the epoch)
    busy_percent: float  # how much of the CPU other work used just before it was taken

    @property
    def under_load(self) -> bool:
        return self.busy_percent > BUSY_PERCENT

    def when(self) -> str:
        """When and under what load it was taken, as the user reads it."""
        at = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.taken))
        return f"measured {at}, the CPU {self.busy_percent:.0f} % busy with other work"


@dataclass(frozen=True)
class Estimate:
    warm_s: float  # a single-line suggestion in a file the model has read
    cold_s: float  # the first one in a file it has not
    decode_tps: float


def _key(threads: int, on_gpu: bool) -> str:
    return f"llama-cpp-python {native.version()}, {threads} threads, {'GPU' if on_gpu else 'CPU'}"


def measure(threads: int | None = None, gpu_layers: str = "auto") -> Probe:
    """`cga bench`'s measurement of the embedded model: one cold run after a warm-up of a few tokens, so that
    llama.cpp's one-time setup does not count (a median of three took 3× as long for the same figures)."""
    from .benchmark import measure_gguf
    from .model_choice import embedded_default

    model = embedded_default()
    busy = other_work_percent()
    measured = measure_gguf(model, PROBE_PROMPT, PROBE_DECODE + 1, 1, threads, gpu_layers, warm_up=True)
    on_gpu = gpu_layers != "none" and native.supports_gpu_offload()
    return Probe(
        measured.prefill_tps,
        measured.decode_tps,
        model.stat().st_size,
        on_gpu,
        _key(threads or default_threads(), on_gpu),
        time.time(),
        busy,
    )


def other_work_percent(seconds: float = 0.5) -> float:
    """How much of the CPU the machine's other work uses now (this process is idle meanwhile)."""
    import psutil

    return float(psutil.cpu_percent(interval=seconds))


def probe(threads: int | None = None, gpu_layers: str = "auto", *, fresh: bool = False) -> Probe:
    """The kept probe for these settings if it is recent and was taken on a quiet machine, or a new one (kept
    where the user folder is writable, unless other work made it meaningless: Probe.under_load)."""
    on_gpu = gpu_layers != "none" and native.supports_gpu_offload()
    key = _key(threads or default_threads(), on_gpu)
    path = probe_path()
    if not fresh:
        try:
            kept = Probe(**json.loads(path.read_text()))
            if kept.key == key and time.time() - kept.taken < MAX_AGE_DAYS * 86400 and not kept.under_load:
                return kept
        except (OSError, ValueError, TypeError, RecursionError):
            pass  # none, damaged, or from a version that did not say when it was taken: measured again
    measured = measure(threads, gpu_layers)
    if measured.under_load:
        return measured  # said by the caller; the kept one (if any) stays for a quieter moment
    try:
        from cga.core.atomic_files import write_atomically

        created(path.parent)
        write_atomically(path, json.dumps(asdict(measured)).encode())
    except (UserDirError, OSError):
        pass  # a read-only home measures again next time
    return measured


def estimate(measured: Probe, params_b: float, file_gb: float) -> Estimate:
    decode = measured.decode_tps * measured.file_bytes / (file_gb * 1e9)
    prefill = measured.prefill_tps * PROBE_PARAMS_B / params_b
    warm = SINGLE_LINE / decode + OVERHEAD_S
    return Estimate(warm, COLD_PROMPT / prefill + warm, decode)


def probe_path() -> Path:
    return user_dir() / "speed_probe.json"
