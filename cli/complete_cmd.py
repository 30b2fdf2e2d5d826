"""`cga complete`: one-shot completion for scripts, from an argument or stdin to stdout."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from cga.assistant import prompts
from cga.assistant.backend import MIN_ANSWER_TOKENS, Answer, Backend, Generation
from cga.assistant.errors import EngineError
from cga.assistant.joining import join_stream
from cga.assistant.stopping import prompt_leaves_block_open

from .errors import fail, stderr, user_errors
from .loading import open_for_command
from .options import GpuLayers, MaxTokens, ModelOption, RemoteUrl, Temperature, Threads
from .terminal_text import printable
from .wording import cut_short_note, empty_answer_note, how_it_ended

MAX_INPUT_BYTES = 8 * 2**20
MAX_CHARS_PER_TOKEN = 8  # the most a window is read beyond what can fit: code averages 3 to 4 per token

HELP = """Complete code from an argument or standard input, streaming to standard output.

Examples:

  cga complete "def fibonacci(n):"

  cat half_written.py | cga complete --max-tokens 64

  cga complete "def add(a, b):\\n    " --suffix "\\n\\nprint(add(1, 2))" --model codegen2-1B.q4_k_m.gguf
"""


def register(app: typer.Typer) -> None:
    app.command("complete", help=HELP)(complete_command)


@user_errors
def complete_command(
    prompt: Annotated[str | None, typer.Argument(help="Code to complete (default: read standard input).")] = None,
    suffix: Annotated[str | None, typer.Option(help="Code after the gap: fill in the middle (CodeGen2/2.5).")] = None,
    model: ModelOption = None,
    max_tokens: MaxTokens = 128,
    temperature: Temperature = 0.0,
    stop: Annotated[list[str] | None, typer.Option("--stop", help="Stop before this text (repeatable).")] = None,
    no_truncate: Annotated[bool, typer.Option("--no-truncate", help="Keep text past the end of the program.")] = False,
    gpu_layers: GpuLayers = "auto",
    threads: Threads = None,
    remote: RemoteUrl = None,
) -> None:
    if prompt is None:
        if sys.stdin.isatty():
            fail("Give the code to complete as an argument or on standard input.")
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)  # refused by size before anything reads it all
        if len(raw) > MAX_INPUT_BYTES:
            fail(
                f"Standard input holds more than {MAX_INPUT_BYTES // 2**20} MiB; give the code just before the "
                "cursor (for example `tail -c 100000 FILE | cga complete`)."
            )
        try:
            prompt = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(f"Standard input is not UTF-8 text (bad byte at offset {exc.start}); convert it first.")
    prompt = prompt.replace("\\n", "\n") if "\n" not in prompt and "\\n" in prompt else prompt
    # Windows line breaks (a file piped in as it is): the model, the program rule and the block check all read
    # \n ones, and a \r\n prompt got other code, with \r\n copied into it. The answer comes with \n, which
    # standard output on Windows writes as \r\n.
    prompt, suffix = prompt.replace("\r\n", "\n"), suffix.replace("\r\n", "\n") if suffix is not None else None
    for what, text in (("The code to complete", prompt), ("--suffix", suffix or "")):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # bytes that are not UTF-8 reach argv as lone surrogates
            fail(f"{what} is not UTF-8 text (bad byte at character {exc.start}); convert it first.")
    if not prompt.strip() and not (suffix or "").strip():
        fail("There is no code to complete: give some, as an argument or on standard input.")
    options = Generation(
        max_tokens=max_tokens,
        temperature=temperature,
        stop=tuple(stop or ()),
        truncate_program=not no_truncate and suffix is None,
        inside_block=prompt_leaves_block_open(prompt),
        heal_whitespace=True,
    )
    if len(prompt) > MAX_INPUT_BYTES or len(suffix or "") > MAX_INPUT_BYTES:
        fail(f"The code is more than {MAX_INPUT_BYTES // 2**20} MiB; give the part around the cursor.")
    backend = open_for_command(model, remote=remote, gpu_layers=gpu_layers, threads=threads)
    prompt = _last_window(prompt, backend, backend.n_ctx - max(max_tokens, MIN_ANSWER_TOKENS))
    if suffix is not None:
        if not backend.info.can_infill:
            fail(
                f"{backend.info.name} cannot fill in the middle; use a CodeGen2 or CodeGen2.5 model, or drop --suffix."
            )
        suffix = suffix.replace("\\n", "\n") if "\n" not in suffix else suffix
        answer = backend.stream(prompts.infill(backend.info, backend.tokenize, prompt, suffix), options)
    else:
        answer = backend.stream(prompt, options)
    _write(answer, join_stream(prompt, answer), max_tokens)


def _last_window(prompt: str, backend: Backend, budget: int) -> str:
    """The end of the prompt that fits the model's context, from a line start. Only a window about that size
    is tokenized (tokenizing 1 MB took 53 s, only to refuse it); what cannot fit even from the last line
    start is refused by the backend, as before."""
    window = prompt
    for _ in range(8):
        if len(window) > budget * MAX_CHARS_PER_TOKEN:
            chars = budget * MAX_CHARS_PER_TOKEN
        else:
            try:
                count = len(backend.tokenize(window))
            except EngineError:
                break  # a server without a tokenizer: it cuts the prompt itself
            if count <= budget:
                break
            chars = int(len(window) * budget / count * 0.95)
        start = window.find("\n", len(window) - chars) + 1
        if start <= 0:
            break  # one line longer than the budget
        window = window[start:]
    if len(window) < len(prompt):
        left_out = prompt.count("\n", 0, len(prompt) - len(window))
        stderr.print(
            f"Only the last {window.count(chr(10)) + 1:,} lines fit the model's context; the "
            f"{left_out:,} before them were left out.",
            style="dim",
        )
    return window


def _write(answer: Answer, text_chunks: Iterable[str], max_tokens: int) -> None:
    """text_chunks: the answer's text as it joins the prompt (answer itself holds the stats)."""
    shown = False  # anything but white space: until then white space is held back, so an empty answer writes nothing
    held = ""
    # At a terminal, nothing the model or a server wrote may act on it (OSC 52 sets the clipboard, CSI 2J clears
    # the screen); a pipe gets the bytes exactly. Each chunk is cleaned alone: a sequence split between two
    # loses its ESC, so what is left of it is shown as text, never obeyed.
    at_terminal = sys.stdout.isatty()
    try:
        for text in text_chunks:
            text = printable(text, colours=False) if at_terminal else text
            if not shown and not text.strip():
                held += text
                continue
            sys.stdout.write(held + text)
            sys.stdout.flush()
            held, shown = "", True
        if shown:
            sys.stdout.write("\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        raise
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        sys.stdout = open(os.devnull, "w")  # so the interpreter's final flush does not complain either
        return
    except OSError as exc:
        sys.stdout = open(os.devnull, "w")
        fail(f"Could not write the completion to standard output ({exc.strerror}).")
    stderr.print(how_it_ended(answer.stats), style="dim")
    if not shown:
        stderr.print(
            empty_answer_note(
                answer.stats, max_tokens=max_tokens, truncate_hint="pass --no-truncate to see everything it wrote."
            )
        )
    elif note := cut_short_note(answer.stats, max_tokens=max_tokens):
        stderr.print(note, style="dim")
