"""`cga models import / info / rm`: files into the store and out again, never half-written."""

from __future__ import annotations

import json
import os

import pytest

from models import manifest
from tests.cli import run_cga


def test_import_a_gguf_then_inspect_and_remove_it(isolated_home, codegen2_gguf):
    imported = run_cga("models", "import", codegen2_gguf, "--name", "mine.q8_0")
    assert imported.returncode == 0, imported.stderr
    stored = isolated_home / "models" / "mine.q8_0.gguf"
    assert stored.read_bytes() == codegen2_gguf.read_bytes()
    record = json.loads((isolated_home / "models" / "manifest.json").read_text())["models"]["mine.q8_0"]
    assert record["sha256"] == manifest.sha256_of(codegen2_gguf) and record["verified"] == "imported"
    assert not list((isolated_home / "models").glob(".*.pending"))

    again = run_cga("models", "import", codegen2_gguf, "--name", "mine.q8_0")
    assert again.returncode == 1 and "already installed" in again.stderr

    info = run_cga("models", "info", "mine")
    assert info.returncode == 0 and record["sha256"] in info.stdout and "q8_0" in info.stdout
    assert run_cga("complete", "--model", "mine", "-n", "2", "x = ").returncode == 0

    unconfirmed = run_cga("models", "rm", "mine")  # no TTY: must not delete without --yes
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr and stored.exists()
    removed = run_cga("models", "rm", "mine", "--yes")
    assert removed.returncode == 0 and not stored.exists()
    assert json.loads((isolated_home / "models" / "manifest.json").read_text())["models"] == {}
    gone = run_cga("models", "rm", "mine", "--yes")
    assert gone.returncode == 1 and "No model named 'mine'" in gone.stderr


def test_import_a_checkpoint_folder_converts_it(isolated_home, codegen1):
    imported = run_cga("models", "import", codegen1.path, "--quant", "q8_0", "--name", "tiny.q8_0")
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(run_cga("models", "list", "--json").stdout)["installed"]
    assert [(m["name"], m["record"]["quant"], m["record"]["verified"]) for m in listed] == [
        ("tiny.q8_0", "q8_0", "transformers")]


def test_bad_imports_are_refused_cleanly(isolated_home, tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 100)
    refused = run_cga("models", "import", junk)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert run_cga("models", "import", tmp_path / "missing").returncode == 1
    assert not list(isolated_home.glob("models/*.gguf")) and not list(isolated_home.glob("models/.*"))


def test_doctor_reports_the_machine_and_a_recommendation(isolated_home):
    doctor = run_cga("doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "Memory" in doctor.stdout and "For editor" in doctor.stdout and "For chat" in doctor.stdout
    assert "AVX2" in doctor.stdout or "NEON" in doctor.stdout or "CPU" in doctor.stdout


@pytest.mark.parametrize("name", ["/../../../../tmp/escaped", "sub/x", "..", ".hidden", "x" * 101, "a b"])
def test_a_model_name_cannot_leave_the_store(isolated_home, codegen2_gguf, tmp_path, name):
    refused = run_cga("models", "import", codegen2_gguf, "--name", name)
    assert refused.returncode == 1 and "cannot be a model name" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert not list(isolated_home.glob("models/*.gguf")) and not (tmp_path.parent / "escaped.gguf").exists()
    assert not os.path.exists("/tmp/escaped.gguf")


@pytest.mark.parametrize("spec", ["../x", "owner/..", "a/b/c", "/x"])
def test_a_pull_of_something_that_is_no_hub_id_is_one_sentence(isolated_home, spec):
    refused = run_cga("models", "pull", spec)
    assert refused.returncode == 1 and "is not in the catalog" in refused.stderr and "Traceback" not in refused.stderr


def test_a_manifest_of_the_wrong_shape_is_one_sentence(isolated_home):
    (isolated_home / "models").mkdir()
    (isolated_home / "models" / "manifest.json").write_text('{"models": []}')
    for args in (("models", "list"), ("complete", "def f():")):
        refused = run_cga(*args)
        assert refused.returncode == 1 and "manifest" in refused.stderr and "Traceback" not in refused.stderr
