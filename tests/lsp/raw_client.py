"""JSON-RPC over a server's stdio, byte for byte: for tests of what pygls's typed client would never send."""

from __future__ import annotations

import json
import select
import subprocess
import sys


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream) -> dict:
    ready, _, _ = select.select([stream], [], [], 120)
    assert ready, "the server did not answer within 120 s"
    length = 0
    while line := stream.readline().strip():  # unbuffered, so select() sees every byte not yet read
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = b""
    while len(body) < length:
        chunk = stream.read(length - len(body))
        assert chunk, "the server closed its output"
        body += chunk
    return json.loads(body)


class RawServer:
    """`cga lsp` as a subprocess spoken to in raw JSON-RPC frames."""

    def __init__(self, stderr=subprocess.DEVNULL) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cga.cli", "lsp"],
            bufsize=0,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        self.responses: dict[object, list[dict]] = {}  # read while waiting for another (id null: parse errors)
        self.notifications: list[dict] = []  # from the server, in order (window/logMessage, cga/status, …)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait()

    def send(self, message: dict | bytes) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        stdin = self.process.stdin
        assert stdin is not None  # opened as a pipe
        stdin.write(frame(body))
        stdin.flush()

    def response(self, request_id: object) -> dict:
        while request_id not in self.responses:
            message = read_message(self.process.stdout)
            if "method" not in message and ("result" in message or "error" in message):
                self.responses.setdefault(message.get("id"), []).append(message)
            elif "method" in message and "id" not in message:
                self.notifications.append(message)
        answers = self.responses[request_id]
        answer = answers.pop(0)
        if not answers:
            del self.responses[request_id]
        return answer

    def open(self, uri: str, text: str, language: str = "python") -> None:
        """didOpen of a document at version 1."""
        document = {"uri": uri, "languageId": language, "version": 1, "text": text}
        self.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}})

    def insert(self, uri: str, version: int, where: dict, text: str) -> None:
        """didChange: text typed at where ({"line": …, "character": …}), the document now at version."""
        change = {"range": {"start": where, "end": where}, "text": text}
        params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        self.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": params})

    def inline_completion(self, request_id: object, uri: str, line: int, character: int, trigger: int = 2) -> dict:
        """textDocument/inlineCompletion at a position (trigger 1: invoked, 2: automatic), and its response."""
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": trigger},
        }
        self.send({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/inlineCompletion", "params": params})
        return self.response(request_id)

    def initialize(self, options: dict, capabilities: dict | None = None) -> dict:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"capabilities": capabilities or {}, "initializationOptions": options},
            }
        )
        result = self.response(1)["result"]
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return result

    def shut_down(self) -> int:
        self.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
        assert self.response("bye").get("result", "missing") is None
        self.send({"jsonrpc": "2.0", "method": "exit"})
        return self.process.wait(timeout=30)
