"""The user directory, with an override for tests and portable setups.

Reading never creates anything, so every command that only reads (complete
with a model file, models list, chat without saving) works with a read-only
or missing user directory; a folder is created where something is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from .errors import UserDirError

APP = "codegen-assistant"


def user_dir() -> Path:
    """Where conversations (and later models) live: $CGA_HOME, else the platform's user data dir."""
    override = os.environ.get("CGA_HOME")
    return Path(override).expanduser() if override else platformdirs.user_data_path(APP, appauthor=False)


def cache_dir() -> Path:
    """Where work that can be thrown away lives ($CGA_HOME/cache, else the platform's user cache dir)."""
    override = os.environ.get("CGA_HOME")
    return Path(override).expanduser() / "cache" if override else platformdirs.user_cache_path(APP, appauthor=False)


def created(folder: Path) -> Path:
    """The folder, made if missing, that something is about to be written into; one sentence where it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserDirError(
            f"Cannot create {folder} ({exc.strerror or exc}); make it writable or point CGA_HOME at a writable folder."
        ) from exc
    if not os.access(folder, os.W_OK):
        raise UserDirError(f"{folder} is not writable; make it writable or point CGA_HOME at a writable folder.")
    return folder
