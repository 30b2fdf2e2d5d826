"""Cross-file completion: what the project context (lsp/project_context.py) buys and what it costs.

Real projects nobody here wrote: packages of the installed standard library
and pure-Python packages installed beside it, read where they are installed.
A cursor is put on a line that uses a name defined in another file of the
same package (imported by `from .x import name`, `from pkg.x import name` or
used as `module.name`), just before that name, as if the user had typed the
line up to there; the rest of the line is what the file says. Each cursor is
asked through the language server's own path (lsp/service.py) under four
conditions:

- off: projectContextTokens 0, the file alone (what we had);
- definitions: the imported definitions only (no file opened but this one);
- ring: chunks of the files this one imports from, as if the user had opened
  each (their tops), no definitions;
- both: the two together, as a user who has those files open gets.

Reported per condition: exact lines, characters accepted before the first
wrong one, the tokens the context took, and the latency: cold (the first
request at the cursor, the file and its context read then) and warm (the
next keystroke: the line's next character typed).

    python bench/project_context_bench.py --threads 2 --cursors 32
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import random
import statistics
import sys
import time
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cga.core.native  # noqa: E402,F401  (llama_cpp before numpy)
from bench._quiet_editor import QuietEditor  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402
from cga.lsp.python_definitions import DefinitionIndex  # noqa: E402
from cga.lsp.service import AssistantService, Document  # noqa: E402
from cga.lsp.settings import Settings  # noqa: E402

PACKAGES = ("json", "email", "asyncio", "logging", "concurrent.futures", "click", "requests", "packaging", "jinja2")
CONDITIONS = ("off", "definitions", "ring", "both")
MAX_FILE_CHARS = 200_000


@dataclass(frozen=True)
class Cursor:
    package: str
    path: Path
    text: str  # the whole file
    offset: int  # the cursor: just before the imported name
    truth: str  # the rest of the line
    sources: tuple[Path, ...]  # the project files this one imports from


def find_cursors(package: str) -> list[Cursor]:
    try:
        folder = Path(importlib.import_module(package).__file__ or "").parent
    except ImportError:
        return []
    index = DefinitionIndex()
    found: list[Cursor] = []
    for path in sorted(folder.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) > MAX_FILE_CHARS:
            continue
        definitions = [d for d in index.imported(path, text) if d.path != path and d.path.is_relative_to(folder)]
        if not definitions:
            continue
        names = {d.name for d in definitions}
        sources = tuple(dict.fromkeys(d.path for d in definitions))
        starts = [0]
        for line in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        lines = text.splitlines()
        taken: set[int] = set()
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError):
            continue
        for token in tokens:  # names in code, never in a string or a comment
            number, column = token.start[0] - 1, token.start[1]
            if token.type != tokenize.NAME or token.string not in names or number in taken or number < 10:
                continue
            line = lines[number]
            if line.lstrip().startswith(("from ", "import ", "@")) or column <= len(line) - len(line.lstrip()):
                continue
            truth = line[column:].rstrip()
            if len(truth) > len(token.string) + 2:
                taken.add(number)
                found.append(Cursor(package, path, text, starts[number] + column, truth, sources))
    return found


@dataclass
class Tally:
    exact: int = 0
    accepted: list[int] = field(default_factory=list)
    head_tokens: list[int] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)

    def row(self, n: int) -> str:
        p95 = sorted(self.cold)[int(0.95 * (len(self.cold) - 1))]
        return (
            f"{self.exact}/{n} | {statistics.mean(self.accepted):.1f} | {statistics.mean(self.head_tokens):.0f} | "
            f"{statistics.median(self.cold):.2f} s / {p95:.2f} s | {statistics.median(self.warm) * 1000:.0f} ms"
        )


def position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cursors", type=int, default=32, help="Cursors in all, spread over the packages.")
    parser.add_argument("--share", type=int, default=384, help="projectContextTokens of the conditions with context.")
    parser.add_argument("--context", type=int, default=1536, help="contextTokens (the default's).")
    parser.add_argument("--model", type=Path, help="A GGUF to use (default: the embedded SmolLM2-135M).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="Print each suggestion beside the file's line.")
    args = parser.parse_args()
    model = args.model or embedded_default()
    pools = {package: find_cursors(package) for package in PACKAGES}
    pools = {package: pool for package, pool in pools.items() if pool}
    rng = random.Random(args.seed)
    per = -(-args.cursors // len(pools))
    chosen = [c for pool in pools.values() for c in rng.sample(pool, min(per, len(pool)))][: args.cursors]
    editor = QuietEditor()
    settings = Settings(model=str(model), threads=args.threads, context_tokens=args.context, confidence_cut=0.0)
    service = AssistantService(editor, settings)
    tallies = {condition: Tally() for condition in CONDITIONS}
    print(
        f"{model.name}: {len(chosen)} cursors in {', '.join(pools)}; {args.threads} threads, contextTokens "
        f"{args.context}, projectContextTokens {args.share}, confidenceCut 0\n",
        flush=True,
    )
    for n, cursor in enumerate(chosen):
        uri = cursor.path.as_uri()
        for condition in CONDITIONS:
            service.project = type(service.project)()
            if condition in ("ring", "both"):
                for source in cursor.sources:
                    source_uri = source.as_uri()
                    editor.documents[source_uri] = Document(source.read_text(encoding="utf-8"), 1, "python")
                    service.keep_chunk(source_uri, 0)
            if condition == "ring":
                service.project.definitions.imported = lambda path, text: []  # type: ignore[method-assign]
            share = 0 if condition == "off" else args.share
            service.change_settings({"projectContextTokens": share})
            service.cache.clear()
            service.shown.clear()
            before = cursor.text[: cursor.offset]
            after = cursor.text[cursor.offset + len(cursor.truth) :]
            editor.documents[uri] = Document(before + after, 2 * n, "python")
            service.read.add(uri)  # no short first window: what the context does is the question
            head = service._head(uri, "python", before + after)
            backend = service.loaded("python")
            tally = tallies[condition]
            tally.head_tokens.append(len(service.project.tokens(head, share, backend.info.name, backend.tokenize)))
            started = time.perf_counter()
            result = service.complete_at(uri, position(before, len(before)))
            tally.cold.append(time.perf_counter() - started)
            suggestion = (result[0][0] if result and result[0] else "").split("\n", 1)[0]  # the line is judged
            tally.exact += suggestion.rstrip() == cursor.truth
            tally.accepted.append(len(os.path.commonprefix([suggestion, cursor.truth])))
            typed = before + cursor.truth[0]
            editor.documents[uri] = Document(typed + after, 2 * n + 1, "python")
            service.shown.clear()  # the model is asked, not the suggestion typed through
            started = time.perf_counter()
            service.complete_at(uri, position(typed, len(typed)))
            tally.warm.append(time.perf_counter() - started)
            if args.show:
                print(condition, repr(cursor.truth), repr(suggestion))
        print(f"{n + 1}/{len(chosen)} {cursor.path.name}: {cursor.truth[:50]!r}", flush=True)
    service.close()
    print("\n| context | exact line | chars accepted | context tokens | cold p50 / p95 | warm p50 |")
    print("|---|---|---|---|---|---|")
    for condition in CONDITIONS:
        print(f"| {condition} | {tallies[condition].row(len(chosen))} |")


if __name__ == "__main__":
    main()
