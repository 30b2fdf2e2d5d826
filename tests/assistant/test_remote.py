"""The remote backend against a real OpenAI-compatible server (llama-cpp-python's) on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cga.assistant import prompts
from cga.assistant.backend import Generation
from cga.assistant.chat import ChatSession
from cga.assistant.errors import EngineError
from cga.assistant.model_choice import embedded_default
from cga.assistant.remote import RemoteBackend
from tests.lsp.raw_client import RawServer
from tests.prepare import made
from tests.run_cli import run_cga

pytestmark = pytest.mark.slow  # end to end: real servers, editors or processes (see pyproject.toml)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(command: list[str], ready_path: str) -> Iterator[str]:
    """A server started with --host/--port appended, its URL once ready_path answers; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + ready_path, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command[0]} did not start (exit status {proc.poll()})")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def python_server(model) -> list[str]:
    # Not interrupted by the next request: --parallel answers must come whole (issue 20: a cut-off answer is an error).
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--interrupt_requests",
        "false",
    ]


@pytest.fixture(scope="module")
def server():
    """llama-cpp-python's server with the embedded chat model (a trained one: its answers are real text)."""
    with running(python_server(embedded_default()), "/v1/models") as url:
        yield url


@pytest.fixture(scope="module")
def infill_server(codegen2_gguf):
    """The same server with a CodeGen2-layout model, whose infill control tokens must arrive as tokens."""
    with running(python_server(codegen2_gguf), "/v1/models") as url:
        yield url


@pytest.fixture(scope="module")
def llama_server_binary() -> str:
    """llama.cpp's own llama-server, built once per machine (tests/remote_server/build.sh, before the tests
    start: tests/prepare.py)."""
    return str(made("llama-server"))


@pytest.fixture(scope="module")
def llama_server(llama_server_binary, codegen2_gguf):
    """llama-server with a CodeGen2 model."""
    with running(
        [llama_server_binary, "-m", str(codegen2_gguf), "-c", "2048", "-t", "2", "-np", "1"], "/health"
    ) as url:
        yield url


def same_settings_as_the_engine(binary: str) -> list[str]:
    """llama-server with the embedded model, computing as the local engine does on a CPU (engine.lean_memory: an
    8-bit K cache, 128-token micro-batches, no flash attention): llama.cpp's sums depend on them, and a near tie
    went the other way on a CPU without AVX-512 with the server's defaults."""
    return [binary, "-m", str(embedded_default()), "-c", "2048", "-t", "2", "-np", "1"] + [
        "-ctk",
        "q8_0",
        "-ub",
        "128",
        "-fa",
        "off",
    ]


def test_llama_server_gets_token_ids_and_reuses_its_cache(llama_server, codegen2):
    backend = RemoteBackend(llama_server)
    assert backend.kind == "llama-server" and backend.n_ctx == 2048 and backend.info.can_infill
    text = "def add(a, b):\n    return a + b\n" * 20
    assert backend.tokenize(text) == codegen2.tokenize(text)  # the same vocabulary, read by the server
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    tokens = prompts.infill(backend.info, backend.tokenize, prefix, suffix)
    assert tokens == prompts.infill(codegen2.info, codegen2.tokenize, prefix, suffix)
    first = backend.stream(tokens, Generation(max_tokens=4))
    first.text()
    again = backend.stream(tokens, Generation(max_tokens=4))
    again.text()
    assert first.stats.prompt_tokens == len(tokens) and again.stats.reused_tokens >= len(tokens) - 1


def test_warming_a_llama_server_reads_the_prompt_and_writes_nothing(llama_server, codegen2):
    """n_predict 0 (how llama.vim warms its ring of chunks): the server reads the prompt into its cache."""
    backend = RemoteBackend(llama_server)
    tokens = codegen2.tokenize("".join(f"def step_{i}(value):\n    return value * {i}\n\n" for i in range(12)))
    warm = backend.stream(tokens, Generation(max_tokens=0))
    assert warm.text() == "" and warm.stats.generated == 0
    answer = backend.stream(tokens, Generation(max_tokens=4))
    answer.text()
    assert answer.stats.reused_tokens >= len(tokens) - 1


@pytest.mark.parametrize(
    "prompt, cut", [("def fibonacci(n):\n    ", 0.5), ("class Stack:\n    def __init__(self):\n        ", 0.3)]
)
def test_the_confidence_cut_ends_a_llama_server_answer_where_it_ends_a_local_one(llama_server_binary, prompt, cut):
    """n_probs brings each token's probability: the team server's suggestion is cut where the same model,
    run here, cuts it (issue 22), and the connection closes there, so the server stops writing."""
    from cga.assistant.engine import Engine

    local = Engine(embedded_default(), threads=2, n_ctx=2048)
    with running(same_settings_as_the_engine(llama_server_binary), "/health") as url:
        remote = RemoteBackend(url)
        uncut = remote.stream(prompt, Generation(max_tokens=48))
        whole = uncut.text()
        here = local.stream(prompt, Generation(max_tokens=48, min_probability=cut))
        there = remote.stream(prompt, Generation(max_tokens=48, min_probability=cut))
        assert there.text() == here.text() and there.stats.stop == here.stats.stop == "unsure"
    local.close()
    assert uncut.stats.stop == "length" and len(there.text()) < len(whole) and whole.startswith(there.text())


def test_a_block_ends_on_llama_server_where_it_ends_locally(llama_server_binary):
    """n_indent: the server stops at the first line out of the block, as the local filter does (issue 22)."""
    from cga.assistant.engine import Engine

    prompt, options = "def add(a, b):\n    ", {"max_tokens": 64, "min_indent": 1}
    local = Engine(embedded_default(), threads=2, n_ctx=2048)
    with running(same_settings_as_the_engine(llama_server_binary), "/health") as url:
        remote = RemoteBackend(url)
        whole = remote.stream(prompt, Generation(max_tokens=64)).text()
        here = local.stream(prompt, Generation(**options))
        there = remote.stream(prompt, Generation(**options))
        text = here.text()
        assert there.text() == text and there.stats.stop == here.stats.stop == "block"
    local.close()
    assert "\n" in text and whole.startswith(text) and whole[len(text) :].lstrip("\n")[:1] not in ("", " ", "\t")


def test_a_cancel_hangs_up_during_the_servers_prefill(llama_server_binary):
    """A keystroke cancels a remote completion without waiting for the server to read the whole prompt."""
    command = [
        llama_server_binary,
        "-m",
        str(embedded_default()),
        "-c",
        "4096",
        "-t",
        "2",
        "-np",
        "1",
        "-b",
        "64",
        "-ub",
        "64",
    ]
    with running(command, "/health") as url:
        backend = RemoteBackend(url)
        tokens = backend.tokenize("def step(value):\n    return value * 2 + 1\n\n\n" * 200)[:3000]
        started = time.monotonic()
        "".join(backend.stream(tokens, Generation(max_tokens=1)))
        whole = time.monotonic() - started  # the prefill of 3,000 tokens
        cancel = threading.Event()
        threading.Timer(whole / 10, cancel.set).start()
        answer = backend.stream(tokens[::-1], Generation(max_tokens=1, cancel=cancel))
        answer.text()  # another prompt: nothing of it is cached
        # The server writes its one token as soon as it has read the prompt: none came, so the stream was hung
        # up during the prefill. (A comparison of times, whole / 2, failed on a machine busy with other work.)
        assert answer.stats.generated == 0


def test_a_chat_model_on_llama_server_is_prompted_with_its_own_chat_template(llama_server_binary, smollm):
    with running(
        [llama_server_binary, "-m", str(embedded_default()), "-c", "2048", "-t", "2", "-np", "1"], "/health"
    ) as url:
        remote = RemoteBackend(url)
        assert remote.info.chat_template == smollm.info.chat_template
        instruction = "Write a Python function that adds two numbers."
        remote_session, local_session = ChatSession(remote, max_tokens=64), ChatSession(smollm, max_tokens=64)
        assert remote_session.uses_chat_template
        assert remote_session.prompt_tokens(instruction) == local_session.prompt_tokens(instruction)
        chat = run_cga("chat", "--remote", url, "-n", "64", input=instruction + "\n")
        assert chat.returncode == 0 and "def " in chat.stdout, chat.stdout + chat.stderr


def test_chat_and_the_language_server_through_llama_server(llama_server, isolated_home):
    chat = run_cga("chat", "--remote", llama_server, "-n", "8", input="Assign 1 to x.\n")
    assert chat.returncode == 0 and "llama-server" in chat.stderr, chat.stderr
    infill = run_cga(
        "complete", "def f(x):\n    ", "--suffix", "\n    return y\n", "--remote", llama_server, "--max-tokens", "8"
    )
    assert infill.returncode == 0 and "Traceback" not in infill.stderr, infill.stderr
    uri = "file:///project/example.py"
    with RawServer() as lsp:
        lsp.initialize({"remoteUrl": llama_server, "maxTokens": 8})
        lsp.open(uri, "def f(x):\n    \n    return y\n")
        lsp.send(
            {
                "jsonrpc": "2.0",
                "id": "i",
                "method": "textDocument/inlineCompletion",
                "params": {
                    "textDocument": {"uri": uri},
                    "position": {"line": 1, "character": 4},
                    "context": {"triggerKind": 2},
                },
            }
        )
        assert "result" in lsp.response("i")  # an answer (possibly empty from random weights), not an error
        logged = [n["params"]["message"] for n in lsp.notifications if n["method"] == "window/logMessage"]
        assert any("(llama-server)" in m for m in logged), logged
        assert lsp.shut_down() == 0


def test_streams_a_completion_from_text_or_tokens(server):
    backend = RemoteBackend(server)
    assert backend.kind == "llama-cpp-python" and backend.n_ctx == 2048 and not backend.info.can_infill
    answer = backend.stream("def add(a, b):\n", Generation(max_tokens=16))
    assert answer.text() and answer.stats.generated > 0
    tokens = backend.tokenize("def add(a, b):\n")
    assert backend.text_of(tokens) == "def add(a, b):\n"
    assert "".join(backend.stream(tokens, Generation(max_tokens=8)))


def test_no_tokens_to_write_is_not_a_limitless_answer_from_an_openai_style_server(server):
    """llama-cpp-python's server takes max_tokens 0 for no limit: a warm-up must not start an answer to the end
    of the context."""
    backend = RemoteBackend(server)
    answer = backend.stream("def add(a, b):\n", Generation(max_tokens=0))
    assert answer.text() == "" and answer.stats.generated == 0 and answer.stats.stop == "length"


def test_stop_strings_apply_to_remote_text(server):
    backend = RemoteBackend(server)
    full = "".join(backend.stream("Fruits: apple, banana,", Generation(max_tokens=24)))
    assert len(full) > 10
    stop = full[6:9]
    cut = "".join(backend.stream("Fruits: apple, banana,", Generation(max_tokens=24, stop=(stop,))))
    assert cut == full[: full.index(stop)]


def test_infill_tokens_reach_the_server_as_the_same_ids(infill_server, codegen2):
    backend = RemoteBackend(infill_server)
    assert backend.info.can_infill and backend.info.special_ids == {
        k: v for k, v in codegen2.info.special_ids.items() if k in backend.info.special_ids
    }
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    ours = prompts.infill(backend.info, backend.tokenize, prefix, suffix)
    assert ours == prompts.infill(codegen2.info, codegen2.tokenize, prefix, suffix)  # what the local engine sends
    assert backend.tokenize(backend._prompt_text(ours), special=True) == ours  # what the server reads back
    result = run_cga("complete", prefix, "--suffix", suffix, "--remote", infill_server, "--max-tokens", "8")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_cli_uses_the_remote_server(server):
    result = run_cga("complete", "def add(a, b):", "--remote", server, "--max-tokens", "12")
    assert result.returncode == 0, result.stderr
    assert f"the server at {server}" in result.stderr
    assert result.stdout.strip()


def test_chat_through_the_server(server, isolated_home):
    result = run_cga("chat", "--remote", server, "-n", "24", input="Write a function that adds two numbers.\n")
    assert result.returncode == 0, result.stderr
    assert f"the server at {server}" in result.stderr and result.stdout.strip()
    turns = json.loads((isolated_home / "conversations" / "last.json").read_text())["turns"]
    assert [t["instruction"] for t in turns] == ["Write a function that adds two numbers."]


def test_the_language_server_completes_through_the_server(server):
    uri = "file:///project/example.py"
    with RawServer() as lsp:
        lsp.initialize({"remoteUrl": server, "maxTokens": 24})
        lsp.open(uri, "def fibonacci(n):\n    ")
        lsp.send(
            {
                "jsonrpc": "2.0",
                "id": "c",
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}},
            }
        )
        items = lsp.response("c")["result"]["items"]
        assert items and items[0]["textEdit"]["newText"].strip()
        logged = [n["params"]["message"] for n in lsp.notifications if n["method"] == "window/logMessage"]
        assert any(f"served by {server}" in m for m in logged), logged  # not a model loaded here
        assert lsp.shut_down() == 0


def test_a_server_running_another_model_is_one_sentence(server):
    result = run_cga("complete", "x = ", "--remote", server, "--model", "codegen-2B-mono.q8_0")
    assert result.returncode == 1 and "runs" in result.stderr and "not codegen-2B-mono.q8_0" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_server_is_one_clear_sentence():
    port = free_port()  # nothing listens here
    result = run_cga("complete", "x = ", "--remote", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "Cannot reach the server" in result.stderr and "Traceback" not in result.stderr


def test_bad_url():
    with pytest.raises(EngineError, match="not an http"):
        RemoteBackend("ftp://example")


def test_config_file_names_the_server(server, isolated_home):
    (isolated_home / "config.toml").write_text(f'remote_url = "{server}"\n')
    result = run_cga("complete", "def add(a, b):", "--max-tokens", "6")
    assert result.returncode == 0, result.stderr
    assert f"the server at {server}" in result.stderr


def test_broken_config_file(isolated_home):
    (isolated_home / "config.toml").write_text("remote_url = [unclosed\n")
    result = run_cga("complete", "x = ")
    assert result.returncode == 1
    assert "config.toml is not valid TOML" in result.stderr
    (isolated_home / "config.toml").write_text('remote = "http://x"\n')
    result = run_cga("complete", "x = ")
    assert result.returncode == 1 and "unknown setting(s) remote" in result.stderr


def test_eval_runs_on_a_remote_model_with_parallel_requests(server, tmp_path):
    out = tmp_path / "he.json"
    done = run_cga(
        "eval",
        "humaneval",
        "--remote",
        server,
        "--parallel",
        "4",
        "--limit",
        "3",
        "--samples",
        "2",
        "--max-tokens",
        "16",
        "--json",
        out,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["model"] == embedded_default().name  # the file the server runs
    assert [r["task_id"] for r in report["results"]] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert all(len(r["outcomes"]) == 2 for r in report["results"])
    multi = run_cga("eval", "mtpb", "--remote", server, "--parallel", "4", "--limit", "1", "--max-tokens", "8")
    assert multi.returncode == 0, multi.stderr


def test_parallel_requests_need_a_server():
    refused = run_cga("eval", "humaneval", "--parallel", "4", "--limit", "1")
    assert refused.returncode == 1 and "--parallel needs --remote" in refused.stderr


KEY = "team-k3y-0123456789"


@pytest.fixture(scope="module")
def keyed_server(llama_server_binary, codegen2_gguf):
    """llama-server started with --api-key, as a team runs it."""
    with running(
        [llama_server_binary, "-m", str(codegen2_gguf), "-c", "2048", "-t", "2", "-np", "1", "--api-key", KEY],
        "/health",
    ) as url:
        yield url


def test_a_server_with_an_api_key_is_used_with_the_key_from_each_place(keyed_server, isolated_home):
    """Issue 41, item 15: a keyed llama-server answered 401 to every request (we sent only Basic)."""
    assert RemoteBackend(keyed_server, api_key=KEY).stream([1, 2, 3], Generation(max_tokens=2)).text() is not None
    with_key_in_url = keyed_server.replace("http://", f"http://:{KEY}@")
    from_env = run_cga("complete", "def f", "--remote", keyed_server, "-n", "2", env={"CGA_API_KEY": KEY})
    from_url = run_cga("complete", "def f", "--remote", with_key_in_url, "-n", "2")
    (isolated_home / "config.toml").write_text(f'remote_url = "{keyed_server}"\napi_key = "{KEY}"\n')
    from_config = run_cga("complete", "def f", "-n", "2")
    for done in (from_env, from_url, from_config):
        assert done.returncode == 0, done.stderr
        assert KEY not in done.stderr + done.stdout
    (isolated_home / "config.toml").unlink()
    wrong = run_cga("complete", "def f", "--remote", keyed_server, "-n", "2", env={"CGA_API_KEY": "not-the-k3y"})
    assert wrong.returncode == 1 and "401" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "not-the-k3y" not in wrong.stderr
