"""The pure tier runs alone, fast, and refuses a heavy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pure(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "pure", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_the_pure_tier_runs_without_llama_cpp_or_torch():
    result = pure("tests")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    passed = int(result.stdout.split(" passed")[0].split()[-1])
    assert passed >= 80  # the LSP service, positions, windows, settings, stopping rules, the layer check


def test_a_pure_test_that_imports_llama_cpp_fails_the_tier(tmp_path):
    (tmp_path / "test_heavy.py").write_text(
        "import pytest\nimport llama_cpp\n\npytestmark = pytest.mark.pure\n\n\ndef test_x():\n    assert llama_cpp\n"
    )
    result = pure("-p", "tests.conftest", "--rootdir", str(tmp_path), str(tmp_path), cwd=ROOT)
    assert result.returncode == 1 and "The pure tier imported llama_cpp" in result.stderr, result.stdout + result.stderr
