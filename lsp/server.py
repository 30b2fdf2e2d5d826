"""The language server: thin LSP handlers over lsp/service.py.

Generation is serialized (one llama.cpp context) and the latest request wins:
a new completion request cancels the one in flight between two tokens, so
nothing queues behind stale work. `$/cancelRequest` stops a request the same
way (refinements too) and answers it with RequestCancelled.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import os
import signal
import threading
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer

from cga.assistant import heap
from cga.assistant.kept_caches import remove_own
from cga.core.errors import CgaError

from .completion_items import Insertion, inline_items, insertion_for, popup_items
from .main_thread import MainThreadWorker
from .positions import with_newlines
from .protocol import (
    Protocol,
    current_request_id,
    protocol_stdio,
    use_resynchronising_reader,
    use_splicing_documents,
)
from .refinement import RefineError
from .service import ALTERNATIVES, AssistantService, Document, Position
from .settings import Settings, section
from .tcp_client import accept_one

APPLY_EDIT_SECONDS = 60
STATUS = "cga/status"  # notification: {state: loading|ready|generating|error, model, message}; see README
# The client capability (under `experimental`) that asks for STATUS: sent to a client that does not handle it, it
# is a warning (lsp-mode shows "Unknown notification: cga/status" at every suggestion) or noise in a log.
STATUS_CAPABILITY = "cgaStatus"
# Notification from the editor: {textDocument: {uri}, position: {line, character}} where the cursor came to rest.
CURSOR_RESTED = "cga/cursorRested"
main_thread = MainThreadWorker()


def _version() -> str:
    """The installed package's version (pyproject.toml is its one home), as serverInfo reports it."""
    from importlib import metadata

    try:
        return metadata.version("codegen-assistant")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class AssistantServer(LanguageServer):
    """pygls's server with the service and the editor side of lsp.service.Editor."""

    protocol: Protocol  # pygls builds it from protocol_cls

    def __init__(self) -> None:
        super().__init__("cga-lsp", _version(), protocol_cls=Protocol)
        self.service = AssistantService(self, run=main_thread.call)
        # The last text read of each document with \r line breaks, as (pygls's source, with_newlines of it): a
        # request reads the document several times, and each conversion of a 20 MB file takes 70 ms. A new
        # source (every change makes one) is a new object, so the check is `is`; one assignment, no lock.
        self._with_newlines: dict[str, tuple[str, str]] = {}
        # How the client inserts popup items (see lsp/completion_items.py for why that decides their shape), and
        # whether it asked for STATUS (STATUS_CAPABILITY): both from initialize, once.
        self.insertion = Insertion.FIRST_LINE
        self.wants_status = False

    # lsp.service.Editor

    def document(self, uri: str) -> Document | None:
        document = self.workspace.text_documents.get(uri)
        if document is None:
            self._with_newlines.pop(uri, None)
            return None
        source = document.source
        kept = self._with_newlines.get(uri)
        if kept is not None and kept[0] is source:
            text = kept[1]
        else:
            text = with_newlines(source)
            if text is not source:
                self._with_newlines[uri] = (source, text)
        return Document(text, document.version, document.language_id or "")

    def status(self, state: str, model: str | None, message: str = "") -> None:
        if self.wants_status:
            self.protocol.notify(STATUS, {"state": state, "model": model, "message": message})

    def log(self, message: str, *, important: bool = False) -> None:
        level = types.MessageType.Info if important else types.MessageType.Log
        self.window_log_message(types.LogMessageParams(level, message))

    def warn(self, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, message))

    def begin_progress(self, title: str) -> str | None:
        """$/progress for the client that supports it (the token must be created by request first)."""
        window = self.client_capabilities.window if self.client_capabilities else None
        if not (window and window.work_done_progress):
            return None
        token = str(uuid.uuid4())
        try:
            self.work_done_progress.create(token).result(timeout=10)
        except Exception:  # a client that does not answer gets no progress, not a dead server
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title))
        return token

    def end_progress(self, token: Any, message: str) -> None:
        self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    def apply_edit(self, uri: str, start: Position, end: Position, text: str, label: str) -> bool:
        edit = types.TextEdit(types.Range(types.Position(*start), types.Position(*end)), text)
        answer = self.workspace_apply_edit(
            types.ApplyWorkspaceEditParams(edit=types.WorkspaceEdit(changes={uri: [edit]}), label=label)
        )
        try:
            result = answer.result(timeout=APPLY_EDIT_SECONDS)
        except concurrent.futures.TimeoutError:
            answer.cancel()
            raise RefineError(
                f"The editor did not answer the edit within {APPLY_EDIT_SECONDS} s; the refinement was not kept."
            ) from None
        except Exception as exc:
            raise RefineError(f"The editor refused the edit ({exc}); the refinement was not kept.") from None
        return bool(getattr(result, "applied", False))  # `null` is not a yes

    def finish_request(self) -> None:
        """Forget the request this thread served; raise RequestCancelled if the client cancelled it."""
        request_id = current_request_id()
        if self.service.finish_request(request_id):
            raise JsonRpcRequestCancelled(f"Request {request_id} was cancelled.")


server = AssistantServer()


def serve(settings: Settings, tcp: int | None = None) -> int:
    """Speak LSP on stdio (or with one client on 127.0.0.1:tcp, lsp/tcp_client.py) until the client leaves, then
    give the exit code LSP asks for.

    The model runs on this thread (see lsp/main_thread.py).
    """
    server.service.base_settings = server.service.settings = settings
    _leave_nothing_on(("SIGTERM", "SIGHUP"))
    use_resynchronising_reader()
    use_splicing_documents()
    heap.keep_forever()
    streams = accept_one(tcp) if tcp is not None else protocol_stdio()
    target = lambda: server.start_io(*streams)  # noqa: E731
    protocol = threading.Thread(target=target, name="lsp-protocol", daemon=True)
    protocol.start()
    main_thread.serve_while(protocol)
    return server.protocol.exit_code  # 1 unless the client asked for shutdown before it left


def _leave_nothing_on(names: tuple[str, ...]) -> None:
    """An editor that stops the server with a signal (SIGTERM; SIGHUP when its terminal closes) leaves no kept
    KV cache on disk: each holds a document's token ids. A clean exit removes them at exit already."""

    def stop(signum: int, _frame: object) -> None:
        remove_own()
        os._exit(128 + signum)

    for name in names:
        if hasattr(signal, name):  # Windows has no SIGHUP
            signal.signal(getattr(signal, name), stop)


@server.feature(types.INITIALIZE)
def initialize(ls: AssistantServer, params: types.InitializeParams) -> None:
    ls.insertion = insertion_for(params.client_info.name if params.client_info else None, params.capabilities)
    experimental = params.capabilities.experimental
    ls.wants_status = isinstance(experimental, dict) and experimental.get(STATUS_CAPABILITY) is True
    ls.service.initialize(params.initialization_options)


@server.feature(types.SHUTDOWN)
def shutdown(ls: AssistantServer, *args) -> None:
    ls.service.cancel_in_flight()


@server.feature(types.EXIT)
def exit_(ls: AssistantServer, *args) -> None:
    ls.protocol.exiting = True


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: AssistantServer, params: types.DidChangeConfigurationParams) -> None:
    ls.service.change_settings(section(params.settings))  # in order with the requests that follow it


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: AssistantServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.thread_pool.submit(_quietly, ls, ls.service.opened, params.text_document.uri)


def _quietly(ls: AssistantServer, action, *args) -> None:
    """Background work: failures are logged to the client, never raised into the void."""
    try:
        action(*args)
    except Exception as exc:
        ls.window_log_message(
            types.LogMessageParams(types.MessageType.Warning, f"cga: background work failed: {exc!r}")
        )


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: AssistantServer, params: types.DidCloseTextDocumentParams) -> None:
    # pygls has dropped the text; give its memory back (a 20 MB file otherwise kept ~50 MB resident).
    ls.service.forget(params.text_document.uri)
    ls.document(params.text_document.uri)  # gone: drops the text kept of it
    ls.thread_pool.submit(_quietly, ls, heap.tidy)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: AssistantServer, params: types.DidChangeTextDocumentParams) -> None:
    last = params.content_changes[-1] if params.content_changes else None
    line = last.range.start.line if isinstance(last, types.TextDocumentContentChangePartial) else 0
    ls.service.edited(params.text_document.uri, line)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: AssistantServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.service.keep_chunk(params.text_document.uri)  # where the user worked joins the project context


@server.feature(CURSOR_RESTED)
def cursor_rested(ls: AssistantServer, params: Any) -> None:
    # Custom params reach pygls as nested namedtuples; anything else is said once and ignored.
    document, position = getattr(params, "textDocument", None), getattr(params, "position", None)
    uri = getattr(document, "uri", None)
    line, character = getattr(position, "line", None), getattr(position, "character", None)
    if isinstance(uri, str) and type(line) is int and type(character) is int and line >= 0 and character >= 0:
        ls.service.cursor_rested(uri, (line, character))
        return
    ls.window_log_message(
        types.LogMessageParams(
            types.MessageType.Warning,
            f"cga: {CURSOR_RESTED} takes {{textDocument: {{uri}}, position: {{line, character}}}}; ignored",
        )
    )


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "]))
@server.thread()
def completion(ls: AssistantServer, params: types.CompletionParams) -> types.CompletionList:
    result = _complete(ls, params.text_document.uri, params.position)
    if not result:
        return types.CompletionList(is_incomplete=True, items=[])
    answers, ctx = result
    items = popup_items(answers[0], ctx.prefix, params.position, ls.insertion) if answers else []
    return types.CompletionList(is_incomplete=True, items=items)


# The options object matters: without one, pygls advertises no inlineCompletionProvider and VS Code never asks.
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
@server.thread()
def inline_completion(ls: AssistantServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    # Typing asks for one suggestion; asking for the next or previous one (Invoked) gets alternatives.
    invoked = params.context is not None and params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    result = _complete(ls, params.text_document.uri, params.position, ALTERNATIVES if invoked else 1)
    return inline_items(result[0] if result else [], params.position)


def _complete(ls: AssistantServer, uri: str, position: types.Position, count: int = 1):
    try:
        return ls.service.complete_at(uri, (position.line, position.character), count, current_request_id())
    except CgaError as exc:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"cga: {exc}"))
        return None
    finally:
        ls.finish_request()


def arguments_checked(command: Callable[..., dict]) -> Callable[..., dict]:
    """A command's arguments checked before it runs: a wrong count (`arguments: null` included) or a text that is
    not a string is Invalid Params, not a TypeError from inside the command."""
    signature = inspect.signature(command)
    wanted = list(signature.parameters.values())[1:]  # after the server

    @functools.wraps(command)
    def checked(ls: AssistantServer, *arguments: Any) -> dict:
        usage = f"takes [{', '.join(p.name for p in wanted)}]"
        if len(arguments) != len(wanted):
            raise JsonRpcInvalidParams(f"{command.__name__} {usage}, not {len(arguments)} arguments")
        for parameter, value in zip(wanted, arguments, strict=False):
            if parameter.annotation in (str, "str") and not isinstance(value, str):
                raise JsonRpcInvalidParams(f"{command.__name__} {usage}; {parameter.name} must be a string")
        return command(ls, *arguments)

    return checked


@server.command("cga.refine")
@server.thread()
@arguments_checked
def refine(ls: AssistantServer, uri: str, selection: types.Range | None, instruction: str) -> dict:
    span = (
        ((selection.start.line, selection.start.character), (selection.end.line, selection.end.character))
        if selection
        else None
    )
    return _rewrite(ls, ls.service.refine, uri, span, instruction)


@server.command("cga.followUp")
@server.thread()
@arguments_checked
def follow_up(ls: AssistantServer, uri: str, instruction: str) -> dict:
    return _rewrite(ls, ls.service.follow_up, uri, instruction)


@server.command("cga.undo")
@server.thread()
@arguments_checked
def undo(ls: AssistantServer, uri: str) -> dict:
    return _command(ls, ls.service.undo_refinement, uri)


@server.command("cga.reset")
@server.thread()
@arguments_checked
def reset(ls: AssistantServer, uri: str) -> dict:
    return _command(ls, ls.service.reset_refinement, uri)


def _rewrite(ls: AssistantServer, action, *args) -> dict:
    """A refinement: answered when the edit is made, or with refineInBackground at once (`{"started": true}`),
    the edit following by workspace/applyEdit and a failure by window/showMessage. Emacs's eglot waits for a
    command's answer with the editor blocked, and gives up after 10 s (issue 19)."""
    if not ls.service.settings.refine_in_background:
        return _command(ls, action, *args, current_request_id())
    ls.finish_request()
    threading.Thread(
        target=_quietly, args=(ls, _command, ls, action, *args, None), name="cga-refine", daemon=True
    ).start()
    return {"started": True}


def _command(ls: AssistantServer, action, *args) -> dict:
    try:
        return action(*args)
    except CgaError as exc:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"cga: {exc}"))
        return {"applied": False, "error": str(exc)}
    finally:
        ls.finish_request()
