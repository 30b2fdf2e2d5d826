from __future__ import annotations

# llama_cpp before numpy/torch, as in the CLI (see assistant/cli/app.py).
import assistant.native  # noqa: F401

import pytest

from assistant.engine import Engine
from assistant.model_choice import embedded_default
from convert.pipeline import convert
from tests.builders import build_codegen, build_codegen25


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test touches the real user directories."""
    home = tmp_path_factory.mktemp("cga-home")
    monkeypatch.setenv("CGA_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def codegen1(tmp_path_factory):
    return build_codegen(tmp_path_factory.mktemp("codegen1") / "ckpt")


@pytest.fixture(scope="session")
def codegen2_mp8(tmp_path_factory):
    """The codegen2-1B layout: 8 qkv blocks, special infill tokens, sharded .bin."""
    return build_codegen(
        tmp_path_factory.mktemp("codegen2") / "ckpt", n_embd=256, n_head=8, mp_num=8, infill=True,
        storage="bin", shards=3, seed=1,
    )


@pytest.fixture(scope="session")
def codegen25(tmp_path_factory):
    return build_codegen25(tmp_path_factory.mktemp("codegen25") / "ckpt", seed=2)


@pytest.fixture(scope="session")
def smollm() -> Engine:
    return Engine(embedded_default(), threads=2, n_ctx=512)


@pytest.fixture(scope="session")
def codegen2_gguf(codegen2_mp8, tmp_path_factory):
    return convert(codegen2_mp8.path, tmp_path_factory.mktemp("engine") / "c2.q8_0.gguf", "q8_0").path


@pytest.fixture(scope="session")
def codegen2(codegen2_gguf) -> Engine:
    return Engine(codegen2_gguf, threads=2, n_ctx=512)
