"""Refinement over a real LSP session: refine, follow up, undo, restart the server, resume, reset."""

from __future__ import annotations

import sys

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from cga.assistant.model_choice import embedded_default
from cga.lsp.refinement import RefineError, Refinement, enclosing_function
from tests.fake_backend import FakeBackend

URI = "file:///project/shapes.py"
SOURCE = "import math\n\n\ndef area(r):\n    x = math.pi * r * r\n    return x\n\n\nprint(area(2))\n"


class Editor:
    """Plays the editor's part: applies the server's edits and reports them back with didChange."""

    def __init__(self, client: LanguageClient, text: str) -> None:
        self.client, self.text, self.version = client, text, 1
        self.edits: list[types.ApplyWorkspaceEditParams] = []

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.edits.append(params)
            (edit,) = params.edit.changes[URI]
            from cga.lsp.positions import offset_at

            start = offset_at(self.text, edit.range.start.line, edit.range.start.character)
            end = offset_at(self.text, edit.range.end.line, edit.range.end.character)
            self.text = self.text[:start] + edit.new_text + self.text[end:]
            self.version += 1
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=self.version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=self.text)],
                )
            )
            return types.ApplyWorkspaceEditResult(applied=True)

        client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text))
        )

    async def run(self, command: str, *arguments) -> dict:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=list(arguments))
        )


async def session() -> LanguageClient:
    client = await ClientServerConfig(server_command=[sys.executable, "-m", "cga.cli", "lsp"]).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"model": str(embedded_default()), "threads": 2, "maxTokens": 128},
        )
    )
    return client


def test_enclosing_function():
    start, end = enclosing_function(SOURCE, SOURCE.index("pi"))
    assert SOURCE[start:end] == "def area(r):\n    x = math.pi * r * r\n    return x\n"
    nested = "class A:\n    def f(self):\n        return 1\n\n    size = 2\n"
    start, end = enclosing_function(nested, nested.index("size"))
    assert nested[start:end] == nested  # the class, not the method above the cursor
    for outside in ("import", "print(area"):  # above any function, and after the last one
        with pytest.raises(RefineError, match="no function around the cursor"):
            enclosing_function(SOURCE, SOURCE.index(outside))


@pytest.mark.asyncio
async def test_refine_outside_any_function_changes_nothing_and_says_so():
    """Issue 19: `cga.refine` with the cursor on `import os` replaced it with a made-up decorator."""
    client = await session()
    editor = Editor(client, SOURCE)
    cursor = types.Position(0, 3)
    result = await editor.run("cga.refine", URI, types.Range(cursor, cursor), "Add a docstring.")
    assert result["applied"] is False and "no function around the cursor" in result["error"]
    assert editor.edits == [] and editor.text == SOURCE
    await client.shutdown_session()


@pytest.mark.asyncio
async def test_refine_follow_up_undo_restart_reset():
    client = await session()
    editor = Editor(client, SOURCE)
    cursor = types.Position(4, 8)  # inside area(): refine the enclosing function
    first = await editor.run("cga.refine", URI, types.Range(cursor, cursor), "Rename the variable x to result.")
    assert first["applied"] and first["turns"] == 1, first
    assert editor.text.startswith("import math\n\n\n") and editor.text.endswith("print(area(2))\n")
    assert first["text"] in editor.text
    second = await editor.run("cga.followUp", URI, "Add a docstring.")
    assert second["applied"] and second["turns"] == 2, second
    undone = await editor.run("cga.undo", URI)
    assert undone["turns"] == 1 and undone["text"] == first["text"] and first["text"] in editor.text
    await client.shutdown_session()

    client = await session()  # a new server process: the conversation comes back from disk
    restarted = Editor(client, editor.text)
    again = await restarted.run("cga.followUp", URI, "Add a docstring.")
    assert again["applied"] and again["turns"] == 2, again
    reset = await restarted.run("cga.reset", URI)
    assert reset["turns"] == 0 and restarted.text == SOURCE
    nothing = await restarted.run("cga.undo", URI)
    assert nothing["applied"] is False and "Nothing to undo" in nothing["error"]
    await client.shutdown_session()


@pytest.mark.asyncio
async def test_follow_up_without_a_refinement_is_explained():
    client = await session()
    editor = Editor(client, SOURCE)
    result = await editor.run("cga.followUp", URI, "Add types.")
    assert result["applied"] is False and "refine a selection first" in result["error"]
    assert any("refine a selection first" in m.message for m in client.messages)
    await client.shutdown_session()


def test_a_turn_that_changes_nothing_is_refused_and_not_kept():
    # A model that simplifies once and then writes the same code again (the embedded one did, on some CPUs).
    code = "def area(r):\n    x = math.pi * r * r\n    return x\n"
    model = FakeBackend("def area(r):\n    return math.pi * r * r\n", codegen=True)
    refinement = Refinement.start("file:///project/shapes.py", code, 0, "python")
    first = refinement.ask(model, "Do not change anything.", 256)
    assert first != code and len(refinement.conversation.turns) == 1
    with pytest.raises(RefineError, match="unchanged"):
        refinement.ask(model, "Do not change anything.", 256)
    assert len(refinement.conversation.turns) == 1 and refinement.conversation.meta["current"] == first


def test_reset_with_nothing_to_reset_says_so():
    refinement = Refinement.start("file:///project/shapes.py", "x = 1\n", 0, "python")
    with pytest.raises(RefineError, match="already as it was"):
        refinement.reset()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_an_editor_that_answers_the_edit_with_null_gets_no_traceback_and_keeps_no_refinement():
    """Issue 20: `null` for workspace/applyEdit's answer was an AttributeError traceback, and no answer a
    TimeoutError one after 60 s. (pygls's client sends no response for a handler's None, so this waits out the 60 s:
    either way the user gets one sentence and nothing is kept.)"""
    client = await session()

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply(params):
        return None

    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=URI, language_id="python", version=1, text=SOURCE))
    )
    cursor = types.Position(4, 8)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="cga.refine", arguments=[URI, types.Range(cursor, cursor), "Rename the variable x to result."]
        )
    )
    assert result["applied"] is False and ("text" in result or "did not answer" in result["error"]), result
    with pytest.raises(RefineError):
        Refinement.load(URI)  # nothing kept for an edit that was not made
    await client.shutdown_session()


def _saved_refinement() -> dict:
    refinement = Refinement.start(URI, "def f(x):\n    return x\n", 0, "python")
    refinement.conversation.add("Add types.", "def f(x: int) -> int:\n    return x")
    refinement.save()
    return refinement.conversation.to_dict()


DAMAGE = {
    "cut short": lambda raw: raw[: len(raw) // 2],
    "not JSON at all": lambda raw: b"\x00\xff garbage",
    "a list": lambda raw: b"[1, 2]",
    "nested 100,000 deep": lambda raw: b"[" * 100_000 + b"]" * 100_000,
    "turns missing their code": lambda raw: raw.replace(b'"code"', b'"cod"'),
    "turns not a list": lambda raw: _edited(raw, turns="many"),
    "a huge number for start": lambda raw: raw.replace(b'"start": 0', b'"start": 1e400'),
    "a negative start": lambda raw: raw.replace(b'"start": 0', b'"start": -4'),
    "start as text": lambda raw: raw.replace(b'"start": 0', b'"start": "0"'),
    "current missing": lambda raw: raw.replace(b'"current"', b'"kurrent"'),
    "original a number": lambda raw: _edited_meta(raw, original=5),
    "meta a list": lambda raw: _edited(raw, meta=[1]),
    "header a number": lambda raw: _edited(raw, header=1),
    "instruction null": lambda raw: raw.replace(b'"instruction": "Add types."', b'"instruction": null'),
    "another version": lambda raw: _edited(raw, version=2),
}


def _edited(raw: bytes, **changes) -> bytes:
    import json

    return json.dumps({**json.loads(raw), **changes}).encode()


def _edited_meta(raw: bytes, **changes) -> bytes:
    import json

    data = json.loads(raw)
    data["meta"].update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_saved_refinement_is_named_and_kept_aside(isolated_home, damage):
    """followUp, undo and reset all begin with Refinement.load."""
    from cga.assistant import conversation_store
    from cga.lsp.refinement import store_name

    _saved_refinement()
    path = conversation_store.path_for(store_name(URI))
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    with pytest.raises(RefineError) as failure:
        Refinement.load(URI)
    message = str(failure.value)
    assert "is damaged" in message and str(path) in message and "kept aside as" in message, message
    assert not path.exists() and len(list(path.parent.glob(path.name + ".damaged-*"))) == 1
    with pytest.raises(RefineError, match="There is no refinement"):  # reported once, then a fresh start
        Refinement.load(URI)


def test_an_intact_saved_refinement_loads(isolated_home):
    saved = _saved_refinement()
    assert Refinement.load(URI).conversation.to_dict() == saved
