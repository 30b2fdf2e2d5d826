"""Typing sessions replayed from real files: how many keystrokes are answered without a model call, and how fast.

Through the language server's own path (lsp/service.py) with the embedded
SmolLM2 by default, on modules of the installed standard library: a line of a
function body is taken away, its indentation typed, and then the line is typed
again one character per keystroke, each keystroke a document change and a
completion request at the cursor, as an editor sends them. Reported: requests
answered by typing through the suggestion shown (no model call), and the
latency p50/p95 of those and of the ones that asked the model.

Then Tab and Enter on each of those lines: a suggestion asked for a few
characters into the line, accepted --tab-pause seconds later (the time to read
it), and Enter pressed, indented as an editor does (as deep as the line, one
step deeper after a `:`): the time to the answer after Tab and to the next
line's suggestion after Enter, with the next suggestion computed while one is
shown (lsp/service.py prepare_next) and without it.

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


def taken_away(source: str, index: int) -> tuple[str, int, str, str]:
    """A line of a file, its indentation's width, and the text before and after it (from its line break)."""
    lines = source.splitlines(keepends=True)
    line = lines[index].rstrip("\n")
    return line, len(line) - len(line.lstrip()), "".join(lines[:index]), "\n" + "".join(lines[index + 1 :])


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
    parser.add_argument("--tab-pause", type=float, default=0.5, help="Seconds between a suggestion and its Tab.")
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
        line, indent, before, after = taken_away(sources[name], index)
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
    tabs = {
        ahead: tab_and_enter(model, args.threads, sources, chosen, args.tab_pause, ahead) for ahead in (False, True)
    }
    print("| keystrokes | answered without a model call | p50 / p95 of those | p50 / p95 asking the model |")
    print("|---|---|---|---|")
    print(
        f"| {keystrokes} | {len(through)} ({len(through) / max(keystrokes, 1):.0%}) | "
        f"{p(through, 0.5)} / {p(through, 0.95)} | {p(model_calls, 0.5)} / {p(model_calls, 0.95)} |"
    )
    if model_calls:
        print(f"\nMean asking the model: {statistics.mean(model_calls) * 1000:.0f} ms")
    print(f"\nTab {args.tab_pause:g} s after a suggestion is shown, then Enter ({len(chosen)} lines):\n")
    print("| next suggestion computed ahead | after Tab p50 / p95 | next line after Enter p50 / p95 | from the cache |")
    print("|---|---|---|---|")
    for ahead, (after_tab, after_enter, cached) in tabs.items():
        print(
            f"| {'yes' if ahead else 'no'} | {p(after_tab, 0.5)} / {p(after_tab, 0.95)} | "
            f"{p(after_enter, 0.5)} / {p(after_enter, 0.95)} | {cached}/{len(after_tab) + len(after_enter)} |"
        )


def tab_and_enter(
    model: Path, threads: int, sources: dict[str, str], chosen: list[tuple[str, int]], pause: float, ahead: bool
) -> tuple[list[float], list[float], int]:
    """Seconds to the answer after accepting a suggestion and after the Enter that follows, and how many of
    those requests the cache answered."""
    editor = CountingEditor()
    service = AssistantService(editor, Settings(model=str(model), threads=threads, max_tokens=64))
    if not ahead:
        service.prepare_next = lambda *args: None  # type: ignore[method-assign]  # the service as it was
    after_tab: list[float] = []
    after_enter: list[float] = []
    cached = 0
    for n, (name, index) in enumerate(chosen):
        line, indent, before, after = taken_away(sources[name], index)
        uri = f"file:///bench/tab-{ahead}-{name}-{n}.py"
        service.read.add(uri)
        typed = line[: indent + 3]
        editor.documents[uri] = Document(before + typed + after, 1, "python")
        shown = service.complete_at(uri, (index, len(typed)))
        if not shown or not shown[0]:
            continue
        time.sleep(pause)  # the user reads the suggestion
        typed += shown[0][0]
        for version, step in ((2, "tab"), (3, "enter")):
            if step == "enter":
                deeper = "    " if typed.rstrip().endswith(":") else ""
                typed += "\n" + line[:indent] + deeper
            editor.documents[uri] = Document(before + typed + after, version, "python")
            logged = len(editor.lines)
            started = time.perf_counter()
            service.complete_at(uri, (index + typed.count("\n"), len(typed.rsplit("\n", 1)[-1])))
            (after_tab if step == "tab" else after_enter).append(time.perf_counter() - started)
            cached += not any("completion: prompt" in said for said in editor.lines[logged:])  # no model call
    service.close()
    return after_tab, after_enter, cached


if __name__ == "__main__":
    main()
