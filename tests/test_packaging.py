"""What `pip install` puts in site-packages: one import name, `cga` (issue 21), whatever folders sit beside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cga.core.child_command import child_command

pytestmark = pytest.mark.pure
ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("assistant", "cli", "convert", "core", "evaluation", "lsp", "models")


def test_the_wheel_adds_one_top_level_import_name(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("codegen_assistant-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert tops == {"cga"}
    assert {f"cga/{folder}/__init__.py" for folder in FOLDERS} <= set(names)
    assert "cga/evaluation/data/mtpb.jsonl" in names  # the benchmark's data travels with its package
    # The editor clients `cga editor` installs (issue 42, item 7), and not the plugin's lint setup.
    assert {
        "cga/lsp/editors/nvim/lua/cga/init.lua",
        "cga/lsp/editors/nvim/doc/cga.txt",
        "cga/lsp/editors/nvim/doc/tags",
        "cga/lsp/editors/emacs/cga.el",
    } <= set(names)
    assert not any(name.endswith(".luacheckrc") or "node_modules" in name for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "cga = cga.cli.app:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_a_child_of_ours_imports_the_installed_package_not_a_folder_in_the_current_directory(tmp_path):
    """The quantizer, the benchmark and the bare language server are started by child_command; a user's own
    `cga` (or `lsp`, `convert`, …) folder where the command runs must not take their place."""
    for name in ("cga", *FOLDERS):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise SystemExit('the folder in the current directory ran')\n")
    done = subprocess.run(
        child_command("cga.lsp.__main__", "main"), cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "usage: python -m cga.lsp SETTINGS_JSON" in done.stderr, done.stderr
    bare = subprocess.run(
        [sys.executable, "-c", "import cga.lsp.__main__"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "the folder in the current directory ran" in bare.stderr  # what the child avoids
