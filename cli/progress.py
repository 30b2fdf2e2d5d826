"""Progress for long work: a line per phase (reading, writing, downloading, problems…) with a count, a rate and
the time left.

At a terminal the lines are live bars, removed when done. Piped or in a log, they are plain lines, one at most
every CGA_PROGRESS_EVERY seconds (default 10) and one when the phase ends, for phases that run that long: a long
run is never silent, a quick one (or one that fails at once with its one-sentence error) adds nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text

from .errors import stderr

PLAIN_EVERY = 10.0  # seconds; CGA_PROGRESS_EVERY overrides


def plain_every() -> float:
    try:
        return max(0.0, float(os.environ.get("CGA_PROGRESS_EVERY", PLAIN_EVERY)))
    except ValueError:
        return PLAIN_EVERY


def compact(n: float) -> str:
    """1,234 / 12.3k / 4.5M / 1.2G: counts of items and of bytes alike, short enough for a progress line."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if n >= limit:
            return f"{n / (limit if suffix != 'k' else 1e3):.1f}{suffix}"
    return f"{n:,.0f}" if n >= 10 or n == int(n) else f"{n:.2f}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _Count(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{compact(task.completed)}/{compact(task.total or 0)}")


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{compact(task.speed)}/s" if task.speed else "", style="dim")


@dataclass
class _Phase:
    started: float = field(default_factory=time.monotonic)
    said: float = 0.0


def plain_line(phase: str, done: int, total: int, seconds: float) -> str:
    """ "problems: 3/20 (15%), 0.41/s, about 41 s left" """
    line = f"{phase}: {compact(done)}/{compact(total)}"
    if total:
        line += f" ({done / total:.0%})"
    if done and seconds > 0:
        rate = done / seconds
        line += f", {compact(rate)}/s"
        if done < total:
            line += f", about {duration((total - done) / rate)} left"
        else:
            line += f", {duration(seconds)} in all"
    return line


@contextmanager
def phase_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A report(phase, done, total) callable for the work inside the block."""
    if stderr.is_terminal:
        with _bars() as bars:
            yield bars
        return
    phases: dict[str, _Phase] = {}
    every = plain_every()

    def report(phase: str, done: int, total: int) -> None:
        state = phases.setdefault(phase, _Phase())
        now = time.monotonic()
        last = state.said or state.started
        if now - last < every and not (done >= total and state.said):
            return
        state.said = now
        stderr.print(plain_line(phase, done, total, now - state.started))

    yield report


@contextmanager
def _bars() -> Iterator[Callable[[str, int, int], None]]:
    bar = Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        _Count(),
        _Rate(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield report
