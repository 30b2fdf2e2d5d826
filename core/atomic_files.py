"""Writing a file so that it is never half-written and never clobbered by a crash.

The final file appears only by an atomic rename of a finished temporary file
in the same folder; any failure removes the temporary file. A process killed
outright (SIGKILL, a power cut) cannot clean up, so a temporary's name carries
the id of the process writing it, and the next write to the same place removes
the temporaries whose process is gone. Used for converted models, the store's
manifest, saved conversations and reports.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil


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


def _umask() -> int:
    """The process's umask (read by setting it and putting it back: Python has no getter before 3.14)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _umask()  # at import, before any thread of ours runs: the umask is the process's, not a thread's
PRIVATE = 0o600  # files that hold the user's code (conversations): the owner only, whatever the umask


def publish(tmp: Path, dest: Path, *, private: bool = False) -> None:
    """Move a finished temporary file into place in one step, with the mode a new file gets here (the umask
    honoured: mkstemp's temporaries are 0600 whatever it says), or PRIVATE."""
    os.chmod(tmp, PRIVATE if private else 0o666 & ~UMASK)
    os.replace(tmp, dest)


def private_file(path: Path) -> Path:
    """path, made (empty) or kept readable and writable by the owner only: for a file others append to as they
    please (the chat's history), which holds what the user typed."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, PRIVATE))
        os.chmod(path, PRIVATE)
    except OSError:
        pass  # whoever opens it next says what is wrong
    return path


def write_atomically(dest: Path, data: bytes, *, private: bool = False) -> None:
    """dest holds data, or (on any failure, a crash or a full disk) exactly what it held before."""
    with temporary_beside(dest) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp, dest, private=private)
