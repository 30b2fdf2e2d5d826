"""The folders where engines keep other documents' KV caches on disk, and who removes them when.

Each file holds a document's token ids, so none outlives its process: close() removes an engine's folder, an
exit of the process (normal, or SIGTERM/SIGHUP in the language server) removes all of this process's, and the
next engine to keep one removes those of processes killed outright. Light on purpose: the language server
imports it at start, before llama.cpp's binding is loaded.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import psutil

from cga.core.paths import cache_dir, created

# Other documents' KV caches, kept in files (the page cache, not this process, holds them while there is room):
# about 5 files of 1,500 tokens with codegen-350M.
KEEP_CACHES_BYTES = 512 * 2**20
KEPT_PREFIX = "kv-"
_OWN: set[Path] = set()  # this process's folders


def new_folder() -> Path:
    """A folder of this process's for kept caches (raises OSError or UserDirError where none can be made)."""
    remove_orphaned()
    folder = Path(tempfile.mkdtemp(prefix=f"{KEPT_PREFIX}{os.getpid()}-", dir=created(cache_dir())))
    _OWN.add(folder)
    return folder


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    _OWN.discard(folder)


def remove_own() -> None:
    """All of this process's kept caches: at exit, and on the signals the language server stops on."""
    for folder in list(_OWN):
        remove(folder)


atexit.register(remove_own)


def remove_orphaned() -> None:
    """The kept caches of processes that are gone (killed before they could remove them)."""
    try:
        folders = list(cache_dir().glob(f"{KEPT_PREFIX}*-*"))
    except OSError:
        return
    for folder in folders:
        pid = folder.name[len(KEPT_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
