"""`cga lsp --tcp`: one client, on loopback, with the token printed at start (issue 41, item 10: any local
user could connect, take over the editor's connection and send a remoteUrl of their own)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a real server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(connection: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(1)
    length = int(re.search(rb"Content-Length: *(\d+)", data).group(1))
    body = b""
    while len(body) < length:
        body += connection.recv(length - len(body))
    return json.loads(body)


def answer_to(connection: socket.socket, request_id: int) -> dict:
    while True:
        message = read_message(connection)
        if message.get("id") == request_id:
            return message


def test_only_the_client_with_the_token_gets_in_and_nobody_after_it():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cga.cli", "lsp", "--tcp", str(port)], stderr=subprocess.PIPE, text=True
    )
    try:
        line = server.stderr.readline()
        token = re.search(r"this token: (\S+)", line).group(1)
        assert f"127.0.0.1:{port}" in line
        initialize = frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        # A neighbour without the token: closed, and the port still listens for the user's client.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as stranger:
            stranger.sendall(b"not-the-token\n" + initialize)
            try:
                closed = stranger.recv(100) == b""
            except ConnectionResetError:  # closed with its initialize unread
                closed = True
            assert closed
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(token.encode() + b"\n" + initialize)
            assert "capabilities" in answer_to(client, 1)["result"]
            # Served: the port is closed to everyone else.
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            client.sendall(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            answer_to(client, 2)
            client.sendall(frame({"jsonrpc": "2.0", "method": "exit"}))
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()
        server.wait()


def test_a_port_in_use_is_one_sentence():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "cga.cli", "lsp", "--tcp", str(port)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "choose another --tcp port" in done.stderr
