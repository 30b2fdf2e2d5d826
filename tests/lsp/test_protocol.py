"""What the server advertises and how it behaves on the wire, checked in raw JSON-RPC.

Our own typed client sends requests whatever the server advertises; editors do
not (VS Code never asks for inline completions from a server that does not
advertise them), so the capabilities are asserted here, byte for byte.
"""

from __future__ import annotations

import json
import time
from importlib import metadata

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec
from pygls.workspace.text_document import TextDocument

from cga.assistant.model_choice import embedded_default
from cga.lsp.positions import position_at
from cga.lsp.protocol import splice_change
from tests.lsp.raw_client import RawServer

URI = "file:///project/example.py"


def test_the_server_advertises_inline_and_popup_completion_and_its_commands(codegen2_gguf):
    with RawServer() as server:
        answer = server.initialize({"model": str(codegen2_gguf)})
        capabilities = answer["capabilities"]
        # The installed version, not one written by hand beside it.
        assert answer["serverInfo"] == {"name": "cga-lsp", "version": metadata.version("codegen-assistant")}
        assert isinstance(capabilities.get("inlineCompletionProvider"), (dict, bool))
        assert capabilities["inlineCompletionProvider"] not in (False, None)
        assert capabilities["completionProvider"]["triggerCharacters"]
        assert set(capabilities["executeCommandProvider"]["commands"]) == {
            "cga.refine",
            "cga.followUp",
            "cga.undo",
            "cga.reset",
        }
        assert capabilities["textDocumentSync"]["change"] == 2  # incremental
        assert server.shut_down() == 0


def test_a_cancelled_request_is_answered_quietly(codegen2_gguf, tmp_path):
    """Editors cancel a request on nearly every keystroke: RequestCancelled, and no traceback in their log."""
    stderr = (tmp_path / "stderr").open("w+b")  # what an editor shows as the server's output
    with RawServer(stderr=stderr) as server:
        # The debounce holds the request in the server long enough for the cancel to land while it runs.
        server.initialize({"model": str(codegen2_gguf), "threads": 2, "debounceMs": 3000})
        server.open(URI, "def add(a, b):\n    ")
        for request_id in (7, 8):
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "textDocument/inlineCompletion",
                    "params": {
                        "textDocument": {"uri": URI},
                        "position": {"line": 1, "character": 4},
                        "context": {"triggerKind": 2},
                    },
                }
            )
        server.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 8}})
        assert server.response(8)["error"]["code"] == -32800  # RequestCancelled
        # 8 asked for 7's very prompt, so it waited for 7's answer instead of stopping it (issue 19); its cancel
        # leaves 7 the answer
        assert server.response(7)["result"]["items"]
        assert server.shut_down() == 0
        stderr.seek(0)
        log = stderr.read().decode()
        assert "Traceback" not in log and "Exception occurred" not in log, log


def test_answers_sent_while_the_model_loads_reach_the_editor():
    """llama-cpp-python points stdout at /dev/null while it loads a model; the protocol must not be on it."""
    with RawServer() as server:
        server.initialize({"model": str(embedded_default())})
        # The open document makes the server load the model now; the commands are answered meanwhile.
        server.open(URI, "x = 1\n")
        for request_id in range(10, 40):
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "workspace/executeCommand",
                    "params": {"command": "cga.undo", "arguments": [URI]},
                }
            )
            time.sleep(0.02)
        for request_id in range(10, 40):
            assert "refine a selection first" in server.response(request_id)["result"]["error"]
        assert server.shut_down() == 0


def test_the_status_notification_goes_only_to_a_client_that_asks_for_it():
    """cga/status feeds our VS Code extension's status-bar item; lsp-mode shows "Unknown notification: cga/status"
    as a warning at every suggestion. So it goes only where capabilities.experimental.cgaStatus asks for it."""
    states = {}
    for asks in (False, True):
        with RawServer() as server:
            server.initialize(
                {"model": str(embedded_default()), "threads": 2, "maxTokens": 8},
                {"experimental": {"cgaStatus": True} if asks else {}},
            )
            server.open(URI, "def add(a, b):\n    return a")
            position = {"line": 1, "character": 12}
            params = {"textDocument": {"uri": URI}, "position": position, "context": {"triggerKind": 2}}
            server.send({"jsonrpc": "2.0", "id": "ask", "method": "textDocument/inlineCompletion", "params": params})
            assert server.response("ask")["result"]["items"]
            assert server.shut_down() == 0
            states[asks] = [n["params"]["state"] for n in server.notifications if n["method"] == "cga/status"]
    assert states[False] == []
    assert {"loading", "ready", "generating"} <= set(states[True])


def test_a_cursor_with_nothing_before_it_gets_an_empty_answer_not_an_error():
    with RawServer() as server:
        server.initialize({"model": str(embedded_default())})
        for n, (text, character) in enumerate([("", 0), ("x = 1\n", 0), ("   ", 3)]):
            uri = f"file:///project/empty{n}.py"
            server.open(uri, text)
            position = {"line": 0, "character": character}
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": f"popup{n}",
                    "method": "textDocument/completion",
                    "params": {"textDocument": {"uri": uri}, "position": position},
                }
            )
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": f"inline{n}",
                    "method": "textDocument/inlineCompletion",
                    "params": {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 1}},
                }
            )
            assert server.response(f"popup{n}")["result"]["items"] == []
            assert server.response(f"inline{n}")["result"]["items"] == []
        assert server.shut_down() == 0


def test_the_lifecycle_as_the_specification_asks(codegen2_gguf):
    with RawServer() as server:
        completion = {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}}
        server.send({"jsonrpc": "2.0", "id": "early", "method": "textDocument/completion", "params": completion})
        assert server.response("early")["error"]["code"] == -32002  # ServerNotInitialized, no traceback
        server.initialize({"model": str(codegen2_gguf)})
        server.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
        assert server.response("bye")["result"] is None
        server.send({"jsonrpc": "2.0", "id": "late", "method": "textDocument/completion", "params": completion})
        assert server.response("late")["error"]["code"] == -32600  # answered, not left waiting
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert server.process.wait(timeout=30) == 0
    with RawServer() as rude:  # exit without shutdown: code 1
        rude.initialize({"model": str(codegen2_gguf)})
        rude.send({"jsonrpc": "2.0", "method": "exit"})
        assert rude.process.wait(timeout=30) == 1


def test_a_framing_error_is_answered_and_the_stream_recovers(codegen2_gguf):
    with RawServer() as server:
        server.initialize({"model": str(codegen2_gguf)})
        body = json.dumps({"jsonrpc": "2.0", "id": "short", "method": "shutdown"}).encode()
        server.process.stdin.write(b"Content-Length: %d\r\n\r\n" % (len(body) - 5) + body)  # 5 bytes short
        server.send(b"{not json")
        assert server.response(None)["error"]["code"] == -32700
        assert server.response(None)["error"]["code"] == -32700
        server.send(
            {
                "jsonrpc": "2.0",
                "id": "after",
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}},
            }
        )
        assert server.response("after")["result"]["items"] == []  # resynchronised: answered again
        assert server.shut_down() == 0


def test_a_5_mb_document_right_after_open_is_answered():
    """Once 4 runs in 5 never answered again: the model was loading (stdout silenced) as the answer went out."""
    with RawServer() as server:
        server.initialize({"model": str(embedded_default()), "threads": 2})
        server.open(URI, "x = 1\n")
        big = "value = compute(1)\n" * (5 * 2**20 // 19)
        server.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": big}]},
            }
        )
        server.send(
            {
                "jsonrpc": "2.0",
                "id": "big",
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": URI}, "position": {"line": 1000, "character": 0}},
            }
        )
        assert "items" in server.response("big")["result"]
        assert server.shut_down() == 0


def test_positions_are_utf16_whatever_the_client_prefers(codegen2_gguf):
    """Neovim 0.10+ offers UTF-8 first; pygls would take it while our offsets count UTF-16."""
    with RawServer() as server:
        result = server.initialize(
            {"model": str(codegen2_gguf)}, {"general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]}}
        )
        assert result["capabilities"]["positionEncoding"] == "utf-16"
        assert server.shut_down() == 0


TEXTS = st.lists(st.sampled_from(["a", "é", "😀", "\n", "\r\n", "\r", " ", "\t"]), max_size=30).map("".join)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=TEXTS, insert=TEXTS, cuts=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_a_spliced_edit_leaves_the_text_pygls_would(text, insert, cuts):
    """splice_change against pygls's own line-by-line edit, for valid UTF-16 ranges in awkward text."""
    start, end = sorted(round(c * len(text)) for c in cuts)
    assume(not any(0 < o < len(text) and text[o - 1 : o + 1] == "\r\n" for o in (start, end)))
    change = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(*position_at(text, start)), types.Position(*position_at(text, end))),
        text=insert,
    )
    theirs = TextDocument("file:///t.py", text, position_codec=PositionCodec(types.PositionEncodingKind.Utf16))
    ours = TextDocument("file:///t.py", text, position_codec=PositionCodec(types.PositionEncodingKind.Utf16))
    theirs._apply_incremental_change(change)
    splice_change(ours, change)
    assert ours.source == theirs.source == text[:start] + insert + text[end:]


def test_a_clients_mistakes_get_invalid_params_and_no_traceback_anywhere(tmp_path):
    """Issue 19: an unknown command or a wrong argument count got the right answer, and a full traceback on stderr
    each time (editors show stderr in their log); `arguments: null` got -32603 with the traceback in `data`."""
    stderr = (tmp_path / "stderr").open("w+b")
    with RawServer(stderr=stderr) as server:
        server.initialize({"model": str(embedded_default()), "threads": 2})
        mistakes = [
            ("cga.nope", []),
            ("cga.undo", [URI, 2, 3]),
            ("cga.undo", None),
            ("cga.followUp", [URI]),
            ("cga.refine", [URI]),
        ]
        for request_id, (command, arguments) in enumerate(mistakes, start=10):
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "workspace/executeCommand",
                    "params": {"command": command, "arguments": arguments},
                }
            )
            error = server.response(request_id)["error"]
            assert error["code"] == -32602, (command, arguments, error)
            assert "data" not in error or "traceback" not in json.dumps(error["data"])
        assert server.shut_down() == 0
    stderr.seek(0)
    log = stderr.read().decode()
    assert "Traceback" not in log and "Exception occurred" not in log, log


def test_typing_what_the_suggestion_says_is_answered_from_it_without_the_model(tmp_path):
    """Issue 22, item 2: while the characters typed are the suggestion's beginning, its rest comes back at
    once; another character asks the model again. Real `cga lsp`, embedded model; the server's own log line
    says which requests reached the model."""
    uri = "file:///project/add.py"
    with RawServer() as server:
        server.initialize({"model": str(embedded_default()), "threads": 2, "confidenceCut": 0})
        text = "def add(a, b):\n    return a"
        server.open(uri, text)

        def ask(request_id: str, character: int) -> str:
            items = server.inline_completion(request_id, uri, 1, character)["result"]["items"]
            return items[0]["insertText"] if items else ""

        def type_at_end(version: int, typed: str, character: int) -> None:
            server.send(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didChange",
                    "params": {
                        "textDocument": {"uri": uri, "version": version},
                        "contentChanges": [
                            {
                                "range": {
                                    "start": {"line": 1, "character": character},
                                    "end": {"line": 1, "character": character},
                                },
                                "text": typed,
                            }
                        ],
                    },
                }
            )

        def model_calls() -> int:
            return sum(
                "prompt " in n["params"]["message"]
                for n in server.notifications
                if n["method"] == "window/logMessage" and "cga: completion:" in n["params"]["message"]
            )

        first = ask("first", 12)
        assert len(first) > 2, first
        calls = model_calls()
        type_at_end(2, first[:2], 12)
        assert ask("through", 14) == first[2:]  # the rest of what was shown
        assert model_calls() == calls
        type_at_end(3, "@", 14)  # not what the suggestion says: the model is asked
        ask("again", 15)
        assert model_calls() == calls + 1
        assert server.shut_down() == 0


def test_the_prompt_carries_the_imported_definitions_and_the_files_opened_or_saved(tmp_path):
    """Issue 22, item 1, on the wire: real `cga lsp`, real files on disk, the embedded model. The server's own
    log line names the files its prompt drew on; a secret file opened beside them never is one."""
    package = tmp_path / "geometry"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shapes.py").write_text('def area(width, height):\n    """The area of a rectangle."""\n')
    notes, secret = package / "notes.py", package / ".env"
    main = package / "main.py"
    text = "from .shapes import area\n\n\ndef floor(w, h):\n    return "
    with RawServer() as server:
        answer = server.initialize({"model": str(embedded_default()), "threads": 2, "projectContextTokens": 384})
        assert answer["capabilities"]["textDocumentSync"]["save"] not in (None, False)
        server.open(notes.as_uri(), "NOTE_SIZE = 12\n")
        server.open(secret.as_uri(), "API_KEY=hidden\n", "dotenv")
        server.send(
            {"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {"textDocument": {"uri": secret.as_uri()}}}
        )
        server.open(main.as_uri(), text)
        for request_id in ("first", "second"):  # the first reads a short window; the second the whole prompt
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "textDocument/completion",
                    "params": {"textDocument": {"uri": main.as_uri()}, "position": {"line": 4, "character": 11}},
                }
            )
            assert "result" in server.response(request_id)
        lines = [
            n["params"]["message"]
            for n in server.notifications
            if n["method"] == "window/logMessage" and "project context:" in n["params"]["message"]
        ]
        assert server.shut_down() == 0
    assert lines and lines[-1].endswith("project context: geometry/shapes.py, geometry/notes.py"), lines
    assert not any(".env" in line for line in lines)
