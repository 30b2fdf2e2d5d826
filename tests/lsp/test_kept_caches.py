"""The KV caches the server keeps on disk (each holds a document's token ids) do not outlive it (issue 41,
item 7: after a clean exit they stayed until a later run happened to clean them)."""

from __future__ import annotations

import signal
import time

import pytest

from cga.assistant.model_choice import embedded_default
from tests.lsp.raw_client import RawServer

pytestmark = pytest.mark.slow  # a real server process and model


def suggest(server: RawServer, request_id: int, uri: str, text: str) -> None:
    lines = text.split("\n")
    assert "result" in server.inline_completion(request_id, uri, len(lines) - 1, len(lines[-1]), trigger=1)


def two_documents_read(server: RawServer, tmp_path) -> None:
    """Suggestions in one document and then another: the first's cache is kept on disk for going back."""
    server.initialize({"model": str(embedded_default()), "threads": 2, "maxTokens": 4})
    for n, name in enumerate(("a.py", "b.py")):
        uri = (tmp_path / name).as_uri()
        text = f"def function_{n}(x):\n    return x * {n}\n\n\ndef other_{n}(y):\n    "
        server.open(uri, text)
        suggest(server, 10 + n, uri, text)


def kept(home) -> list:
    return [path for path in (home / "cache").glob("kv-*") if any(path.iterdir())] if (home / "cache").is_dir() else []


def wait_for(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.mark.parametrize("how", ["exit", "SIGTERM"])
def test_kept_caches_go_with_the_server(isolated_home, tmp_path, how):
    with RawServer() as server:
        two_documents_read(server, tmp_path)
        assert wait_for(lambda: kept(isolated_home)), "the first document's cache was not kept (nothing to test)"
        if how == "exit":
            assert server.shut_down() == 0
        else:
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=30) == 128 + signal.SIGTERM
    assert list((isolated_home / "cache").glob("kv-*")) == []
