"""One map from library errors to one-line messages and exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import NoReturn, TypeVar

import typer
from rich.text import Text

from cga.convert.errors import VerifyFailed
from cga.core.errors import CgaError

from .consoles import plain_console

F = TypeVar("F", bound=Callable)
# markup off: messages carry user text (paths, instructions) and install hints such as [torch]; style by argument.
stderr = plain_console(stderr=True, soft_wrap=True)

EXIT_CODES: dict[type[BaseException], int] = {VerifyFailed: 2, CgaError: 1}


def exit_with_message(exc: BaseException) -> None:
    for kind, code in EXIT_CODES.items():
        if isinstance(exc, kind):
            error(exc)
            raise typer.Exit(code)
    raise exc


def user_errors(func: F) -> F:
    """Turn the library's typed errors into one sentence and an exit code; tracebacks only with CGA_DEBUG=1."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            stderr.print("Interrupted.")
            raise typer.Exit(130) from None
        except tuple(EXIT_CODES) as exc:
            if os.environ.get("CGA_DEBUG"):
                raise
            exit_with_message(exc)

    return wrapper  # type: ignore[return-value]


def error(message: object) -> None:
    """One error line on standard error, the message exactly as written."""
    stderr.print(Text.assemble(("Error: ", "bold red"), str(message)))


def fail(message: str, code: int = 1) -> NoReturn:
    error(message)
    sys.stderr.flush()
    raise typer.Exit(code)
