"""The benchmark scripts still import: they are run by hand, so nothing else notices when a module moves."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[1] / "bench").glob("*.py") if not p.stem.startswith("_")
)  # _name: a helper the scripts share, not a script


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_imports(script):
    module = importlib.import_module(f"bench.{script}")
    assert callable(getattr(module, "main", None)), f"bench/{script}.py has no main()"
