"""The VS Code extension's manifest matches its code and the server (tests/lsp/test_vscode.py runs it for real)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cga.lsp.settings import CAMEL, CLIENT_ONLY

EXTENSION = Path(__file__).resolve().parents[2] / "lsp" / "editors" / "vscode"


def manifest() -> dict:
    return json.loads((EXTENSION / "package.json").read_text())


def test_every_contributed_command_is_registered_and_bound():
    code = (EXTENSION / "src" / "extension.ts").read_text()
    registered = set(re.findall(r'registerCommand\("([\w.]+)"', code))
    contributed = {c["command"] for c in manifest()["contributes"]["commands"]}
    assert contributed == registered
    bound = {k["command"] for k in manifest()["contributes"]["keybindings"]}
    assert {"codegenAssistant.refine", "codegenAssistant.followUp", "codegenAssistant.undo"} <= bound


def test_extension_sends_only_commands_and_settings_the_server_knows():
    import cga.lsp.server  # registers the commands

    code = (EXTENSION / "src" / "extension.ts").read_text()
    sent = set(re.findall(r'runServerCommand\("([\w.]+)"', code))
    assert sent == {"cga.refine", "cga.followUp", "cga.undo", "cga.reset"}
    assert sent <= set(cga.lsp.server.server.protocol.fm.commands)
    sent_settings = set(re.findall(r'^  "(\w+)",$', code.split("SERVER_SETTINGS = [", 1)[1].split("]", 1)[0], re.M))
    settings = {
        key.removeprefix("cga.").split(".")[0] for key in manifest()["contributes"]["configuration"]["properties"]
    }
    assert sent_settings == set(CAMEL)  # every server setting, and nothing the server would call unknown
    assert settings == set(CAMEL) | CLIENT_ONLY
