"""What to ask the model for at a cursor, and how to shape its answer for the editor.

Pure text logic, no LSP and no model: the handlers call these functions, so
the rules are testable on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK_OPENERS = (":", "{", "(", "[")
MAX_PREFIX_CHARS = 8000
MAX_SUFFIX_CHARS = 2000


@dataclass(frozen=True)
class Context:
    prefix: str
    suffix: str
    multiline: bool
    base_indent: str  # indentation of the line that opened the block
    right_of_cursor: str
    uses_tabs: bool


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def context_at(text: str, offset: int) -> Context:
    """Prefix and suffix windows (cut at line starts), and whether to write a whole block."""
    prefix, suffix = text[:offset], text[offset:]
    if len(prefix) > MAX_PREFIX_CHARS:
        cut = prefix.find("\n", len(prefix) - MAX_PREFIX_CHARS)
        prefix = prefix[cut + 1 :] if cut >= 0 else prefix[-MAX_PREFIX_CHARS:]
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
    uses_tabs = any(line.startswith("\t") for line in text.splitlines()[:2000])
    return Context(prefix, suffix, bool(opener) and not right.strip(), _indent(opener), right, uses_tabs)


def shape(completion: str, ctx: Context) -> str:
    """The completion as the editor should insert it: one line, or the block up to its end."""
    if not ctx.multiline:
        line = completion.split("\n", 1)[0].rstrip("\r")
        if ctx.right_of_cursor.strip() and line.endswith(ctx.right_of_cursor.strip()):
            line = line[: len(line) - len(ctx.right_of_cursor.strip())]  # already there, right of the cursor
        return line.rstrip() if not ctx.right_of_cursor else line
    kept: list[str] = []
    for i, line in enumerate(completion.split("\n")):
        # The block ends at the first non-blank line indented no deeper than its opener.
        if i > 0 and line.strip() and len(_indent(line).expandtabs(4)) <= len(ctx.base_indent.expandtabs(4)):
            break
        kept.append(line)
    text = "\n".join(kept).rstrip()
    if ctx.uses_tabs:
        text = "\n".join(_spaces_to_tabs(line) for line in text.split("\n"))
    return text


def _spaces_to_tabs(line: str) -> str:
    indent = _indent(line)
    if "\t" in indent or not indent:
        return line
    return "\t" * (len(indent) // 4) + " " * (len(indent) % 4) + line[len(indent):]
