"""Writing a user's output file safely: never half-written, never clobbered.

The final file appears only by an atomic rename of a finished temporary file
in the same folder; any failure removes the temporary file. A process killed
outright (SIGKILL, a power cut) cannot clean up, so a temporary's name carries
the id of the process writing it, and the next write to the same place removes
the temporaries whose process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

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


def remove_orphans(folder: Path, dest_name: str = "*") -> list[Path]:
    """Remove the temporaries (of dest_name, or of anything) left in folder by processes that no longer run."""
    removed = []
    for path in folder.glob(f".{dest_name}.*"):
        owner = re.fullmatch(r"\.(.+)\.(\d+)-[^.]+\..+", path.name)
        if owner and (dest_name == "*" or owner[1] == dest_name) and not psutil.pid_exists(int(owner[2])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def temporary_beside(dest: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path next to dest (same filesystem, so the final rename is atomic), always removed."""
    remove_orphans(dest.parent, dest.name)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{os.getpid()}-", suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def publish(tmp: Path, dest: Path) -> None:
    """Move a finished temporary file into place in one step."""
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def write_atomically(dest: Path, data: bytes) -> None:
    """dest holds data, or (on any failure, a crash or a full disk) exactly what it held before."""
    with temporary_beside(dest) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp, dest)
