"""Run the real `cga` command in a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable


def run_cga(
    *args: str,
    input: str | None = None,
    preexec: Callable[[], None] | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """env: variables set on top of this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "cga.cli", *map(str, args)],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
        env={**os.environ, **env} if env else None,
    )
