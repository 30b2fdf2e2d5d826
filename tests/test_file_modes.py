"""Files that hold the user's code are the owner's alone, whatever the umask; other files honour it
(issue 41, item 8: conversations were 0644 under umask 077)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure

WRITE = """
import os, sys
from pathlib import Path
from cga.assistant import conversation_store
from cga.assistant.conversation import Conversation
from cga.core.atomic_files import private_file, write_atomically
home = Path(os.environ["CGA_HOME"])
conversation = Conversation()
conversation.add("Read a secret.", "key = 'sk-0123'")
conversation_store.save(conversation, "mine")
write_atomically(home / "report.json", b"{}")
private_file(home / "chat_history")
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize("umask, shared", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_conversations_and_history_are_private_and_the_rest_honours_the_umask(tmp_path, umask, shared):
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-c", WRITE],
        env={**os.environ, "CGA_HOME": str(home)},
        preexec_fn=lambda: os.umask(umask),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert mode(home / "conversations" / "mine.json") == 0o600
    assert mode(home / "chat_history") == 0o600
    assert mode(home / "report.json") == shared


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_a_history_file_left_readable_by_an_older_version_is_made_private(tmp_path):
    from cga.core.atomic_files import private_file

    history = tmp_path / "chat_history"
    history.write_text("+def f\n")
    history.chmod(0o644)
    private_file(history)
    assert mode(history) == 0o600 and history.read_text() == "+def f\n"
