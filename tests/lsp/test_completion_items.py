"""Answers as editor items: what each client needs to insert them right."""

from __future__ import annotations

import pytest
from lsprotocol import types
from lsprotocol.converters import get_converter
from markdown_it import MarkdownIt

from cga.lsp.completion_items import Insertion, code_block, inline_items, insertion_for, popup_items, word_before

converter = get_converter()
pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def test_the_popup_item_replaces_the_word_being_typed_so_word_filters_keep_it():
    # Neovim's omnifunc and VS Code filter items by the word before the cursor: `1, i)` after
    # `print(len(l` would be dropped, `l1, i)` replacing `l` is kept and inserts the same text.
    (item,) = popup_items("1, i)", "x = 1\nprint(len(l", types.Position(1, 11))
    assert item.text_edit.new_text == "l1, i)$0" and item.filter_text == "l1, i)"
    assert item.text_edit.range == types.Range(types.Position(1, 10), types.Position(1, 11))
    assert item.label == "l1, i)"


def test_a_multi_line_popup_item_is_a_snippet_indented_from_the_cursors_line():
    """VS Code and Neovim's vim.snippet add the cursor line's indentation to the lines after the first."""
    answer = "if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)  # ${x}"
    (item,) = popup_items(answer, "def fib(n):\n    ", types.Position(1, 4))
    assert item.insert_text_format == types.InsertTextFormat.Snippet
    assert item.insert_text_mode == types.InsertTextMode.AdjustIndentation
    assert item.text_edit.new_text == "if n < 2:\n    return n\nreturn fib(n - 1) + fib(n - 2)  # \\${x\\}$0"
    assert item.label == "if n < 2:" and "3 lines" in item.detail


def test_a_client_without_snippets_gets_one_line_or_nothing():
    """Vim's popup puts a line break in as a NUL byte (ALE, Neovim 0.7's omnifunc): the block is ghost text's."""
    first_line = Insertion.FIRST_LINE
    (item,) = popup_items("if n < 2:\n        return n", "def fib(n):\n    ", types.Position(1, 4), first_line)
    assert item.text_edit.new_text == item.label == "if n < 2:"
    assert item.insert_text_format == types.InsertTextFormat.PlainText
    assert popup_items("\n    return 1", "def f():", types.Position(0, 8), first_line) == []


def test_an_emacs_client_gets_the_whole_answer_as_plain_text_with_its_own_indentation():
    """yasnippet would run the backquoted `x` as Emacs Lisp and re-indent the lines by python-mode; plain text
    asIs goes in as it is, escapes and all."""
    answer = '"""Use `x`, not ${x}."""\n    for v in x:\n        s += v\n    return s'
    (item,) = popup_items(answer, "def f(x):\n    ", types.Position(1, 4), Insertion.PLAIN_BLOCK)
    assert item.text_edit.new_text == answer
    assert item.insert_text_format == types.InsertTextFormat.PlainText
    assert item.insert_text_mode == types.InsertTextMode.AsIs
    assert item.label == '"""Use `x`, not ${x}."""' and "4 lines" in item.detail
    (after_word,) = popup_items("user)", "print(naïve_", types.Position(0, 12), Insertion.PLAIN_BLOCK)
    assert after_word.text_edit.new_text == "naïve_user)"  # one item: Emacs applies the item's range


def capabilities(completion_item: dict | None, experimental: dict | None = None) -> types.ClientCapabilities:
    """A client's capabilities as it sends them, read the way the server reads them."""
    raw: dict = {"textDocument": {"completion": {"completionItem": completion_item}}} if completion_item else {}
    if experimental is not None:
        raw["experimental"] = experimental
    return converter.structure(raw, types.ClientCapabilities)


# completionItem as each client sends it (eglot's from its initialize request, ALE's from its source)
EGLOT_1_9 = {"snippetSupport": False, "deprecatedSupport": True, "tagSupport": {"valueSet": [1]}}
EGLOT_1_12 = {**EGLOT_1_9, "resolveSupport": {"properties": ["documentation", "details", "additionalTextEdits"]}}
ALE = {
    "snippetSupport": False,
    "commitCharactersSupport": False,
    "documentationFormat": ["plaintext"],
    "deprecatedSupport": False,
    "preselectSupport": False,
}
YCMD = {"documentationFormat": ["plaintext", "markdown"]}
NEOVIM = {"snippetSupport": True, "documentationFormat": ["markdown", "plaintext"], "tagSupport": {"valueSet": [1]}}


@pytest.mark.parametrize(
    "name, item, experimental, insertion",
    [
        ("Eglot", {**EGLOT_1_12, "snippetSupport": True}, {}, Insertion.PLAIN_BLOCK),  # 1.15+ (Emacs 30), yasnippet
        ("Eglot", EGLOT_1_12, {}, Insertion.PLAIN_BLOCK),
        ("emacs", {**NEOVIM, "insertTextModeSupport": {"valueSet": [1, 2]}}, None, Insertion.PLAIN_BLOCK),  # lsp-mode
        (None, EGLOT_1_9, {}, Insertion.PLAIN_BLOCK),  # Emacs 28's eglot names itself nothing
        (None, {**EGLOT_1_9, "snippetSupport": True}, {}, Insertion.PLAIN_BLOCK),  # the same, yasnippet on
        (None, EGLOT_1_12, {}, Insertion.PLAIN_BLOCK),  # Emacs 29's
        (None, ALE, None, Insertion.FIRST_LINE),
        (None, YCMD, None, Insertion.FIRST_LINE),  # Vim + YouCompleteMe
        (None, EGLOT_1_9, None, Insertion.FIRST_LINE),  # eglot's items but not its empty `experimental`
        (None, None, None, Insertion.FIRST_LINE),  # a client that says nothing
        ("Neovim", NEOVIM, None, Insertion.SNIPPET),
        ("Neovim", {**NEOVIM, "snippetSupport": False}, None, Insertion.FIRST_LINE),  # 0.7's omnifunc
        ("Visual Studio Code", NEOVIM, None, Insertion.SNIPPET),
        ("code-server", NEOVIM, None, Insertion.SNIPPET),
    ],
)
def test_each_client_gets_the_shape_it_inserts_right(name, item, experimental, insertion):
    assert insertion_for(name, capabilities(item, experimental)) is insertion


def test_word_positions_count_utf16_units():
    # 😀 is not a word character, so the word is "ab"; before it, é is one UTF-16 unit and 😀 two.
    (item,) = popup_items("x", "é😀ab", types.Position(0, 5))
    assert word_before("é😀ab") == "ab" and item.text_edit.range.start.character == 3


@pytest.mark.parametrize(
    "prefix, ascii_word, word",
    [("for i in range(1", "", "1"), ('print("é", naïve_', "ve_", "naïve_"), ("x = $el2", "$el2", "el2")],
)
def test_a_client_without_snippets_also_gets_the_item_for_an_ascii_only_word(prefix, ascii_word, word):
    """ALE takes the word it replaces from its own ASCII-only pattern, Neovim 0.7 from 'iskeyword': each keeps
    the item that starts with its word, and ALE (which keeps every item after an empty word) the first. Emacs
    matches the labels, the same in both: one candidate, whose edit either item makes."""
    at = types.Position(0, len(prefix))
    first, second = popup_items(", 10)", prefix, at, Insertion.FIRST_LINE)
    assert first.text_edit.new_text == ascii_word + ", 10)" and second.text_edit.new_text == word + ", 10)"
    for item, replaced in ((first, ascii_word), (second, word)):
        assert item.text_edit.range.start == types.Position(0, len(prefix) - len(replaced))
    assert word_before(prefix, ascii_only=True) == ascii_word and word_before(prefix) == word
    assert first.label == second.label == word + ", 10)"  # one candidate to Emacs, which matches labels
    (snippet,) = popup_items(", 10)", prefix, at)  # a client with snippets applies the item's range
    assert snippet.text_edit.new_text == word + ", 10)$0"
    assert len(popup_items(", 10)", "return total", types.Position(0, 12), Insertion.FIRST_LINE)) == 1


def test_inline_items_go_in_at_the_cursor():
    at = types.Position(3, 4)
    items = inline_items(["a", "b"], at).items
    assert [i.insert_text for i in items] == ["a", "b"] and all(i.range == types.Range(at, at) for i in items)


def test_a_multi_line_items_documentation_shows_the_suggestion_as_code_whatever_it_holds():
    """A suggestion with ``` in it closed the code block, and the rest was Markdown to the editor: an image there was
    rendered as one (CommonMark, as markdown-it reads it). The fence is now longer than any run in the text."""
    answer = 'USAGE = """\n```\n![x](https://example.com/x.png)\n````\n"""'
    (item,) = popup_items(answer, "", types.Position(0, 0))
    assert item.documentation.value == code_block(answer)
    html = MarkdownIt("commonmark").render(item.documentation.value)
    assert "<img" not in html and html.count("<pre>") == 1
    assert "<img" in MarkdownIt("commonmark").render(f"```\n{answer}\n```")  # what the old fence let through
    assert code_block("x\ny") == "```\nx\ny\n```"
