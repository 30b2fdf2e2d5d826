"""The join of typed text and the model's answer (the editor's and `cga complete`'s one rule)."""

from __future__ import annotations

import pytest

from cga.assistant.joining import join, join_stream, typed_space

pytestmark = pytest.mark.pure


def test_where_the_typed_space_is():
    assert typed_space("return a ") == "mid-line"
    assert typed_space("def f():\n    ") == "indent"
    assert typed_space("return a") == typed_space("x\n") == typed_space("") == ""


@pytest.mark.parametrize(
    "prompt, answer, joined",
    [
        ("return a ", " + b", "+ b"),
        ("return a ", "+ b", "+ b"),
        ("return a", " + b", " + b"),
        ("def add(a, b):\n    ", " return a + b", "return a + b"),
        ("def add(a, b):\n    ", "    deeper()", "    deeper()"),
        ("def add(a, b):\n    ", "\n    x", "\n    x"),
    ],
)
def test_join(prompt, answer, joined):
    assert join(prompt, answer) == joined


@pytest.mark.parametrize("chunks", [[" return", " a + b"], [" ", "return a + b"], ["", " ", " r", "eturn a + b"]])
def test_the_stream_joins_the_same_way_whatever_the_pieces(chunks):
    prompt = "def add(a, b):\n    return a "
    assert "".join(join_stream(prompt, chunks)) == join(prompt, "".join(chunks))
    assert "".join(join_stream("def add(a, b):\n    ", [" return", " a"])) == "return a"
    assert list(join_stream("x = ", [" ", " "])) == []
