"""A team server that misbehaves (issue 20, items 9–12): every case ends in one sentence, in bounded time,
with bounded memory, and never prints a password. The server is a real HTTP server on loopback
(tests/remote_server/misbehaving.py) that changes one answer at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from cga.assistant.backend import Generation
from cga.assistant.remote import MAX_BODY_BYTES, RemoteBackend, RemoteError
from cga.assistant.server_url import BadServerUrl, parse_server_url, redacted
from tests.remote_server.misbehaving import (
    answer_bytes,
    answer_json,
    cut_off_mid_answer,
    empty_events,
    endless_line,
    endless_tokens,
    misbehaving_server,
    slow_tokens,
    stream_events,
    trickle_until_closed,
)
from tests.run_cli import run_cga


@pytest.fixture
def stand_in():
    with misbehaving_server() as server:
        yield server


def answer_of(backend: RemoteBackend, options: Generation) -> str:
    return "".join(backend.stream(backend.tokenize("def f():\n"), options))


def test_the_well_behaved_stand_in_answers(stand_in):
    backend = RemoteBackend(stand_in.url)
    answer = backend.stream(backend.tokenize("def f"), Generation(max_tokens=8))
    assert answer.text() == "xxx" and answer.stats.stop == "end"


def test_a_cancel_hangs_up_a_stream_read_to_the_close_of_the_connection(stand_in):
    stand_in.faults["/completion"] = trickle_until_closed
    backend = RemoteBackend(stand_in.url)
    cancel = threading.Event()
    chunks: list[str] = []
    reader = threading.Thread(
        target=lambda: chunks.extend(backend.stream([1, 2], Generation(max_tokens=64, cancel=cancel)))
    )
    reader.start()
    time.sleep(0.5)  # the first token has come; the server now says nothing and keeps the connection
    cancel.set()
    reader.join(5)
    assert not reader.is_alive(), "the cancel did not hang up a close-delimited stream"
    assert chunks == ["x"]


def test_a_server_that_ignores_the_token_limit_is_cut_off_here(stand_in):
    stand_in.faults["/completion"] = endless_tokens
    answer = RemoteBackend(stand_in.url).stream([1], Generation(max_tokens=16))
    assert answer.text() == "ab" * 16 and answer.stats.generated == 16 and answer.stats.stop == "length"


def test_the_cli_keeps_max_tokens_against_such_a_server(stand_in):
    stand_in.faults["/completion"] = endless_tokens
    result = run_cga("complete", "def f", "--remote", stand_in.url, "--max-tokens", "16", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ab" * 16


def test_a_stream_of_empty_events_ends_in_one_sentence_however_fast_it_comes(stand_in):
    """Issue 41, item 4: empty events reset the silence timer and counted as no token, so `cga complete` hung."""
    stand_in.faults["/completion"] = empty_events(0.0)
    result = run_cga("complete", "def f", "--remote", stand_in.url, "--max-tokens", "16", timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "events for an answer of at most 16 tokens without ending it" in result.stderr, result.stderr
    stand_in.faults["/completion"] = empty_events(0.2)  # slow ones: the silence timer, which they no longer reset
    with pytest.raises(RemoteError, match="sent no answer for 2 s"):
        answer_of(RemoteBackend(stand_in.url, timeout=2), Generation(max_tokens=400))


def test_a_huge_body_is_refused_without_holding_it(stand_in):
    stand_in.faults["/v1/models"] = answer_bytes(b'{"data": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}')
    with pytest.raises(RemoteError, match="more than 16 MiB"):
        RemoteBackend(stand_in.url)


def test_an_endless_event_line_is_refused(stand_in):
    stand_in.faults["/completion"] = endless_line
    with pytest.raises(RemoteError, match="line longer than 4 MiB"):
        answer_of(RemoteBackend(stand_in.url), Generation(max_tokens=8))


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("/v1/models", [1, 2], "unexpected shape"),
        ("/v1/models", 7, "unexpected shape"),
        ("/props", ["n_ctx"], "unexpected shape"),
        ("/props", {"n_ctx": -5}, "not a token count"),
        ("/props", {"n_ctx": "big"}, "not a token count"),
        ("/props", {"default_generation_settings": {"n_ctx": 1e400}}, "not a token count"),
        ("/tokenize", {"tokens": None}, "without a list of token ids"),
        ("/tokenize", {"tokens": ["a"]}, "without a list of token ids"),
    ],
)
def test_wrong_typed_answers_are_one_sentence(stand_in, path, value, message):
    right = path == "/tokenize"  # the first /tokenize asks what kind of server this is: answered right
    stand_in.faults[path] = lambda handler: handler.json(
        {"tokens": [97]} if right and handler.body == {"content": "a"} else value
    )
    with pytest.raises(RemoteError, match=message):
        backend = RemoteBackend(stand_in.url)
        backend.tokenize("a")


def test_odd_model_lists_still_name_a_model(stand_in):
    stand_in.faults["/v1/models"] = answer_json({"data": [5]})
    assert RemoteBackend(stand_in.url).model_id == "remote"


@pytest.mark.parametrize(
    "events, message",
    [
        ([[1, 2]], "not a JSON object"),
        ([5], "not a JSON object"),
        (["text"], "not a JSON object"),
        ([{"content": 5}], "without text"),
        ([{"content": "x"}], "without saying it was done"),  # the stream ends without its last event
    ],
)
def test_wrong_typed_events_are_one_sentence(stand_in, events, message):
    stand_in.faults["/completion"] = stream_events(events)
    with pytest.raises(RemoteError, match=message):
        answer_of(RemoteBackend(stand_in.url), Generation(max_tokens=8))


def test_an_openai_choice_that_is_a_string_is_one_sentence(stand_in):
    stand_in.faults["/tokenize"] = answer_bytes(b"no", 404)
    stand_in.faults["/extras/tokenize"] = answer_bytes(b"no", 404)
    stand_in.faults["/v1/completions"] = stream_events([{"choices": "text"}])
    backend = RemoteBackend(stand_in.url)
    assert backend.kind == "openai"
    with pytest.raises(RemoteError, match="without a choice of text"):
        "".join(backend.stream("def f", Generation(max_tokens=8)))


def test_a_connection_dropped_mid_answer_is_an_error_not_a_short_answer(stand_in):
    stand_in.faults["/completion"] = cut_off_mid_answer
    result = run_cga("complete", "def f", "--remote", stand_in.url, "--max-tokens", "16", timeout=60)
    assert result.returncode == 1
    assert "without saying it was done" in result.stderr and "token limit" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_redirect_is_not_followed(stand_in):
    stand_in.faults["/v1/models"] = answer_bytes(b"", 302, {"Location": "http://elsewhere.example/v1/models"})
    result = run_cga("complete", "def f", "--remote", stand_in.url, timeout=60)
    assert result.returncode == 1 and "redirects /v1/models to 'http://elsewhere.example/v1/models'" in result.stderr
    assert [path for path, _ in stand_in.seen] == ["/v1/models"]


def test_credentials_go_as_a_header_and_are_never_printed(stand_in):
    stand_in.faults["/v1/models"] = answer_bytes(b"denied", 401)
    url = stand_in.url.replace("http://", "http://user:s3cret@")
    result = run_cga("complete", "def f", "--remote", url, timeout=60)
    assert result.returncode == 1 and "HTTP 401" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "user:***@" in result.stderr


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://127.0.0.1:abc", "not a valid URL"),
        ("http://[::1", "not a valid URL"),
        ("http://" + "a" * 100 + ".example", "DNS cannot hold"),
        ("http://host\r\nX-Evil: 1", "control characters"),
        ("http://" + "a" * 10_000_000, "characters long"),
        ("ftp://example", "not an http"),
        ("http://", "names no host"),
        ("http://127.0.0.1:99999", "not a valid URL"),
    ],
)
def test_bad_urls_are_one_sentence(url, message):
    with pytest.raises(BadServerUrl, match=message):
        parse_server_url(url)


def test_a_bad_url_from_each_place_is_one_sentence(isolated_home, tmp_path):
    bad = "http://user:s3cret@[::1"
    for result in (
        run_cga("complete", "x", "--remote", bad, timeout=60),
        run_cga("complete", "x", timeout=60, env={"CGA_REMOTE_URL": bad}),
    ):
        assert result.returncode == 1 and "not a valid URL" in result.stderr, result.stderr
        assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
    (isolated_home / "config.toml").write_text(f'remote_url = "{bad}"\n')
    result = run_cga("complete", "x", timeout=60)
    assert result.returncode == 1 and "config.toml: remote_url:" in result.stderr and "s3cret" not in result.stderr


def test_redacted_addresses():
    assert redacted("http://me:pw@host:1/x") == "http://me:***@host:1/x"
    assert str(parse_server_url("http://me:pw@host:1/x/v1/")) == "http://me:***@host:1/x"
    assert parse_server_url("http://[::1]:8080").netloc == "[::1]:8080"
    assert len(redacted("http://" + "a" * 1000)) <= 81


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_eval_with_parallel_requests_stops_at_once_on_ctrl_c_and_sigterm(stand_in, signum, isolated_home):
    stand_in.faults["/completion"] = slow_tokens
    eval_run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cga.cli",
            "eval",
            "humaneval",
            "--remote",
            stand_in.url,
            "--parallel",
            "4",
            "--limit",
            "8",
            "--max-tokens",
            "200",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # a hang below dumps every thread's stack on SIGABRT
    )
    deadline = time.monotonic() + 60
    while sum(path == "/completion" for path, _ in stand_in.seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)  # four answers under way
    eval_run.send_signal(signum)
    sent = time.monotonic()
    try:
        _, stderr = eval_run.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        eval_run.send_signal(signal.SIGABRT)
        _, stacks = eval_run.communicate()
        pytest.fail(f"cga eval --parallel did not stop within 20 s of the signal; where it was:\n{stacks}")
    assert eval_run.returncode == 128 + signum or (signum == signal.SIGINT and eval_run.returncode == 130), stderr
    assert "Traceback" not in stderr
    assert time.monotonic() - sent < 10
    assert sum(path == "/completion" for path, _ in stand_in.seen) == 4  # nothing new was started


def test_token_probabilities_a_server_garbles_never_cut_or_break_an_answer():
    from cga.assistant.remote import _probability

    assert _probability({"completion_probabilities": [{"logprob": -2.0}]}) == pytest.approx(0.1353, abs=1e-3)
    assert _probability({"completion_probabilities": [{"prob": 0.25}, {"logprob": 0.0}]}) == 0.25
    for garbled in (None, "x", [None, 3], [{"logprob": "low"}, {"prob": True}], [{"logprob": 5.0}]):
        assert _probability({"completion_probabilities": garbled}) == 1.0


@pytest.mark.parametrize(
    "url, header, shown_as",
    [
        ("http://:k3y@host:8080", "Bearer k3y", "http://***@host:8080"),  # sent no header before; shown None:***
        ("http://k3y@host:8080", "Bearer k3y", "http://***@host:8080"),  # the key as the user name, shown in clear
        ("http://user:s3cret@host", "Basic dXNlcjpzM2NyZXQ=", "http://user:***@host"),  # a proxy's Basic
        ("http://host", None, "http://host"),
    ],
)
def test_a_key_in_the_url_goes_as_bearer_and_is_never_shown(url, header, shown_as):
    """Issue 41, item 15: llama-server's --api-key takes Bearer (or X-Api-Key) and refuses Basic."""
    address = parse_server_url(url)
    assert address.authorization() == header and str(address) == shown_as and redacted(url) == shown_as
    assert address.authorization("from-env") == (header or "Bearer from-env")  # CGA_API_KEY where the URL has none
