"""The habits of the field, run by the test command that CI runs: ruff's lint rules, its formatting, mypy, and
luacheck over the Neovim plugin (the VS Code extension's ESLint runs where tests/lsp/test_vscode.py packages it).

The rules are chosen in pyproject.toml ([tool.ruff.lint], [tool.mypy]) and lsp/editors/nvim/.luacheckrc; `ruff format .` and `ruff check --fix .`
mend most findings. mypy reads the packages by their installed names (cga.core, …), which setuptools maps onto
the repository's top-level folders; mypy cannot follow that mapping (nor setuptools' editable finder), so the
check reads them through a tree of links named as installed (`type_check_tree`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure
ROOT = Path(__file__).resolve().parents[1]


TREE = ROOT / ".mypy_cache" / "installed-names"  # one place, so that mypy's cache holds between runs


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


def type_check_tree(at: Path) -> Path:
    """Links named as installed: at/cga/<package> -> the folder setuptools maps it from, and bench/, tests/."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(at, ignore_errors=True)
    (at / "cga").mkdir(parents=True)
    links = {f"cga/{name.removeprefix('cga.')}": folder for name, folder in mapping.items()}
    try:
        for link, folder in {**links, "bench": "bench", "tests": "tests"}.items():
            os.symlink(ROOT / folder, at / link, target_is_directory=True)
    except OSError as exc:  # Windows without the right to make links
        pytest.skip(f"cannot link the packages under their installed names here ({exc})")
    return at


def mypy(tree: Path, *packages: str) -> subprocess.CompletedProcess:
    args = ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache")]
    for package in packages:
        args += ["-p", package]
    return subprocess.run(
        [sys.executable, "-m", "mypy", *args],
        cwd=tree,
        env={**os.environ, "MYPYPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_code_passes_the_type_checker():
    done = mypy(type_check_tree(TREE), "cga", "bench")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "no issues found" in done.stdout


def test_the_type_gate_fails_on_a_finding(tmp_path):
    tree = type_check_tree(tmp_path / "tree")
    (tree / "typo_pkg").mkdir()
    (tree / "typo_pkg" / "__init__.py").write_text(
        "from cga.core.wording import plural\n\nwords: str = plural('one', 'file')\n"
    )
    done = mypy(tree, "typo_pkg")
    assert done.returncode == 1 and "arg-type" in done.stdout, done.stdout


NVIM_PLUGIN = ROOT / "lsp" / "editors" / "nvim"


def luacheck(folder: Path) -> subprocess.CompletedProcess:
    if shutil.which("luacheck") is None:
        pytest.skip("luacheck is not installed (Debian: apt install lua-check; .ci/run installs it)")
    return subprocess.run(["luacheck", "--no-color", "."], cwd=folder, capture_output=True, text=True, timeout=120)


def test_the_neovim_plugin_passes_luacheck():
    done = luacheck(NVIM_PLUGIN)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_lua_gate_fails_on_a_finding(tmp_path):
    shutil.copy(NVIM_PLUGIN / ".luacheckrc", tmp_path)
    (tmp_path / "bad.lua").write_text("local unused = vim.fn.getline(1)\nundefined_global()\n")
    done = luacheck(tmp_path)
    assert done.returncode != 0 and "unused" in done.stdout and "undefined_global" in done.stdout, done.stdout
