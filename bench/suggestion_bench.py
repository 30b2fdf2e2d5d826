"""Ghost-text suggestions with and without the confidence cut, on a model that has learned code.

Random weights never end a line, so this uses a trained model: the embedded
SmolLM2-135M-Instruct by default (trained on code among the rest), a GGUF of
your own with --model, or, with --train-seconds, a tiny CodeGen-architecture
model trained here on standard-library code (tests/builders.py's train_codegen;
on 2 CPU cores a few minutes teach it too little to end lines well). It completes
single lines of a module the model is asked to continue (heapq, held out of that
training) at CURSORS places, as the language server does (one line, at most 48
tokens, the prompt already read). For each min_probability it reports tokens per
suggestion, latency, how many characters of a suggestion are right (the longest
prefix it shares with what the file really says) and how many are junk (the
rest), and how often a whole suggestion is right.

    python bench/suggestion_bench.py --threads 2
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cga.core.native  # noqa: E402,F401  (llama_cpp before numpy)
from cga.assistant.backend import Generation  # noqa: E402
from cga.assistant.engine import Engine  # noqa: E402
from cga.convert.pipeline import convert  # noqa: E402

CURSORS = 60
THRESHOLDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
WINDOW = 1500  # characters before the cursor


def cursors(text: str, count: int) -> list[int]:
    """Places inside indented lines, after their first word: where a user typing in a function wants the rest."""
    places, position = [], 0
    for line in text.splitlines(keepends=True):
        body = line.strip()
        if line.startswith("    ") and len(body) > 12 and not body.startswith(("#", '"', "'")):
            indent = len(line) - len(line.lstrip())
            first_word = body.split(" ", 1)[0]
            places.append(position + indent + len(first_word))  # right after the word, as one types
        position += len(line)
    step = max(1, len(places) // count)
    return places[::step][:count]


def common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-seconds", type=float, help="Train a tiny CodeGen model this long and use it.")
    parser.add_argument("--model", type=Path, help="A GGUF to use (default: the embedded SmolLM2-135M).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        model = args.model
        if model is None and not args.train_seconds:
            from cga.assistant.model_choice import embedded_default

            model = embedded_default()
        elif model is None:
            ckpt = Path(tmp) / "trained"
            code = (
                f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; from tests.builders "
                f"import train_codegen; train_codegen(Path({str(ckpt)!r}), seconds={args.train_seconds!r})"
            )
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            print((ckpt / "training.json").read_text())
            model = convert(ckpt, Path(tmp) / "trained.q8_0.gguf", "q8_0").path
        import heapq

        text = inspect.getsource(heapq)
        engine = Engine(model, threads=args.threads, n_ctx=1024)
        places = cursors(text, CURSORS)
        print(f"{model.name}: {len(places)} cursors in heapq, single-line suggestions, warm\n")
        print(
            "| min_probability | tokens / suggestion | latency p50 | right chars / suggestion | junk chars / "
            "suggestion | wholly right | empty |"
        )
        print("|---|---|---|---|---|---|---|")
        for threshold in THRESHOLDS:
            tokens, seconds, right, junk, whole, empty = [], [], [], [], 0, 0
            for place in places:
                prompt = engine.tokenize(text[max(0, place - WINDOW) : place])
                truth = text[place : text.index("\n", place)]
                engine.llm.reset()
                engine.stream(prompt, Generation(max_tokens=1)).text()  # prefilled: time the suggestion alone, warm
                started = time.perf_counter()
                answer = engine.stream(prompt, Generation(max_tokens=48, stop=("\n",), min_probability=threshold))
                suggestion = answer.text()
                seconds.append(time.perf_counter() - started)
                tokens.append(answer.stats.generated)
                shared = common_prefix(suggestion, truth)
                right.append(shared)
                junk.append(len(suggestion) - shared)
                whole += bool(suggestion) and shared == len(suggestion)
                empty += not suggestion
            print(
                f"| {threshold:g} | {statistics.mean(tokens):.1f} | {statistics.median(seconds) * 1000:.0f} ms | "
                f"{statistics.mean(right):.1f} | {statistics.mean(junk):.1f} | {whole}/{len(places)} | "
                f"{empty}/{len(places)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
