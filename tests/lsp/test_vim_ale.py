"""Vim 9 + ALE (Debian's `vim-ale`) against `cga lsp`, in a real terminal (tmux): what completion saves.

ALE advertises no snippet support, so it gets one line per popup item (lsp/completion_items.py); before, a
multi-line item went in as one line with NUL bytes and the client's and server's documents drifted apart.
The user's defaults: `:set omnifunc=ale#completion#OmniFunc`, Vim's own 'completeopt'.

The test types once ALE has its server up and the file open, as a user who starts typing a moment after opening
a file does. Before that, ALE (4.0) sends the file when the server's `initialize` answer comes, and if that is
during CTRL-X CTRL-O's wait, Vim has taken the word being completed out of the buffer for the popup: the server
gets the line without it and suggests for the wrong text (a clean-clone CI run caught it, under load).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cga.assistant.model_choice import embedded_default
from tests.lsp.raw_client import RawServer

ROOT = Path(__file__).resolve().parents[2]
ALE = Path("/usr/share/vim-ale")
MISSING = [
    name
    for name, there in (("vim", shutil.which("vim")), ("tmux", shutil.which("tmux")), ("ALE", ALE.is_dir()))
    if not there
]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{' and '.join(MISSING)} not installed (.ci/run installs Debian's vim, tmux and vim-ale)",
    ),
]
# No time limit: the server's answer and the one Vim saves are compared, and a clock would cut them apart.
SETTINGS = {"model": str(embedded_default()), "threads": 2, "maxTokens": 64, "blockTimeLimitMs": 0}


def server_answer(text: str) -> str:
    """The server's suggestion at the end of text, asked in raw JSON-RPC of a server of its own."""
    with RawServer() as server:
        server.initialize(SETTINGS)
        uri = "file:///answer/example.py"
        server.open(uri, text)
        lines = text.split("\n")
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "textDocument/inlineCompletion",
                "params": {
                    "textDocument": {"uri": uri},
                    "position": {"line": len(lines) - 1, "character": len(lines[-1])},
                    "context": {"triggerKind": 2},
                },
            }
        )
        items = server.response(2)["result"]["items"]
        server.shut_down()
    return items[0]["insertText"] if items else ""


def vimrc(folder: Path) -> Path:
    path = folder / "vimrc"
    options = repr(SETTINGS).replace("'", '"')
    path.write_text(f"""set nocompatible
set runtimepath^={ALE}
filetype plugin indent on
let g:ale_linters = {{'python': ['cga']}}
call ale#linter#Define('python', {{'name': 'cga', 'lsp': 'stdio', 'executable': '{sys.executable}',
\\ 'command': '%e -m cga.cli lsp', 'project_root': '{folder}', 'initialization_options': {options}}})
set omnifunc=ale#completion#OmniFunc
function! CgaReady() abort
  let l:ready = filter(values(ale#lsp#GetConnections()), 'v:val.initialized && !empty(v:val.open_documents)')
  call writefile([len(l:ready)], '{folder}/ale-ready')
endfunction
""")
    return path


@pytest.mark.parametrize(
    "typed",
    [
        "def fibonacci(n):\n    ",  # a block opener: the block's first line (the rest is not Vim's popup's to insert)
        "def add(a, b):\n    return a ",  # after a typed space
        "import os\n\nfiles = os.",  # after a dot
        "def add(a, b):\n    return",  # right after a word
        'def greet(naïve_user):\n    print("héllo", naïve_',  # after letters of two bytes and one UTF-16 unit
        "for i in range(1",  # after a digit, which ALE's completion does not count as part of a word
    ],
)
def test_ale_completion_saves_exactly_what_ale_takes_of_the_servers_first_line(typed, tmp_path):
    answer = server_answer(typed)
    first = answer.split("\n", 1)[0]
    assert first.strip()
    # ALE puts in an item's text up to its first `(` (its completion is made for names): that much, exactly
    inserted = first.split("(", 1)[0]
    shown = (typed.split("\n")[-1] + inserted).rstrip()  # the cursor's line once the item is in
    path = tmp_path / "example.py"
    path.write_text("")
    session = f"cga-ale-{tmp_path.name}"[:60]
    tmux = ["tmux", "-L", session]
    subprocess.run(
        [
            *tmux,
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "40",
            "-s",
            session,
            f"cd {tmp_path} && PYTHONPATH={ROOT} vim -N -u {vimrc(tmp_path)} -i NONE {path}",
        ],
        check=True,
    )
    try:
        ready = tmp_path / "ale-ready"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (ready.exists() and ready.read_text().strip() == "1"):
            subprocess.run([*tmux, "send-keys", "-t", session, ":call CgaReady()", "Enter"], check=True)
            time.sleep(0.3)
        assert ready.read_text().strip() == "1", "ALE did not start the server and open the file within 120 s"
        subprocess.run([*tmux, "send-keys", "-t", session, "i"], check=True)
        for n, line in enumerate(typed.split("\n")):
            if n:  # Vim's Python indent puts the indentation in after Enter: type what comes after it
                subprocess.run([*tmux, "send-keys", "-t", session, "Enter"], check=True)
            if line.strip():
                subprocess.run([*tmux, "send-keys", "-t", session, "-l", line.lstrip() if n else line], check=True)
        time.sleep(0.5)
        subprocess.run([*tmux, "send-keys", "-t", session, "C-x", "C-o"], check=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            screen = subprocess.run([*tmux, "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout
            if shown in (line.rstrip() for line in screen.splitlines()):
                break
            time.sleep(0.2)
        subprocess.run([*tmux, "send-keys", "-t", session, "Escape", ":w", "Enter"], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not path.read_text():
            time.sleep(0.1)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    saved = path.read_bytes().decode("utf-8")
    assert "\x00" not in saved
    assert saved == typed + inserted + "\n", (saved, answer)
