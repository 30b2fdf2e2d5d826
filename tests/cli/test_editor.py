"""`cga editor`: each client installed where the real editor finds it, and --check asking the editor itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.run_cli import run_cga

pytestmark = pytest.mark.slow  # real Neovim and Emacs, started headless with the user's configuration


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    """A user's home of their own: the editors find their configuration and data folders in it."""
    folder = tmp_path / "home"
    folder.mkdir()
    drop = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "NVIM_APPNAME")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "HOME": str(folder)}


def cga(env: dict[str, str], *args: str):
    return run_cga("editor", *args, env=env)


@pytest.mark.skipif(shutil.which("nvim") is None, reason="Neovim is not installed (.ci/run installs Debian's)")
def test_neovim_install_then_check_in_the_users_own_neovim(home):
    root = Path(home["HOME"])
    missing = cga(home, "neovim", "--check")
    assert missing.returncode == 1 and "Neovim does not find the plugin; run `cga editor neovim`" in missing.stdout
    installed = cga(home, "neovim")
    assert installed.returncode == 0, installed.stderr
    plugin = root / ".local" / "share" / "nvim" / "site" / "pack" / "cga" / "start" / "cga"
    assert f"Installed the Neovim plugin in {plugin}." in installed.stdout
    assert (plugin / "lua" / "cga" / "init.lua").is_file() and (plugin / "doc" / "tags").is_file()
    assert not list(plugin.parent.glob("*.partial")) and not list(plugin.parent.glob("*.old"))
    unset = cga(home, "neovim", "--check")
    assert unset.returncode == 1 and 'your init.lua does not call require("cga").setup()' in unset.stdout
    config = root / ".config" / "nvim"
    config.mkdir(parents=True)
    (config / "init.lua").write_text('require("cga").setup()\n')  # the one line the install printed
    assert 'require("cga").setup()' in installed.stdout
    ready = cga(home, "neovim", "--check")
    assert ready.returncode == 0 and "The editor finds the client." in ready.stdout, ready.stdout + ready.stderr
    # An upgrade of cga since: the copy Neovim loads is older, and installing again replaces it whole.
    (plugin / "lua" / "cga" / "ghost.lua").write_text("-- an older release\n")
    stale = cga(home, "neovim", "--check")
    assert stale.returncode == 1 and "is older than this cga (lua/cga/ghost.lua)" in stale.stdout
    assert cga(home, "neovim").returncode == 0 and cga(home, "neovim", "--check").returncode == 0


def test_an_install_that_cannot_be_written_is_one_sentence_and_leaves_nothing(home, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    refused = cga(home, "neovim", "--dest", str(blocked / "cga"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("Error: Could not install into") and "choose another with --dest" in refused.stderr
    assert blocked.read_text() == "not a folder"


@pytest.mark.skipif(shutil.which("emacs") is None, reason="Emacs is not installed (.ci/run installs Debian's)")
def test_emacs_install_then_check_in_the_users_own_emacs(home):
    root = Path(home["HOME"])
    assert cga(home, "emacs", "--check").returncode == 1
    installed = cga(home, "emacs")
    assert installed.returncode == 0, installed.stderr
    target = root / ".emacs.d" / "cga"
    assert (target / "cga.el").is_file() and f"Installed cga.el in {target}." in installed.stdout
    unset = cga(home, "emacs", "--check")
    assert unset.returncode == 1 and f"add the load-path line for {target}" in unset.stdout
    printed = installed.stdout.split("init file:\n\n", 1)[1].split("\n\n", 1)[0]  # the lines to paste
    assert printed.lstrip().startswith("(add-to-list 'load-path")
    (root / ".emacs").write_text(printed + "\n")
    ready = cga(home, "emacs", "--check")
    assert ready.returncode == 0 and "The editor finds the client." in ready.stdout, ready.stdout + ready.stderr


def test_vscode_without_code_or_with_a_missing_file_is_one_sentence(home, tmp_path):
    bare = {**home, "PATH": str(tmp_path)}  # no `code` on it
    refused = cga(bare, "vscode")
    assert refused.returncode == 1 and "VS Code's `code` command is not on PATH" in refused.stderr
    code = tmp_path / "code"
    code.write_text("#!/bin/sh\nexit 0\n")
    code.chmod(0o755)
    missing = cga(bare, "vscode", "--vsix", str(tmp_path / "nothing.vsix"))
    assert missing.returncode == 1 and "nothing.vsix is not a file" in missing.stderr
    assert "Traceback" not in refused.stderr + missing.stderr
