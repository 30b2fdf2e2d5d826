"""Choosing a model: a path, an installed name, the best installed CodeGen model, else the embedded default."""

from __future__ import annotations

import shutil

import pytest

from cga.assistant.errors import ModelNotFound
from cga.assistant.model_choice import choose_model, embedded_default
from cga.convert.pipeline import convert
from cga.models import store
from tests.builders import build_codegen


def test_no_model_anywhere_means_the_embedded_default(isolated_home):
    choice = choose_model(None)
    assert choice.path == embedded_default() and "embedded SmolLM2" in choice.reason
    assert "cga models pull" in choice.reason  # tells how to get a CodeGen model


def test_the_largest_installed_codegen_model_wins(isolated_home, tmp_path):
    small = build_codegen(tmp_path / "small", n_embd=64, n_head=4)
    big = build_codegen(tmp_path / "big", n_embd=128, n_head=4)
    store.models_dir().mkdir()  # converted by hand into the store's folder
    convert(small.path, store.models_dir() / "codegen-small.gguf", "q8_0")
    convert(big.path, store.models_dir() / "codegen-big.gguf", "q8_0")
    shutil.copy(embedded_default(), store.models_dir() / "not-codegen.gguf")  # bigger, but not CodeGen
    (store.models_dir() / "broken.gguf").write_bytes(b"not a gguf")
    choice = choose_model(None)
    assert choice.path.name == "codegen-big.gguf" and "largest installed CodeGen" in choice.reason
    assert "--model smollm2 picks the embedded one" in choice.reason  # says what it was picked over
    assert {m.name for m in store.installed()} == {"codegen-small", "codegen-big", "not-codegen"}
    for name in ("smollm2", "SmolLM2", "SmolLM2-135M-Instruct.Q4_1.gguf"):  # by name, whatever is installed
        assert choose_model(name).path == embedded_default()
    with pytest.raises(ModelNotFound, match="Did you mean smollm2"):
        choose_model("smal")


def test_installed_names_and_suggestions(isolated_home, codegen1):
    store.models_dir().mkdir()
    convert(codegen1.path, store.models_dir() / "codegen-350M-mono.gguf", "q4_0")
    assert choose_model("codegen-350M-mono").path == store.models_dir() / "codegen-350M-mono.gguf"
    with pytest.raises(ModelNotFound, match="Did you mean codegen-350M-mono"):
        choose_model("codegen-350M-mon")
    with pytest.raises(ModelNotFound, match="does not exist"):
        choose_model("/no/such/file.gguf")


def test_a_catalog_name_that_is_not_installed_says_how_to_get_it(isolated_home):
    with pytest.raises(ModelNotFound, match="known model but not installed") as info:
        choose_model("codegen-350M-mono:q8_0")
    assert "cga models pull codegen-350M-mono:q8_0" in str(info.value)
    with pytest.raises(ModelNotFound, match="Did you mean codegen2-1B"):
        choose_model("codegen2-1b-x")


def test_catalog_covers_every_public_checkpoint():
    from cga.models.catalog import CATALOG, lookup

    assert len(CATALOG) == 12 + 4 + 3 + 3
    assert lookup("codegen2-3_7B").mp_num == 8 and lookup("codegen2-7B").mp_num == 4
    assert lookup("codegen25-7b-mono").family == "codegen25" and lookup("codegen25-7b-mono").infill
    assert lookup("CODEGEN-16B-MULTI").hub_id == "Salesforce/codegen-16B-multi"
    assert lookup("codegen-350M-mono").memory_gb("q4_k_m") < lookup("codegen-350M-mono").memory_gb("f16")


def test_names_and_paths_with_brackets_are_shown_as_written(tmp_path, codegen2_gguf):
    import shutil

    from tests.run_cli import run_cga

    home = tmp_path / "home [v2] [/]"
    (home / "models").mkdir(parents=True)
    shutil.copy(codegen2_gguf, home / "models" / "tiny.gguf")
    listed = run_cga("models", "list", env={"CGA_HOME": str(home)}, timeout=120)
    info = run_cga("models", "info", "tiny", env={"CGA_HOME": str(home)}, timeout=120)
    for result in (listed, info):
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "home [v2] [/]" in listed.stdout.replace("\n", "") and "tiny" in listed.stdout
    assert str(home / "models" / "tiny.gguf") in info.stdout.replace("\n", "")
