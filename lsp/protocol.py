"""Where the server departs from pygls's JSON-RPC handling: the overrides of its private methods, in one place.

Each one exists because an editor showed the problem:
- a message that is not JSON gets ParseError (-32700), and reading resumes at
  the next header (read_messages): a Content-Length a few bytes short used to
  glue every later header to a body, and the server never answered again;
- a request whose params do not parse gets an error response (pygls logs it and
  sends nothing, so the editor waits forever);
- a threaded handler learns which request it serves, so `$/cancelRequest` can
  stop its generation between two tokens (pygls only cancels work not started);
- a cancelled request is answered with RequestCancelled quietly: cancelling is
  what editors do on every keystroke, and pygls logs each one as a traceback at
  error level, which VS Code shows in the extension's output;
- the JSON-RPC stream is a private copy of stdout (protocol_stdio below);
- the lifecycle the specification asks for: a request before `initialize` gets
  ServerNotInitialized (-32002), one after `shutdown` InvalidRequest (pygls
  answered neither: a traceback, and silence), and `exit` without `shutdown`
  ends the process with code 1 (pygls's sys.exit ran on the protocol thread);
- after `shutdown` only responses go out, and after `exit` nothing: background
  work still finishing (a warm-up, a status notification) would otherwise write
  to a closed pipe and log a traceback as the editor closes;
- positions are always UTF-16, the encoding every client must support: pygls
  takes the client's first preference (Neovim 0.10+ offers UTF-8 first), but
  lsp/positions.py, which turns the cursor into an offset, counts UTF-16;
- an incremental edit is spliced into the document's text (splice_change):
  pygls splits the whole document into a tuple of lines for every change,
  0.3 s a keystroke and a million short-lived strings in a 20 MB file.

They are tied to pygls 2.x's protocol (pyproject pins the major version);
tests/lsp/test_protocol.py exercises each one over stdio.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)
from pygls.feature_manager import is_thread_function
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification, RPCRequest
from pygls.protocol.language_server import lsp_method
from pygls.workspace.text_document import TextDocument

from .positions import offset_at

logger = logging.getLogger(__name__)
handling = threading.local()  # .request_id: the JSON-RPC id of the request this handler thread serves


def protocol_stdio() -> tuple[BinaryIO, BinaryIO]:
    """stdin, and a private duplicate of stdout for JSON-RPC; file descriptor 1 then points at stderr.

    llama-cpp-python silences llama.cpp while it loads a model by pointing file
    descriptors 1 and 2 at /dev/null (dup2). Any response written meanwhile by
    another thread was lost, and the editor waited for it forever (seen in
    Neovim: a refinement command sent while the model loaded). Stray prints from
    native code land in the editor's log instead of corrupting the protocol.
    """
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin.buffer, stdout


_CONTENT_LENGTH = re.compile(rb"Content-Length: *(\d+)\r?\n$", re.IGNORECASE)


async def read_messages(stop_event, reader, protocol, logger=None, error_handler=None) -> None:
    """pygls's message loop (pygls.io_.run_async, same signature), resynchronising after a framing error.

    The header is searched for rather than matched whole: bytes left over from a
    body shorter than its Content-Length come before the next header on its line.
    """
    logger = logger or logging.getLogger(__name__)
    length = 0
    while not stop_event.is_set():
        line = await reader.readline()
        if not line:
            break
        if match := _CONTENT_LENGTH.search(line):
            length = int(match.group(1))
            continue
        if not length or line.strip():
            continue  # another header (Content-Type), or garbage before the next Content-Length
        body = await reader.readexactly(length)
        length = 0
        if not body:
            break
        try:
            message = json.loads(
                body,
                object_hook=_surrogate_free(protocol.structure_message)
                if _MAY_HOLD_SURROGATES.search(body)
                else protocol.structure_message,
            )
        except (ValueError, UnicodeDecodeError):  # not JSON (or cut short): the id is unknowable, so null
            error = JsonRpcParseError("The message is not valid JSON.")
            protocol._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": error.code, "message": error.message}})
            continue
        except Exception as exc:
            logger.exception("Unable to handle message")
            if error_handler:
                error_handler(exc, JsonRpcException)
            continue
        try:
            protocol.handle_message(message)
        except Exception as exc:
            logger.exception("Unable to handle message")
            if error_handler:
                error_handler(exc, JsonRpcException)


def use_resynchronising_reader() -> None:
    """Serve with read_messages instead of pygls's loop (both stdio and TCP call it by this name)."""
    import pygls.server

    pygls.server.run_async = read_messages


def current_request_id() -> object | None:
    return getattr(handling, "request_id", None)


class Protocol(LanguageServerProtocol):
    exiting = False  # set by the server's exit handler, which pygls calls before it closes the pipe
    initialize_received = False

    @property
    def exit_code(self) -> int:
        return 0 if self._shutdown else 1

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            general.position_encodings = [types.PositionEncodingKind.Utf16]
        return (yield from super().lsp_initialize(params))

    def handle_message(self, message):
        method = getattr(message, "method", "")
        if isinstance(message, RPCRequest) and method != "initialize" and not self.initialize_received:
            error = JsonRpcServerNotInitialized("The server has not been initialized; send initialize first.")
            return self._send_response(message.id, None, error.to_response_error())
        if isinstance(message, RPCRequest) and self._shutdown:
            error = JsonRpcInvalidRequest("The server is shutting down; only exit is accepted now.")
            return self._send_response(message.id, None, error.to_response_error())
        if method == "initialize":
            self.initialize_received = True
        return super().handle_message(message)

    def structure_message(self, data):
        if "jsonrpc" not in data:
            return data  # an object inside the message: the whole message comes last
        if "id" in data and not _usable_id(data["id"]):
            # JSON-RPC ids are strings, numbers or null; anything else is an Invalid Request, answered to null.
            error = JsonRpcInvalidRequest("A request id must be a string or a number.")
            self._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": error.code, "message": error.message}})
            return _REJECTED
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not ("id" in data and "method" in data):
                raise
            logger.info("request %s (%s): params do not fit: %s", data["id"], data["method"], exc.__cause__ or exc)
            self._send_response(data["id"], None, exc.to_response_error())
            return _REJECTED

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        if is_thread_function(handler):
            inner = handler

            def handler(*a, **k):
                handling.request_id = msg_id
                try:
                    return inner(*a, **k)
                finally:
                    handling.request_id = None

            handler.execute_in_thread = True
        super()._execute_handler(msg_id, handler, callback, args, kwargs)

    def _handle_cancel_notification(self, msg_id):
        self._server.service.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)  # one not started yet never starts

    def _send_handler_result(self, future: Future[Any], *, msg_id):
        """The answer to a request. A client's mistake (an unknown command, wrong arguments) is its proper error
        and one line in the log: pygls printed a whole traceback to stderr for each, which editors show as the
        server's output. A fault of ours is logged with its traceback, and the client gets the error's sentence
        without the traceback in `data`."""
        failure = None if future.cancelled() else future.exception()
        if failure is None:
            return super()._send_handler_result(future, msg_id=msg_id)
        self._request_futures.pop(msg_id, None)
        if isinstance(failure, JsonRpcException):
            (logger.debug if isinstance(failure, JsonRpcRequestCancelled) else logger.info)(
                "request %s: %s", msg_id, failure
            )
            self._send_response(msg_id, error=failure.to_response_error())
            return
        logger.error("request %s failed", msg_id, exc_info=failure)
        self._send_response(
            msg_id, error=JsonRpcInternalError(f"{type(failure).__name__}: {failure}").to_response_error()
        )

    def _send_data(self, data):
        if self.exiting or (self._shutdown and hasattr(data, "method")):
            logger.debug("not sent after shutdown: %s", getattr(data, "method", data))
            return
        super()._send_data(data)


_REJECTED = JsonRPCNotification(method="$/cga/rejected", jsonrpc="2.0", params=None)
_SURROGATE = re.compile("[\ud800-\udfff]")
# UTF-8 cannot carry a surrogate, so only a JSON escape can: a message without one is not walked (a
# whole-document didChange of a large file arrives at every keystroke).
_MAY_HOLD_SURROGATES = re.compile(rb"\\u[dD][89a-fA-F]")


def _surrogate_free(structure: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """The object hook for a message with surrogate escapes: the whole message cleaned, then structured."""
    return lambda data: structure(_without_lone_surrogates(data)) if "jsonrpc" in data else data


def _usable_id(value: object) -> bool:
    return value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool))


def _without_lone_surrogates(value: Any) -> Any:
    """The message with every lone UTF-16 surrogate (`\\ud800`, which JSON allows and UTF-8 cannot hold) made
    U+FFFD: one such character in a URI, a document or an instruction failed every later encode (the
    tokenizer, a file name, the answer) with UnicodeEncodeError. Pairs were already joined by the JSON reader."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


class _NoDeserializeTraceback(logging.Filter):
    """pygls logs a traceback at error level for every message whose params do not fit; the client gets
    InvalidParams, and structure_message above logs one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable to deserialize message")


logging.getLogger("pygls.protocol.json_rpc").addFilter(_NoDeserializeTraceback())


def splice_change(document: TextDocument, change: types.TextDocumentContentChangePartial) -> None:
    """TextDocument._apply_incremental_change, without splitting the document into lines."""
    source = document.source
    start = offset_at(source, change.range.start.line, change.range.start.character)
    end = offset_at(source, change.range.end.line, change.range.end.character)
    document._source = source[:start] + change.text + source[max(start, end) :]


def use_splicing_documents() -> None:
    TextDocument._apply_incremental_change = splice_change  # type: ignore[method-assign,assignment]
