"""The one way commands make a rich Console: markup off, because what they print holds user text (model
and folder names, paths, instructions) in which `[v2]` or `[/]` is text, not a style; style by argument."""

from __future__ import annotations

from rich.console import Console


def plain_console(**options: object) -> Console:
    return Console(highlight=False, markup=False, **options)  # type: ignore[arg-type]
