"""What to ask the model for at a cursor, and how to shape its answer for the editor.

Pure text logic, no LSP and no model: the handlers call these functions, so
the rules are testable on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cga.assistant.joining import join

BLOCK_OPENERS = (":", "{", "(", "[")
MAX_PREFIX_CHARS = 8000
MAX_SUFFIX_CHARS = 2000
WINDOW_STEP = 1024  # characters between the places a prompt may begin
INDENT_SAMPLE = 100_000  # characters read to tell a tab-indented document
_LEADING_BLANK_LINES = re.compile(r"^(?:[ \t]*\r?\n)+")


@dataclass(frozen=True)
class Context:
    prefix: str
    suffix: str
    multiline: bool
    base_indent: str  # indentation of the line that opened the block
    right_of_cursor: str
    uses_tabs: bool
    # The indentation already typed on a line that holds nothing else. BPE vocabularies merge a newline with
    # the spaces after it into one token, which in training is mostly followed by another newline, so models
    # often answer such a prompt with a line break and the whole next line (seen with SmolLM2:
    # `def f(n):\n    ` → `\n    if n == 1:`). shape() turns that into text that goes after the cursor.
    typed_indent: str = ""


def indent_of(line: str) -> str:
    """The spaces and tabs a line begins with."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def window_starts(text: str, offset: int, max_chars: int = MAX_PREFIX_CHARS) -> list[int]:
    """Where the prompt for a cursor may begin, earliest (longest prompt) first; each a line start.

    They are the first line starts after multiples of WINDOW_STEP, counted from
    the top of the document, so typing at the cursor does not move them: the
    prompt keeps its first tokens, and the KV cache its work, until the prompt
    outgrows its budget and begins one step further down. (Cutting a fixed
    number of tokens before the cursor would shift the whole prompt, and
    recompute all of it, at every keystroke.) The last one is the cursor's own line.
    """
    lowest = max(0, offset - max_chars)
    starts: list[int] = []
    for point in range(-(-lowest // WINDOW_STEP) * WINDOW_STEP, offset + 1, WINDOW_STEP):
        newline = text.find("\n", point - 1, offset) if point else -1
        if point and newline < 0:
            break  # no line starts between here and the cursor
        starts.append(newline + 1)
    cursor_line = text.rfind("\n", 0, offset) + 1
    if not starts or starts[-1] < cursor_line:
        starts.append(cursor_line)
    return list(dict.fromkeys(starts))


def context_at(text: str, offset: int) -> Context:
    """Prefix (from the earliest window start) and suffix windows, and whether to write a whole block."""
    prefix, suffix = text[window_starts(text, offset)[0] : offset], text[offset : offset + MAX_SUFFIX_CHARS + 1]
    if len(suffix) > MAX_SUFFIX_CHARS:
        cut = suffix.rfind("\n", 0, MAX_SUFFIX_CHARS)
        suffix = suffix[: cut + 1] if cut >= 0 else suffix[:MAX_SUFFIX_CHARS]
    line_start = prefix.rfind("\n") + 1
    before = prefix[line_start:]
    right = suffix.split("\n", 1)[0].rstrip("\r")
    previous_lines = [line for line in prefix[:line_start].splitlines() if line.strip()]
    opener = ""
    if before.rstrip().endswith(BLOCK_OPENERS):
        opener = before
    elif not before.strip() and previous_lines and previous_lines[-1].rstrip().endswith(BLOCK_OPENERS):
        opener = previous_lines[-1]
    uses_tabs = any(line.startswith("\t") for line in text[:INDENT_SAMPLE].splitlines())
    typed_indent = before if before and not before.strip() else ""
    return Context(
        prefix, suffix, bool(opener) and not right.strip(), indent_of(opener), right, uses_tabs, typed_indent
    )


def shape(completion: str, ctx: Context) -> str:
    """The completion as the editor should insert it: one line, or the block up to its end."""
    if ctx.typed_indent and completion[:1] in ("\n", "\r"):
        completion = _LEADING_BLANK_LINES.sub("", completion)
        if not completion.startswith(ctx.typed_indent):
            return ""  # the model's next line is less indented than the cursor: nothing to write here
        completion = completion[len(ctx.typed_indent) :]
    else:
        completion = join(ctx.prefix, completion)  # a typed space and the token's own are not both kept
    if not ctx.multiline:
        line = completion.split("\n", 1)[0].rstrip("\r")
        if ctx.right_of_cursor.strip() and line.endswith(ctx.right_of_cursor.strip()):
            line = line[: len(line) - len(ctx.right_of_cursor.strip())]  # already there, right of the cursor
        return line.rstrip() if not ctx.right_of_cursor else line
    kept: list[str] = []
    for i, line in enumerate(completion.split("\n")):
        # The block ends at the first non-blank line indented no deeper than its opener.
        if i > 0 and line.strip() and len(indent_of(line).expandtabs(4)) <= len(ctx.base_indent.expandtabs(4)):
            break
        kept.append(line)
    text = "\n".join(kept).rstrip()
    if ctx.uses_tabs:
        text = "\n".join(_spaces_to_tabs(line) for line in text.split("\n"))
    return text


def _spaces_to_tabs(line: str) -> str:
    indent = indent_of(line)
    if "\t" in indent or not indent:
        return line
    return "\t" * (len(indent) // 4) + " " * (len(indent) % 4) + line[len(indent) :]
