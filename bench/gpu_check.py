"""What a GPU does for the assistant, measured in one run (bench/gpu_check.sh builds llama.cpp for it first).

1. Agreement: an F16 file of codegen-350M's shape, the same 256 tokens decoded on
   the CPU and on the GPU: top-1 agreement of the next-token logits and max |Δ|.
2. Speed: a --size (default 2B) Q8_0 file all on the device: prefill and decode
   tokens/s, and the language server's own completion path (lsp/service.py over
   the real engine): cold (the first request in a 1,500-token file not seen
   before) and warm (once it is read, after a one-character edit) single-line
   completion, p50 of --repeat.

Weights are random at real shapes (tests/builders.py), so the numbers are speed
and agreement, not quality. Without a GPU it measures the CPU and says so.

    python bench/gpu_check.py --device gpu            # after bench/gpu_check.sh has built a CUDA llama.cpp
    python bench/gpu_check.py --device cpu --size 350M
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cga.core.native  # noqa: E402,F401  (llama_cpp before numpy)
from bench._quiet_editor import QuietEditor  # noqa: E402
from bench.convert_bench import build  # noqa: E402
from bench.engine_bench import engine_run  # noqa: E402
from bench.lsp_bench import SINGLE, python_file  # noqa: E402
from cga.assistant.engine import Engine  # noqa: E402
from cga.convert.pipeline import convert  # noqa: E402
from cga.core import native  # noqa: E402
from cga.lsp.service import AssistantService, Document  # noqa: E402
from cga.lsp.settings import Settings  # noqa: E402

PREFILL = 512


def agreement(f16: Path, threads: int) -> tuple[float, float]:
    """Top-1 agreement and max |Δlogit| between the CPU and the GPU on the same tokens."""
    import numpy as np

    rows = []
    for layers in (0, 999):
        llm = native.load_model(f16, n_ctx=512, logits_all=True, n_threads=threads, n_gpu_layers=layers)
        tokens = llm.tokenize((ROOT / "convert" / "writer.py").read_text().encode(), add_bos=False)[:256]
        rows.append(np.array(native.decode_with_logits(llm, tokens), dtype=np.float64))
        del llm
    cpu, gpu = rows
    return float((cpu.argmax(1) == gpu.argmax(1)).mean()), float(np.abs(cpu - gpu).max())


def speed(model: Path, layers: str, threads: int) -> tuple[float, float]:
    """Prefill and decode tokens/s as bench/engine_bench.py measures them, after one run to set llama.cpp up."""
    engine = Engine(model, threads=threads, gpu_layers=layers, n_ctx=2048)
    prompt = engine.tokenize((ROOT / "convert" / "writer.py").read_text() * 4)[:PREFILL]
    engine_run(engine, prompt[:16])
    measured = engine_run(engine, prompt)
    engine.close()
    return measured


def lsp_latency(model: Path, device: str, threads: int, repeat: int) -> tuple[list[float], list[float]]:
    editor = QuietEditor()
    # Whole suggestions (random weights are unsure of every token), as bench/lsp_bench.py --confidence-cut 0.
    service = AssistantService(
        editor, Settings(model=str(model), device=device, threads=threads, max_tokens=32, confidence_cut=0.0)
    )
    cold, warm = [], []
    for n in range(repeat + 1):  # the first one loads the model: left out
        uri, text = f"file:///gpu/{n}.py", python_file(1000 + n) + SINGLE
        editor.documents[uri] = Document(text, 1, "python")
        lines = text.split("\n")
        started = time.perf_counter()
        service.complete_at(uri, (len(lines) - 1, len(lines[-1])))
        first = time.perf_counter() - started
        service.warm(uri)  # the file read whole, as during a pause in typing
        text += "x"
        editor.documents[uri] = Document(text, 2, "python")
        started = time.perf_counter()
        service.complete_at(uri, (len(lines) - 1, len(lines[-1]) + 1))
        if n:
            cold.append(first)
            warm.append(time.perf_counter() - started)
    service.close()
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("gpu", "cpu"), required=True)
    parser.add_argument(
        "--size", default=None, help="Shape of the speed model: 350M, 2B, 6B (default: 2B on a GPU, 350M on the CPU)."
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    on_gpu = args.device == "gpu"
    if on_gpu and not native.supports_gpu_offload():
        sys.exit("This llama-cpp-python has no GPU support; run bench/gpu_check.sh, which builds one.")
    size = args.size or ("2B" if on_gpu else "350M")
    threads = args.threads or os.cpu_count() or 1
    print(
        f"Device: {'GPU (' + ', '.join(native.system_info()) + ')' if on_gpu else 'CPU only (no GPU here)'}; "
        f"{threads} CPU threads"
    )
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        small = Path(tmp) / "codegen-350M"
        build("350M", small)
        f16 = convert(small, Path(tmp) / "c350.f16.gguf", "f16").path
        if on_gpu:
            top1, delta = agreement(f16, threads)
            print(f"\nCPU vs GPU, F16 350M, 256 tokens: top-1 agreement {top1:.1%}, max |Δlogit| {delta:.3g}")
        else:
            print("\nCPU vs GPU logits: no GPU to compare with.")
        if size == "350M":
            folder = small
        else:
            folder = Path(tmp) / f"codegen-{size}"
            build(size, folder)
        model = convert(folder, Path(tmp) / f"c{size}.q8_0.gguf", "q8_0").path
        prefill, decode = speed(model, "all" if on_gpu else "none", threads)
        cold, warm = lsp_latency(model, "gpu" if on_gpu else "cpu", threads, args.repeat)
        print(
            f"\n{size} Q8_0 on the {'GPU' if on_gpu else 'CPU'}: prefill {prefill:,.0f} tokens/s ({PREFILL} tokens), "
            f"decode {decode:,.1f} tokens/s"
        )
        print(
            f"Language server, single-line completion of a 1,500-token file: cold p50 {statistics.median(cold):.3f} s, "
            f"warm p50 {statistics.median(warm):.3f} s ({args.repeat} each)"
        )


if __name__ == "__main__":
    main()
