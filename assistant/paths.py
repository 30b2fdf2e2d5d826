"""The one user-directory function, with an override for tests and portable setups."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "codegen-assistant"


def user_dir() -> Path:
    """Where conversations (and later models) live: $CGA_HOME, else the platform's user data dir."""
    override = os.environ.get("CGA_HOME")
    path = Path(override).expanduser() if override else platformdirs.user_data_path(APP, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path
