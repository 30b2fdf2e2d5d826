"""Answers as the editor's completion items: popup items and inline (ghost-text) items.

Why the popup item is built this way:
- Its `textEdit` replaces the word being typed with that word plus the answer,
  and `filterText` starts with the word, so clients that filter by the word
  before the cursor (Neovim's omnifunc, VS Code's popup) keep it: an answer such
  as `1, i)` after `print(len(l` does not start with `l`, but `l1, i)` does.
- `insertTextMode` is asIs: a multi-line answer already carries its
  indentation, and VS Code would otherwise add the current line's on top.
"""

from __future__ import annotations

import re

from lsprotocol import types

from .positions import utf16_units

_WORD = re.compile(r"\w*$")
LABEL_CHARS = 60


def word_before(prefix: str) -> str:
    """The identifier characters just before the cursor (empty after a space or a bracket)."""
    return _WORD.search(prefix[prefix.rfind("\n") + 1:]).group(0)


def popup_item(answer: str, prefix: str, position: types.Position) -> types.CompletionItem:
    word = word_before(prefix)
    text = word + answer
    start = types.Position(position.line, position.character - utf16_units(word))
    first_line = text.strip().split("\n", 1)[0]
    return types.CompletionItem(
        label=first_line[:LABEL_CHARS] or text[:LABEL_CHARS],
        kind=types.CompletionItemKind.Text,
        detail="cga" + (f" ({text.count(chr(10)) + 1} lines)" if "\n" in text else ""),
        documentation=types.MarkupContent(types.MarkupKind.Markdown, f"```\n{text}\n```") if "\n" in text else None,
        filter_text=text,
        sort_text="0",
        text_edit=types.TextEdit(types.Range(start, position), text),
        insert_text_format=types.InsertTextFormat.PlainText,
        insert_text_mode=types.InsertTextMode.AsIs,
    )


def inline_items(answers: list[str], position: types.Position) -> types.InlineCompletionList:
    """Ghost text: each answer inserted at the cursor (the server never repeats what is right of it)."""
    at = types.Range(position, position)
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=a, range=at) for a in answers])
