"""A suggestion cut short (time limit, confidence cut, max_tokens) ends on whole code (issue 42, item 3)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from cga.assistant.whole_code import whole_code

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def parses(code: str) -> bool:
    """The test's own judge: a statement, or a block opener once given a body."""
    code = textwrap.dedent(code).strip()
    for candidate in (code, code + "\n    pass"):
        try:
            ast.parse(candidate)
            return True
        except SyntaxError:
            continue
    return False


@pytest.mark.parametrize(
    "before, answer, after, kept",
    [
        # The reproductions: ghost text under load in Neovim and lsp-mode.
        ("def f(n):\n    return ", "n *", "", "n"),
        ("def f(n):\n    return", " n * fibonacci(n -", "", " n * fibonacci"),
        (
            "def fibonacci(n):\n    ",
            "if n <= 1:\n        return n\n    return n * fibonacci(n -",
            "",
            "if n <= 1:\n        return n\n",
        ),
        ("def f(n):", "\n    if n <= 1:\n        return n\n    return n *", "", "\n    if n <= 1:\n        return n\n"),
        # A whole last line stays; one cut inside a word does not, though it parses.
        ("def f(n):", "\n    x = 1\n    return f(n - 1)", "", "\n    x = 1\n    return f(n - 1)"),
        ("def f(n):", "\n    x = 1\n    return n * fibon", "", "\n    x = 1\n"),
        # A block opener is whole; a statement that leaves the answer's own bracket open is not.
        ("def f(n):", "\n    for i in range(n):", "", "\n    for i in range(n):"),
        ("def f(n):\n    ", "x = foo(a,\n        b)\n    y = foo(a,\n        b", "", "x = foo(a,\n        b)\n"),
        ("    ", "else:", "", "else:"),
        # A `)` the editor closed right of the cursor counts.
        ("x = 1\nfoo(a, ", "b", ")", "b"),
        ("x = 1\nfoo(a, ", "b, c +", ")", "b, c"),
        # The user's own open bracket: up to the last whole argument; the model's unclosed string: nothing.
        ("x = 1\nfoo(a,", " b,", "", " b"),
        ("x = ", '"abc', "", ""),
        ("for ", "x in range(10", "", ""),
        # A line inside a bracket opened lines above cannot be parsed alone: whole lines, else its last name.
        ("x = foo(a,\n        ", "b, c)\n    return x", "", "b, c)\n"),
        ("x = foo(a,\n        ", "b, c +", "", "b, c"),
        # Ended at a line's end already: nothing to take back.
        ("def f(n):", "\n    return n\n", "", "\n    return n\n"),
    ],
)
def test_a_cut_answer_ends_on_whole_code(before, answer, after, kept):
    assert whole_code(answer, before, "python", after) == kept


def test_other_languages_keep_whole_lines_and_a_lone_line_as_cut():
    assert whole_code("\n  if (n < 2) {\n    return n;\n  return n *", "function f(n) {", "javascript") == (
        "\n  if (n < 2) {\n    return n;\n"
    )
    assert whole_code("n *", "  return ", "javascript") == "n *"


def _statements(source: str) -> list[str]:
    """The one-line statements of a real module, with their indentation."""
    lines = source.splitlines()
    return [line for line in lines if line.strip() and not line.strip().startswith("#") and parses(line)]


STDLIB = Path(textwrap.__file__).parent


@pytest.mark.parametrize("module", ["textwrap.py", "shlex.py"])
def test_every_cut_of_real_lines_is_a_prefix_that_parses_or_nothing(module):
    """The class, not the example: each one-line statement of a standard-library module, cut after every
    character (wherever the model's tokens could stop), gives back a beginning of itself that parses."""
    lines = _statements((STDLIB / module).read_text(encoding="utf-8"))[::3]
    assert len(lines) > 40
    for line in lines:
        indent = line[: len(line) - len(line.lstrip())]
        code = line[len(indent) :]
        for cut in range(1, len(code)):
            answer = code[:cut]
            kept = whole_code(answer, "x = 1\n" + indent, "python")
            assert answer.startswith(kept), (line, cut, kept)
            assert not kept.strip() or parses(indent + kept), (line, cut, kept)


def test_every_cut_of_a_real_function_keeps_whole_statements():
    """A block cut anywhere keeps a beginning of itself that is whole code: its statements parse, with a body
    given to a block opener it ends on."""
    source = (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    start = source.index("    def _split(self, text):")
    body = source[start : source.index("\n    def ", start + 10)]
    head, block = body.split("\n", 1)
    block = "\n" + block
    for cut in range(1, len(block), 3):
        kept = whole_code(block[:cut], "class C:\n" + head, "python")
        assert block.startswith(kept), cut
        code = textwrap.dedent(head + kept.rstrip())
        assert any(parses_exactly(code + tail) for tail in ["", *(f"\n{' ' * n}pass" for n in range(4, 24, 4))]), (
            cut,
            kept,
        )


def parses_exactly(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except SyntaxError:
        return False
