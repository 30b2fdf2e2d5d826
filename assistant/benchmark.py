"""Speed and memory of a model on this machine, one model per child process.

Each measurement runs in its own process (`run_request`, through core/child_command.py) so
that its peak resident memory is its own and one model's pages never count
against the next. The prompt is real Python source from the standard library.

- prefill tok/s: prompt tokens / time to first token (one decode step included)
- decode tok/s: tokens after the first / the time they took
- time to first token: from the request to the first token, cold cache
- peak memory: the child's peak resident set (model, context, runtime)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cga.core.child_command import child_command


@dataclass(frozen=True)
class Measurement:
    model: str
    runner: str  # "llama.cpp" or "transformers"
    file_type: str
    prompt_tokens: int
    generated: int
    prefill_tps: float
    decode_tps: float
    ttft_s: float
    peak_mib: float


def sample_prompt() -> str:
    import inspect
    import json as json_module
    import textwrap

    return "\n".join(inspect.getsource(m) for m in (textwrap, json_module.decoder, json_module.encoder))


def peak_mib() -> float:
    """This process's peak resident memory so far, on every desktop (VmHWM is Linux's alone)."""
    try:
        import resource
    except ImportError:  # Windows: the peak working set
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def measure_gguf(
    path: Path,
    prompt_tokens: int,
    gen_tokens: int,
    repeat: int,
    threads: int | None,
    gpu_layers: str,
    *,
    warm_up: bool = False,
) -> Measurement:
    """warm_up: pay llama.cpp's one-time setup (buffers, threads, a GPU's kernels) with a few tokens first, so
    that one run measures the steady state that a median of three otherwise finds."""
    from cga.core import native

    from .backend import Generation
    from .engine import Engine

    engine = Engine(path, threads=threads, gpu_layers=gpu_layers)
    prompt = engine.tokenize(sample_prompt())[:prompt_tokens]
    if warm_up:
        for _ in engine.stream(prompt[:8], Generation(max_tokens=2)):
            pass
    runs = []
    for _ in range(repeat):
        engine.llm.reset()  # cold: nothing of the prompt cached
        options = Generation(max_tokens=gen_tokens)
        start = time.perf_counter()
        stream = engine.stream(prompt, options)
        next(stream, None)
        first = time.perf_counter()
        for _ in stream:
            pass
        end = time.perf_counter()
        later = max(stream.stats.generated - 1, 0)
        runs.append((first - start, later / (end - first) if later and end > first else 0.0, stream.stats.generated))
    ttft = statistics.median(r[0] for r in runs)
    return Measurement(
        path.name,
        "llama.cpp",
        native.read_file_type(path),
        len(prompt),
        runs[-1][2],
        len(prompt) / ttft,
        statistics.median(r[1] for r in runs),
        ttft,
        peak_mib(),
    )


def measure_transformers(
    checkpoint: Path, prompt_tokens: int, gen_tokens: int, repeat: int, threads: int | None
) -> Measurement:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    ids = AutoTokenizer.from_pretrained(checkpoint)(sample_prompt(), return_tensors="pt").input_ids[:, :prompt_tokens]
    runs = []
    with torch.no_grad():
        for _ in range(repeat):
            start = time.perf_counter()
            out = model(ids, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            first = time.perf_counter()
            for _ in range(gen_tokens - 1):
                out = model(token, past_key_values=past, use_cache=True)
                past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            end = time.perf_counter()
            runs.append((first - start, (gen_tokens - 1) / (end - first) if gen_tokens > 1 else 0.0))
    ttft = statistics.median(r[0] for r in runs)
    return Measurement(
        checkpoint.name,
        "transformers",
        "f32",
        ids.shape[1],
        gen_tokens,
        ids.shape[1] / ttft,
        statistics.median(r[1] for r in runs),
        ttft,
        peak_mib(),
    )


def measure_in_child(kind: str, path: Path, **options) -> Measurement:
    """Run one measurement in a fresh Python process and return what it reports."""
    request = json.dumps({"kind": kind, "path": str(path), **options})
    done = subprocess.run(child_command(__name__, "run_request", request), capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"the benchmark of {path} exited with {done.returncode}")
    return Measurement(**json.loads(done.stdout.strip().splitlines()[-1]))


def run_request(argv: list[str]) -> None:
    """The child's side of measure_in_child: one measurement, printed as JSON."""
    from cga.core import native  # noqa: F401  (llama_cpp before numpy and torch)

    request = json.loads(argv[0])
    path = Path(request.pop("path"))
    kind = request.pop("kind")
    if kind == "gguf":
        result = measure_gguf(path, **request)
    else:
        request.pop("gpu_layers", None)
        result = measure_transformers(path, **request)
    print(json.dumps(asdict(result)))
