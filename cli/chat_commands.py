"""The /commands of `cga chat`: look at the program, run it, test it, edit, undo, save and load.

/run and /test are the paper's loop made direct: specify a step, let the
model write it, run what exists so far, and say what to change next. Programs
run in the evaluation sandbox (evaluation/sandbox.py): a time and memory
limit, no network, a scratch folder of their own, and bubblewrap where it is
installed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from cga.assistant import conversation_store
from cga.assistant.chat import ChatSession
from cga.core.wording import plural
from cga.evaluation.sandbox import Limits, described, run_program

from .chat_display import show_code
from .errors import error, stderr
from .terminal_text import printable

RUN_LIMITS = Limits(seconds=10, memory_mb=1024)
SHOWN_OUTPUT_LINES = 40
SUFFIX = {
    "python": ".py",
    "javascript": ".js",
    "typescript": ".ts",
    "java": ".java",
    "c": ".c",
    "cpp": ".cpp",
    "go": ".go",
    "rust": ".rs",
    "ruby": ".rb",
    "shell": ".sh",
    "lua": ".lua",
    "sql": ".sql",
}

HELP = """/show         print the program so far
/run          run it in the sandbox and show its output
/test EXPR    run it, then print EXPR (or run a statement such as `assert f(2) == 4`)
/edit         edit the last answer in your editor ($VISUAL or $EDITOR); later turns see your edit
/undo         drop the last turn
/reset        start over (keeps the header)
/save NAME    save the conversation; /load NAME brings one back (Tab completes names)
/quit         leave (Ctrl-D too)
Keys: Enter sends, Alt-Enter or Ctrl-J starts a new line, Up/Down walk the history, Ctrl-C drops the line or
stops an answer, Ctrl-L clears the screen."""


@dataclass
class ChatState:
    session: ChatSession
    name: str  # autosaved under this name after every change
    out: Console
    # A new conversation (no --resume): the one saved under name before is kept aside at the first save, not
    # overwritten (issue 20: a second `cga chat` replaced the 3-turn 'last' with a 1-turn one).
    keep_earlier: bool = False

    def autosave(self) -> None:
        if self.keep_earlier:
            kept = conversation_store.keep_aside(self.name)
            self.keep_earlier = False
            if kept:
                stderr.print(
                    f"The earlier conversation '{self.name}' is kept as '{kept}' (cga chat --resume --name {kept}).",
                    style="dim",
                )
        conversation_store.save(self.session.conversation, self.name)


def run_command(line: str, state: ChatState) -> bool:
    """Carry out one /command; False when the chat should end."""
    word, _, arg = line.partition(" ")
    arg = arg.strip()
    conversation = state.session.conversation
    changed = False
    try:
        if word in ("/quit", "/exit"):
            return False
        if word == "/help":
            stderr.print(HELP)
        elif word == "/show":
            show_code(conversation.program(), state.out, language=conversation.language)
        elif word == "/run":
            _run(state, None)
        elif word == "/test":
            if not arg:
                stderr.print("Give an expression or a statement: /test f(2), or /test assert f(2) == 4.")
            else:
                _run(state, arg)
        elif word == "/edit":
            changed = _edit(state)
        elif word == "/undo":
            turn = conversation.undo()
            stderr.print(f"Dropped: {turn.instruction}" if turn else "Nothing to undo.")
            changed = turn is not None
        elif word == "/reset":
            conversation.reset()
            stderr.print("Started over; the header stays.")
            changed = True
        elif word == "/save":
            stderr.print(f"Saved to {conversation_store.save(conversation, arg or state.name)}.")
        elif word == "/load":
            state.session.conversation = conversation_store.load(arg or state.name)
            stderr.print(restored(state.session, arg or state.name))
            changed = True
        else:
            stderr.print(f"Unknown command {word}; /help lists them.")
        if changed:
            state.autosave()
    except conversation_store.ConversationError as exc:
        error(exc)
    return True


def restored(session: ChatSession, name: str) -> str:
    """What --resume or /load brought back, so the user knows where they are."""
    turns = session.conversation.turns
    if not turns:
        return f"Loaded '{name}': no turns yet."
    return (
        f"Loaded '{name}': {plural(len(turns), 'turn')}, the last: {turns[-1].instruction} (/show prints the program)."
    )


def _run(state: ChatState, check: str | None) -> None:
    conversation = state.session.conversation
    if conversation.language != "python":
        stderr.print(f"/run and /test run Python programs; this conversation is in {conversation.language}.")
        return
    program = conversation.program()
    shown_lines = len(program.splitlines())  # what /show numbers; the test's own line comes after them
    if check is not None:
        try:
            compile(check, "<test>", "eval")
            program += f"\n\nprint(repr({check}))\n"
        except SyntaxError:
            program += f"\n\n{check}\n"
    how, contained = described()
    stderr.print(
        f"Running in the sandbox ({how}; {RUN_LIMITS.seconds:g} s, {RUN_LIMITS.memory_mb} MiB)…",
        style="dim" if contained else "yellow",
    )
    started = time.monotonic()
    outcome = run_program(program, RUN_LIMITS)
    seconds = time.monotonic() - started
    lines = outcome.stdout.splitlines()
    for text in lines[-SHOWN_OUTPUT_LINES:]:
        state.out.print(Text.from_ansi(printable(text)), highlight=False)
    if len(lines) > SHOWN_OUTPUT_LINES:
        stderr.print(f"({plural(len(lines) - SHOWN_OUTPUT_LINES, 'earlier line')} not shown)", style="dim")
    if outcome.stderr.strip():
        stderr.print(
            Text(printable("\n".join(program_frames(outcome.stderr, shown_lines).splitlines()[-12:]), colours=False)),
            style="red",
        )
    verdict = {
        "passed": "passed" if check else "exit status 0",
        "failed": f"failed (exit status {outcome.returncode})",
        "timeout": f"stopped at the {RUN_LIMITS.seconds:g} s limit",
        "output limit": "stopped: it printed too much",
        "process limit": "stopped: it started too many processes",
    }.get(outcome.status, outcome.status)
    stderr.print(
        f"{'Test' if check else 'Run'}: {verdict}, {seconds:.2f} s.", style="green" if outcome.passed else "yellow"
    )


def program_frames(traceback: str, shown_lines: int | None = None) -> str:
    """A traceback without the sandbox's own frames (its launcher, runpy): only the program's lines remain,
    named as the user knows them: the program's lines as /show numbers them, and the /test line, which follows
    them in the file run, as the test (it said `line 22` of a 14-line program)."""
    kept, skipping = [], False
    for line in traceback.splitlines():
        if line.startswith("  File "):
            skipping = '"program.py"' not in line
            line = _frame_named(line, shown_lines)
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


_PROGRAM_LINE = re.compile(r'^  File "program\.py", line (\d+)')


def _frame_named(line: str, shown_lines: int | None) -> str:
    found = _PROGRAM_LINE.match(line)
    if found is None or shown_lines is None:
        return line
    if int(found.group(1)) > shown_lines:
        return _PROGRAM_LINE.sub('  File "/test"', line)
    return _PROGRAM_LINE.sub(f'  File "the program", line {found.group(1)}', line)


def editor_command() -> list[str] | None:
    """$VISUAL, then $EDITOR, then the first of nano and vi on the PATH (never Debian's editor picker)."""
    for variable in ("VISUAL", "EDITOR"):
        if os.environ.get(variable, "").strip():
            return os.environ[variable].split()
    for name in ("nano", "vi"):
        if shutil.which(name):
            return [name]
    return None


def _edit(state: ChatState) -> bool:
    conversation = state.session.conversation
    if not conversation.turns:
        stderr.print("Nothing to edit yet.")
        return False
    command = editor_command()
    if command is None:
        stderr.print("No editor found: set EDITOR (for example `export EDITOR=nano`).")
        return False
    before = conversation.turns[-1].code + "\n"
    with tempfile.TemporaryDirectory(prefix="cga-edit-") as folder:
        path = Path(folder) / f"last-answer{SUFFIX.get(conversation.language, '.txt')}"
        path.write_text(before, encoding="utf-8")
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the editor, not the chat
        try:
            finished = subprocess.run([*command, str(path)]).returncode == 0
        except OSError as exc:
            stderr.print(f"Could not start {command[0]} ({exc.strerror}); set EDITOR to an editor that runs here.")
            return False
        finally:
            signal.signal(signal.SIGINT, previous)
        after = path.read_text(encoding="utf-8", errors="replace")
    if not finished:
        stderr.print(f"{command[0]} did not finish cleanly; the answer is as it was.")
        return False
    if after.rstrip("\n") == before.rstrip("\n"):
        stderr.print("No change.")
        return False
    conversation.edit_last(after)
    stderr.print(f"Updated the last answer ({plural(len(after.splitlines()), 'line')}); the next turns see your edit.")
    return True
