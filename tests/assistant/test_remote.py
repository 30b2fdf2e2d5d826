"""The remote backend against a real OpenAI-compatible server (llama-cpp-python's) on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from assistant.engine import Generation
from assistant.model_choice import embedded_default
from assistant.remote import RemoteEngine, RemoteError
from tests.cli import run_cga


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_default()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "512", "--n_threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the server exited while starting")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the server did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_streams_a_completion(server):
    options = Generation(max_tokens=16)
    chunks = list(RemoteEngine(server).stream_text("def add(a, b):\n", options))
    assert "".join(chunks) and options.stats["generated"] > 0


def test_stop_strings_apply_to_remote_text(server):
    engine = RemoteEngine(server)
    full = "".join(engine.stream_text("Fruits: apple, banana,", Generation(max_tokens=24)))
    assert len(full) > 10
    stop = full[6:9]
    cut = "".join(engine.stream_text("Fruits: apple, banana,", Generation(max_tokens=24, stop=(stop,))))
    assert cut == full[: full.index(stop)]


def test_cli_uses_the_remote_server(server):
    result = run_cga("complete", "def add(a, b):", "--remote", server, "--max-tokens", "12")
    assert result.returncode == 0, result.stderr
    assert f"completion server at {server}" in result.stderr
    assert result.stdout.strip()


def test_unreachable_server_is_one_clear_sentence():
    port = free_port()  # nothing listens here
    result = run_cga("complete", "x = ", "--remote", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "Cannot reach the completion server" in result.stderr and "Traceback" not in result.stderr


def test_bad_url():
    with pytest.raises(RemoteError, match="not an http"):
        RemoteEngine("ftp://example")


def test_config_file_names_the_server(server, isolated_home):
    (isolated_home / "config.toml").write_text(f'remote_url = "{server}"\n')
    result = run_cga("complete", "def add(a, b):", "--max-tokens", "6")
    assert result.returncode == 0, result.stderr
    assert f"completion server at {server}" in result.stderr


def test_broken_config_file(isolated_home):
    (isolated_home / "config.toml").write_text("remote_url = [unclosed\n")
    result = run_cga("complete", "x = ")
    assert result.returncode == 1
    assert "config.toml is not valid TOML" in result.stderr
    (isolated_home / "config.toml").write_text('remote = "http://x"\n')
    result = run_cga("complete", "x = ")
    assert result.returncode == 1 and "unknown setting(s) remote" in result.stderr


def test_eval_runs_on_a_remote_model(server, tmp_path):
    out = tmp_path / "he.json"
    done = run_cga("eval", "humaneval", "--remote", server, "--limit", "1", "--max-tokens", "16", "--json", out)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(out.read_text())
    assert report["model"].startswith("http://127.0.0.1") or server in report["model"]
    assert len(report["results"]) == 1 and len(report["results"][0]["outcomes"]) == 1
