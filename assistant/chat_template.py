"""Rendering the chat template a GGUF carries, within bounds.

The template is code from the model file. Jinja's immutable sandbox stops it
reaching Python objects, but not from looping for hours or building gigabytes:
nested `range(100000)` loops hung chat at 3.4 GB and kept rendering in the
language server after the request was cancelled. So rendering here has a time
budget, a size budget for what it builds and outputs, and a cancel event, and
every failure is one ChatTemplateError sentence. The environment matches
transformers' and llama-cpp-python's (trim_blocks, lstrip_blocks, loop
controls, `{% generation %}` passed through, `raise_exception`, `tojson`,
`strftime_now`).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from .errors import ChatTemplateError

MAX_SECONDS = 1.0  # real templates render a conversation in well under 10 ms
MAX_CHARS = 2_000_000  # any one string the template builds, and the prompt: far beyond a context's worth


class _Generation(jinja2.ext.Extension):
    """HuggingFace's `{% generation %}` tag marks the assistant's part for training; for a prompt it is a no-op."""

    tags = {"generation"}

    def parse(self, parser):
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


class _Stop(Exception):
    """Raised inside the template's own frames by the tracer; becomes a ChatTemplateError."""


def _too_big() -> ChatTemplateError:
    return ChatTemplateError(f"the chat template builds a value of more than {MAX_CHARS:,} characters")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**", "+"])

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise ChatTemplateError(f"the chat template raises a number to the power {right}")
        if operator == "*" and any(
            isinstance(x, int) and x * max(1, _size(y)) > MAX_CHARS for x, y in ((left, right), (right, left))
        ):
            raise _too_big()
        if operator == "+" and _size(left) + _size(right) > MAX_CHARS:
            raise _too_big()
        return super().call_binop(context, operator, left, right)


class _BoundedNamespace(Namespace):
    """`namespace()` is the one thing a template can change across loop iterations: bound what it holds."""

    def __setitem__(self, name: str, value: Any) -> None:
        if _size(value) > MAX_CHARS:
            raise _too_big()
        super().__setitem__(name, value)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 1


def _bounded_filter(function: Callable) -> Callable:
    """Filters such as center, indent or wordwrap allocate whatever width they are given, in C, at once."""

    @wraps(function)
    def bounded(*args, **kwargs):
        if any(
            isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_CHARS for a in (*args, *kwargs.values())
        ):
            raise ChatTemplateError(f"the chat template asks a filter for more than {MAX_CHARS:,} of something")
        return function(*args, **kwargs)

    return bounded


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"the chat template refused the conversation: {str(message)[:200]}")


def _tojson(
    x: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys: bool = False
) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _environment() -> ImmutableSandboxedEnvironment:
    env = _BoundedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_Generation, jinja2.ext.loopcontrols],
    )
    env.filters = {name: _bounded_filter(f) for name, f in env.filters.items()}
    env.filters["tojson"] = _bounded_filter(_tojson)
    env.globals.update(
        raise_exception=_raise_exception, strftime_now=lambda f: datetime.now().strftime(f), namespace=_BoundedNamespace
    )
    return env


_ENV = _environment()


def render(
    template: str,
    messages: list[dict[str, str]],
    *,
    bos: str = "",
    eos: str = "",
    cancel: threading.Event | None = None,
) -> str:
    """The prompt for messages, ending where the assistant's answer starts."""
    try:
        compiled = _ENV.from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        raise ChatTemplateError(
            f"The model's chat template is not valid Jinja (line {exc.lineno}: {exc.message}); "
            "use another model or convert it again."
        ) from None
    deadline = time.monotonic() + MAX_SECONDS

    def check(frame, event, arg):
        # Runs on every line of the compiled template, so a loop of any shape is stopped.
        if time.monotonic() > deadline or (cancel is not None and cancel.is_set()):
            raise _Stop
        return check

    def trace(frame, event, arg):
        return check if frame.f_code.co_filename == "<template>" else None

    parts, size = [], 0
    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        for part in compiled.generate(messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=True):
            size += len(part)
            if size > MAX_CHARS:
                raise ChatTemplateError(f"the chat template produced more than {MAX_CHARS:,} characters")
            parts.append(part)
    except _Stop:
        if cancel is not None and cancel.is_set():
            raise ChatTemplateError("rendering the chat template was cancelled") from None
        raise ChatTemplateError(
            f"The model's chat template ran for more than {MAX_SECONDS:g} s; use another model."
        ) from None
    except ChatTemplateError as exc:
        raise ChatTemplateError(f"The model's chat template failed: {exc}; use another model.") from None
    except (
        jinja2.TemplateError,
        ArithmeticError,
        TypeError,
        ValueError,
        LookupError,
        MemoryError,
        RecursionError,
    ) as exc:
        raise ChatTemplateError(
            f"The model's chat template failed ({type(exc).__name__}: {str(exc)[:200]}); use another model."
        ) from None
    finally:
        sys.settrace(previous)
    return "".join(parts)
