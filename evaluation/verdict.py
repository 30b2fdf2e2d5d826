"""Why a generated program failed, in words a reader of the results can act on.

A score alone hides whether a model writes wrong programs or no programs: a chat
model's prose is a syntax error, a repeated comment prints nothing, a loop is a
timeout. Each result keeps one of these kinds and a line of detail.
"""

from __future__ import annotations

import signal
import warnings
from dataclasses import dataclass

from .sandbox import Outcome

PASSED = "passed"
SYNTAX_ERROR = "syntax error"
RAISED = "raised"  # the program stopped with an exception
WRONG_OUTPUT = "wrong output"
DID_NOT_START = "did not start"
KILLED = "killed"
# and the sandbox's own: "timeout", "memory limit", "output limit", "process limit"


@dataclass(frozen=True)
class Verdict:
    kind: str
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.kind == PASSED


def syntax_error(code: str) -> str | None:
    """The parse error of a program, without running it; None when it parses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(code, "program.py", "exec", dont_inherit=True)
        except SyntaxError as exc:
            return f"line {exc.lineno}: {exc.msg}"
        except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
            return str(exc) or type(exc).__name__
    return None


def judge(code: str, outcome: Outcome) -> Verdict:
    """What happened to a program that ran (its output not yet compared)."""
    if outcome.passed:
        return Verdict(PASSED)
    if outcome.status != "failed":
        return Verdict(outcome.status)
    problem = syntax_error(code)
    if problem:
        return Verdict(SYNTAX_ERROR, problem)
    if outcome.returncode is not None and outcome.returncode < 0:
        try:
            name = signal.Signals(-outcome.returncode).name
        except ValueError:
            name = f"signal {-outcome.returncode}"
        return Verdict(KILLED, name)
    last = next((line.strip() for line in reversed(outcome.stderr.splitlines()) if line.strip()), "")
    if "Traceback (most recent call last)" in outcome.stderr:
        return Verdict(RAISED, last[:200])
    return Verdict(DID_NOT_START, last[:200] or f"exit status {outcome.returncode}, no message")


def wrong_output(printed: str, expected) -> Verdict:
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    if not lines:
        return Verdict(WRONG_OUTPUT, "printed nothing")
    return Verdict(WRONG_OUTPUT, f"printed {lines[-1][:80]!r}, expected {str(expected)[:80]!r}")
