"""Reading the user's lines in `cga chat`: a real line editor at a terminal, plain lines from a pipe.

At a terminal, prompt_toolkit gives what people expect of a shell: Emacs keys
(or Vi with --vi), history kept across sessions, Ctrl-L, bracketed paste, and
completion of /commands and saved conversation names. Enter sends; Alt-Enter
(Esc then Enter) or Ctrl-J starts a new line, so a multi-line instruction
can be typed, and a pasted block arrives whole without being sent line by line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings

from cga.core.atomic_files import private_file
from cga.core.errors import UserDirError
from cga.core.paths import created, user_dir

COMMAND_WORDS = ("/help", "/show", "/run", "/test", "/edit", "/undo", "/reset", "/save", "/load", "/quit")


class LineReader(Protocol):
    def read(self) -> str | None:
        """The next instruction or command; None at the end (Ctrl-D, or the end of piped input).

        Raises KeyboardInterrupt when the user abandons the line (Ctrl-C), UnicodeError for a line that is not
        UTF-8 text.
        """


class PipedLines:
    """Lines from standard input that is not a terminal: a script, a here-document."""

    def read(self) -> str | None:
        line = sys.stdin.readline()
        if not line:
            return None
        line.encode("utf-8")  # undecodable bytes read with surrogateescape raise UnicodeEncodeError here
        return line


class TerminalLines:
    def __init__(self, saved_names: Callable[[], Iterable[str]], *, vi: bool = False) -> None:
        history: History
        try:
            history = FileHistory(str(private_file(created(user_dir()) / "chat_history")))
        except UserDirError:
            history = InMemoryHistory()  # an unwritable home still gets history within the session
        self.session: PromptSession[str] = PromptSession(
            history=history,
            completer=_Completer(saved_names),
            complete_while_typing=False,
            key_bindings=_keys(),
            multiline=True,
            prompt_continuation=lambda width, *_: "· ".rjust(width),
            editing_mode=EditingMode.VI if vi else EditingMode.EMACS,
            enable_open_in_editor=False,
        )

    def read(self) -> str | None:
        try:
            return self.session.prompt("› ")
        except EOFError:
            return None


def _keys() -> KeyBindings:
    keys = KeyBindings()

    @keys.add("enter")
    def _send(event) -> None:
        event.current_buffer.validate_and_handle()

    @keys.add("escape", "enter")
    @keys.add("c-j")
    def _new_line(event) -> None:
        event.current_buffer.insert_text("\n")

    return keys


class _Completer(Completer):
    """/commands at the start of a line, saved names after /load and /save."""

    def __init__(self, saved_names: Callable[[], Iterable[str]]) -> None:
        self.saved_names = saved_names

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        if " " not in text and text.startswith("/"):
            for word in COMMAND_WORDS:
                if word.startswith(text):
                    yield Completion(word, start_position=-len(text))
        elif text.startswith(("/load ", "/save ")):
            partial = text.split(" ", 1)[1]
            for name in sorted(self.saved_names()):
                if name.startswith(partial):
                    yield Completion(name, start_position=-len(partial))


def reader(saved_names: Callable[[], Iterable[str]], *, vi: bool = False) -> LineReader:
    """The line editor where both ends are a terminal, else plain lines."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return TerminalLines(saved_names, vi=vi)
    return PipedLines()


@contextmanager
def keys_not_echoed() -> Iterator[None]:
    """While an answer is drawn, the terminal does not echo keys: its `^C` (or typed-ahead text) lands after
    the drawn region's last, full-width line, wraps onto a new one, and the next redraw, one line short, leaves
    the answer's first line on the screen twice. Typed-ahead keys are still read by the next prompt.

    POSIX terminals only; Windows' console does not echo while a program writes, and a pipe has nothing to hide.
    """
    try:
        import termios
    except ImportError:
        yield
        return
    try:
        fd = sys.stdin.fileno()
        before = termios.tcgetattr(fd) if sys.stdin.isatty() else None
    except (OSError, ValueError, termios.error):
        before = None
    if before is None:
        yield
        return
    quiet = list(before)
    quiet[3] &= ~(termios.ECHO | getattr(termios, "ECHOCTL", 0))
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, before)
