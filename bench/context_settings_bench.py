"""Context settings against prefill speed and memory: the measurement behind assistant/engine.py's lean_memory.

Each setting runs in a fresh process (so its peak resident memory is its own) on
a random-weight codegen-350M-shaped Q4_K_M file, 2,048-token context: a cold
prefill of PROMPT tokens and engine_bench's decode (medians of --repeat), and the
peak resident memory.

    python bench/context_settings_bench.py --threads 2 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = 1536
SETTINGS = [  # (micro-batch, 8-bit K cache, map the file)
    (512, False, True),  # llama.cpp's defaults
    (512, True, False),
    (256, True, False),
    (128, True, False),
    (64, True, False),
    (32, True, False),
    (128, False, False),
]


def child(path: str, ubatch: int, q8_keys: bool, mmap: bool, threads: int, repeat: int) -> dict:
    from cga.core import native

    llm = native.load_model(
        Path(path),
        n_ctx=2048,
        n_threads=threads,
        memory=native.MemoryPlan(use_mmap=mmap, n_ubatch=ubatch, quantized_keys=q8_keys),
    )
    from bench.engine_bench import bare_run
    from cga.assistant.benchmark import peak_mib

    source = (ROOT / "convert" / "writer.py").read_text() * 8
    prompt = llm.tokenize(source.encode(), add_bos=False)[:PROMPT]
    runs = [bare_run(llm, prompt) for _ in range(repeat)]  # cold prefill, then decode, each time
    return {
        "prefill_tps": statistics.median(r[0] for r in runs),
        "decode_tps": statistics.median(r[1] for r in runs),
        "peak_mib": peak_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=4, metavar=("GGUF", "UBATCH", "Q8_KEYS", "MMAP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, ubatch, q8_keys, mmap = args.child
        print(json.dumps(child(path, int(ubatch), q8_keys == "1", mmap == "1", args.threads, args.repeat)))
        return
    from bench.convert_bench import build
    from cga.convert.pipeline import convert

    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        ckpt = Path(tmp) / "codegen-350M"
        build("350M", ckpt)
        model = convert(ckpt, Path(tmp) / "c350.q4_k_m.gguf", "q4_k_m").path
        print(f"codegen-350M Q4_K_M, 2,048-token context, {PROMPT}-token cold prefill, {args.threads} threads\n")
        print("| micro-batch | K cache | weights | prefill tok/s | decode tok/s | peak MiB |")
        print("|---|---|---|---|---|---|")
        for ubatch, q8_keys, mmap in SETTINGS:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--threads",
                    str(args.threads),
                    "--repeat",
                    str(args.repeat),
                    "--child",
                    str(model),
                    str(ubatch),
                    str(int(q8_keys)),
                    str(int(mmap)),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"| {ubatch} | {'q8_0' if q8_keys else 'f16'} | {'mapped' if mmap else 'read'} | "
                f"{r['prefill_tps']:.0f} | {r['decode_tps']:.0f} | {r['peak_mib']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
