"""`cga models pull` through huggingface-hub's real code, against a local stand-in for the hub."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from cga.models import manifest
from tests.builders import build_codegen
from tests.hub_standin import COMMIT, Hub, resumed_from
from tests.run_cli import run_cga

pytestmark = pytest.mark.slow  # end to end: real servers, editors or processes (see pyproject.toml)

REPO = "Salesforce/codegen-350M-mono"
SHARDS = [f"model-{i:05d}-of-00003.safetensors" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    built = build_codegen(tmp_path_factory.mktemp("hub") / "codegen-350M-mono", shards=3)
    (built.path / "README.md").write_text("---\nlicense: bsd-3-clause\n---\n# A tiny stand-in\n")
    return built.path


@pytest.fixture
def hub(checkpoint, monkeypatch):
    with Hub() as hub:
        hub.add(REPO, checkpoint)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        yield hub


def models(home) -> list[str]:
    return sorted(p.name for p in (home / "models").iterdir()) if (home / "models").exists() else []


def test_pull_installs_a_verified_registered_model(hub, isolated_home):
    pulled = run_cga("models", "pull", "codegen-350M-mono:q8_0")
    assert pulled.returncode == 0, pulled.stderr
    assert "Installed codegen-350M-mono.q8_0" in pulled.stdout
    assert "Verified against transformers" in pulled.stderr
    assert models(isolated_home) == [".manifest.lock", "codegen-350M-mono.q8_0.gguf", "manifest.json"]
    assert not (isolated_home / "downloads" / "codegen-350M-mono").exists()  # the checkpoint is not kept

    record = json.loads((isolated_home / "models" / "manifest.json").read_text())["models"]["codegen-350M-mono.q8_0"]
    gguf = isolated_home / "models" / "codegen-350M-mono.q8_0.gguf"
    assert record["sha256"] == manifest.sha256_of(gguf) and record["revision"] == COMMIT
    assert record["source"] == REPO and record["catalog"] == "codegen-350M-mono" and record["quant"] == "q8_0"

    completed = run_cga("complete", "--model", "codegen-350M-mono", "-n", "4", "def add(a, b):")
    assert completed.returncode == 0, completed.stderr
    listed = json.loads(run_cga("models", "list", "--json").stdout)["installed"]
    assert [(m["name"], m["record"]["source"]) for m in listed] == [("codegen-350M-mono.q8_0", REPO)]

    downloads = len(hub.requests)
    again = run_cga("models", "pull", "codegen-350M-mono:q8_0")
    assert again.returncode == 0 and "already installed" in again.stderr
    assert len(hub.requests) == downloads  # nothing fetched
    untyped = run_cga("models", "pull", "codegen-350M-mono")  # any installed type is the one asked for
    assert untyped.returncode == 0 and "codegen-350M-mono.q8_0 is already installed" in untyped.stderr
    assert len(hub.requests) == downloads and "Type " not in untyped.stderr  # no speed probe either


def test_a_dropped_connection_resumes_from_the_byte_it_reached(hub, isolated_home):
    hub.cuts[SHARDS[0]] = [12 * 2**20]
    pulled = run_cga("models", "pull", "codegen-350M-mono:q8_0")
    assert pulled.returncode == 0, pulled.stderr
    assert resumed_from(hub, SHARDS[0]) == [12 * 2**20]
    weights = [path for method, path, _ in hub.requests if method == "GET" and path.endswith(".safetensors")]
    assert len(weights) == 4  # three shards, one of them in two parts: nothing fetched twice


def test_an_interrupted_pull_registers_nothing_and_the_next_one_resumes(hub, isolated_home, checkpoint):
    # This shard's connection keeps dropping, each time after a tenth of it, so the pull's attempts give up
    # before the end whatever size transformers gave the shard (it differs between versions).
    tenth = (checkpoint / SHARDS[2]).stat().st_size // 10
    hub.cuts[SHARDS[2]] = [tenth] * 50
    failed = run_cga("models", "pull", "codegen-350M-mono")
    assert failed.returncode == 1
    assert "Run the same command again" in failed.stderr and "Traceback" not in failed.stderr
    assert [n for n in models(isolated_home) if n.endswith(".gguf") or n.endswith(".json")] == []
    kept = isolated_home / "downloads" / "codegen-350M-mono"
    assert (kept / SHARDS[0]).is_file() and (kept / SHARDS[1]).is_file() and not (kept / SHARDS[2]).exists()
    reached = sum(p.stat().st_size for p in (kept / ".cga-partial").iterdir())
    assert reached >= 5 * tenth  # the partly downloaded shard is kept across runs

    hub.cuts.clear()
    before = len(hub.requests)
    resumed = run_cga("models", "pull", "codegen-350M-mono")
    assert resumed.returncode == 0, resumed.stderr
    weights = [
        (path.rsplit("/", 1)[1], r)
        for method, path, r in hub.requests[before:]
        if method == "GET" and path.endswith(".safetensors")
    ]
    assert weights == [(SHARDS[2], f"bytes={reached}-")]  # only the rest of the unfinished shard
    chosen = re.search(r"^Type (\w+): ", resumed.stderr, re.M)  # no :QUANT: chosen for this machine, and said
    assert chosen and f"codegen-350M-mono.{chosen.group(1)}.gguf" in models(isolated_home), resumed.stderr


def test_a_tampered_model_is_refused(hub, isolated_home):
    assert run_cga("models", "pull", "codegen-350M-mono:q8_0").returncode == 0
    gguf = isolated_home / "models" / "codegen-350M-mono.q8_0.gguf"
    with open(gguf, "r+b") as f:
        f.seek(gguf.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    refused = run_cga("complete", "--model", "codegen-350M-mono", "def f():")
    assert refused.returncode == 1 and "sha256" in refused.stderr and "cga models rm" in refused.stderr
    assert run_cga("models", "verify", "codegen-350M-mono.q8_0").returncode == 1


def test_offline_and_unreachable_hubs_fail_fast_and_clearly(checkpoint, isolated_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    offline = run_cga("models", "pull", "codegen-350M-mono")
    assert offline.returncode == 1 and "HF_HUB_OFFLINE" in offline.stderr
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    down = run_cga("models", "pull", "codegen-350M-mono", timeout=120)
    assert down.returncode == 1 and "Cannot reach http://127.0.0.1:9" in down.stderr, down.stderr
    assert "Type " not in down.stderr  # the hub is asked before the machine is measured to choose a type
    assert time.perf_counter() - started < 60
    assert [n for n in models(isolated_home) if n.endswith(".gguf")] == []


def test_unknown_names_and_types_get_suggestions(isolated_home):
    unknown = run_cga("models", "pull", "codegen-350M-mon")
    assert unknown.returncode == 1 and "Did you mean codegen-350M-mono" in unknown.stderr
    bad_type = run_cga("models", "pull", "codegen-350M-mono:q3")
    assert bad_type.returncode == 1 and "q4_k_m" in bad_type.stderr


def test_a_disk_too_small_is_refused_before_downloading(hub, tmp_path, monkeypatch):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        monkeypatch.setenv("CGA_HOME", str(small))
        refused = run_cga("models", "pull", "codegen-350M-mono")
        assert refused.returncode == 1 and "GiB free" in refused.stderr
        assert not [r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]]  # not one byte fetched
    finally:
        subprocess.run(["umount", str(small)], check=True)
