"""Typing sessions replayed from real files: how many keystrokes are answered without a model call, and how fast.

Through the language server's own path (lsp/service.py) with the embedded
SmolLM2 by default, on modules of the installed standard library: a line of a
function body is taken away, its indentation typed, and then the line is typed
again one character per keystroke, each keystroke a document change and a
completion request at the cursor, as an editor sends them. Reported: requests
answered by typing through the suggestion shown (no model call), and the
latency p50/p95 of those and of the ones that asked the model.

    python bench/typing_bench.py --threads 2 --lines 8
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cga.core.native  # noqa: E402,F401  (llama_cpp before numpy)
from bench._quiet_editor import QuietEditor  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402
from cga.lsp.service import AssistantService, Document  # noqa: E402
from cga.lsp.settings import Settings  # noqa: E402

MODULES = ("heapq", "bisect", "textwrap", "shlex")


class CountingEditor(QuietEditor):
    """Keeps the service's log lines: they say which requests reached the model."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def log(self, message, *args, **kwargs):
        self.lines.append(message)


def body_lines(text: str) -> list[int]:
    """Indices of lines inside function bodies worth typing: indented, some code, not a comment or docstring."""
    lines = text.splitlines()
    return [
        i
        for i, line in enumerate(lines)
        if line.startswith("        ") and len(line.strip()) > 12 and not line.strip().startswith(("#", '"', "'"))
    ]


def p(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lines", type=int, default=8, help="Lines typed (spread over the modules).")
    parser.add_argument("--model", type=Path, help="A GGUF to use (default: the embedded SmolLM2-135M).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = args.model or embedded_default()
    sources = {name: inspect.getsource(importlib.import_module(name)) for name in MODULES}
    picks = [(name, i) for name in MODULES for i in body_lines(sources[name])]
    chosen = random.Random(args.seed).sample(picks, min(args.lines, len(picks)))
    editor = CountingEditor()
    service = AssistantService(editor, Settings(model=str(model), threads=args.threads, max_tokens=64))
    through: list[float] = []
    model_calls: list[float] = []
    keystrokes = 0
    print(
        f"{model.name}: {len(chosen)} lines of {', '.join(MODULES)} typed a character at a time; "
        f"{args.threads} threads\n",
        flush=True,
    )
    for n, (name, index) in enumerate(chosen):
        lines = sources[name].splitlines(keepends=True)
        line = lines[index].rstrip("\n")
        indent = len(line) - len(line.lstrip())
        before, after = "".join(lines[:index]), "\n" + "".join(lines[index + 1 :])
        uri = f"file:///bench/{name}-{n}.py"
        service.read.add(uri)
        typed = line[:indent]
        for version, character in enumerate(line[indent:], start=1):
            typed += character
            editor.documents[uri] = Document(before + typed + after, version, "python")
            logged = len(editor.lines)
            started = time.perf_counter()
            service.complete_at(uri, (index, len(typed)))
            seconds = time.perf_counter() - started
            keystrokes += 1
            said = " ".join(editor.lines[logged:])
            (through if "typed through" in said else model_calls).append(seconds)
    service.close()
    print("| keystrokes | answered without a model call | p50 / p95 of those | p50 / p95 asking the model |")
    print("|---|---|---|---|")
    print(
        f"| {keystrokes} | {len(through)} ({len(through) / max(keystrokes, 1):.0%}) | "
        f"{p(through, 0.5)} / {p(through, 0.95)} | {p(model_calls, 0.5)} / {p(model_calls, 0.95)} |"
    )
    if model_calls:
        print(f"\nMean asking the model: {statistics.mean(model_calls) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
