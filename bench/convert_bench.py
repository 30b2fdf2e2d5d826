"""Conversion benchmark on random-weight checkpoints of real CodeGen shapes.

For each shape: build the checkpoint as the hub ships it (fp16 safetensors),
convert to each type in a child process (wall time and that process's own peak
RSS), then verify against transformers fp32.

    python bench/convert_bench.py --shapes 350M 2B --quants f16 q4_k_m
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = {  # n_embd, n_layer, n_head, rotary_dim (codegen-facts.md)
    "350M": dict(n_embd=1024, n_layer=20, n_head=16, rotary_dim=32),
    "2B": dict(n_embd=2560, n_layer=32, n_head=32, rotary_dim=64),
    "6B": dict(n_embd=4096, n_layer=33, n_head=16, rotary_dim=64),
}

CHILD = """
import json, sys, time
import cga.core.native
from cga.convert.pipeline import convert
start = time.perf_counter()
result = convert(sys.argv[1], sys.argv[2], sys.argv[3], threads=int(sys.argv[4]))
wall = time.perf_counter() - start
from cga.assistant.benchmark import peak_mib
print(json.dumps({"wall_s": wall, "peak_rss_mib": peak_mib(), "size_mib": result.size / 2**20}))
"""

VERIFY = """
import json, sys
import cga.core.native
from cga.convert.verify import verify
r = verify(sys.argv[1], sys.argv[2], threads=int(sys.argv[3]))
print(json.dumps({"tokens_agree": r.token_agreement, "top1": r.top1_agreement, "max_abs_diff": r.max_abs_diff,
                  "logit_range": r.logit_range, "mean_kl": r.mean_kl, "passed": r.passed}))
"""


def build(shape: str, folder: Path) -> float:
    # The reference model is not needed here; build in a child to give its memory back.
    code = (
        f"import sys, torch; sys.path.insert(0, {str(ROOT)!r}); from tests.builders import build_codegen; "
        f"build_codegen(__import__('pathlib').Path({str(folder)!r}), dtype=torch.float16, init_range=0.02, "
        f"**{SHAPES[shape]!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return sum(f.stat().st_size for f in folder.iterdir() if f.suffix == ".safetensors") / 2**20


def run_json(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=["350M"], choices=sorted(SHAPES))
    parser.add_argument("--quants", nargs="+", default=["f16", "q4_k_m"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="Also write the rows here.")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        for shape in args.shapes:
            folder = Path(tmp) / f"codegen-{shape}"
            started = time.perf_counter()
            checkpoint_mib = build(shape, folder)
            print(
                f"built codegen-{shape} ({checkpoint_mib:.0f} MiB) in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            for quant in args.quants:
                out = Path(tmp) / f"codegen-{shape}.{quant}.gguf"
                row = {"shape": shape, "quant": quant, "checkpoint_mib": checkpoint_mib}
                row |= run_json(CHILD, str(folder), str(out), quant, str(args.threads))
                row |= run_json(VERIFY, str(folder), str(out), str(args.threads))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
                out.unlink()
    print(
        "| shape | quant | checkpoint | wall | peak RSS | file | tokens agree | top-1 | max abs Δlogit (range) | mean KL | verify |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| codegen-{r['shape']} | {r['quant']} | {r['checkpoint_mib']:.0f} MiB | {r['wall_s']:.1f} s | "
            f"{r['peak_rss_mib']:.0f} MiB | {r['size_mib']:.0f} MiB | {r['tokens_agree']:.0%} | {r['top1']:.1%} | "
            f"{r['max_abs_diff']:.4f} ({r['logit_range']:.1f}) | {r['mean_kl']:.1e} | {'pass' if r['passed'] else 'FAIL'} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
