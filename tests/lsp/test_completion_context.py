"""The text rules for editor completions: one line or a block, no duplication, the document's indentation."""

from __future__ import annotations

import pytest

from cga.lsp.completion_context import context_at, shape, window_starts

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def at_cursor(marked: str):
    offset = marked.index("|")
    return context_at(marked.replace("|", "", 1), offset)


@pytest.mark.parametrize(
    "marked, multiline",
    [
        ("def f(a):\n    |", True),
        ("def f(a):|", True),
        ("x = |", False),
        ("if x:\n    y = 1\n    |", False),
        ("items = [|]", False),  # text right of the cursor: stay on the line
        ("for i in range(3):\n\n    |", True),
    ],
)
def test_single_or_multi_line(marked, multiline):
    assert at_cursor(marked).multiline is multiline


def test_block_stops_at_its_end():
    ctx = at_cursor("def f(a):\n    |")
    completion = "return a + 1\n\n    # more\n\ndef g():\n    pass\n"
    assert shape(completion, ctx) == "return a + 1\n\n    # more"


def test_single_line_drops_what_is_already_right_of_the_cursor():
    ctx = at_cursor("print(|)")
    assert shape("'hello')\nprint(2)", ctx) == "'hello'"


def test_tabs_follow_the_document():
    ctx = at_cursor("class A:\n\tdef f(self):\n\t\t|")
    assert ctx.multiline and ctx.uses_tabs
    assert shape("x = 1\n        return x\n    def g(self):", ctx) == "x = 1\n\t\treturn x"


def test_a_model_that_restarts_the_indented_line_does_not_add_a_blank_line():
    ctx = at_cursor("def f(n):\n    |")
    assert ctx.typed_indent == "    "
    assert shape("if n:\n        return 1", ctx) == "if n:\n        return 1"
    assert shape("\n    if n:\n        return 1", ctx) == "if n:\n        return 1"
    assert shape("\n\n        deeper()", ctx) == "    deeper()"
    assert shape("\nx = 1", ctx) == ""  # less indented than the cursor: nothing fits here
    assert shape(" return a + b", ctx) == "return a + b"  # " return" is one token: its space is not indentation
    assert shape("  # two spaces", ctx) == "  # two spaces"
    assert at_cursor("x = |").typed_indent == at_cursor("    y|").typed_indent == ""


def test_windows_are_cut_at_line_starts():
    text = "".join(f"line_{i} = {i}\n" for i in range(2000))
    ctx = context_at(text, len(text))
    assert ctx.prefix.startswith("line_") and len(ctx.prefix) <= 8000


def test_prompt_starts_stay_put_while_typing_at_the_cursor():
    text = "".join(f"value_{i} = compute({i})\n" for i in range(1000))
    starts = window_starts(text, len(text))
    assert starts == sorted(starts) and len(text) - starts[0] <= 8000
    assert all(s == 0 or text[s - 1] == "\n" for s in starts)
    assert starts[-1] == len(text)  # the cursor's own (empty) line is the last resort
    typed = text + "result = comp"
    assert window_starts(typed, len(typed))[:-1] == starts[:-1]


def test_a_cursor_on_a_huge_line_still_gets_its_line_start():
    text = "short = 1\n" + "x" * 20000
    assert window_starts(text, len(text)) == [10]


@pytest.mark.parametrize(
    "marked, answer, inserted",
    [
        ("def add(a, b):\n    return a |", " + b", "+ b"),  # the token ` +` brings its own space
        ("def add(a, b):\n    return a |", "  + b", "+ b"),
        ("def add(a, b):\n    return a|", " + b", " + b"),  # no space typed: the token's is the only one
        ("x = |", " 1", "1"),
        ("x =\t|", " 1", "1"),
    ],
)
def test_a_typed_space_is_not_doubled(marked, answer, inserted):
    ctx = at_cursor(marked)
    assert shape(answer, ctx) == inserted
    text = marked.replace("|", "")
    assert "  " not in (text + shape(answer, ctx)).split("\n")[-1].strip()
