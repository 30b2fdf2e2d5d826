"""A stand-in llama-server on loopback that misbehaves on request: the hostile team server of issue 20.

Each fault is one entry of `faults` (path -> what to do instead of the right answer); anything not
faulted answers as a tiny, well-behaved llama-server would, so a test changes exactly one thing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Fault = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    server: MisbehavingServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet: pytest shows what matters
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = json.loads(self.rfile.read(length) or b"{}")
        self._answer()

    def _answer(self) -> None:
        self.server.seen.append((self.path, getattr(self, "body", None)))
        fault = self.server.faults.get(self.path)
        if fault is not None:
            fault(self)
            return
        if self.path == "/v1/models":
            self.json({"data": [{"id": "stand-in.gguf"}]})
        elif self.path == "/props":
            self.json({"default_generation_settings": {"n_ctx": 2048}})
        elif self.path == "/tokenize":
            self.json({"tokens": [ord(c) for c in self.body.get("content", "")]})
        elif self.path == "/detokenize":
            self.json({"content": "".join(chr(t) for t in self.body.get("tokens", []))})
        elif self.path == "/completion":
            self.events([{"content": "x", "stop": False}] * 3 + [{"content": "", "stop": True, "stop_type": "eos"}])
        else:
            self.send_error(404)

    # -- ways to answer -----------------------------------------------------------------------------------

    def json(self, value: object) -> None:
        self.raw(json.dumps(value).encode())

    def raw(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def events(self, events: list[object]) -> None:
        """A chunked event stream, as llama-server sends one."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            self.chunk(f"data: {json.dumps(event)}\n\n".encode())
        self.chunk(b"")

    def chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def until_closed(self) -> None:
        """A response with neither a length nor chunks: it lasts as long as the connection does."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True


class MisbehavingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.faults: dict[str, Fault] = {}
        self.seen: list[tuple[str, object]] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def misbehaving_server() -> Iterator[MisbehavingServer]:
    server = MisbehavingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


# -- faults ---------------------------------------------------------------------------------------------------


def answer_json(value: object) -> Fault:
    return lambda handler: handler.json(value)


def answer_bytes(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Fault:
    return lambda handler: handler.raw(body, status, headers)


def stream_events(events: list[object]) -> Fault:
    return lambda handler: handler.events(events)


def trickle_until_closed(handler: Handler) -> None:
    """One event, then silence on an open connection (http.client reads such a body to the close)."""
    handler.until_closed()
    handler.wfile.write(b'data: {"content": "x", "stop": false}\n\n')
    handler.wfile.flush()
    handler.server.stopping.wait(30)


def endless_tokens(handler: Handler) -> None:
    """A server that ignores n_predict: tokens until the client hangs up."""
    _events_for_30_s(handler, b'data: {"content": "ab", "stop": false}\n\n', 0.0)


def _events_for_30_s(handler: Handler, event: bytes, pause: float) -> None:
    """The same event again and again, pause seconds apart, until the client hangs up (or 30 s)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not handler.server.stopping.wait(pause):
            handler.chunk(event)
    except OSError:
        pass  # the client hung up, as it should


def endless_line(handler: Handler) -> None:
    """One SSE line that never ends."""
    handler.until_closed()
    handler.wfile.write(b"data: ")
    block = b"a" * 65536
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not handler.server.stopping.is_set():
            handler.wfile.write(block)
    except OSError:
        pass


def cut_off_mid_answer(handler: Handler) -> None:
    """Two tokens of an answer, then the connection drops (a crash or restart of the server)."""
    handler.until_closed()
    handler.wfile.write(b'data: {"content": "x", "stop": false}\n\ndata: {"content": "y", "stop": false}\n\n')
    handler.wfile.flush()


def slow_tokens(handler: Handler) -> None:
    """A busy server: one token every half second, for up to 30 s."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    try:
        for _ in range(60):
            if handler.server.stopping.wait(0.5):
                return
            handler.chunk(b'data: {"content": " x", "stop": false}\n\n')
    except OSError:
        pass


def empty_events(pause: float) -> Fault:
    """A stream of events that carry no token, one every pause seconds, for up to 30 s."""
    return lambda handler: _events_for_30_s(handler, b'data: {"content": "", "stop": false}\n\n', pause)
