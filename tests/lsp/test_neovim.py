"""Real Neovim with our plugin, against `cga lsp`: Debian's 0.7, and for what lands in the file 0.11.4 and
0.12-dev too (tests/lsp/neovim_builds.py), each with its default options.

pynvim starts `nvim --embed --headless` and types through Neovim's input queue, as
a keyboard does: insert mode, autoindent, autocommands, mappings and the LSP client
all run for real. What a person would see is read back from the buffer and from
the plugin's extmarks (the ghost text).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from cga.assistant.model_choice import embedded_default
from tests.lsp.neovim_builds import neovim as neovim_build
from tests.prepare import made

pynvim = pytest.importorskip("pynvim")
pytestmark = pytest.mark.slow
BUILDS = ["0.7", "0.11", "0.12"]
GHOST_NAMESPACES = ("cga_ghost", "nvim.lsp.inline_completion")  # the plugin's (before 0.12), Neovim's own

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "lsp" / "editors" / "nvim"
SERVER = [sys.executable, "-m", "cga.cli", "lsp"]


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

    def server_log(self, pattern: str) -> list[re.Match]:
        """What the server wrote to the editor's log (window/logMessage), matched."""
        messages = self.nvim.exec_lua("return _G.cga_test_logs")
        return [m for m in (re.search(pattern, message) for message in messages) if m]

    def ghost(self) -> str | None:
        """The suggestion drawn at the cursor: its virtual text and virtual lines, as it would be inserted."""
        namespaces = self.nvim.api.get_namespaces()
        marks = [
            mark
            for name in GHOST_NAMESPACES
            if (ns := namespaces.get(name)) is not None
            for mark in self.nvim.api.buf_get_extmarks(0, ns, 0, -1, {"details": True})
        ]
        if not marks:
            return None
        ((_, _, _, details),) = marks
        first = details["virt_text"][0][0]
        rest = ["".join(chunk[0] for chunk in line) for line in details.get("virt_lines", [])]
        return "\n".join([first, *rest])

    def type(self, keys: str) -> None:
        self.nvim.input(keys)


def nvim_binary(version: str) -> Path:
    """Debian's 0.7, or a build tests/prepare.py fetched (a skip with the reason where it could not, or was
    told not to)."""
    if version != "0.7":
        return made(f"Neovim {version}")
    binary, why = neovim_build(version)
    if binary is None:
        pytest.skip(f"Neovim {version}: {why}")
    return binary


@pytest.fixture
def nvim_version() -> str:
    return "0.7"  # tests of what lands in the file parametrize this over BUILDS


@pytest.fixture
def neovim(tmp_path, monkeypatch, nvim_version):
    binary = nvim_binary(nvim_version)

    def start(text: str, cmd: list[str] = SERVER, settings: dict | None = None) -> Neovim:
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        path = tmp_path / "example.py"
        path.write_text(text)
        nvim = pynvim.attach("child", argv=[str(binary), "--embed", "--headless", "--clean", "-n"])
        started.append(nvim)
        nvim.exec_lua(
            """
            local plugin, cmd, settings = ...
            vim.opt.runtimepath:prepend(plugin)
            vim.cmd("filetype plugin indent on")
            _G.cga_test_notes = {}
            vim.notify = function(message) table.insert(_G.cga_test_notes, message) end
            print = function(...) table.insert(_G.cga_test_notes, table.concat({...}, " ")) end
            _G.cga_test_logs = {}
            vim.lsp.handlers["window/logMessage"] = function(_, result)
              table.insert(_G.cga_test_logs, result.message)
            end
            require("cga").setup({ cmd = cmd, settings = settings })
        """,
            str(PLUGIN),
            cmd,
            # No block time limit: suggestions compared across requests must not depend on how busy the machine is.
            settings or {"model": str(embedded_default()), "threads": 2, "maxTokens": 64, "blockTimeLimitMs": 0},
        )
        nvim.command(f"cd {tmp_path} | edit {path}")
        return Neovim(nvim, path)

    started: list = []
    yield start
    for nvim in started:
        try:
            nvim.command("qa!")
        except Exception:
            pass


def attached(editor: Neovim) -> None:
    editor.wait(
        "the cga client to attach",
        lambda: editor.nvim.exec_lua(
            "local c = require('cga').client(0); return c ~= nil and c.server_capabilities ~= nil"
        ),
    )


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


@pytest.mark.parametrize("nvim_version", ["0.7", "0.11"])
def test_where_the_cursor_rests_is_read_before_the_user_types_there(neovim):
    # The end of a file longer than the window is read on opening; the cursor then rests in the middle, and
    # the plugin says so: that window is read, and the first keystroke there finds it in the cache.
    text = "".join(f"def handler_{i}(request):\n    return request.send(timeout={i})\n\n" for i in range(120))
    settings = {"model": str(embedded_default()), "threads": 2, "maxTokens": 16, "contextTokens": 512}
    editor = neovim(text, settings=settings)
    attached(editor)
    editor.wait("the file to be read on opening", lambda: editor.server_log("warmed the cache"))
    editor.type("181G")
    rested = r"warmed the cache with (\d+) tokens .* where the cursor rested"
    read = editor.wait("the window where the cursor rested to be read", lambda: editor.server_log(rested))
    assert int(read[-1].group(1)) > 150
    editor.type("ix")
    (prompt, reused), *_ = editor.wait(
        "a suggestion there",
        lambda: [tuple(map(int, m.groups())) for m in editor.server_log(r"prompt (\d+) tokens, (\d+) reused")],
    )
    assert prompt > 150 and prompt - reused <= 8, (prompt, reused)
    assert saved(editor) == text.replace("def handler_60(", "xdef handler_60(")


def saved(editor: Neovim) -> str:
    """What the user's file holds after Esc and :write."""
    editor.type("<Esc>")
    editor.wait("normal mode", lambda: editor.nvim.api.get_mode()["mode"] == "n")
    editor.nvim.command("write")
    return editor.path.read_bytes().decode("utf-8")


def default_completeopt(editor: Neovim) -> str:
    return editor.nvim.command_output("set completeopt?").strip()


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_a_new_file_gets_a_suggestion_at_a_block_opener_and_tab_saves_exactly_it(neovim):
    """Issue 19: the README's example, in a new file, showed no ghost text (the confidence cut emptied it)."""
    editor = neovim("")
    attached(editor)
    editor.type("idef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    assert suggestion.strip()
    editor.type("<Tab>")
    editor.wait("the suggestion to be inserted", lambda: len(editor.lines()) > 2 or editor.lines()[-1].strip())
    assert saved(editor) == "def fibonacci(n):\n    " + suggestion + "\n"


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_keys_typed_as_soon_as_the_file_opens_get_their_suggestion(neovim):
    """Issue 42, item 4: keys sent before the client attached got no ghost text until one more key was pressed
    (the plugin listens for typing only once attached); the last keystroke's suggestion must appear."""
    editor = neovim("")
    editor.type("idef fibonacci(n):<CR>")  # at once: the server is still starting
    editor.wait("the typing", lambda: editor.lines() == ["def fibonacci(n):", "    "])
    suggestion = editor.wait("ghost text for what was typed before the client attached", editor.ghost)
    assert suggestion.strip() and editor.lines() == ["def fibonacci(n):", "    "]
    editor.type("<Tab>")
    editor.wait("the suggestion to be inserted", lambda: len(editor.lines()) > 2 or editor.lines()[-1].strip())
    assert saved(editor) == "def fibonacci(n):\n    " + suggestion + "\n"


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_tab_with_no_suggestion_shown_indents_as_it_always_does(neovim):
    """The plugin maps Tab; where nothing is shown (the top of an empty file, which the server never answers)
    it is the user's Tab, in its place among the keys typed: Python's own settings put four spaces in, then
    the x typed at once after it (the plugin's Tab used to go in behind the x: `x    `)."""
    editor = neovim("")
    attached(editor)
    editor.type("i<Tab>x")
    editor.wait("the typing", lambda: editor.lines()[0].endswith("x"))
    assert saved(editor) == "    x\n"


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_tab_enter_tab_saves_exactly_the_two_suggestions_shown(neovim):
    """Issue 22: the suggestion after the one shown is computed before it is asked for; whatever it is, the
    file holds exactly what the two ghost texts showed, where Neovim's own indentation put the second."""
    editor = neovim("import os\n\n\ndef list_python_files(folder):\n    ")
    attached(editor)
    editor.type("GAfiles = ")
    first = editor.wait("ghost text", editor.ghost)
    before = editor.lines()
    editor.type("<Tab>")
    editor.wait("the suggestion to be inserted", lambda: editor.lines() != before)
    assert "\n".join(editor.lines()) == "\n".join(before) + first
    editor.type("<CR>")
    second = editor.wait("ghost text on the next line", editor.ghost)
    before = editor.lines()
    editor.type("<Tab>")
    editor.wait("the next suggestion to be inserted", lambda: editor.lines() != before)
    assert saved(editor) == "\n".join(before) + second + "\n"


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_typing_the_suggestions_beginning_keeps_showing_its_rest_and_tab_saves_it_whole(neovim, nvim_version):
    """Issue 22, item 2: the characters typed are the suggestion's beginning, so its rest stays shown; the
    plugin (before 0.12) redraws it in the keystroke's own autocommand, with no request, and Neovim 0.12's own
    ghost text gets it from the server at once (the server types through too)."""
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    first_line = suggestion.split("\n", 1)[0]
    assert len(first_line) > 2, suggestion
    editor.type(first_line[:2])
    editor.wait("the typed characters", lambda: editor.lines()[-1] == "    " + first_line[:2])
    if nvim_version != "0.12":
        assert editor.ghost() == suggestion[2:]  # already redrawn: no wait for a server
    editor.wait("the rest of the suggestion", lambda: editor.ghost() == suggestion[2:], 30)
    before = editor.lines()
    editor.type("<Tab>")
    editor.wait("the rest to be inserted", lambda: editor.lines() != before)
    assert saved(editor) == "\n".join(TYPED) + suggestion + "\n"


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_a_multi_line_popup_with_the_default_completeopt_saves_what_ghost_text_showed(neovim):
    """Issue 19: with Neovim's default 'completeopt' (no menuone) a block went in line by line at later keys."""
    editor = neovim("")
    attached(editor)
    user_completeopt = default_completeopt(editor)
    assert "menuone" not in user_completeopt
    editor.type("idef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    assert "\n" in suggestion
    editor.type("<C-]><C-x><C-o>")
    editor.wait("the popup", lambda: editor.nvim.funcs.pumvisible())
    editor.type("<C-y>")
    editor.wait("the popup item to be inserted", lambda: len(editor.lines()) > 2)
    assert saved(editor) == "def fibonacci(n):\n    " + suggestion + "\n"
    assert default_completeopt(editor) == user_completeopt  # the user's value is back


@pytest.mark.parametrize(
    "nvim_version, accept",
    [(build, "<Tab>") for build in BUILDS] + [(build, "<C-]><C-x><C-o>") for build in ("0.11", "0.12")],
)
def test_a_crlf_file_gets_the_lf_files_suggestion_and_keeps_its_line_endings(neovim, accept):
    """A file with Windows line breaks (Neovim reads it as 'fileformat' dos and sends its text with \\r\\n):
    the suggestion is the one the same file with \\n gets, and what lands in it, through ghost text or the
    popup's snippet, ends each line with \\r\\n alone, as the rest of the file does."""
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    with_newlines = editor.wait("ghost text", editor.ghost)
    with contextlib.suppress(EOFError):  # Neovim quits before it answers
        editor.nvim.command("qa!")
    editor = neovim(TEXT.replace("\n", "\r\n"))
    attached(editor)
    assert editor.nvim.eval("&fileformat") == "dos"
    editor.type("GAdef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    assert suggestion == with_newlines
    editor.type(accept)
    if accept != "<Tab>":
        editor.wait("the popup", lambda: editor.nvim.funcs.pumvisible())
        editor.type("<C-y>")
    editor.wait("the suggestion to be inserted", lambda: len(editor.lines()) > len(TYPED))
    assert not any("\r" in line for line in editor.lines())
    assert saved(editor) == ("\n".join(TYPED) + suggestion + "\n").replace("\n", "\r\n")


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_after_a_typed_space_neither_ghost_text_nor_the_popup_doubles_it(neovim):
    """Issue 19: at `    return a ` the token ` +` brought a second space: Tab gave `return a  + b`."""
    source = "def add(a, b):\n    return a\n"
    editor = neovim(source)
    attached(editor)
    editor.type("2GA ")
    suggestion = editor.wait("ghost text", editor.ghost)
    assert not suggestion.startswith((" ", "\t")), repr(suggestion)
    editor.type("<Tab>")
    editor.wait("the suggestion to be inserted", lambda: editor.lines()[1] != "    return a ")
    ghost_line = saved(editor).split("\n")[1]
    assert ghost_line == "    return a " + suggestion
    editor.nvim.command("normal! u")
    editor.type("2GA <C-x><C-o>")
    editor.wait("the popup", lambda: editor.nvim.funcs.pumvisible())
    editor.type("<C-y>")
    editor.wait("the popup item to be inserted", lambda: editor.lines()[1] != "    return a ")
    assert saved(editor).split("\n")[1] == ghost_line


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_after_non_ascii_text_ghost_text_and_the_popup_land_after_the_cursor(neovim):
    """Neovim counts columns in bytes, LSP in UTF-16 units: `é` is two bytes and one unit, `😀` four and two.
    The suggestion after a word with such characters, on a line with more of them, goes in at the cursor,
    and the popup's item replaces just the word it completes."""
    source = 'def greet(naïve_user):\n    print("héllo 😀", naïve_\n'
    editor = neovim(source)
    attached(editor)
    editor.type("2GAu")
    suggestion = editor.wait("ghost text", editor.ghost)
    typed = '    print("héllo 😀", naïve_u'
    editor.type("<Tab>")
    editor.wait("the suggestion to be inserted", lambda: editor.lines()[1] != typed)
    ghost_line = saved(editor).split("\n")[1]
    assert ghost_line == typed + suggestion
    editor.nvim.command("normal! u")
    editor.type("2GAu<C-x><C-o>")
    editor.wait("the popup", lambda: editor.nvim.funcs.pumvisible())
    editor.type("<C-y>")
    editor.wait("the popup item to be inserted", lambda: editor.lines()[1] != typed)
    assert saved(editor).split("\n")[1] == ghost_line


def test_a_word_or_a_line_of_the_suggestion_and_dismiss(neovim):
    editor = neovim(TEXT)
    attached(editor)
    editor.type("GAdef fibonacci(n):<CR>")
    suggestion = editor.wait("ghost text", editor.ghost)
    first_line = suggestion.split("\n", 1)[0]
    word = first_line.split()[0]
    editor.type("<C-Right>")
    editor.wait("a word to be accepted", lambda: editor.lines()[-1] == "    " + word)
    assert editor.ghost() == suggestion[len(word) :]  # the rest is still shown, after the new cursor
    editor.type("<C-Down>")
    editor.wait("the line to be accepted", lambda: editor.lines()[-1] == "    " + first_line)
    assert editor.ghost() == suggestion[len(first_line) :]
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
            other = editor.wait(
                "another suggestion", lambda: editor.ghost() not in (None, first) and editor.ghost(), 30
            )
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


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_checkhealth_help_and_a_wrong_option(neovim, tmp_path):
    """Issue 21: `:checkhealth cga` (both health APIs), `:help cga` and setup() refusing a wrong type."""
    editor = neovim(TEXT)
    attached(editor)
    editor.nvim.command("checkhealth cga")
    report = "\n".join(editor.nvim.current.buffer[:])
    assert "setup() options are valid" in report and "answers" in report, report
    # About the user's buffer, not the health report's own (issue 42, item 8).
    assert "a cga client is attached to example.py" in report and "ERROR" not in report, report
    editor.nvim.command("help :CgaRefine")  # the shipped doc/tags: no :helptags first
    assert editor.nvim.current.buffer.name.endswith("cga.txt")
    doc = tmp_path / "rtp" / "doc"
    doc.mkdir(parents=True)
    shutil.copy(PLUGIN / "doc" / "cga.txt", doc)  # helptags writes beside it: not into the repository
    editor.nvim.command(f"helptags {doc}")
    assert (doc / "tags").read_text() == (PLUGIN / "doc" / "tags").read_text(), "doc/tags is out of date"
    editor.nvim.exec_lua('require("cga").setup({ cmd = "cga lsp" })')
    assert any("cmd must be a table, not a string" in note for note in editor.notes()), editor.notes()


def test_the_popup_before_the_server_is_up_says_so_instead_of_E764(neovim):
    editor = neovim(TEXT, cmd=[sys.executable, "-c", "import time; time.sleep(60)"])
    editor.type("GAx<C-x><C-o>")
    editor.wait("the message", lambda: any("still starting" in note for note in editor.notes()))
    assert editor.nvim.vvars["errmsg"] == ""


@pytest.mark.parametrize("line_break", ["\n", "\r\n"])
def test_refine_applies_a_labelled_edit_and_u_undoes_it(neovim, line_break):
    source = "import math\n\n\ndef area(r):\n    x = math.pi * r * r\n    return x\n\n\nprint(area(2))\n"
    editor = neovim(source.replace("\n", line_break))
    attached(editor)
    original = editor.lines()
    editor.nvim.api.win_set_cursor(0, [5, 4])  # inside area()
    editor.nvim.command("CgaRefine Add a docstring.")  # returns at once; the edit comes when the model is done
    refined = editor.wait("the refinement", lambda: editor.lines() != original and editor.lines())
    assert refined[:3] == original[:3] and refined[-3:] == original[-3:]  # only the function changed
    assert any("Refine: Add a docstring." in note for note in editor.notes())  # the edit's label, for people
    assert saved(editor) == "".join(line + line_break for line in refined)  # a CRLF file keeps its line breaks
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


@pytest.mark.parametrize("nvim_version", BUILDS)
def test_ghost_text_is_styled_apart_from_typed_text_without_truecolor(neovim, nvim_version):
    """Issue 19: on 0.11/0.12 in a terminal without truecolor (tmux by default) ghost text had no attribute."""
    editor = neovim("")
    attached(editor)
    editor.nvim.command("set notermguicolors")
    editor.type("idef fibonacci(n):<CR>")
    editor.wait("ghost text", editor.ghost)
    namespaces = editor.nvim.api.get_namespaces()
    ((_, _, _, details),) = [
        mark
        for name in GHOST_NAMESPACES
        if (ns := namespaces.get(name)) is not None
        for mark in editor.nvim.api.buf_get_extmarks(0, ns, 0, -1, {"details": True})
    ]
    group = details["virt_text"][0][1]
    if nvim_version == "0.7":
        attributes = editor.nvim.api.get_hl_by_name(group, False)  # the terminal's attributes
    else:
        attributes = editor.nvim.api.get_hl(0, {"name": group, "link": False})
        attributes = {k: v for k, v in attributes.items() if k in ("ctermfg", "ctermbg", "cterm") and v}
    assert attributes, f"{group} looks like typed text in a 256-colour terminal"


# Neovim 0.11+ with no plugin: the user's own LSP setup, and its built-in completion set up as `:h lsp-completion`
# shows (its 'completeopt' line included: without menuone a lone item's first line goes in at once and the rest
# only at the next key, which is Neovim's own doing).
VANILLA = """
local cmd, settings = ...
vim.cmd[[set completeopt+=menuone,noselect,popup]]
vim.api.nvim_create_autocmd("FileType", { pattern = "python", callback = function(event)
  vim.lsp.start({ name = "cga", cmd = cmd, root_dir = vim.fn.getcwd(), init_options = settings,
    on_attach = function(client, bufnr) vim.lsp.completion.enable(true, client.id, bufnr) end })
end })
"""

# Debian's Neovim 0.7 with no plugin, as its `:h lsp` sets a server up: a client attached to each Python buffer and
# its omnifunc. It has no snippets, so the server sends it one line per item, as to ALE.
VANILLA_07 = """
local cmd, settings = ...
vim.api.nvim_create_autocmd("FileType", { pattern = "python", callback = function(event)
  local id = vim.lsp.start_client({ name = "cga", cmd = cmd, root_dir = vim.fn.getcwd(), init_options = settings })
  vim.lsp.buf_attach_client(event.buf, id)
  vim.bo[event.buf].omnifunc = "v:lua.vim.lsp.omnifunc"
end })
"""
CGA_CLIENT = """
local client
if vim.lsp.get_clients then client = vim.lsp.get_clients({ bufnr = 0, name = 'cga' })[1]
else _, client = next(vim.lsp.buf_get_clients(0)) end
"""


@pytest.fixture
def vanilla(tmp_path, monkeypatch, nvim_version):
    binary = nvim_binary(nvim_version)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    started = []

    def start(text: str) -> Neovim:
        path = tmp_path / "example.py"
        path.write_text(text)
        nvim = pynvim.attach("child", argv=[str(binary), "--embed", "--headless", "--clean", "-n"])
        started.append(nvim)
        setup = VANILLA_07 if nvim_version == "0.7" else VANILLA
        settings = {"model": str(embedded_default()), "threads": 2, "maxTokens": 64, "blockTimeLimitMs": 0}
        nvim.exec_lua(setup, SERVER, settings)
        nvim.exec_lua("_G.cga_test_notes = {}")
        nvim.command(f"cd {tmp_path} | edit {path}")
        editor = Neovim(nvim, path)
        editor.wait(
            "the client to attach",
            lambda: nvim.exec_lua(CGA_CLIENT + "return client ~= nil and client.initialized == true"),
        )
        return editor

    yield start
    for nvim in started:
        try:
            nvim.command("qa!")
        except Exception:
            pass


def server_answer(editor: Neovim) -> str:
    """What the server suggests at the cursor (its ghost text), asked directly: what the popup must insert."""
    return editor.wait(
        "the server's answer",
        lambda: editor.nvim.exec_lua(
            CGA_CLIENT
            + """
        local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
        params.context = { triggerKind = 2 }
        local method = "textDocument/inlineCompletion"
        local reply = vim.fn.has("nvim-0.11") == 1 and client:request_sync(method, params, 60000, 0)
          or client.request_sync(method, params, 60000, 0)
        local items = reply and reply.result and (reply.result.items or reply.result) or {}
        return items[1] and items[1].insertText or false
    """
        ),
    )


@pytest.mark.parametrize("nvim_version", ["0.11", "0.12"])
@pytest.mark.parametrize(
    "source, keys, line",
    [
        ("", "idef fibonacci(n):<CR>", "    "),  # a block opener in a new file: a multi-line item
        ("def add(a, b):\n    return a\n", "2GA ", "    return a "),  # after a typed space
        ("def add(a, b):\n    retur\n", "2GAn", "    return"),  # right after a word: the answer brings its space
        ("import os\n\nfiles = os\n", "3GA.", "files = os."),  # after a word and a dot
    ],
)
def test_vanilla_neovim_completion_saves_exactly_the_servers_answer(vanilla, source, keys, line):
    """Issue 19: vim.lsp.completion inserted only the first word of a plain-text item (`if`), and nothing of one
    that began with a space; snippet items are expanded whole."""
    editor = vanilla(source)
    editor.type(keys)
    editor.wait("the typing", lambda: line in editor.lines())
    answer = server_answer(editor)
    assert answer.strip() and ("\n" in answer) == (not source)  # a block after the opener, else one line
    before = editor.lines()
    editor.type("<C-x><C-o>")
    editor.wait("the menu", lambda: editor.nvim.funcs.pumvisible())
    editor.type("<C-n><C-y>")  # select the item, then accept it (noselect: nothing is selected at first)
    editor.wait("the item to be inserted", lambda: editor.lines() != before)
    row = before.index(line)
    lines = before[:row] + (line + answer).split("\n") + before[row + 1 :]
    assert saved(editor) == "\n".join(lines) + "\n"


@pytest.mark.parametrize("nvim_version", ["0.7"])
@pytest.mark.parametrize(
    "source, keys, line",
    [
        ("def add(a, b):\n    retur\n", "2GAn", "    return"),  # right after a word
        ("for i in range(\n", "1GA1", "for i in range(1"),  # after a digit: ALE's item for it is not this one
        ('def greet(naïve_user):\n    print("é", naïve\n', "2GA_", '    print("é", naïve_'),  # and after `ï`
    ],
)
def test_vanilla_neovim_07_omnifunc_saves_the_first_line_of_the_servers_answer(vanilla, source, keys, line):
    """Neovim 0.7's own omnifunc, Vim's default 'completeopt': the one item it keeps goes in at once."""
    editor = vanilla(source)
    editor.type(keys)
    editor.wait("the typing", lambda: line in editor.lines())
    answer = server_answer(editor).split("\n", 1)[0]
    assert answer.strip()
    before = editor.lines()
    editor.type("<C-x><C-o>")
    editor.wait("the item to be inserted", lambda: editor.lines() != before)
    row = before.index(line)
    assert saved(editor) == "\n".join(before[:row] + [line + answer] + before[row + 1 :]) + "\n"
