"""No regular expression on the language server's path is super-linear on hostile text (issue 41, item 2).

One line of Python (`from` and 40,000 dots) froze the server for 47 s; a 32,000-character word before the
cursor took 7 s a keystroke. Every pattern compiled in lsp/ and assistant/ is found in the source (so a new one
is covered without a line here) and run over long runs of each character class, after the beginnings that
lead into a pattern's repeated parts. A pattern is super-linear when 8× the text costs far more than 8× the
time; the times are the least of three, and only a run slow in itself (over 50 ms) is compared, so a busy
machine, which slows both sizes alike, does not change the verdict.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure

ROOT = Path(__file__).resolve().parents[2]
RUNS = ["a", "0", ".", " ", "\t", "\n", "\r\n", "(", ")", '"', "'", "\\", "$", "`", "é", "-", "#", ",", "a.", "a "]
LEADS = ["", "from ", "import ", "Content-Length: ", "\\u", "x = ", "    ", "```"]
ENDS = ["", "!", "\n"]
SMALL, LARGE = 4_000, 32_000


def patterns() -> list[tuple[str, re.Pattern]]:
    """Every re.compile of a literal in the server's and the assistant's modules, by file and line."""
    found = []
    for folder in ("lsp", "assistant"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "compile"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "re"
                    and node.args
                ):
                    literal = ast.literal_eval(node.args[0])
                    flags = eval(compile(ast.Expression(node.args[1]), "", "eval"), {"re": re}) if node.args[1:] else 0
                    found.append((f"{folder}/{path.name}:{node.lineno}", re.compile(literal, flags)))
    return found


def hostile(pattern: re.Pattern, lead: str, run: str, end: str, n: int) -> str | bytes:
    made = lead + run * (n // len(run)) + end
    return made.encode("utf-8") if isinstance(pattern.pattern, bytes) else made


def cost(pattern: re.Pattern, text: str | bytes) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        pattern.search(text)
        list(pattern.finditer(text))
        best = min(best, time.perf_counter() - started)
    return best


def test_the_source_holds_the_patterns_it_is_known_to():
    names = [name for name, _ in patterns()]
    assert len(names) >= 15 and any("python_definitions" in name for name in names), names


@pytest.mark.parametrize("where, pattern", patterns(), ids=lambda value: value if isinstance(value, str) else "")
def test_no_pattern_is_super_linear_on_long_runs(where, pattern):
    for lead in LEADS:
        for run in RUNS:
            for end in ENDS:
                large = cost(pattern, hostile(pattern, lead, run, end, LARGE))
                if large > 0.05:
                    small = cost(pattern, hostile(pattern, lead, run, end, SMALL))
                    assert large < 30 * max(small, 1e-4), (
                        f"{where} {pattern.pattern!r} on {lead!r} + {run!r} * n + {end!r}: "
                        f"{small:.3f} s at {SMALL}, {large:.3f} s at {LARGE}"
                    )


FRAGMENTS = [
    "from " + "." * 5_000,
    "from " + " " * 5_000 + "import x",
    "import " + "a." * 2_000,
    "x = " + "1+" * 3_000 + "1",
    "y = " + "(" * 3_000,
    "a" * 20_000,
    "é" * 3_000,
    '"' * 3_000,
    "\\" * 3_000,
    "\t" * 3_000,
    "\r\n" * 500,
    "\x00\x1b]52;c;\x07",
    "def f(x):\n    return x\n",
    "from .mod import (" + ", ".join(f"n{i}" for i in range(500)) + ")",
    "    ",
]


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6),
    cursor=st.floats(0, 1),
    language=st.sampled_from(["python", "javascript", ""]),
)
def test_any_hostile_document_is_answered_without_an_error(tmp_path, pieces, cursor, language):
    """Issue 41: the server's text paths (imports, project context, windows, shaping, whole code) over documents
    made of hostile fragments, at any cursor: an answer or none, never an exception."""
    from cga.lsp.service import AssistantService
    from cga.lsp.settings import Settings
    from tests.lsp.test_service import FakeBackend, RecordingEditor, ScriptedLoader

    (tmp_path / "mod.py").write_text(
        "def n0(x):\n    return x\n\nx = " + "1+" * 200_000 + "1\n"
    )  # the parser overflows
    text = "\n".join(pieces)
    lines = text.split("\n")
    row = int(cursor * (len(lines) - 1))
    position = (row, len(lines[row]))
    editor = RecordingEditor()
    answers = FakeBackend(lambda prompt: "return x *\n    if y:\n        z(", n_ctx=4096)
    service = AssistantService(
        editor, Settings(max_tokens=8, project_context_tokens=256), loader=ScriptedLoader(answers, answers)
    )
    uri = (tmp_path / "main.py").as_uri()
    editor.open(uri, text, language)
    service.opened(uri)
    result = service.complete_at(uri, position)
    assert result is None or all(isinstance(answer, str) for answer in result[0])
