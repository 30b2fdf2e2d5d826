"""Run the real `cga` command in a child process, as a user would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable


def run_cga(*args: str, input: str | None = None, preexec: Callable[[], None] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        input=input, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec,
    )
