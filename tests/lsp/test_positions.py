"""Table-driven: LSP positions (UTF-16, any line break) ↔ Python string offsets."""

from __future__ import annotations

import re

import pytest

from cga.lsp.positions import offset_at, position_at, with_newlines

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure

CASES = [
    # text, (line, character), offset
    ("abc", (0, 0), 0),
    ("abc", (0, 3), 3),
    ("abc", (0, 99), 3),  # past the line end: clamps
    ("a\nb", (1, 0), 2),
    ("a\r\nb", (1, 0), 3),  # CRLF is one line break
    ("a\r\nb", (0, 5), 1),  # never inside the CRLF
    ("a\rb", (1, 1), 3),  # a lone CR breaks lines too
    ("😀x", (0, 2), 1),  # the emoji is two UTF-16 units, one code point
    ("😀x", (0, 3), 2),
    ("é😀\n🚀z", (1, 2), 4),
    ("héllo", (0, 2), 2),  # é is one unit
    ("x\n", (1, 0), 2),  # the empty last line
    ("x\n", (7, 0), 2),  # past the end: the end
]


@pytest.mark.parametrize("text, position, offset", CASES)
def test_offset_at(text, position, offset):
    assert offset_at(text, *position) == offset


@pytest.mark.parametrize(
    "text, offset, position",
    [("a\r\nb", 3, (1, 0)), ("😀x", 1, (0, 2)), ("é😀\n🚀z", 4, (1, 2)), ("abc", 99, (0, 3)), ("x\n", 2, (1, 0))],
)
def test_position_at(text, offset, position):
    assert position_at(text, offset) == position


@pytest.mark.parametrize("text", ["a\r\nb\r\n\r\nc😀d\r\n", "a\rb\r\rc", "mixed\r\nline\nbreaks\r\rend", "no breaks"])
def test_a_text_with_newlines_has_every_position_the_original_has(text):
    """What the server reads: each line break one \\n, every (line, character) naming the same character."""
    plain = with_newlines(text)
    assert plain.split("\n") == re.split(r"\r\n|\r|\n", text)
    for line in range(6):
        for character in range(6):
            assert plain[: offset_at(plain, line, character)] == with_newlines(text[: offset_at(text, line, character)])
