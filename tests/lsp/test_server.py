"""End to end over stdio: a real client (pytest-lsp) against `cga lsp` on a converted tiny CodeGen model."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient

URI = "file:///project/example.py"
SOURCE = "import os\n\n\ndef list_files(path):\n    "


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "cga.cli", "lsp"]))
async def client(lsp_client: LanguageClient, codegen2_gguf):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
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
            text_document=types.TextDocumentIdentifier(URI),
            position=end_of(SOURCE),
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
    return [
        int(m.group(1))
        for m in (re.search(r"completion: prompt (\d+) tokens", x.message) for x in client.log_messages)
        if m
    ]


@pytest.mark.asyncio
async def test_incremental_edits_are_tracked_with_utf16_positions(client: LanguageClient, codegen2):
    # Replace the emoji, which is two UTF-16 units (5..7) but one code point, by a longer text.
    open_document(client, "s = '😀'\n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(0, 5), types.Position(0, 7)), text=" + 1 + 2 + 3 + 4"
                )
            ],
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
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier("file:///nope.py"), position=types.Position(0, 0)
        )
    )
    assert isinstance(unknown, types.CompletionList) and not unknown.items


def log_lines(client: LanguageClient, pattern: str) -> list[re.Match]:
    return [m for m in (re.search(pattern, x.message) for x in client.log_messages) if m]


async def warmed(client: LanguageClient) -> None:
    for _ in range(600):
        if log_lines(client, "warmed the cache"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the warm-up never finished")


def configure(client: LanguageClient, **settings) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"cga": settings}))


def at_end() -> types.CompletionParams:
    return types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=end_of(SOURCE))


@pytest.mark.asyncio
async def test_cancel_request_stops_the_request_it_names(client: LanguageClient):
    # A long debounce holds the request in the server, waiting on the same event that stops a generation
    # between two tokens, so the cancel lands while the request is running, every time.
    configure(client, debounceMs=3000)
    open_document(client)
    await warmed(client)
    before, params = len(prompt_sizes(client)), at_end()
    future = client.protocol.send_request(types.TEXT_DOCUMENT_COMPLETION, params, msg_id="typed-on")
    await asyncio.sleep(0.5)
    client.protocol.notify("$/cancelRequest", types.CancelParams(id="typed-on"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(asyncio.wrap_future(future), timeout=2)  # well before the debounce would end
    assert len(prompt_sizes(client)) == before
    configure(client, debounceMs=0)
    again = await client.text_document_completion_async(params)  # still serving; nothing cached from the cancel
    assert isinstance(again, types.CompletionList) and len(prompt_sizes(client)) == before + 1


@pytest.mark.asyncio
async def test_configuration_changes_apply_without_a_restart(client: LanguageClient, tmp_path, codegen2_gguf):
    open_document(client)
    await warmed(client)
    configure(client, disabledLanguages=["python"], maxTokens=4)
    before, params = len(prompt_sizes(client)), at_end()
    disabled = await client.text_document_completion_async(params)
    assert not disabled.items and len(prompt_sizes(client)) == before  # the model did not even run

    copy = tmp_path / "other.gguf"  # a different model file: the server must load it
    copy.write_bytes(codegen2_gguf.read_bytes())
    configure(client, disabledLanguages=[], model=str(copy), threads="many")
    enabled = await client.text_document_completion_async(params)
    assert isinstance(enabled, types.CompletionList) and len(prompt_sizes(client)) == before + 1
    assert log_lines(client, "the model loads again")
    assert log_lines(client, r"using .*other\.gguf\); CPU")  # the load message names the new file
    assert any("'threads'" in m.message for m in client.messages)  # the bad value was reported, not fatal


@pytest.mark.asyncio
async def test_debounce_lets_the_latest_keystroke_win(client: LanguageClient):
    configure(client, debounceMs=400)
    open_document(client)
    await warmed(client)
    before = len(prompt_sizes(client))
    first = client.text_document_completion_async(at_end())
    await asyncio.sleep(0.05)
    second = client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=types.Position(3, 10))
    )
    superseded, latest = await asyncio.gather(first, second)
    assert not superseded.items
    assert isinstance(latest, types.CompletionList)
    assert len(prompt_sizes(client)) == before + 1  # only the latest one ran the model


def reuse(client: LanguageClient) -> list[tuple[int, int]]:
    return [
        (int(m.group(1)), int(m.group(2))) for m in log_lines(client, r"completion: prompt (\d+) tokens, (\d+) reused")
    ]


@pytest.mark.asyncio
async def test_a_file_longer_than_the_window_keeps_the_cache_while_typing(client: LanguageClient):
    # A prompt cut a fixed number of tokens before the cursor would start one token later after each
    # keystroke and be recomputed whole; the window's start must stay where it was.
    configure(client, contextTokens=512)
    text = "".join(f"def handler_{i}(request):\n    return request.send(timeout={i})\n\n" for i in range(120))
    open_document(client, text)
    await warmed(client)  # read whole (a first request in a file just opened reads a short window: test_service)
    typed = ""
    for key in "resu":
        typed += key
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=len(typed) + 1),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(end_of(text + typed[:-1]), end_of(text + typed[:-1])), text=key
                    )
                ],
            )
        )
        result = await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=end_of(text + typed))
        )
        assert isinstance(result, types.CompletionList)
    sizes = reuse(client)
    assert len(sizes) == 4 and all(prompt <= 512 - 16 for prompt, _ in sizes)  # room for an answer
    assert all(prompt - reused <= 64 for prompt, reused in sizes[1:]), sizes
    assert sizes[0][0] > 300  # and the window is used, not a few lines


@pytest.mark.asyncio
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
async def test_cga_lsp_becomes_the_bare_server(client: LanguageClient):
    # `cga lsp` checks its options, then execs the server alone (same process, same pipes) so the
    # editor does not pay for the command line's libraries all day.
    open_document(client)
    assert isinstance(await client.text_document_completion_async(at_end()), types.CompletionList)
    pid = client._server.pid
    assert b"from cga.lsp.__main__ import main" in open(f"/proc/{pid}/cmdline", "rb").read()
    loaded = open(f"/proc/{pid}/maps").read()
    assert "pydantic_core" not in loaded and "libllama" in loaded


def rest_cursor(client: LanguageClient, uri: str, line: int, character: int = 0) -> None:
    client.protocol.notify(
        "cga/cursorRested", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    )


async def rested_reads(client: LanguageClient, count: int) -> list[int]:
    for _ in range(600):
        reads = [int(m.group(1)) for m in log_lines(client, r"warmed the cache with (\d+) tokens .* cursor rested")]
        if len(reads) >= count:
            return reads
        await asyncio.sleep(0.1)
    raise AssertionError(f"the window where the cursor rested was never read: {client.log_messages[-5:]}")


@pytest.mark.asyncio
async def test_where_the_cursor_rests_is_read_before_the_user_types_there(client: LanguageClient):
    # Opening reads the end of a file longer than the window; a cursor that then rests in its middle gets
    # that window read, so the first request there finds it in the cache. Elsewhere, with no rest, it does not.
    configure(client, contextTokens=512)
    text = "".join(f"def handler_{i}(request):\n    return request.send(timeout={i})\n\n" for i in range(120))
    open_document(client, text)
    await warmed(client)
    rest_cursor(client, URI, 180)
    await rested_reads(client, 1)
    for line in (180, 90):  # where the cursor rested; where it did not
        result = await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=types.Position(line, 0))
        )
        assert isinstance(result, types.CompletionList)
    (rested_prompt, rested_reused), (cold_prompt, cold_reused) = reuse(client)[-2:]
    assert rested_prompt > 300 and rested_prompt - rested_reused <= 8, reuse(client)
    assert cold_prompt > 300 and cold_prompt - cold_reused > 200, reuse(client)


@pytest.mark.asyncio
async def test_a_malformed_cursor_rest_is_said_once_and_ignored(client: LanguageClient):
    open_document(client)
    for params in (None, [1, 2], {"textDocument": {"uri": 3}}, {"textDocument": {"uri": URI}, "position": {}}):
        client.protocol.notify("cga/cursorRested", params)
    rest_cursor(client, "file:///never/opened.py", 4)
    rest_cursor(client, URI, 999, 999)  # past the end: the end
    await rested_reads(client, 1)
    assert len(log_lines(client, "cga/cursorRested takes")) == 4
    assert isinstance(await client.text_document_completion_async(at_end()), types.CompletionList)
