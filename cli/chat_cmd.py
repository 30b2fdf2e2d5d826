"""`cga chat`: a multi-turn REPL that writes a program turn by turn."""

from __future__ import annotations

import ast
import signal
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from cga.assistant import conversation_store
from cga.core.errors import CgaError
from cga.core.wording import plural

from .consoles import plain_console
from .errors import error, fail, stderr, user_errors
from .loading import open_for_command
from .options import GpuLayers, MaxTokens, ModelOption, RemoteUrl, Temperature, Threads
from .wording import cut_short_note, empty_answer_note

if TYPE_CHECKING:
    from cga.assistant.conversation import Conversation

    from .chat_commands import ChatState

HELP = """Write a program turn by turn: each line you type is an instruction, the model answers with code.

CodeGen models get the CodeGen paper's multi-turn prompt: the program so far, then your instruction as a
comment, and a Python program starts from that paper's header (`# Import libraries.` and `import numpy as
np`; --no-header starts from nothing). Chat models (the embedded SmolLM2) get the turns as chat messages and
start from nothing (--header gives them the header too).

At a terminal: Enter sends, Alt-Enter or Ctrl-J starts a new line, Up/Down walk the history (kept across
sessions), Tab completes /commands and saved names, --vi for Vi keys. Ctrl-C stops an answer (or drops the
line) and keeps the conversation; Ctrl-D quits. Commands: /show, /run, /test EXPR, /edit, /undo, /reset,
/save NAME, /load NAME, /help, /quit. The conversation is saved after every turn (as 'last', or --name) and
comes back with --resume; a new one keeps the earlier one under its name and time (last-20261202-190512).

Examples:

  cga chat

  cga chat --resume --name csv-tool

  printf 'read a CSV file of names\\nprint the names sorted\\n' | cga chat --model codegen-350M-mono
"""


def register(app: typer.Typer) -> None:
    app.command("chat", help=HELP)(chat_command)


@user_errors
def chat_command(
    model: ModelOption = None,
    name: Annotated[str, typer.Option(help="Name to autosave under.")] = "last",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the conversation saved under --name.")] = False,
    language: Annotated[str, typer.Option(help="Language of the program (sets the comment style).")] = "python",
    header: Annotated[
        bool | None,
        typer.Option(
            "--header/--no-header",
            help="Start a Python program from MTPB's header (imports numpy). Default: for CodeGen-style models.",
            show_default=False,
        ),
    ] = None,
    max_tokens: MaxTokens = 256,
    temperature: Temperature = 0.0,
    prompt_lookup: Annotated[
        bool, typer.Option("--prompt-lookup", help="Draft tokens from the context (greedy answers only).")
    ] = False,
    vi: Annotated[bool, typer.Option("--vi", help="Vi keys in the line editor (default: Emacs keys).")] = False,
    gpu_layers: GpuLayers = "auto",
    threads: Threads = None,
    remote: RemoteUrl = None,
) -> None:
    # Imported here, not above: `cga lsp` and `cga --help` do not pay for the chat's modules (the editor waits
    # for the language server to start).
    from cga.assistant.chat import ChatSession
    from cga.assistant.conversation import PYTHON_HEADER, Conversation

    from .chat_commands import ChatState, restored, run_command
    from .chat_input import TerminalLines, reader

    conversation_store.path_for(name)  # a name that cannot be saved is refused before the first answer
    kept = conversation_store.load(name) if resume else None
    backend = open_for_command(model, remote=remote, gpu_layers=gpu_layers, threads=threads)
    # The paper's header is how a CodeGen model begins a program; a chat model took it as a request to import
    # numpy, and every program it wrote began with that.
    wants_header = header if header is not None else not backend.info.is_chat_model
    conversation = kept or Conversation(
        language=language, header=PYTHON_HEADER if language == "python" and wants_header else ""
    )
    if max_tokens > backend.n_ctx // 2:
        fail(
            f"--max-tokens {max_tokens} leaves too little of this model's {backend.n_ctx}-token context for the "
            f"conversation; use at most {backend.n_ctx // 2}."
        )
    session = ChatSession(
        backend, conversation, max_tokens=max_tokens, temperature=temperature, prompt_lookup=prompt_lookup
    )
    session.check_template()
    state = ChatState(session, name, plain_console(soft_wrap=False), keep_earlier=not resume)
    lines = reader(conversation_store.names, vi=vi)
    interactive = isinstance(lines, TerminalLines)
    if resume:
        stderr.print(restored(session, name))
    if interactive:
        stderr.print("Type an instruction; /help for commands and keys.", style="dim")
    while True:
        try:
            line = lines.read()
        except KeyboardInterrupt:  # at the prompt: drop the line, as shells do; Ctrl-D quits
            continue
        except UnicodeError:
            stderr.print("That line is not UTF-8 text; it was skipped.")
            continue
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not run_command(line, state):
                break
            continue
        _answer(state, line, max_tokens)


def _answer(state: ChatState, instruction: str, max_tokens: int) -> None:
    from cga.assistant import security

    from .chat_display import show_answer
    from .chat_input import keys_not_echoed

    session = state.session
    cancel = threading.Event()
    try:
        with _ctrl_c_sets(cancel), keys_not_echoed():
            answer = session.respond(instruction, cancel)
            text = show_answer(
                answer, state.out, markdown=session.uses_chat_template, language=session.conversation.language
            )
    except CgaError as exc:  # ends this turn, not the chat
        error(exc)
        return
    if cancel.is_set():
        stderr.print("Stopped; the conversation is as it was.", style="dim")
        return
    if not text.strip():
        stderr.print(
            empty_answer_note(
                answer.stats,
                max_tokens=max_tokens,
                truncate_hint="say this step more simply, or /show the program so far.",
            )
            + " Nothing was added."
        )
        return
    session.accept(instruction, text)
    if note := cut_short_note(answer.stats, max_tokens=max_tokens):
        stderr.print(note, style="dim")
    if problem := _not_python(session.conversation):
        stderr.print(problem, style="yellow")
    if session.dropped_turns:
        stderr.print(f"({plural(session.dropped_turns, 'oldest turn')} left out to fit the context.)", style="dim")
    for finding in security.findings(session.conversation.turns[-1].code, session.conversation.language):
        stderr.print(f"Security: {finding}", style="yellow")
    try:
        state.autosave()
    except conversation_store.ConversationError as exc:
        error(exc)


@contextmanager
def _ctrl_c_sets(cancel: threading.Event):
    """While an answer streams, Ctrl-C stops it between two tokens instead of killing the chat."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _not_python(conversation: Conversation) -> str | None:
    """A note when the program, with this answer, no longer parses as Python (None when it does, or is not
    Python): shown without a word, such an answer failed only at /run."""
    if conversation.language != "python":
        return None
    try:
        ast.parse(conversation.program())
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        return f"This answer is not valid Python ({where}{exc.msg}); /edit fixes it, /undo drops it."
    except (ValueError, RecursionError, MemoryError):
        return "This answer could not be read as Python; /edit fixes it, /undo drops it."
    return None
