"""The server answers every request, stays responsive and never dies: big files, storms, bad params."""

from __future__ import annotations

import asyncio
import json
import re
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.raw_client import RawServer

URI = "file:///project/big.py"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "cga.cli", "lsp"]))
async def client(lsp_client: LanguageClient, codegen2_gguf):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"model": str(codegen2_gguf), "threads": 2, "maxTokens": 8},
        )
    )
    yield
    await lsp_client.shutdown_session()


def completion(client: LanguageClient, uri: str, line: int, character: int):
    return client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character)
        )
    )


def reused_tokens(client: LanguageClient) -> list[int]:
    return [int(m.group(1)) for m in (re.search(r"(\d+) reused", x.message) for x in client.log_messages) if m]


@pytest.mark.asyncio
async def test_opening_a_document_warms_the_cache(client: LanguageClient):
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40))
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text))
    )
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
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text))
    )
    pending = []
    for i in range(200):
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=i + 2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(i, 0), types.Position(i, 1)), text="y"
                    )
                ],
            )
        )
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
        server.send(
            {"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion", "params": {"textDocument": {"uri": 5}}}
        )
        assert "error" in server.response(2)
        server.send(
            {"jsonrpc": "2.0", "id": 3, "method": "workspace/executeCommand", "params": {"command": "cga.nope"}}
        )
        assert "error" in server.response(3)
        server.send(b'{"jsonrpc": "2.0", "id": 4, "method": "textDocument/hover", "params": "\xff\xfe"}')
        assert server.shut_down() == 0  # still alive, answering


HOSTILE = [  # (what it is, the message as raw JSON text); each a request with the id given, answered somehow
    (
        "null arguments to each command",
        [
            f'{{"jsonrpc": "2.0", "id": {10 + i}, "method": "workspace/executeCommand", '
            f'"params": {{"command": "{command}", "arguments": null}}}}'
            for i, command in enumerate(("cga.refine", "cga.followUp", "cga.undo", "cga.reset"))
        ],
    ),
    (
        "lone surrogates in a URI, a document and an instruction",
        [
            '{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": '
            '"file:///p/\\ud800.py", "languageId": "python", "version": 1, "text": "def f(x):\\n    "}}}',
            '{"jsonrpc": "2.0", "id": 20, "method": "textDocument/completion", "params": {"textDocument": '
            '{"uri": "file:///p/\\ud800.py"}, "position": {"line": 1, "character": 4}}}',
            '{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": '
            '"file:///p/s.py", "languageId": "python", "version": 1, "text": "def f(x):\\n    y = \\"\\ud800\\"\\n    "}}}',
            '{"jsonrpc": "2.0", "id": 21, "method": "textDocument/completion", "params": {"textDocument": '
            '{"uri": "file:///p/s.py"}, "position": {"line": 2, "character": 4}}}',
            '{"jsonrpc": "2.0", "id": 22, "method": "workspace/executeCommand", "params": {"command": "cga.refine", '
            '"arguments": ["file:///p/s.py", {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},'
            ' "Add \\udfff a docstring."]}}',
        ],
    ),
    (
        "odd request ids",
        [
            '{"jsonrpc": "2.0", "id": [1], "method": "textDocument/hover", "params": {}}',
            '{"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}',
            '{"jsonrpc": "2.0", "id": true, "method": "shutdown"}',
        ],
    ),
    (
        "params of the wrong shape",
        [
            '{"jsonrpc": "2.0", "id": 30, "method": "textDocument/completion", "params": null}',
            '{"jsonrpc": "2.0", "id": 31, "method": "textDocument/inlineCompletion", "params": [1, 2]}',
            '{"jsonrpc": "2.0", "id": 32, "method": "workspace/executeCommand", "params": {"command": "cga.refine", '
            '"arguments": [5, 6, 7]}}',
            '{"jsonrpc": "2.0", "id": 33, "method": "workspace/executeCommand", "params": {"command": "cga.undo", '
            '"arguments": ["file:///p/never-opened.py"]}}',
        ],
    ),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_messages_get_answers_and_no_traceback_anywhere(codegen2_gguf, tmp_path, case):
    """The property of the fuzzer: every request answered (a result or a proper error), the server alive, and no
    traceback, neither in a response nor on stderr (which editors show in their log)."""
    _, messages = case
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr, RawServer(stderr=stderr) as server:
        server.initialize({"model": str(codegen2_gguf), "threads": 2, "maxTokens": 4})
        for message in messages:
            server.send(message.encode())
        answers = []
        for message in messages:
            if '"id"' in message:
                sent = json.loads(message)["id"]
                answers.append(
                    server.response(sent if isinstance(sent, (int, str)) and not isinstance(sent, bool) else None)
                )
        assert server.shut_down() == 0
    for answer in answers:
        assert "result" in answer or answer["error"]["code"] in (-32600, -32601, -32602, -32603, -32800, 1), answer
        assert "Traceback" not in json.dumps(answer) and answer.get("error", {}).get("code") != -32603, answer
    assert "Traceback" not in log.read_text(errors="replace")
