"""The code in a chat model's answer, fenced or not: for showing it as code and for running it.

A chat model (the embedded SmolLM2) answers in Markdown, and not always with
fences: its later turns often give a bare `def` with its body, which Markdown
reflows into one paragraph. Asked to continue a program (MTPB's completion
prompts), it writes the code, then a stray closing fence and a sentence about
it. Both uses need the same judgement of which lines are Python, and it lives
here. Only Python is recognised without fences; in other languages only fenced
code is.
"""

from __future__ import annotations

import ast
import codeop
import re
import warnings
from collections.abc import Iterator

FENCE = re.compile(r"^ {0,3}(```|~~~)")
_BODY_ONLY = re.compile(r"^(return|yield|await|break|continue)\b")


def _compiles(source: str) -> bool | None:
    """True: complete Python; None: Python so far (a block opener, an open bracket); False: not Python."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings of the model's code are not ours to show
        try:
            return codeop.compile_command(source, symbol="exec") is not None or None
        except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
            return False


def starts_code(line: str) -> bool:
    """Whether a line on its own reads as a Python statement rather than prose.

    A lone name (`Usage`) or an annotation without a value (`Note: this`) is valid Python but, in an answer,
    a word or a label.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return False
    if _BODY_ONLY.match(text):
        text = "def _():\n    " + text
    verdict = _compiles(text)
    if verdict is None:
        return True
    if verdict is False:
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    prose_like = all(
        (isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Constant)))
        or (isinstance(node, ast.AnnAssign) and node.value is None)
        for node in tree.body
    )
    return not prose_like


def _code_run(lines: list[str], start: int) -> int:
    """The end of the code that begins at lines[start]: indented lines, comments, blank lines and further
    statements belong to it; the first unindented line of prose ends it (trailing blank lines are left out)."""
    end = start + 1
    scan = start + 1
    while scan < len(lines):
        line = lines[scan]
        if FENCE.match(line):
            break
        if line.strip() and not (
            line[0].isspace()
            or line.lstrip().startswith("#")
            or starts_code(line)
            or _compiles("\n".join(lines[start : scan + 1])) is not False
        ):
            break
        scan += 1
        if line.strip():
            end = scan
    return end


def _unfenced_runs(lines: list[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of Python outside the fenced blocks, in order."""
    fenced = False
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            fenced = not fenced
        elif not fenced and starts_code(lines[i]):
            end = _code_run(lines, i)
            yield i, end
            i = end
            continue
        i += 1


def with_code_fenced(markdown: str, language: str = "python") -> str:
    """The answer with its unfenced Python code put in fences, so a Markdown view shows it as code, line for
    line; fenced blocks and prose stay as they are."""
    if language != "python":
        return markdown
    lines = markdown.split("\n")
    out: list[str] = []
    done = 0
    for start, end in _unfenced_runs(lines):
        out += [*lines[done:start], "```python", *lines[start:end], "```"]
        done = end
    return "\n".join(out + lines[done:])


def code_of_continuation(text: str) -> str:
    """The code of a completion that continues a program, without the Markdown a chat model adds to it.

    A fence opening the answer is dropped and the next fence ends the code; anything after a fence is prose.
    Without fences, code that turns into prose at an unindented line ends there, as long as what comes before
    it is a whole program.
    """
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and FENCE.match(lines[first]):
        lines = lines[first + 1 :]
    cut = next((i for i, line in enumerate(lines) if FENCE.match(line)), len(lines))
    code = "\n".join(lines[:cut]) + ("\n" if cut < len(lines) else "")
    lines = lines[:cut]
    if _compiles(code) is not False:
        return code
    for i, line in enumerate(lines):
        if (
            i
            and line.strip()
            and not line[0].isspace()
            and not line.lstrip().startswith("#")
            and not starts_code(line)
            and _compiles("\n".join(lines[:i])) is True
        ):
            return "\n".join(lines[:i]) + "\n"
    return code


def code_of_answer(answer: str, language: str = "python") -> str:
    """The program in a chat answer: its first fenced block; else its unfenced Python, every run of it in
    order; else the whole answer (nothing in it reads as code, so nothing is left out)."""
    lines = answer.split("\n")
    opener = next((i for i, line in enumerate(lines) if FENCE.match(line)), None)
    if opener is not None:
        closer = next((i for i in range(opener + 1, len(lines)) if FENCE.match(lines[i])), len(lines))
        return "\n".join(lines[opener + 1 : closer]) + "\n"
    if language != "python":
        return answer
    runs = ["\n".join(lines[start:end]) for start, end in _unfenced_runs(lines)]
    return "\n\n".join(runs) + "\n" if runs else answer
