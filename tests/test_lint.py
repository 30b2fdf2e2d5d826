"""The habits of the field, run by the test command that CI runs: ruff's lint rules and its formatting.

The rules are chosen in pyproject.toml ([tool.ruff.lint]); `ruff format .` and `ruff check --fix .` mend most
findings. No type checker runs yet (issue 21).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure
ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_code_passes_the_lint_rules():
    done = ruff("check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_code_is_formatted():
    done = ruff("format", "--check", "--no-cache", ".")
    assert done.returncode == 0, "run `ruff format .`:\n" + done.stdout[-4000:] + done.stderr[-2000:]


def test_the_gate_fails_on_a_finding(tmp_path):
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import os\nx = {'a':1}\n")
    assert ruff("check", "--no-cache", ".", cwd=tmp_path).returncode == 1  # an unused import
    assert ruff("format", "--check", "--no-cache", ".", cwd=tmp_path).returncode == 1
