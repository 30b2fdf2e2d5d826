"""The command line that runs one of our functions in a fresh Python: quantizing, benchmarks, the bare server.

Not `python -m cga.…`: `-m` and `-c` put the current directory first on sys.path, where a user's own `cga`
folder would shadow the installed package; the child drops that entry before importing anything of ours.
"""

from __future__ import annotations

import sys


def child_command(module: str, function: str, *args: str) -> list[str]:
    """`function(argv)` of module in this interpreter, argv being args."""
    code = (
        f"import sys; sys.path = [p for p in sys.path if p]; from {module} import {function}; {function}(sys.argv[1:])"
    )
    return [sys.executable, "-c", code, *args]
