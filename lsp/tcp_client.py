"""`cga lsp --tcp PORT`: one client, on loopback, that proves it was told the token printed at start.

pygls's own TCP server took every connection and gave the newest one the server's output: any local user
could connect, take over the editor's session and send a `remoteUrl` that ships the editor's code to a server
of theirs. Here the port is on 127.0.0.1 only, a connection must first send the token this process printed on
its standard error (which only the user who started it sees), a wrong or silent one is closed and the port
listens on, and once a client is in, the port is closed: nobody else can connect while it is served.
"""

from __future__ import annotations

import hmac
import secrets
import socket
import sys
from typing import BinaryIO

TOKEN_SECONDS = 10.0  # how long a connection has to send the token line
MAX_TOKEN_LINE = 256


def accept_one(port: int) -> tuple[BinaryIO, BinaryIO]:
    """The streams of the first connection to 127.0.0.1:port that sends the token (said on stderr first)."""
    token = secrets.token_urlsafe(24)
    try:
        listener = socket.create_server(("127.0.0.1", port))
    except OSError as exc:
        sys.exit(f"cga lsp: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); choose another --tcp port.")
    with listener:
        print(
            f"cga lsp: listening on 127.0.0.1:{port} for one client, whose first line must be this token: {token}",
            file=sys.stderr,
            flush=True,
        )
        while True:
            connection, _ = listener.accept()
            if _sent_token(connection, token):
                break
            connection.close()
    connection.settimeout(None)
    return connection.makefile("rb"), connection.makefile("wb")


def _sent_token(connection: socket.socket, token: str) -> bool:
    connection.settimeout(TOKEN_SECONDS)
    line = b""
    try:
        while not line.endswith(b"\n") and len(line) <= MAX_TOKEN_LINE:
            byte = connection.recv(1)
            if not byte:
                return False
            line += byte
    except OSError:  # silent for too long, or gone
        return False
    return hmac.compare_digest(line.strip(), token.encode())
