"""What the editor would insert, judged against the code that is really there: suggestion quality by cursor kind.

It goes through the language server's own path (lsp/service.py: the prompt
window, the confidence cut, shape() and the join with what is typed), with the
embedded SmolLM2 (a trained model) by default, on real code nobody here wrote:
modules of the installed standard library and of pure-Python packages
installed beside it. At each cursor the rest of the cursor's line is taken
away, as if the user had typed up to there, and the suggestion is compared
with what the file says. Cursors are sampled the way people type:

- opener: the line after a block opener (`def …:`, `if …:`), its indentation
  typed, nothing else (a multi-line suggestion: its first line is judged);
- word: mid-line, right after the line's first word;
- space: mid-line, right after a space;
- line start: the indentation of an ordinary line typed, nothing else.

Reported per kind and confidence cut: the share of cursors with a non-empty
suggestion, exact first lines, characters accepted before the first wrong one,
suggestions whose join doubles white space or breaks the indentation, and the
latency p50 (the file already read, as while typing).

    python bench/insertion_bench.py --threads 2 --per-kind 12
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cga.core.native  # noqa: E402,F401  (llama_cpp before numpy)
from bench._quiet_editor import QuietEditor  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402
from cga.lsp.service import AssistantService, Document  # noqa: E402
from cga.lsp.settings import Settings  # noqa: E402

MODULES = ("heapq", "bisect", "textwrap", "shlex", "fnmatch", "filelock._api", "platformdirs.unix")
KINDS = ("opener", "word", "space", "line start")
CUTS = (0.0, 0.1, 0.2, 0.3)


@dataclass(frozen=True)
class Cursor:
    kind: str
    module: str
    before: str  # the document up to the cursor
    truth: str  # what the file says from the cursor to the end of its line
    after: str  # the lines after the cursor's line


def cursors(text: str, module: str) -> dict[str, list[Cursor]]:
    found: dict[str, list[Cursor]] = {kind: [] for kind in KINDS}
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for i, line in enumerate(lines[:-1]):
        body = line.strip()
        if not body or body.startswith(("#", '"', "'")) or len(body) < 8:
            continue
        indent = len(line) - len(line.lstrip())
        after = text[starts[i + 1] :]

        def at(kind: str, column: int, start: int = starts[i], line: str = line, after: str = after) -> None:
            found[kind].append(Cursor(kind, module, text[: start + column], line[column:].rstrip("\n"), after))

        previous = next((p for p in reversed(lines[:i]) if p.strip()), "")
        if previous.rstrip().endswith(":") and indent:
            at("opener", indent)
        elif indent:
            at("line start", indent)
        first_word = len(body.split(" ", 1)[0])
        if " " in body:
            at("word", indent + first_word)
            space = body.find(" ", first_word + 1)
            if space > 0:
                at("space", indent + space + 1)
    return found


@dataclass
class Tally:
    suggestions: list[str] = field(default_factory=list)
    truths: list[str] = field(default_factory=list)
    befores: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, cursor: Cursor, suggestion: str, seconds: float) -> None:
        self.suggestions.append(suggestion)
        self.truths.append(cursor.truth)
        self.befores.append(cursor.before)
        self.seconds.append(seconds)

    def row(self) -> str:
        n = len(self.suggestions)
        firsts = [s.split("\n", 1)[0] for s in self.suggestions]
        shown = sum(bool(s.strip()) for s in self.suggestions)
        exact = sum(f == t for f, t in zip(firsts, self.truths, strict=True))
        accepted = statistics.mean(len(os.path.commonprefix([f, t])) for f, t in zip(firsts, self.truths, strict=True))
        doubled = sum(
            b[-1:] in (" ", "\t") and f[:1] in (" ", "\t") and b.rsplit("\n", 1)[-1].strip() != ""
            for b, f in zip(self.befores, firsts, strict=True)
        )
        broken = sum(self._broken(b, f, t) for b, f, t in zip(self.befores, firsts, self.truths, strict=True))
        return (
            f"{shown}/{n} | {exact}/{n} | {accepted:.1f} | {doubled} | {broken} | "
            f"{statistics.median(self.seconds) * 1000:.0f} ms"
        )

    @staticmethod
    def _broken(before: str, first: str, truth: str) -> bool:
        """Typed indentation plus the suggestion's own leading white space is not the file's indentation."""
        line = before.rsplit("\n", 1)[-1]
        if line.strip() or not first.strip():
            return False
        return len(first) - len(first.lstrip()) != len(truth) - len(truth.lstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-kind", type=int, default=12, help="Cursors of each kind (spread over the modules).")
    parser.add_argument("--model", type=Path, help="A GGUF to use (default: the embedded SmolLM2-135M).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = args.model or embedded_default()
    pool: dict[str, list[Cursor]] = {kind: [] for kind in KINDS}
    for name in MODULES:
        try:
            text = inspect.getsource(importlib.import_module(name))
        except (ImportError, OSError, TypeError):
            continue
        for kind, found in cursors(text, name).items():
            pool[kind].extend(found)
    chosen = [
        c for kind in KINDS for c in random.Random(args.seed).sample(pool[kind], min(args.per_kind, len(pool[kind])))
    ]
    editor = QuietEditor()
    service = AssistantService(editor, Settings(model=str(model), threads=args.threads, max_tokens=64))
    tallies = {(kind, cut): Tally() for kind in KINDS for cut in CUTS}
    print(f"{model.name}: {len(chosen)} cursors in {', '.join(MODULES)}; {args.threads} threads\n", flush=True)
    for n, cursor in enumerate(chosen):
        uri = f"file:///bench/{cursor.module}.py"
        editor.documents[uri] = Document(cursor.before + "\n" + cursor.after, n, "python")
        service.read.add(uri)  # the file has been read, as while typing in it
        line = cursor.before.count("\n")
        position = (line, len(cursor.before) - cursor.before.rfind("\n") - 1)
        for cut in CUTS:
            service.change_settings({"confidenceCut": cut})
            service.cache.clear()
            if cut == CUTS[0]:
                service.complete_at(uri, position)  # read the prompt once: each cut is then timed warm
                service.cache.clear()
            started = time.perf_counter()
            result = service.complete_at(uri, position)
            seconds = time.perf_counter() - started
            tallies[cursor.kind, cut].add(cursor, (result[0][0] if result and result[0] else ""), seconds)
    service.close()
    print("| cursor | cut | non-empty | exact first line | chars accepted | doubled space | broken indent | p50 |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in KINDS:
        for cut in CUTS:
            print(f"| {kind} | {cut:g} | {tallies[kind, cut].row()} |")


if __name__ == "__main__":
    main()
