"""End to end over stdio: a real client (pytest-lsp) against `cga lsp` on a converted tiny CodeGen model."""

from __future__ import annotations

import re
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

URI = "file:///project/example.py"
SOURCE = "import os\n\n\ndef list_files(path):\n    "


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "assistant.cli", "lsp"]))
async def client(lsp_client: LanguageClient, codegen2_gguf):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True)
            ),
            initialization_options={"model": str(codegen2_gguf), "threads": 2, "maxTokens": 12, "bogus": 1},
        )
    )
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, text: str = SOURCE) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text))
    )


def end_of(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1]))


@pytest.mark.asyncio
async def test_inline_and_popup_completion(client: LanguageClient):
    open_document(client)
    inline = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(URI), position=end_of(SOURCE),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    popup = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=end_of(SOURCE))
    )
    assert isinstance(inline, types.InlineCompletionList)
    assert isinstance(popup, types.CompletionList)
    assert prompt_sizes(client), "the model never ran"
    if inline.items:  # a random-weight model may write nothing useful, but never a mangled edit
        assert inline.items[0].range.start == end_of(SOURCE)
    assert any("Unknown setting 'bogus'" in m.message for m in client.messages)
    kinds = [p.kind for values in client.progress_reports.values() for p in values]
    assert kinds[:1] == ["begin"] and kinds[-1:] == ["end"]  # $/progress while the model loaded


def prompt_sizes(client: LanguageClient) -> list[int]:
    return [int(m.group(1)) for m in (re.search(r"completion: prompt (\d+) tokens", x.message)
                                      for x in client.log_messages) if m]


@pytest.mark.asyncio
async def test_incremental_edits_are_tracked_with_utf16_positions(client: LanguageClient, codegen2):
    # Replace the emoji, which is two UTF-16 units (5..7) but one code point, by a longer text.
    open_document(client, "s = '😀'\n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(0, 5), types.Position(0, 7)), text=" + 1 + 2 + 3 + 4")],
        )
    )
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=types.Position(1, 0))
    )
    assert isinstance(result, types.CompletionList)
    right = len(codegen2.tokenize("s = ' + 1 + 2 + 3 + 4'\n"))
    wrong = len(codegen2.tokenize("s = ' + 1 + 2 + 3 + 4\n"))  # code points taken for UTF-16 units
    assert right != wrong
    assert prompt_sizes(client)[-1] == right


@pytest.mark.asyncio
async def test_out_of_range_and_unknown_documents_still_get_answers(client: LanguageClient):
    open_document(client)
    far = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=types.Position(999, 999))
    )
    assert isinstance(far, types.CompletionList)
    unknown = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier("file:///nope.py"),
                               position=types.Position(0, 0))
    )
    assert isinstance(unknown, types.CompletionList) and not unknown.items
