"""Bad arguments and places get one sentence and a non-zero exit before any work is done (issue 20, items
16 and 18): never a traceback, never a file replaced that is not a regular file, never results lost."""

from __future__ import annotations

import os

import pytest

from tests.remote_server.misbehaving import misbehaving_server
from tests.run_cli import run_cga


def no_traceback(result) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize("command", ["humaneval", "mtpb"])
def test_a_json_target_that_is_not_a_regular_file_is_refused_before_the_run(tmp_path, command):
    real = tmp_path / "real.json"
    real.write_text("keep me")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    for target, message in (
        (link, "not a regular file"),
        (tmp_path, "not a regular file"),
        (tmp_path / "missing" / "r.json", "does not exist"),
    ):
        result = run_cga("eval", command, "--json", str(target), "--limit", "1", timeout=120)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Generated programs run" not in result.stderr  # refused before the run began
        no_traceback(result)
    assert link.is_symlink() and real.read_text() == "keep me"


def test_a_timeout_that_is_not_a_number_of_seconds_is_refused():
    for value in ("inf", "nan", "-1", "1e400"):
        result = run_cga("eval", "humaneval", "--timeout", value, timeout=120)
        assert result.returncode == 2 and "--timeout" in result.stderr, (value, result.stderr)
        no_traceback(result)


def test_a_tcp_port_out_of_range_is_refused():
    result = run_cga("lsp", "--tcp", "99999", timeout=60)
    assert result.returncode == 2 and "65535" in result.stderr
    no_traceback(result)


def test_closed_standard_output_is_one_sentence():
    result = run_cga("complete", "def f", preexec=lambda: os.close(1), timeout=60)
    assert result.returncode == 1 and "standard output is closed" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": 1, "name": "x", "prompts": ["a"], "inputs": [5], "outputs": [1]}', "each input an object"),
        (
            '{"id": 1, "name": "x", "prompts": ["a"], "inputs": [{}], "outputs": [1], "max_gen_length": 1e400}',
            "not an MTPB problem",
        ),
        (
            '{"id": 1, "name": "x", "prompts": ["a"], "inputs": [{}], "outputs": [1], "max_gen_length": 0}',
            "max_gen_length must be",
        ),
        ("[5]", "not an MTPB problem"),
    ],
)
def test_malformed_mtpb_data_is_one_sentence(tmp_path, line, message):
    data = tmp_path / "mtpb.jsonl"
    data.write_text(line + "\n")
    result = run_cga("eval", "mtpb", "--data", str(data), timeout=120)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    no_traceback(result)


def test_answers_longer_than_the_context_are_refused_with_the_limit_to_use():
    with misbehaving_server() as server:  # a 2,048-token context
        result = run_cga(
            "eval", "humaneval", "--remote", server.url, "--max-tokens", "100000", "--limit", "1", timeout=120
        )
    assert result.returncode == 1 and "pass --max-tokens 1024 or less" in result.stderr, result.stderr
    no_traceback(result)
