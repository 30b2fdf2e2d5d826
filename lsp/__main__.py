"""`python -m cga.lsp SETTINGS_JSON [TCP_PORT]`: the language server without the command line around it.

`cga lsp` checks its options and then replaces itself with this (exec, same
process id and pipes), so the long-lived server does not carry typer, click,
rich and pydantic: about 15 MiB of resident memory an editor pays for all day.
"""

from __future__ import annotations

import sys

from .server import serve
from .settings import Settings


def main(argv: list[str]) -> None:
    if len(argv) not in (1, 2):
        sys.exit("usage: python -m cga.lsp SETTINGS_JSON [TCP_PORT]  (start the server with `cga lsp`)")
    sys.exit(serve(Settings.from_json(argv[0]), int(argv[1]) if len(argv) == 2 else None))


if __name__ == "__main__":
    main(sys.argv[1:])
