"""Prompt-lookup decoding on refinements: tokens/s and identical greedy output (issue 22, item 4).

Real functions (the first --functions functions of 8 to 30 lines from modules
of the installed standard library), each refined by one instruction of
INSTRUCTIONS in turn, as the language server's refine command asks it: a
conversation whose header is the function, through the embedded SmolLM2
(a trained chat model: its own chat template), greedy, up to --max-tokens.
Each refinement is answered three times in the same engine, the prompt read
first each time: plain, plain again, and with prompt lookup; reported:
tokens/s of plain and lookup (median over refinements and in total), how many
lookup answers equal the plain one, and how many plain answers equal the plain
one before (llama.cpp's CPU attention computes a token in a batch slightly
differently from the same token alone, so even plain greedy output depends on
how the cache was filled; --flash-attention takes the attention whose batches
compute what single tokens compute).

    python bench/prompt_lookup_bench.py --threads 2 --functions 30
    python bench/prompt_lookup_bench.py --threads 2 --functions 30 --flash-attention
"""

from __future__ import annotations

import argparse
import ast
import importlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cga.assistant.backend import Generation  # noqa: E402
from cga.assistant.chat import ChatSession  # noqa: E402
from cga.assistant.conversation import Conversation  # noqa: E402
from cga.assistant.engine import Engine  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402

MODULES = ("textwrap", "heapq", "bisect", "shlex", "fnmatch", "colorsys", "calendar", "string", "base64", "difflib")
INSTRUCTIONS = (
    "Add type hints to this function.",
    "Add a docstring that says what the function returns.",
    "Rename the function's local variables to longer, clearer names.",
    "Raise a ValueError with a clear message when an argument is invalid.",
    "Rewrite this function without changing what it does, keeping its name.",
)


def functions(count: int) -> list[str]:
    found: list[str] = []
    for name in MODULES:
        source = Path(importlib.import_module(name).__file__ or "").read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and 8 <= (node.end_lineno or 0) - node.lineno + 1 <= 30:
                found.append(ast.get_source_segment(source, node) or "")
                if len(found) == count:
                    return found
    return found


def refine(engine: Engine, code: str, instruction: str, max_tokens: int, lookup: bool) -> tuple[str, float, int]:
    session = ChatSession(engine, Conversation(header=code + "\n\n"), max_tokens=max_tokens, prompt_lookup=lookup)
    prompt = session.prompt_tokens(instruction)
    engine.stream(prompt, Generation(max_tokens=0)).text()  # the prompt read first: the decode speed is compared
    started = time.perf_counter()
    answer = session.respond(instruction)
    text = answer.text()
    return text, time.perf_counter() - started, answer.stats.generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--functions", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--flash-attention", action="store_true", help="llama.cpp's flash attention")
    args = parser.parse_args()
    engine = Engine(embedded_default(), threads=args.threads, n_ctx=2048, flash_attention=args.flash_attention)
    rows = []
    plain_again_same = 0
    for n, code in enumerate(functions(args.functions)):
        instruction = INSTRUCTIONS[n % len(INSTRUCTIONS)]
        plain = refine(engine, code, instruction, args.max_tokens, False)
        again = refine(engine, code, instruction, args.max_tokens, False)
        drafted = refine(engine, code, instruction, args.max_tokens, True)
        rows.append((plain, drafted))
        plain_again_same += again[0] == plain[0]
        print(
            f"{n + 1:2}. {plain[2]:3} tokens: plain {plain[2] / plain[1]:5.0f} tok/s, lookup "
            f"{drafted[2] / drafted[1]:5.0f} tok/s, lookup {'same' if plain[0] == drafted[0] else 'DIFFERENT'}, "
            f"plain again {'same' if plain[0] == again[0] else 'DIFFERENT'}",
            flush=True,
        )
    engine.close()
    speedups = [d[2] / d[1] / (p[2] / p[1]) for p, d in rows if p[2] and d[2]]
    total_plain = sum(p[2] for p, _ in rows) / sum(p[1] for p, _ in rows)
    total_lookup = sum(d[2] for _, d in rows) / sum(d[1] for _, d in rows)
    same = sum(p[0] == d[0] for p, d in rows)
    attention = "flash attention" if args.flash_attention else "llama.cpp's default attention"
    print(
        f"{len(rows)} refinements, {args.threads} threads, {attention}: plain {total_plain:.0f} tok/s, prompt lookup "
        f"{total_lookup:.0f} tok/s in total ({total_lookup / total_plain:.2f}x; median per refinement "
        f"{statistics.median(speedups):.2f}x); lookup answers equal to plain {same}/{len(rows)}, plain answers "
        f"equal to plain before {plain_again_same}/{len(rows)}"
    )


if __name__ == "__main__":
    main()
