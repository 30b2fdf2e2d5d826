"""When generation stops, and what of it the user sees.

Two mechanisms: stop strings, held back while they might still be forming so
that none ever leaks; and the CodeGen paper's truncation of generated programs
(codegen-facts.md), applied line by line.
"""

from __future__ import annotations

import re

_TOP_LEVEL_ENTRY = re.compile(r"^(def|print)\b")  # the paper's: one turn writes one function or one print


class StopScanner:
    """Feed text as it streams; get back what is safe to show."""

    def __init__(self, stops: list[str] | tuple[str, ...] = ()) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        self.pending += text
        cut = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self.pending = self.pending[:cut], ""
            return out
        hold = max((_partial_suffix(self.pending, s) for s in self.stops), default=0)
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(out) :]
        return out

    def flush(self) -> str:
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out


def _partial_suffix(text: str, stop: str) -> int:
    """Length of the longest end of text that is a beginning of stop."""
    for n in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:n]):
            return n
    return 0


class BlockEnd:
    """Stops before the first non-blank line indented by fewer than min_indent characters (tabs count one, as
    llama-server's n_indent counts them): a suggested block ends there, and the model need not write on."""

    def __init__(self, min_indent: int) -> None:
        self.min_indent = min_indent
        self.pending = ""
        self.at_line_start = False  # the answer begins where the cursor is, mid-line
        self.stopped = False

    def feed(self, text: str) -> str:
        """What can be shown now: all but the white space at the start of a line whose indentation is not yet
        known."""
        if self.stopped:
            return ""
        self.pending += text
        out: list[str] = []
        while True:
            if not self.at_line_start:
                newline = self.pending.find("\n")
                if newline < 0:
                    out.append(self.pending)
                    self.pending = ""
                    break
                out.append(self.pending[: newline + 1])
                self.pending = self.pending[newline + 1 :]
                self.at_line_start = True
            rest = self.pending.lstrip(" \t")
            if not rest:
                break  # the indentation may go on
            if rest[0] in "\r\n":  # a blank line ends nothing
                newline = self.pending.find("\n")
                if newline < 0:
                    break
                out.append(self.pending[: newline + 1])
                self.pending = self.pending[newline + 1 :]
                continue
            if len(self.pending) - len(rest) < self.min_indent:
                self.stopped, self.pending = True, ""
                break
            self.at_line_start = False
        return "".join(out)

    def flush(self) -> str:
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out


class TextFilters:
    """Stop strings, then (optionally) the end of a block and program truncation, as one pipeline."""

    def __init__(
        self,
        stops: tuple[str, ...] = (),
        truncate_program: bool = False,
        inside_block: bool = False,
        min_indent: int = 0,
    ):
        self.filters: list[StopScanner | BlockEnd | ProgramTruncator] = [StopScanner(stops)]
        if min_indent:
            self.filters.append(BlockEnd(min_indent))
        if truncate_program:
            self.filters.append(ProgramTruncator(inside_block))

    def feed(self, text: str, final: bool = False) -> str:
        for f in self.filters:
            text = f.feed(text) + (f.flush() if final else "")
        return text

    @property
    def stopped(self) -> bool:
        return any(f.stopped for f in self.filters)

    @property
    def stop_reason(self) -> str:
        """ "stop" (a stop string), "block" (the block ended) or "truncated" (the program rule), once stopped."""
        stopped = next(f for f in self.filters if f.stopped)
        return {StopScanner: "stop", BlockEnd: "block"}.get(type(stopped), "truncated")


class ProgramTruncator:
    """The CodeGen paper's truncation (codegen-facts.md), over whole lines: the one home of the rule, for
    chat turns, `cga complete` and the MTPB harness alike.

    Cuts at the first line starting with `#`, `'''` or `\"\"\"`, at a blank-blank
    line, and before a second top-level `def` or `print` (the first, if the
    prompt left us inside a block, since then the program's entry is already
    written). Text is released a line at a time, so a cut never shows half a line.
    single_turn (MTPB's one-shot programs, which may define several functions and print
    in between) cuts only at a docstring opener or a blank-blank line.
    """

    def __init__(self, inside_block: bool = False, single_turn: bool = False) -> None:
        self.single_turn = single_turn
        self.entries = 1 if inside_block else 0
        self.pending = ""
        self.line_open = False  # the current line's beginning decided it is kept and was shown
        self.previous_blank = False
        self.stopped = False

    def feed(self, text: str) -> str:
        """What can be shown now: whole lines, and the beginning of a line as soon as it decides the line is kept
        (a one-line answer streams instead of appearing at once when its line ends)."""
        if self.stopped:
            return ""
        self.pending += text
        out = []
        while not self.stopped:
            newline = self.pending.find("\n")
            if self.line_open:  # the rest of a line already known to be kept
                cut = len(self.pending) if newline < 0 else newline + 1
                out.append(self.pending[:cut])
                self.pending = self.pending[cut:]
                self.line_open = newline < 0
                if newline < 0:
                    break
                continue
            if newline >= 0:
                line, self.pending = self.pending[:newline], self.pending[newline + 1 :]
                kept = self._check(line)
                if kept is None:
                    break
                out.append(kept + "\n")
                continue
            if self.pending and _beginning_decides(self.pending):
                kept = self._check(self.pending)
                if kept is not None:
                    out.append(kept)
                    self.pending, self.line_open = "", True
            break
        return "".join(out)

    def flush(self) -> str:
        if self.stopped or not self.pending:
            return ""
        kept = self.pending if self.line_open else self._check(self.pending)
        self.pending = ""
        return kept or ""

    def _check(self, line: str) -> str | None:
        stripped = line.strip()
        if line.startswith(("'''", '"""')) or (line.startswith("#") and not self.single_turn):
            return self._stop()
        if not stripped:
            if self.previous_blank:
                return self._stop()
            self.previous_blank = True
            return line
        self.previous_blank = False
        if not self.single_turn and _TOP_LEVEL_ENTRY.match(line):
            self.entries += 1
            if self.entries > 1:
                return self._stop()
        return line

    def _stop(self) -> str | None:  # nothing of the line is kept: callers `return self._stop()`
        self.stopped = True
        self.pending = ""
        return None


def _beginning_decides(start: str) -> bool:
    """Whether the beginning of a line already settles what ProgramTruncator._check makes of the whole line."""
    if not start.strip():
        return False  # it may stay a blank line
    if start[0] in "'\"" and len(start) < 3:
        return False  # it may become a docstring opener
    return not any(word.startswith(start) for word in ("def", "print"))  # "pri" may yet be "print("


def truncate_program(text: str, *, single_turn: bool = False) -> str:
    """A whole generated text truncated by the same rule, which also ends at the end-of-text token's text."""
    truncator = ProgramTruncator(single_turn=single_turn)
    return truncator.feed(text.split(END_OF_TEXT)[0]) + truncator.flush()


END_OF_TEXT = "<|endoftext|>"


def prompt_leaves_block_open(prompt: str) -> bool:
    """Whether a completion of prompt continues an indented block (a body, not a new program)."""
    lines = prompt.rstrip("\n").splitlines()
    if not lines:
        return False
    last = lines[-1]
    return last[:1] in (" ", "\t") or last.rstrip().endswith(":")
