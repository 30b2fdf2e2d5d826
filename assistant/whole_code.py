"""Where a suggestion that was cut short ends: on whole code, never mid-expression.

The model ends most answers itself (its end token, a stop string, the end of a block). Three things end one
early, between two of the model's tokens wherever they fall: the time limit of a block suggestion, the
confidence cut and max_tokens. Shown as they are, such answers put broken code in the user's file with one Tab
(`return n *`, `return n * fibonacci(n -`). A cut Python answer keeps its whole statements (Python's tokenizer
says where each logical line ends) and the statement it was cut in only if that already parses; when it holds
no whole statement, the longest beginning of it that parses, ending on a Python token, or nothing.
"""

from __future__ import annotations

import ast
import io
import tokenize

# Stats.stop values that mean the model did not end the answer itself.
CUT_SHORT = frozenset({"time", "unsure", "length"})

_CLOSERS = frozenset(")]}")
_OPENERS = frozenset("([{")
_ENDING_TOKENS = frozenset({tokenize.NAME, tokenize.NUMBER, tokenize.STRING})
_NOT_CODE = frozenset({tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT})
# A statement that only parses after something before it (`else:`, `except ValueError:`) or after it (a block
# opener, `for x in y:`); each wraps the statement, dedented, into a small module.
_WRAPPINGS = (
    "{}",
    "{}\n pass",
    "if 1:\n pass\n{}\n pass",
    "try:\n pass\n{}\n pass",
)
_MAX_CANDIDATES = 200  # ends of tokens tried for the longest whole beginning (an answer is at most a few lines)


def whole_code(answer: str, before: str, language: str, after: str = "") -> str:
    """answer: the raw text the model wrote at the cursor, cut short; before: the document's text before the
    cursor (at least the cursor's line, whose beginning the answer's first line continues); after: the rest of
    the cursor's line, which the suggestion goes in front of (a `)` the editor closed)."""
    if language != "python":
        # No parser here for the language: whole lines, and a line the answer is all of kept as the model cut it.
        newline = answer.rfind("\n")
        complete = answer[: newline + 1]
        return complete if complete.strip() and answer[newline + 1 :].strip() else answer
    line_start = before.rfind("\n") + 1
    head = before[line_start:]
    if _inside_open_code(before[:line_start]):
        # The cursor's line continues a bracket, string or backslash of the lines above: no statement starts
        # on it, so none can be parsed; whole lines, or the line up to its last name, number, string or closer.
        newline = answer.rfind("\n")
        if newline >= 0:
            return answer[: newline + 1] if answer[: newline + 1].strip() else answer[:newline]
        return answer[: _last_ending(head + answer, len(head)) - len(head)]
    text = head + answer
    ends = _statement_ends(text, len(head))
    kept = answer[: ends[-1] - len(head)] if ends else ""
    rest = answer[len(kept) :]
    if not rest.strip():
        return answer
    if kept.strip():
        # The cut line goes too if it is whole, and not cut inside a word (`return n * fibon` parses).
        whole = "\n" not in rest and not _in_a_word(rest) and _parses(rest + after)
        return answer if whole else kept
    # The cut statement begins on the cursor's line, or on a line of the answer (after a line break it wrote).
    return kept + rest[: _longest_parsing("" if "\n" in kept else head, rest, after)]


def _statement_ends(text: str, start: int) -> list[int]:
    """Offsets in text, after start, where a logical line ends with its line break (the tokenizer's NEWLINE)."""
    line_offsets = _line_starts(text)
    ends: list[int] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NEWLINE and token.string:
                end = line_offsets[token.start[0] - 1] + token.start[1] + len(token.string)
                if end > start:
                    ends.append(end)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # cut inside a bracket or string, or dedented below the cursor's line: the ends before it stand
    return ends


def _longest_parsing(head: str, rest: str, after: str) -> int:
    """How much of rest to keep: the longest part, ending on a Python token, with which head + it + after
    parses. Where none does and the user's head opened a bracket (`foo(a, `), the part up to its last name,
    number, string or closer outside brackets it opened; else nothing."""
    text = head + rest
    candidates = [end for end, _ in _token_ends(text, len(head))][-_MAX_CANDIDATES:]
    for end in reversed(candidates):
        if _parses(text[:end] + after):
            return end - len(head)
    if _inside_open_code(head):
        return _last_ending(text, len(head)) - len(head)
    return 0


def _last_ending(text: str, start: int) -> int:
    """The end of the last name, number, string or closing bracket after start, with every bracket opened after
    start closed; start where there is none."""
    return max((end for end, ending in _token_ends(text, start) if ending), default=start)


def _token_ends(text: str, start: int) -> list[tuple[int, bool]]:
    """Where each code token after start ends (offsets in text, which is one line or a statement that begins
    one), and whether code may end there (see _last_ending); as far as the tokenizer gets in text cut
    mid-statement."""
    line_offsets = _line_starts(text)
    ends: list[tuple[int, bool]] = []
    depth = 0  # brackets opened after start and not yet closed
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.ERRORTOKEN:
                break  # an unclosed string: nothing from here on is whole
            end = line_offsets[token.end[0] - 1] + token.end[1]
            if token.type in _NOT_CODE or token.type == tokenize.NEWLINE or end <= start:
                continue
            if token.type == tokenize.OP and token.string in _OPENERS:
                depth += 1
            elif token.type == tokenize.OP and token.string in _CLOSERS:
                depth -= 1
            ending = (token.type in _ENDING_TOKENS or token.string in _CLOSERS) and depth <= 0
            ends.append((end, ending))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # an unclosed bracket or string at the end: the tokens before it stand
    return ends


def _line_starts(text: str) -> list[int]:
    """Where each line begins, for turning the tokenizer's (row, column) into an offset: lines as the tokenizer
    reads them (str.splitlines also breaks at \\f, \\x1c or U+2028, and the offsets would drift)."""
    starts = [0]
    for line in io.StringIO(text):
        starts.append(starts[-1] + len(line))
    return starts


def _inside_open_code(text: str) -> bool:
    """Whether text (whole lines) ends inside a bracket, a string or after a backslash, so that the next line
    continues a statement instead of beginning one."""
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.OP and token.string in _OPENERS:
                depth += 1
            elif token.type == tokenize.OP and token.string in _CLOSERS:
                depth = max(0, depth - 1)
    except tokenize.TokenError:
        return True  # the end of the text came inside a bracket, a multi-line string or a continued line
    except (IndentationError, SyntaxError):
        return False  # a window that begins mid-block: its brackets are what the tokens before the error said
    return depth > 0


def _in_a_word(text: str) -> bool:
    """Whether text may end inside a name or number the model had not finished (its last character is one)."""
    last = text[-1:]
    return bool(last) and (last.isalnum() or last == "_")


def _parses(code: str) -> bool:
    """Whether code, taken on its own, is a whole statement (or statements) or the opener of a block."""
    code = code.strip()
    if not code or len(code) > 10_000:
        return False
    for wrapping in _WRAPPINGS:
        try:
            ast.parse(wrapping.format(code))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        return True
    return False
