"""Engine speed: prefill and decode tokens/s through our engine, a bare
llama-cpp-python loop and transformers fp32, on a random-weight
codegen-350M-shaped checkpoint; and the speed-up of prompt-lookup decoding on a
refinement turn.

    python bench/engine_bench.py --threads 2 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cga.core.native  # noqa: E402,F401  (llama_cpp before numpy)
from bench.convert_bench import build  # noqa: E402
from cga.assistant import chat_template  # noqa: E402
from cga.assistant.backend import Generation  # noqa: E402
from cga.assistant.benchmark import measure_in_child  # noqa: E402
from cga.assistant.engine import Engine  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402
from cga.convert.pipeline import convert  # noqa: E402
from cga.core import native  # noqa: E402

PREFILL, DECODE = 512, 128


def engine_run(engine: Engine, prompt: list[int]) -> tuple[float, float]:
    engine.llm.reset()
    start = time.perf_counter()
    engine.complete(prompt, Generation(max_tokens=1))
    prefill = time.perf_counter() - start
    options = Generation(max_tokens=DECODE + 1)
    stream = engine.stream(prompt[:8], options)
    engine.llm.reset()
    next(stream)
    start = time.perf_counter()
    for _ in stream:
        pass
    decode = time.perf_counter() - start
    return len(prompt) / prefill, max(stream.stats.generated - 1, 1) / decode


def bare_run(llm, prompt: list[int]) -> tuple[float, float]:
    llm.reset()
    start = time.perf_counter()
    llm.eval(prompt)
    prefill = time.perf_counter() - start
    llm.reset()
    generator = llm.generate(prompt[:8], temp=0.0, top_k=40, min_p=0.0, repeat_penalty=1.0)
    next(generator)
    start = time.perf_counter()
    for n, _ in enumerate(generator, start=1):
        if n >= DECODE:
            break
    decode = time.perf_counter() - start
    return len(prompt) / prefill, DECODE / decode


def lookup_speedup(engine: Engine, prompt: list[int], max_tokens: int, repeat: int) -> dict:
    times: dict[bool, list[float]] = {False: [], True: []}
    stats = {}
    for _ in range(repeat):
        for lookup in (False, True):
            engine.llm.reset()
            engine.complete(prompt, Generation(max_tokens=1))  # prefill outside the timing
            options = Generation(max_tokens=max_tokens, prompt_lookup=lookup)
            start = time.perf_counter()
            answer = engine.stream(prompt, options)
            answer.text()
            times[lookup].append(time.perf_counter() - start)
            stats[lookup] = answer.stats
    plain, drafted = statistics.median(times[False]), statistics.median(times[True])
    return {"speedup": plain / drafted, "accepted": stats[True].accepted, "generated": stats[True].generated}


def refinement_prompt(engine: Engine, chat: bool) -> list[int]:
    code = "\n".join(f"def step_{i}(value):\n    total = value * {i}\n    return total + {i}\n" for i in range(10))
    template = engine.info.chat_template
    if chat and template is not None:
        messages = [{"role": "user", "content": "Rename total to result and give the whole code back:\n\n" + code}]
        text = chat_template.render(template, messages)
        return engine.llm.tokenize(text.encode(), add_bos=False, special=True)
    return engine.tokenize(code + "\n# The same code with total renamed to result.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = (ROOT / "convert" / "writer.py").read_text() * 4
    rows, lookups = [], []
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        ckpt = Path(tmp) / "codegen-350M"
        build("350M", ckpt)
        for quant in ("q4_k_m", "q8_0"):
            path = convert(ckpt, Path(tmp) / f"c350.{quant}.gguf", quant).path
            engine = Engine(path, threads=args.threads, n_ctx=2048)
            prompt = engine.tokenize(source)[:PREFILL]
            bare = native.load_model(path, n_ctx=2048, n_threads=args.threads)
            results: dict[str, list[tuple[float, float]]] = {"engine": [], "bare": []}
            for _ in range(args.repeat):  # alternate, so drift hits both alike
                results["engine"].append(engine_run(engine, prompt))
                results["bare"].append(bare_run(bare, prompt))
            for runner, runs in results.items():
                rows.append(
                    {
                        "model": f"codegen-350M {quant}",
                        "runner": runner,
                        "prefill": statistics.median(r[0] for r in runs),
                        "decode": statistics.median(r[1] for r in runs),
                    }
                )
            lookups.append(
                {
                    "model": f"codegen-350M {quant}",
                    **lookup_speedup(engine, refinement_prompt(engine, False), 128, args.repeat),
                }
            )
            del bare, engine
        reference = measure_in_child(
            "transformers", ckpt, prompt_tokens=PREFILL, gen_tokens=DECODE + 1, repeat=1, threads=args.threads
        )
        rows.append(
            {
                "model": "codegen-350M fp32",
                "runner": "transformers",
                "prefill": reference.prefill_tps,
                "decode": reference.decode_tps,
            }
        )
    smollm = Engine(embedded_default(), threads=args.threads, n_ctx=2048)
    lookups.append(
        {"model": "SmolLM2-135M Q4_1", **lookup_speedup(smollm, refinement_prompt(smollm, True), 256, args.repeat)}
    )
    print(f"| model | runner | prefill tok/s ({PREFILL} tokens) | decode tok/s ({DECODE} tokens) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['runner']} | {r['prefill']:.1f} | {r['decode']:.1f} |")
    print("\n| model | prompt-lookup speed-up | accepted drafts / tokens |")
    print("|---|---|---|")
    for r in lookups:
        print(f"| {r['model']} | {r['speedup']:.2f}x | {r['accepted']}/{r['generated']} |")


if __name__ == "__main__":
    main()
