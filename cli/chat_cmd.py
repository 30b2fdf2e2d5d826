"""`cga chat`: a multi-turn REPL that writes a program turn by turn."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.live import Live
from rich.syntax import Syntax

from assistant import conversation_store
from assistant.chat import ChatSession
from assistant.conversation import PYTHON_HEADER, Conversation
from core.errors import CgaError

from .errors import fail, stderr, user_errors
from .loading import open_for_command
from .options import GpuLayers, MaxTokens, ModelOption, RemoteUrl, Temperature, Threads

HELP = """Write a program turn by turn: each line you type is an instruction, the model answers with code.

Commands inside the chat: /undo, /reset, /show, /edit, /save NAME, /load NAME, /help, /quit.
Ctrl-C stops an answer (or clears the line) and keeps the conversation; Ctrl-D quits. The conversation is
saved after every turn (as 'last', or --name) and comes back with --resume.

Examples:

  cga chat

  printf 'read a CSV file of names\\nprint the names sorted\\n' | cga chat --model codegen-350M-mono.q4_k_m.gguf
"""

COMMANDS = """/undo         drop the last turn
/reset        start over (keeps the header)
/show         print the program so far
/edit         edit the last answer in $EDITOR; later turns see your edit
/save NAME    save the conversation; /load NAME to bring one back
/quit         leave (Ctrl-D too)"""


def register(app: typer.Typer) -> None:
    app.command("chat", help=HELP)(chat_command)


@user_errors
def chat_command(
    model: ModelOption = None,
    name: Annotated[str, typer.Option(help="Name to autosave under.")] = "last",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the conversation saved under --name.")] = False,
    language: Annotated[str, typer.Option(help="Language of the program (sets the comment style).")] = "python",
    max_tokens: MaxTokens = 256,
    temperature: Temperature = 0.0,
    prompt_lookup: Annotated[
        bool, typer.Option("--prompt-lookup", help="Draft tokens from the context (greedy answers only).")
    ] = False,
    gpu_layers: GpuLayers = "auto",
    threads: Threads = None,
    remote: RemoteUrl = None,
) -> None:
    conversation_store.path_for(name)  # a name that cannot be saved is refused before the first answer
    conversation = (
        conversation_store.load(name) if resume
        else Conversation(language=language, header=PYTHON_HEADER if language == "python" else "")
    )
    engine = open_for_command(model, remote=remote, gpu_layers=gpu_layers, threads=threads)
    if max_tokens > engine.n_ctx // 2:
        fail(f"--max-tokens {max_tokens} leaves too little of this model's {engine.n_ctx}-token context for the "
             f"conversation; use at most {engine.n_ctx // 2}.")
    session = ChatSession(engine, conversation, max_tokens=max_tokens, temperature=temperature,
                          prompt_lookup=prompt_lookup)
    session.check_template()
    interactive = sys.stdin.isatty()
    out = Console(highlight=False, soft_wrap=True)
    if interactive:
        stderr.print("[dim]Type an instruction; /help for commands.[/]")
    while True:
        try:
            line = input("› " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:  # at the prompt: drop the line, as shells do; Ctrl-D quits
            stderr.print()
            continue
        except UnicodeDecodeError:
            stderr.print("That line is not UTF-8 text; it was skipped.", markup=False)
            continue
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes read with surrogateescape
            stderr.print("That line is not UTF-8 text; it was skipped.", markup=False)
            continue
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not _command(line, session, name, out):
                break
            continue
        _answer(session, line, out, name, highlight=interactive and out.is_terminal)


def _command(line: str, session: ChatSession, name: str, out: Console) -> bool:
    word, _, arg = line.partition(" ")
    conversation = session.conversation
    try:
        if word in ("/quit", "/exit"):
            return False
        if word == "/help":
            stderr.print(COMMANDS)
        elif word == "/undo":
            turn = conversation.undo()
            stderr.print(f"Dropped: {turn.instruction}" if turn else "Nothing to undo.")
        elif word == "/reset":
            conversation.reset()
            stderr.print("Started over.")
        elif word == "/show":
            out.print(conversation.program(), end="", markup=False)
        elif word == "/edit":
            if not conversation.turns:
                stderr.print("Nothing to edit yet.")
            else:
                edited = click.edit(conversation.turns[-1].code + "\n")
                if edited is not None:
                    conversation.edit_last(edited)
        elif word == "/save":
            stderr.print(f"Saved to {conversation_store.save(conversation, arg.strip() or name)}.")
        elif word == "/load":
            session.conversation = conversation_store.load(arg.strip() or name)
            stderr.print(f"Loaded {len(session.conversation.turns)} turns.")
        else:
            stderr.print(f"Unknown command {word}; /help lists them.")
            return True
        conversation_store.save(session.conversation, name)
    except conversation_store.ConversationError as exc:
        stderr.print(f"[bold red]Error:[/] {exc}")
    return True


def _answer(session: ChatSession, instruction: str, out: Console, name: str, highlight: bool) -> None:
    cancel = threading.Event()
    parts: list[str] = []
    try:
        with _ctrl_c_sets(cancel):
            if highlight:
                with Live(console=out, refresh_per_second=12) as live:
                    for text in session.respond(instruction, cancel):
                        parts.append(text)
                        live.update(Syntax("".join(parts), session.conversation.language, theme="ansi_dark"))
            else:
                for text in session.respond(instruction, cancel):
                    parts.append(text)
                    out.file.write(text)
                    out.file.flush()
                out.file.write("\n" if parts and not parts[-1].endswith("\n") else "")
    except CgaError as exc:  # ends this turn, not the chat
        stderr.print(f"[bold red]Error:[/] {exc}")
        return
    if cancel.is_set():
        stderr.print("[dim]Stopped; the conversation is as it was.[/]")
        return
    session.accept(instruction, "".join(parts))
    if session.dropped_turns:
        stderr.print(f"[dim]({session.dropped_turns} oldest turns left out to fit the context.)[/]")
    try:
        conversation_store.save(session.conversation, name)
    except conversation_store.ConversationError as exc:
        stderr.print(f"[bold red]Error:[/] {exc}")


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

