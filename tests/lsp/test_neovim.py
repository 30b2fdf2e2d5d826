"""A real editor: headless Neovim's built-in LSP client, through our plugin, against `cga lsp`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "def add(a, b):\n    total = a + b\n    return total\n\n\ndef main():\n    "


@pytest.mark.skipif(shutil.which("nvim") is None, reason="Neovim is not installed (.ci/run installs Debian's)")
def test_neovim_completes_refines_and_undoes(tmp_path, codegen2_gguf):
    source = tmp_path / "example.py"
    source.write_text(SOURCE)
    out = tmp_path / "report.json"
    env = dict(
        os.environ,
        CGA_PLUGIN=str(ROOT / "lsp" / "editors" / "nvim"),
        CGA_CMD=json.dumps([sys.executable, "-m", "assistant.cli", "lsp"]),
        CGA_SETTINGS=json.dumps({"model": str(codegen2_gguf), "threads": 2, "maxTokens": 8}),
        CGA_FILE=str(source),
        CGA_TEST_OUT=str(out),
        PYTHONPATH=str(ROOT),
    )
    subprocess.run(["nvim", "--headless", "--clean", "-c", f"luafile {ROOT / 'tests/lsp/nvim/driver.lua'}"],
                   env=env, cwd=tmp_path, timeout=600, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    report = json.loads(out.read_text())
    assert report["ok"], report
    assert report["steps"] == ["opened", "attached", "completed", "refined", "undone"]
    # Popup completion through the built-in client; inline only where Neovim has it.
    assert report.get("completion_error") is None, report
    assert len(report["completion"]) == 1 and isinstance(report["completion"][0], str)
    if not report["has_inline"]:
        assert report["omnifunc"] in ("v:lua.vim.lsp.omnifunc", "")
    # The refinement came back as workspace/applyEdit, which Neovim applied; undo put the original back.
    assert report["refine"]["applied"] is True and report["refine"]["turns"] == 1
    assert report["refined"] != report["original"]
    assert report["refined"][-3:] == ["", "def main():", "    "]  # only the function at the cursor changed
    assert report["undone"] == report["original"] == SOURCE.split("\n")
