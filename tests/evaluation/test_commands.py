"""`cga eval` and `cga bench` end to end on real tiny models: tables, JSON, plots, refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cga.cli.progress import compact
from cga.convert.pipeline import convert
from tests.run_cli import run_cga

pytestmark = pytest.mark.slow  # end to end: real servers, editors or processes (see pyproject.toml)


@pytest.fixture(scope="module")
def quantizations(codegen1, tmp_path_factory):
    folder = tmp_path_factory.mktemp("quants")
    return {q: convert(codegen1.path, folder / f"tiny.{q}.gguf", q).path for q in ("f32", "f16", "q8_0")}


def test_humaneval_runs_a_model_and_writes_every_sample(quantizations, tmp_path):
    out = tmp_path / "he.json"
    done = run_cga(
        "eval",
        "humaneval",
        "--model",
        quantizations["q8_0"],
        "--limit",
        "2",
        "--samples",
        "2",
        "-k",
        "1",
        "-k",
        "2",
        "--max-tokens",
        "16",
        "--threads",
        "2",
        "--json",
        out,
    )
    assert done.returncode == 0, done.stderr
    assert "pass@1" in done.stdout and "pass@2" in done.stdout
    report = json.loads(out.read_text())
    assert [r["task_id"] for r in report["results"]] == ["HumanEval/0", "HumanEval/1"]
    assert all(len(r["samples"]) == 2 and len(r["outcomes"]) == 2 for r in report["results"])
    assert set(report["scores"]) == {"pass@1", "pass@2"}
    refused = run_cga("eval", "humaneval", "--model", quantizations["q8_0"], "-k", "10", "--samples", "2")
    assert refused.returncode == 1 and "--samples 10" in refused.stderr


def test_mtpb_runs_both_modes(quantizations, tmp_path):
    out = tmp_path / "mtpb.json"
    done = run_cga(
        "eval",
        "mtpb",
        "--model",
        quantizations["q8_0"],
        "--limit",
        "1",
        "--max-tokens",
        "24",
        "--threads",
        "2",
        "--json",
        out,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert set(report["pass_rate"]) == {"multi", "single"}
    multi = [r for r in report["results"] if r["mode"] == "multi"]
    assert len(multi) == 5 and all(r["program"].startswith("# Import libraries.") for r in multi)
    assert multi[0]["program"].count("\n# ") == 5  # one comment per turn after the header's


def test_mtpb_with_the_embedded_chat_model_runs_its_code_and_says_why_it_failed(tmp_path):
    """Issue 23, item 2: every program ended in a stray fence and prose (a syntax error); now only the code
    runs, and each result says why it failed."""
    out = tmp_path / "mtpb.json"
    done = run_cga(
        "eval",
        "mtpb",
        "--limit",
        "1",
        "--mode",
        "multi",
        "--max-tokens",
        "48",
        "--temperature",
        "0",
        "--threads",
        "2",
        "--json",
        out,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert len(results) == 5
    kinds = {
        "passed",
        "syntax error",
        "raised",
        "wrong output",
        "did not start",
        "killed",
        "timeout",
        "memory limit",
        "output limit",
        "process limit",
    }
    for r in results:
        assert "```" not in r["program"] and r["outcome"] in kinds, r
        assert r["passed"] == (r["outcome"] == "passed") and (r["detail"] or r["outcome"] in ("passed", "timeout"))
    failed = [r["outcome"] for r in results if not r["passed"]]
    if failed:
        assert (
            f"{failed.count(failed[0])} {failed[0]}" in done.stdout and "multi-turn programs that failed" in done.stdout
        )


def test_mtpb_refuses_a_malformed_data_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    done = run_cga("eval", "mtpb", "--data", bad)
    assert done.returncode == 1 and "line 1" in done.stderr and "Traceback" not in done.stderr


def test_perplexity_side_by_side(quantizations, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for module in ("textwrap", "bisect"):
        shutil.copy(__import__(module).__file__, src)
    out = tmp_path / "ppl.json"
    done = run_cga(
        "eval",
        "perplexity",
        src,
        "-m",
        quantizations["f32"],
        "-m",
        quantizations["f16"],
        "-m",
        quantizations["q8_0"],
        "--window",
        "128",
        "--json",
        out,
        env={"CGA_PROGRESS_EVERY": "0"},
    )
    assert done.returncode == 0, done.stderr
    # Piped, progress comes as plain lines (here at every step): a count, a rate, and the time at the end.
    # The whole file name, counting the tokens scored (files differ a hundredfold: a count of files misleads).
    name = f"{Path(quantizations['q8_0']).name} tokens"
    rows = json.loads(out.read_text())["results"]
    total = compact(rows[0]["tokens"])
    assert f"{name}: 0/{total} (0%)" in done.stderr.splitlines(), done.stderr
    steps = re.findall(rf"^{re.escape(name)}: .*$", done.stderr, re.M)
    assert len(steps) > 4 and re.fullmatch(
        rf"{re.escape(name)}: {total}/{total} \(100%\), [\d.,k]+/s, \d+ s in all", steps[-1]
    ), steps
    assert [r["file_type"] for r in rows] == ["f32", "f16", "q8_0"]
    assert len({r["tokens"] for r in rows}) == 1 and rows[0]["tokens"] > 1000  # the same tokens for every file
    f32, f16, q8 = (r["perplexity"] for r in rows)
    assert 1 < f32 < 51200 * 10
    assert abs(f16 / f32 - 1) < 0.01 and abs(q8 / f32 - 1) < 0.05  # near-lossless types stay near F32
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cga("eval", "perplexity", empty, "-m", quantizations["f16"]).returncode == 1


def test_bench_table_json_and_plot(quantizations, codegen1, tmp_path):
    out, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    long_name = tmp_path / "codegen-350M-mono-fine-tuned-on-our-own-code.f16.gguf"  # cut runners at 80 columns once
    shutil.copy(quantizations["f16"], long_name)
    done = run_cga(
        "bench",
        long_name,
        quantizations["q8_0"],
        "--transformers",
        codegen1.path,
        "--prompt-tokens",
        "64",
        "--gen-tokens",
        "16",
        "--repeat",
        "1",
        "--threads",
        "2",
        "--json",
        out,
        "--plot",
        plot,
        env={"COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert [(r["file_type"], r["runner"]) for r in results] == [
        ("f16", "llama.cpp"),
        ("q8_0", "llama.cpp"),
        ("f32", "transformers"),
    ]
    table = done.stdout.splitlines()
    assert max(len(line) for line in table) <= 80, done.stdout
    assert sum("llama.cpp" in line for line in table) == 2 and sum("transformers" in line for line in table) == 1
    assert "…" not in done.stdout  # nothing cut: each runner, type and figure whole
    assert all(r["prefill_tps"] > 0 and r["decode_tps"] > 0 and r["ttft_s"] > 0 and r["peak_mib"] > 10 for r in results)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = run_cga("bench", tmp_path / "nope.gguf")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
