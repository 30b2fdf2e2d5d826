from __future__ import annotations

import pytest

from assistant.engine import Engine
from assistant.model_choice import embedded_default
from convert.pipeline import convert


@pytest.fixture(scope="session")
def smollm() -> Engine:
    return Engine(embedded_default(), threads=2, n_ctx=512)


@pytest.fixture(scope="session")
def codegen2_gguf(codegen2_mp8, tmp_path_factory):
    return convert(codegen2_mp8.path, tmp_path_factory.mktemp("engine") / "c2.q8_0.gguf", "q8_0").path


@pytest.fixture(scope="session")
def codegen2(codegen2_gguf) -> Engine:
    return Engine(codegen2_gguf, threads=2, n_ctx=512)
