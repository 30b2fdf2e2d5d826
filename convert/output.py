"""Checks on a user's output path before any work: never clobbered, never an input of the conversion.

Writing itself goes through core.atomic_files (a temporary beside, then one rename).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import OutputError


def check_destination(dest: Path, force: bool, needed_bytes: int) -> None:
    """Refuse before any work: an existing file without --force, an unwritable folder, too little room."""
    if dest.is_dir():
        raise OutputError(f"{dest} is a folder; give a file name such as {dest / 'model.gguf'}.")
    if dest.exists() and not force:
        raise OutputError(f"{dest} already exists; pass --force to replace it.")
    folder = dest.parent
    if not folder.is_dir():
        raise OutputError(f"The folder {folder} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"The folder {folder} is not writable; choose another output path.")
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise OutputError(
            f"{folder} has {free / 2**20:.0f} MiB free but this needs about {needed_bytes / 2**20:.0f} MiB; free some space."
        )


def refuse_replacing_an_input(dest: Path, source: Path) -> None:
    """An output never replaces a file of the checkpoint it is made from, --force or not.

    Compared by identity (samefile), so a symlink or hard link to an input (the hub cache's
    snapshot folders are symlinks) is caught as well as the input's own path.
    """
    if not dest.exists() or not source.is_dir():
        return
    for entry in source.iterdir():
        if entry.suffix != ".gguf" and entry.is_file() and os.path.samefile(entry, dest):
            raise OutputError(f"{dest} is {entry.name} of the checkpoint being converted; write the GGUF elsewhere.")
