"""Progress bars for long work: one bar per phase (reading, writing, downloading, hashing…)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from .errors import stderr


@contextmanager
def phase_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A report(phase, done, total) callable drawing a bar per phase on stderr, removed when done."""
    bar = Progress(
        TextColumn("{task.description:<11}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=stderr, transient=True,
    )
    tasks: dict[str, int] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield report
