"""Answers as the editor's completion items: popup items and inline (ghost-text) items.

A popup item is inserted by the client, and clients differ in what they do
with one (issue 19, each seen in the real client), so each gets one of three
shapes (Insertion, chosen by insertion_for):

- Vim's popup menu holds one line per item: a plain-text item with line breaks
  goes in as one line with NUL bytes for them (Vim + ALE, Neovim 0.7's
  omnifunc). Neovim 0.11's `vim.lsp.completion` inserts only the first word of
  a plain-text `textEdit`, and ALE only the text before the first `(`.
- A snippet is expanded by the client after the item is chosen, line breaks
  included: VS Code, Neovim 0.11+ (`vim.snippet`), our Neovim plugin. Copilot's
  language server and Tabby's agent leave blocks to ghost text for the same
  reason.
- Emacs expands snippets with yasnippet, which is not LSP's snippet language:
  it runs Emacs Lisp written between backquotes (eglot hands it the text as it
  comes, so a suggested docstring with `x` in it ran `x` as code and saved
  "Symbol's value as variable is void: x"), and by default it re-indents every
  line by the major mode, which in Python cannot know where a block ends
  (`return s` after a loop went into the loop). lsp-mode 8.0 escapes the
  backquotes but indents the last line of a snippet at the end of a buffer
  twice. Both insert a plain-text edit as it is, line breaks included.

So a client that advertises `snippetSupport` gets each answer as a snippet
(its text escaped, nothing to fill in) whose lines after the first are
indented relative to the cursor's line (`insertTextMode` adjustIndentation:
VS Code and `vim.snippet` both add that line's indentation); an Emacs client
gets the whole answer as plain text with its own indentation (`insertTextMode`
asIs); any other client gets one line, the block's first one, and no item
where that line is empty (an answer that starts on the next line): ghost text
shows the block.

Either way the item's `textEdit` replaces the word being typed with that word
plus the answer, and `filterText` starts with the word, so clients that filter
by the word before the cursor keep it: `1, i)` after `print(len(l` does not
start with `l`, but `l1, i)` does. Where a client without snippets may take
the word to be another one (see popup_items) it gets an item for each.

Line breaks are \\n: the server reads every document that way (positions.with_newlines)
and Neovim's `vim.snippet` and 0.12's inline completion split the text at \\n
alone, while VS Code turns an inserted \\n into the document's own line break.
"""

from __future__ import annotations

import enum
import re

from lsprotocol import types

from .positions import utf16_units

_WORD_CHAR = re.compile(r"\w")
_ASCII_WORD_CHAR = re.compile(r"[A-Za-z$_0-9]")
_SNIPPET_SPECIAL = re.compile(r"([\\$}])")
_BACKTICKS = re.compile(r"`+")
LABEL_CHARS = 60
# clientInfo.name of the Emacs clients: eglot (which sends it from 1.15 on, Emacs 30) and lsp-mode.
EMACS_CLIENTS = frozenset({"eglot", "emacs"})


class Insertion(enum.Enum):
    """How a client puts a popup item into the document, and so the shape it gets (see the module's docstring)."""

    SNIPPET = "snippet"  # LSP snippets, lines after the first relative to the cursor's line
    PLAIN_BLOCK = "plain block"  # the whole answer as plain text, inserted as it is
    FIRST_LINE = "first line"  # one line per item: Vim's popup menu


def insertion_for(client_name: str | None, capabilities: types.ClientCapabilities) -> Insertion:
    """The shape for a client, from its initialize request. Eglot before 1.15 (Emacs 28 and 29) says no name;
    it is known by its completion capabilities, and a client that asks for snippets and says no name is taken
    for it too: plain text as it is is what LSP means by an item anyway, where a guess at someone's snippet
    language could run code."""
    document = capabilities.text_document
    completion = document.completion if document else None
    item = completion.completion_item if completion else None
    snippets = bool(item and item.snippet_support)  # a client that says nothing of completion items: no
    if client_name is not None and client_name.strip().lower() in EMACS_CLIENTS:
        return Insertion.PLAIN_BLOCK
    if client_name is None and (snippets or _nameless_eglot(capabilities, item)):
        return Insertion.PLAIN_BLOCK
    return Insertion.SNIPPET if snippets else Insertion.FIRST_LINE


def _nameless_eglot(capabilities: types.ClientCapabilities, item: types.ClientCompletionItemOptions | None) -> bool:
    """Eglot 1.9 to 1.14's own marks: completion item tags but no documentation formats, and an empty
    `experimental`. Vim's clients (ALE, YouCompleteMe's ycmd) name documentation formats."""
    return (
        item is not None
        and item.tag_support is not None
        and item.documentation_format is None
        and capabilities.experimental == {}
    )


def word_before(prefix: str, *, ascii_only: bool = False) -> str:
    """The identifier characters just before the cursor (empty after a space or a bracket); ascii_only: the
    word as ALE finds it (ASCII letters, digits, `_` and `$`, never a digit first). Read back from the cursor
    one character at a time: a search for a word at the end tried every start in a long run of word characters that a
    space ended, quadratically (a 32,000-character line took 7 s a keystroke)."""
    line = prefix[prefix.rfind("\n") + 1 :]
    is_word = _ASCII_WORD_CHAR.match if ascii_only else _WORD_CHAR.match
    start = len(line)
    while start > 0 and is_word(line[start - 1]):
        start -= 1
    word = line[start:]
    return word.lstrip("0123456789") if ascii_only else word


def code_block(text: str) -> str:
    """Text as a Markdown code block that nothing in it can close: a suggestion with ``` in it (a docstring's
    example) had the rest rendered as Markdown: links, headings, images that point anywhere."""
    fence = "`" * max(3, max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    return f"{fence}\n{text}\n{fence}"


def snippet_text(text: str) -> str:
    """Text as a snippet that inserts exactly it, the cursor ending after it."""
    return _SNIPPET_SPECIAL.sub(r"\\\1", text) + "$0"


def _relative_to(text: str, indent: str) -> str:
    """Lines after the first with the cursor line's indentation taken off (the client puts it back)."""
    first, *rest = text.split("\n")
    return "\n".join(
        [first, *(line[len(indent) :] if line.startswith(indent) else line.lstrip(" \t") for line in rest)]
    )


def popup_items(
    answer: str, prefix: str, position: types.Position, insertion: Insertion = Insertion.SNIPPET
) -> list[types.CompletionItem]:
    """The popup's items for an answer at a cursor, shaped for how the client inserts them: one snippet, the
    whole answer as plain text, or a single line (none if that line would be empty).

    A client without snippets may also ignore the item's range and replace its own idea of the word (ALE, the
    one seen: only ASCII letters, `_` and `$`, and never a digit first): where that word differs from ours
    (after `range(1`, after `naïve_`) it gets a second item, first, that replaces just that word. Each client
    keeps the item that starts with its word: ALE's after `naïve_` is `ve_user)`, Neovim 0.7's `naïve_user)`;
    after `range(1` ALE's word is empty, so it keeps both and inserts the first, `, 10)`, not `1, 10)`."""
    first_line = insertion is Insertion.FIRST_LINE
    if first_line:
        answer = answer.split("\n", 1)[0].rstrip("\r")
    if not answer.strip():
        return []
    words = [word_before(prefix)]
    if first_line:
        words.insert(0, word_before(prefix, ascii_only=True))
    return [_popup_item(word, answer, prefix, position, insertion, words[-1]) for word in dict.fromkeys(words)]


def _popup_item(
    word: str, answer: str, prefix: str, position: types.Position, insertion: Insertion, shown_word: str
) -> types.CompletionItem:
    text = word + answer
    start = types.Position(position.line, position.character - utf16_units(word))
    shown = shown_word + answer  # every item looks the same (Emacs then has one candidate, not two)
    first_line = shown.strip().split("\n", 1)[0]
    lines = text.count("\n") + 1
    line = prefix[prefix.rfind("\n") + 1 :]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    snippet = insertion is Insertion.SNIPPET
    return types.CompletionItem(
        label=first_line[:LABEL_CHARS] or shown[:LABEL_CHARS],
        kind=types.CompletionItemKind.Text,
        detail="cga" + (f" ({lines} lines)" if lines > 1 else ""),
        documentation=types.MarkupContent(types.MarkupKind.Markdown, code_block(text)) if lines > 1 else None,
        filter_text=text,
        sort_text="0",
        text_edit=types.TextEdit(
            types.Range(start, position), snippet_text(_relative_to(text, indent)) if snippet else text
        ),
        insert_text_format=types.InsertTextFormat.Snippet if snippet else types.InsertTextFormat.PlainText,
        insert_text_mode=types.InsertTextMode.AdjustIndentation if snippet else types.InsertTextMode.AsIs,
    )


def inline_items(answers: list[str], position: types.Position) -> types.InlineCompletionList:
    """Ghost text: each answer inserted at the cursor (the server never repeats what is right of it)."""
    at = types.Range(position, position)
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=a, range=at) for a in answers])
