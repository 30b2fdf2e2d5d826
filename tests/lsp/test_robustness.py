"""The server answers every request, stays responsive and never dies: big files, storms, bad params."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.raw_client import RawServer

URI = "file:///project/big.py"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "cli", "lsp"]))
async def client(lsp_client: LanguageClient, codegen2_gguf):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"model": str(codegen2_gguf), "threads": 2, "maxTokens": 8},
    ))
    yield
    await lsp_client.shutdown_session()


def completion(client: LanguageClient, uri: str, line: int, character: int):
    return client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character)))


def reused_tokens(client: LanguageClient) -> list[int]:
    return [int(m.group(1)) for m in (re.search(r"(\d+) reused", x.message) for x in client.log_messages) if m]


@pytest.mark.asyncio
async def test_opening_a_document_warms_the_cache(client: LanguageClient):
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40))
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text)))
    for _ in range(600):  # the warm-up runs in the background; it says when it is done
        if any("warmed the cache" in m.message for m in client.log_messages):
            break
        await asyncio.sleep(0.2)
    lines = text.split("\n")
    result = await completion(client, URI, len(lines) - 1, 0)
    assert isinstance(result, types.CompletionList)
    assert reused_tokens(client) and reused_tokens(client)[-1] > 100


@pytest.mark.asyncio
async def test_a_10_mb_file_and_a_storm_of_edits(client: LanguageClient):
    text = "x = 1\n" * (10 * 2**20 // 6)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text)))
    pending = []
    for i in range(200):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=i + 2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(i, 0), types.Position(i, 1)), text="y")],
        ))
        if i % 20 == 0:
            pending.append(completion(client, URI, i, 1))
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout=300)
    assert all(isinstance(r, types.CompletionList) for r in results), results
    last = await completion(client, URI, 5, 1)  # still responsive afterwards
    assert isinstance(last, types.CompletionList)


def test_malformed_params_and_invalid_utf8_get_errors_not_a_dead_server(codegen2_gguf):
    """Raw JSON-RPC on stdio, as a buggy client might send it."""
    with RawServer() as server:
        server.initialize({"model": str(codegen2_gguf), "threads": 2})
        server.send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion", "params": {"textDocument": {"uri": 5}}})
        assert "error" in server.response(2)
        server.send({"jsonrpc": "2.0", "id": 3, "method": "workspace/executeCommand", "params": {"command": "cga.nope"}})
        assert "error" in server.response(3)
        server.send(b'{"jsonrpc": "2.0", "id": 4, "method": "textDocument/hover", "params": "\xff\xfe"}')
        assert server.shut_down() == 0  # still alive, answering
