"""LSP positions ↔ offsets in a Python string: the one place the index conventions live.

LSP counts lines split at \\n, \\r\\n or \\r, and characters in UTF-16 code units
(unless the client negotiates otherwise): a character outside the Basic
Multilingual Plane, such as most emoji, counts as two. Python strings index
code points. Positions past the end of a line clamp to its end; lines past the
end of the document clamp to the document's end, as the specification asks.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _LINE_BREAK.finditer(text)]


def _line_end(text: str, starts: list[int], line: int) -> int:
    """Offset of the end of a line's content (before its line break)."""
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    while end > starts[line] and text[end - 1] in "\r\n":
        end -= 1
    return end


def utf16_units(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def offset_at(text: str, line: int, character: int) -> int:
    """The string offset of an LSP (line, UTF-16 character) position."""
    starts = line_starts(text)
    if line < 0:
        return 0
    if line >= len(starts):
        return len(text)
    start, end = starts[line], _line_end(text, starts, line)
    units = 0
    for offset in range(start, end):
        if units >= character:
            return offset
        units += 2 if ord(text[offset]) > 0xFFFF else 1
    return end


def position_at(text: str, offset: int) -> tuple[int, int]:
    """The LSP (line, UTF-16 character) of a string offset."""
    offset = max(0, min(offset, len(text)))
    starts = line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    return line, utf16_units(text[starts[line] : offset])
