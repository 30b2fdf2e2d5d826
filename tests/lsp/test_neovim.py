"""Real Neovim (the one installed: Debian's 0.7 in CI) with our plugin, against `cga lsp`.

pynvim starts `nvim --embed --headless` and types through Neovim's input queue, as
a keyboard does: insert mode, autoindent, autocommands, mappings and the LSP client
all run for real. What a person would see is read back from the buffer and from
the plugin's extmarks (the ghost text).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from assistant.model_choice import embedded_default

pynvim = pytest.importorskip("pynvim")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("nvim") is None,
                                                  reason="Neovim is not installed (.ci/run installs Debian's)")]

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "lsp" / "editors" / "nvim"
SERVER = [sys.executable, "-m", "cli", "lsp"]


class Neovim:
    def __init__(self, nvim, path: Path) -> None:
        self.nvim, self.path = nvim, path

    def wait(self, what: str, check, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"Neovim: timed out waiting for {what}; messages: {self.notes()}")

    def lines(self) -> list[str]:
        return self.nvim.current.buffer[:]

    def notes(self) -> list[str]:
        return self.nvim.exec_lua("return _G.cga_test_notes")

    def ghost(self) -> str | None:
        """The suggestion drawn at the cursor: its virtual text and virtual lines, as it would be inserted."""
        ns = self.nvim.api.get_namespaces().get("cga_ghost")
        marks = self.nvim.api.buf_get_extmarks(0, ns, 0, -1, {"details": True}) if ns is not None else []
        if not marks:
            return None
        (_, _, _, details), = marks
        first = details["virt_text"][0][0]
        rest = ["".join(chunk[0] for chunk in line) for line in details.get("virt_lines", [])]
        return "\n".join([first, *rest])

    def type(self, keys: str) -> None:
        self.nvim.input(keys)


@pytest.fixture
def neovim(tmp_path, monkeypatch):
    def start(text: str, cmd: list[str] = SERVER, settings: dict | None = None) -> Neovim:
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        path = tmp_path / "example.py"
        path.write_text(text)
        nvim = pynvim.attach("child", argv=["nvim", "--embed", "--headless", "--clean", "-n"])
        started.append(nvim)
        nvim.exec_lua("""
            local plugin, cmd, settings = ...
            vim.opt.runtimepath:prepend(plugin)
            vim.cmd("filetype plugin indent on")
            _G.cga_test_notes = {}
            vim.notify = function(message) table.insert(_G.cga_test_notes, message) end
            print = function(...) table.insert(_G.cga_test_notes, table.concat({...}, " ")) end
            require("cga").setup({ cmd = cmd, settings = settings })
        """, str(PLUGIN), cmd, settings or {"model": str(embedded_default()), "threads": 2, "maxTokens": 64})
        nvim.command(f"cd {tmp_path} | edit {path}")
        return Neovim(nvim, path)

    started: list = []
    yield start
    for nvim in started:
        try:
            nvim.command("qa!")
        except Exception:  # noqa: BLE001  (Neovim is gone: the point of qa!)
            pass


def attached(editor: Neovim) -> None:
    editor.wait("the cga client to attach", lambda: editor.nvim.exec_lua(
        "local c = require('cga').client(0); return c ~= nil and c.server_capabilities ~= nil"))


# A real (small) trained model: after this header it writes a whole function body.
TEXT = "import os\n\n\n\n"
TYPED = ["import os", "", "", "def fibonacci(n):", "    "]


def test_ghost_text_appears_while_typing_and_tab_inserts_exactly_it(neovim):
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    assert editor.lines() == TYPED  # shown, not inserted
    assert "\n" in suggestion  # the first line at the cursor, the others as virtual lines below
    editor.type("<Tab>")
    editor.wait("the suggestion to be inserted", lambda: len(editor.lines()) > len(TYPED))
    expected = "\n".join(TYPED) + suggestion
    assert "\n".join(editor.lines()) == expected
    assert not any("\x00" in line for line in editor.lines())
    editor.type("<Esc>")
    editor.wait("the ghost text to go", lambda: editor.ghost() is None)


def test_a_word_or_a_line_of_the_suggestion_and_dismiss(neovim):
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    first_line = suggestion.split("\n", 1)[0]
    word = first_line.split()[0]
    editor.type("<C-Right>")
    editor.wait("a word to be accepted", lambda: editor.lines()[-1] == "    " + word)
    assert editor.ghost() == suggestion[len(word):]  # the rest is still shown, after the new cursor
    editor.type("<C-Down>")
    editor.wait("the line to be accepted", lambda: editor.lines()[-1] == "    " + first_line)
    assert editor.ghost() == suggestion[len(first_line):]
    editor.type("<C-]>")
    editor.wait("the ghost text to be dismissed", lambda: editor.ghost() is None)
    assert editor.lines()[-1] == "    " + first_line


def test_next_and_previous_show_the_servers_alternatives(neovim):
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    first = editor.wait("ghost text", editor.ghost)
    # <M-]> asks for alternatives (the greedy one, then samples) and shows the second; a sample that does not
    # fit the document is left out, so a small model may need a second ask.
    for _ in range(5):
        editor.type("<M-]>")
        try:
            other = editor.wait("another suggestion", lambda: editor.ghost() not in (None, first) and editor.ghost(), 30)
            break
        except AssertionError:
            continue
    editor.type("<M-[>")
    editor.wait("the first suggestion again", lambda: editor.ghost() == first)
    assert editor.lines() == TYPED and other != first


def test_stale_answers_are_dropped_and_typing_on_asks_again(neovim):
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    editor.wait("ghost text", editor.ghost)
    editor.type("x")  # typed over the suggestion: it goes at once, and a new one (for the new text) may come
    editor.wait("the old suggestion to go", lambda: editor.ghost() is None or not editor.ghost().startswith("if"))
    assert editor.lines()[-1] == "    x"


def popup_items(editor: Neovim) -> list[dict]:
    """The items of the insert-mode completion in progress."""
    return editor.nvim.funcs.complete_info(["items"])["items"]


def test_popup_after_a_word_character_and_multi_line_popup(neovim):
    editor = neovim(TEXT)
    attached(editor)
    editor.nvim.command("set completeopt=menu,menuone")  # the menu even for one item, as LSP setups have it
    # The multi-line answer through the popup: the same text the ghost text showed, on real lines.
    editor.type("GAdef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    editor.type("<C-]><C-x><C-o>")
    editor.wait("the popup", lambda: editor.nvim.funcs.pumvisible())
    editor.type("<C-y>")
    editor.wait("the popup item to be inserted", lambda: len(editor.lines()) > len(TYPED))
    assert "\n".join(editor.lines()) == "\n".join(TYPED) + suggestion
    assert not any("\x00" in line for line in editor.lines())
    # After a word character the item still shows (its text starts with the word) and completes the word.
    editor.type("<Esc>Goprint(len(o<C-x><C-o>")
    editor.wait("the popup after a word character", lambda: editor.nvim.funcs.pumvisible())
    items = popup_items(editor)
    assert items and all(item["word"].startswith("o") for item in items), items
    editor.type("<C-y><Esc>")
    editor.wait("insert mode to end", lambda: editor.nvim.api.get_mode()["mode"] == "n")
    assert editor.lines()[-1].strip() == "print(len(" + items[0]["word"]  # after Vim's autoindent


def test_the_popup_before_the_server_is_up_says_so_instead_of_E764(neovim):
    editor = neovim(TEXT, cmd=[sys.executable, "-c", "import time; time.sleep(60)"])
    editor.type("GAx<C-x><C-o>")
    editor.wait("the message", lambda: any("still starting" in note for note in editor.notes()))
    assert editor.nvim.vvars["errmsg"] == ""


def test_refine_applies_a_labelled_edit_and_u_undoes_it(neovim):
    source = "import math\n\n\ndef area(r):\n    x = math.pi * r * r\n    return x\n\n\nprint(area(2))\n"
    editor = neovim(source)
    attached(editor)
    original = editor.lines()
    editor.nvim.api.win_set_cursor(0, [5, 4])  # inside area()
    editor.nvim.command("CgaRefine Add a docstring.")  # returns at once; the edit comes when the model is done
    refined = editor.wait("the refinement", lambda: editor.lines() != original and editor.lines())
    assert refined[:3] == original[:3] and refined[-3:] == original[-3:]  # only the function changed
    assert any("Refine: Add a docstring." in note for note in editor.notes())  # the edit's label, for people
    editor.nvim.command("normal! u")
    assert editor.lines() == original


def test_a_refinement_that_cannot_run_is_explained_once(neovim):
    editor = neovim("x = 1\n")
    attached(editor)
    editor.nvim.command("CgaFollowUp Add types.")  # the server's error message reaches vim.notify as "LSP[cga] …"
    editor.wait("the explanation", lambda: any("refine a selection first" in note for note in editor.notes()))
    time.sleep(1)  # anything else that would say it again has arrived by now
    said = [note for note in editor.notes() if "refine a selection first" in note]
    assert len(said) == 1, editor.notes()
