"""The VS Code extension builds with npm and tsc, and its manifest matches its code and the server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lsp.settings import CAMEL

EXTENSION = Path(__file__).resolve().parents[2] / "lsp" / "editors" / "vscode"


def manifest() -> dict:
    return json.loads((EXTENSION / "package.json").read_text())


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_extension_builds_with_npm_and_tsc(tmp_path):
    build = tmp_path / "vscode"
    shutil.copytree(EXTENSION, build, ignore=shutil.ignore_patterns("node_modules", "out"))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=build, check=True, capture_output=True, timeout=600)
    subprocess.run(["npm", "run", "compile"], cwd=build, check=True, capture_output=True, timeout=600)
    script = (build / manifest()["main"]).with_suffix(".js")
    assert script.is_file()
    node = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert node.returncode == 0, node.stderr


def test_every_contributed_command_is_registered_and_bound():
    code = (EXTENSION / "src" / "extension.ts").read_text()
    registered = set(re.findall(r'registerCommand\("([\w.]+)"', code))
    contributed = {c["command"] for c in manifest()["contributes"]["commands"]}
    assert contributed == registered
    bound = {k["command"] for k in manifest()["contributes"]["keybindings"]}
    assert {"codegenAssistant.refine", "codegenAssistant.followUp", "codegenAssistant.undo"} <= bound


def test_extension_sends_only_commands_and_settings_the_server_knows():
    import lsp.server  # registers the commands

    code = (EXTENSION / "src" / "extension.ts").read_text()
    sent = set(re.findall(r'runServerCommand\("([\w.]+)"', code))
    assert sent == {"cga.refine", "cga.followUp", "cga.undo", "cga.reset"}
    assert sent <= set(lsp.server.server.protocol.fm.commands)
    settings = {key.removeprefix("cga.") for key in manifest()["contributes"]["configuration"]["properties"]}
    assert settings - {"command"} <= set(CAMEL)
