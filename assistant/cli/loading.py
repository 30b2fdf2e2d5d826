"""Choosing and loading the model a command talks to, with the user told what answers."""

from __future__ import annotations

from ..engine import Engine
from ..model_choice import choose_model
from .errors import stderr


def open_engine(model: str | None, *, gpu_layers: str = "auto", threads: int | None = None) -> Engine:
    choice = choose_model(model)
    with stderr.status(f"Loading {choice.path.name}…"):
        engine = Engine(choice.path, threads=threads, gpu_layers=gpu_layers)
    stderr.print(f"[dim]Model: {engine.info.name} — {choice.reason}. Running on {engine.placement.describe()}.[/]")
    return engine
