"""The language server: thin handlers over the engine and the completion rules.

Generation is serialized (one llama.cpp context) and the latest request wins:
a new completion request cancels the one in flight between two tokens, so
nothing queues behind stale work. `$/cancelRequest` stops a request the same
way and answers it with RequestCancelled.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from lsprotocol import types

from assistant import heap, prompts
from assistant.backend import Backend, Generation, Stats, open_backend, remote_url
from assistant.engine import MIN_ANSWER_TOKENS
from assistant.errors import EngineError
from assistant.model_choice import choose_model

from .completion_context import Context, context_at, shape, window_starts
from .completion_items import inline_items, popup_item
from .main_thread import MainThreadWorker
from .positions import offset_at, position_at
from .protocol import (
    Protocol,
    current_request_id,
    protocol_stdio,
    use_resynchronising_reader,
    use_splicing_documents,
)
from .refinement import RefineError, Refinement, enclosing_function
from .settings import Settings, parse_settings, section

from pygls.exceptions import JsonRpcRequestCancelled  # noqa: E402  (after llama_cpp, via assistant)
from pygls.lsp.server import LanguageServer  # noqa: E402

CACHE_SIZE = 64
ALTERNATIVES = 4  # suggestions asked for when the user wants others (next/previous): the greedy one, then samples
ALTERNATIVE_TEMPERATURE = 0.5  # measured on SmolLM2: at 0.7 most samples drift off the document's indentation
STATUS = "cga/status"  # notification: {state: loading|ready|generating|error, model, message}; see README
main_thread = MainThreadWorker()


class AssistantServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("cga-lsp", "0.1.0", protocol_cls=Protocol)
        self.base_settings = Settings()  # from the command line; the editor's settings go on top
        self.settings = Settings()
        self.engine: Backend | None = None
        self.engine_settings = self.settings  # what the loaded engine was loaded with
        # Two locks, each with one job. generation_lock: the model, loaded and run by one request at a time
        # (held for seconds). state: everything requests share besides it, held only to read or swap a value,
        # never while generating; taken inside generation_lock, never the other way round.
        self.generation_lock = threading.Lock()
        self.state = threading.Lock()
        self.in_flight: threading.Event | None = None
        self.by_request: dict[object, threading.Event] = {}  # cancel events of requests being served
        self.cancelled: set[object] = set()  # ids named by $/cancelRequest while they ran
        self.cache: OrderedDict[tuple, list[str]] = OrderedDict()  # the greedy answer (or none) per prompt

    def get_engine(self) -> Backend:
        """The loaded model, (re)loaded for the current settings. Callers hold generation_lock."""
        with self.state:
            settings = self.settings
        if self.engine is not None and self.engine_settings.reload_needed(settings):
            engine, self.engine = self.engine, None
            main_thread.call(engine.close)
        if self.engine is None:
            self.engine_settings = settings
            try:
                url = remote_url(settings.remote_url)
                what = url or choose_model(settings.model).path.name
            except EngineError as exc:
                self.status("error", str(exc))
                raise
            self.status("loading", what)
            token = self._begin_progress(f"Loading {what}")
            try:
                self.engine, reason = main_thread.call(lambda: open_backend(
                    settings.model, remote=url, threads=settings.threads, gpu_layers=settings.layers,
                    n_ctx=settings.context_tokens))
            except EngineError as exc:
                self.status("error", str(exc))
                raise
            finally:
                if token:
                    self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="Model loaded"))
            self.status("ready")
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Info, f"cga: {self.engine.info.name} ({reason}); {self.engine.describe()}"))
        return self.engine

    def status(self, state: str, message: str = "") -> None:
        """Tell the editor what the model is doing (VS Code's status-bar item shows it)."""
        model = self.engine.info.name if self.engine is not None else None
        self.protocol.notify(STATUS, {"state": state, "model": model, "message": message})

    def _begin_progress(self, title: str) -> str | None:
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

    def warm(self, uri: str) -> None:
        """Prefill the KV cache for a document just opened, so its first completion is not a cold one.

        Any completion request cancels this (latest wins) and keeps what was computed.
        """
        if uri not in self.workspace.text_documents:
            return
        text = self.workspace.get_text_document(uri).source
        cancel = self._take_turn()
        with self.generation_lock:
            if cancel.is_set():
                return
            engine = self.get_engine()
            tokens = self._prompt(engine, text, len(text), "")
            if tokens:
                main_thread.call(_complete_text, engine, tokens, Generation(max_tokens=1, cancel=cancel))
        self.window_log_message(types.LogMessageParams(
            types.MessageType.Log, f"cga: warmed the cache with {len(tokens)} tokens of {uri}"))
        heap.tidy()

    def _take_turn(self) -> threading.Event:
        """A cancel event for new work; the work in flight is told to stop (the latest request wins)."""
        cancel = threading.Event()
        request_id = current_request_id()
        with self.state:
            previous, self.in_flight = self.in_flight, cancel
            if request_id is not None:
                self.by_request[request_id] = cancel
        if previous is not None:
            previous.set()
        return cancel

    def cancel_in_flight(self) -> None:
        """Stop the completion or warm-up being generated (refinements run to the end)."""
        with self.state:
            in_flight = self.in_flight
        if in_flight is not None:
            in_flight.set()

    def cancel_request(self, request_id: object) -> None:
        """$/cancelRequest: stop that request's generation between two tokens."""
        with self.state:
            cancel = self.by_request.get(request_id)
            if cancel is not None:
                self.cancelled.add(request_id)
        if cancel is not None:
            cancel.set()

    def finish_request(self) -> None:
        """Forget the request this thread served; raise RequestCancelled if the client cancelled it."""
        request_id = current_request_id()
        with self.state:
            self.by_request.pop(request_id, None)
            was_cancelled = request_id in self.cancelled
            self.cancelled.discard(request_id)
        if was_cancelled:
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Log, f"cga: request {request_id} cancelled by the editor"))
            raise JsonRpcRequestCancelled(f"Request {request_id} was cancelled.")

    def change_settings(self, raw: object) -> None:
        """Apply new editor settings; a different model, thread count or device reloads the model on next use."""
        settings, problems = parse_settings(raw, self.settings)
        for problem in problems:
            self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, f"cga: {problem}"))
        with self.state:
            previous, self.settings = self.settings, settings
            if previous.reload_needed(settings):
                self.cache.clear()
        if previous.reload_needed(settings):
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Info, "cga: settings changed; the model loads again on the next request"))

    def complete_at(self, uri: str, line: int, character: int, count: int = 1) -> tuple[list[str], Context] | None:
        """Up to count different answers at a cursor (the greedy one first), or None if the user moved on."""
        if uri not in self.workspace.text_documents:
            return None  # not opened by the client: nothing to complete
        document = self.workspace.get_text_document(uri)
        if document.language_id in self.settings.disabled_languages:
            return None
        text, version = document.source, document.version
        offset = offset_at(text, line, character)
        ctx = context_at(text, offset)
        if not ctx.prefix.strip():
            return None  # nothing before the cursor to go on (the top of a file, an empty one)
        key = (hash(ctx.prefix), hash(ctx.suffix), ctx.multiline)  # the exact prompt, not just its tail
        if count == 1:  # alternatives are sampled afresh each time they are asked for
            with self.state:
                cached = self.cache.get(key)
                if cached is not None:
                    self.cache.move_to_end(key)
            if cached is not None:
                return cached, ctx
        cancel = self._take_turn()
        if self.settings.debounce_ms and cancel.wait(self.settings.debounce_ms / 1000):
            return None  # a newer keystroke came within the debounce time
        with self.generation_lock:
            if cancel.is_set():
                return None
            engine = self.get_engine()
            started = time.perf_counter()
            tokens = self._prompt(engine, text, offset, ctx.suffix)
            self.status("generating")
            try:
                answers, stats, greedy = self._answers(engine, tokens, ctx, count, cancel)
            finally:
                self.status("ready")
        heap.tidy()
        self.window_log_message(types.LogMessageParams(
            types.MessageType.Log,
            f"cga: completion: prompt {stats.prompt_tokens} tokens, {stats.reused_tokens} reused, "
            f"{stats.generated} generated, stopped by {stats.stop}, {len(answers)} answers, "
            f"{time.perf_counter() - started:.2f} s",
        ))
        if cancel.is_set():
            return None
        with self.state:
            self.cache[key] = answers[:1] if answers and answers[0] is greedy else []
            while len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
        current = self.workspace.text_documents.get(uri)
        if current is None or current.version != version:
            return None  # the document changed while the model wrote: the answer is for text that is gone
        return answers, ctx

    def _answers(self, engine: Backend, tokens: list[int], ctx: Context, count: int,
                 cancel: threading.Event) -> tuple[list[str], Stats, str]:
        """The greedy answer (and its stats), then samples, shaped for the editor; blank and repeated ones left out."""
        answers: list[str] = []
        limit = self.answer_tokens(engine) if ctx.multiline else min(self.answer_tokens(engine), 48)
        for n in range(count):
            options = Generation(
                max_tokens=limit,
                stop=() if ctx.multiline else ("\n",), cancel=cancel,
                temperature=ALTERNATIVE_TEMPERATURE if n else 0.0)
            answer = shape(main_thread.call(_complete_text, engine, tokens, options), ctx)
            if n == 0:
                stats, greedy = options.stats, answer
            if answer.strip() and answer not in answers:
                answers.append(answer)
            if cancel.is_set():
                break
        return answers, stats, greedy

    def answer_tokens(self, engine: Backend) -> int:
        """maxTokens, within half the loaded model's window (which the model's own context may have cut)."""
        return min(self.settings.max_tokens, engine.n_ctx // 2)

    def _prompt(self, engine: Backend, text: str, offset: int, suffix: str) -> list[int]:
        """The prompt for a cursor: the longest window (see window_starts) that leaves room for the answer."""
        budget = engine.n_ctx - max(self.answer_tokens(engine), MIN_ANSWER_TOKENS)
        for start in window_starts(text, offset):
            prefix = text[start:offset]
            if engine.info.can_infill and suffix.strip():
                tokens = prompts.infill(engine.info, engine.tokenize, prefix, suffix)
            else:
                tokens = engine.tokenize(prefix)
            if len(tokens) <= budget:
                return tokens
        return tokens[-budget:]  # the cursor's line alone is longer than the window

    def refine(self, uri: str, selection: types.Range | None, instruction: str) -> dict:
        text = self._text(uri)
        start, end = (offset_at(text, selection.start.line, selection.start.character),
                      offset_at(text, selection.end.line, selection.end.character)) if selection else (0, 0)
        if start == end:
            start, end = enclosing_function(text, start)
        if not text[start:end].strip():
            raise RefineError("Select the code to refine, or put the cursor inside a function.")
        language = self.workspace.get_text_document(uri).language_id or "python"
        return self._ask(Refinement.start(uri, text[start:end], start, language), instruction)

    def follow_up(self, uri: str, instruction: str) -> dict:
        return self._ask(self._current(uri), instruction)

    def undo_refinement(self, uri: str) -> dict:
        refinement = self._current(uri)
        return self._apply(refinement, refinement.undo, "Undo the last refinement")

    def reset_refinement(self, uri: str) -> dict:
        refinement = self._current(uri)
        return self._apply(refinement, refinement.reset, "Put the original code back")

    def _ask(self, refinement: Refinement, instruction: str) -> dict:
        def rewrite() -> str:
            with self.generation_lock:
                engine = self.get_engine()
                self.status("generating")
                try:
                    return main_thread.call(refinement.ask, engine, instruction, max(self.settings.max_tokens, 256))
                finally:
                    self.status("ready")

        return self._apply(refinement, rewrite, f"Refine: {instruction[:60]}")

    def _text(self, uri: str) -> str:
        if uri not in self.workspace.text_documents:
            raise RefineError(f"{uri} is not open in the editor.")
        return self.workspace.get_text_document(uri).source

    def _current(self, uri: str) -> Refinement:
        refinement = Refinement.load(uri)
        start, end = refinement.span
        if self._text(uri)[start:end] != refinement.conversation.meta["current"]:
            raise RefineError("The refined code was changed or moved since; select it and refine again.")
        return refinement

    def _apply(self, refinement: Refinement, step: Callable[[], str], label: str) -> dict:
        """Take one refinement step and put its code in the document with workspace/applyEdit (Ctrl+Z reverts it)."""
        text = self._text(refinement.uri)
        start, end = refinement.span  # where the code is now, before the step moves it
        code = step()
        edit = types.TextEdit(types.Range(types.Position(*position_at(text, start)),
                                          types.Position(*position_at(text, end))), code)
        result = self.workspace_apply_edit(types.ApplyWorkspaceEditParams(
            edit=types.WorkspaceEdit(changes={refinement.uri: [edit]}), label=label,
        )).result(timeout=60)
        if result.applied:
            refinement.save()
        return {"applied": result.applied, "text": code, "turns": len(refinement.conversation.turns)}


server = AssistantServer()


def serve(settings: Settings, tcp: int | None = None) -> int:
    """Speak LSP on stdio (or on 127.0.0.1:tcp) until the client leaves, then give the exit code LSP asks for.

    The model runs on this thread (see lsp/main_thread.py).
    """
    server.base_settings = server.settings = settings
    use_resynchronising_reader()
    use_splicing_documents()
    heap.keep_forever()
    target = (lambda: server.start_tcp("127.0.0.1", tcp)) if tcp is not None else (
        lambda: server.start_io(*protocol_stdio()))
    protocol = threading.Thread(target=target, name="lsp-protocol", daemon=True)
    protocol.start()
    main_thread.serve_while(protocol)
    return server.protocol.exit_code  # 1 unless the client asked for shutdown before it left


@server.feature(types.INITIALIZE)
def initialize(ls: AssistantServer, params: types.InitializeParams) -> None:
    ls.settings, problems = parse_settings(params.initialization_options, ls.base_settings)
    for problem in problems:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning, f"cga: {problem}"))


@server.feature(types.SHUTDOWN)
def shutdown(ls: AssistantServer, *args) -> None:
    ls.cancel_in_flight()


@server.feature(types.EXIT)
def exit_(ls: AssistantServer, *args) -> None:
    ls.protocol.exiting = True


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: AssistantServer, params: types.DidChangeConfigurationParams) -> None:
    ls.change_settings(section(params.settings))  # in order with the requests that follow it


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: AssistantServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.thread_pool.submit(_quietly, ls, ls.warm, params.text_document.uri)


def _complete_text(backend: Backend, tokens: list[int], options: Generation) -> str:
    return "".join(backend.stream(tokens, options))


def _quietly(ls: AssistantServer, action, *args) -> None:
    """Background work: failures are logged to the client, never raised into the void."""
    try:
        action(*args)
    except Exception as exc:  # noqa: BLE001
        ls.window_log_message(types.LogMessageParams(types.MessageType.Warning, f"cga: background work failed: {exc!r}"))


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: AssistantServer, params: types.DidCloseTextDocumentParams) -> None:
    # pygls has dropped the text; give its memory back (a 20 MB file otherwise kept ~50 MB resident).
    ls.thread_pool.submit(_quietly, ls, heap.tidy)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: AssistantServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.cancel_in_flight()  # what the model is writing is for text that just changed


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "])
)
@server.thread()
def completion(ls: AssistantServer, params: types.CompletionParams) -> types.CompletionList:
    result = _complete(ls, params.text_document.uri, params.position)
    if not result:
        return types.CompletionList(is_incomplete=True, items=[])
    answers, ctx = result
    items = [popup_item(answers[0], ctx.prefix, params.position)] if answers else []
    return types.CompletionList(is_incomplete=True, items=items)


# The options object matters: without one, pygls advertises no inlineCompletionProvider and VS Code never asks.
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
@server.thread()
def inline_completion(ls: AssistantServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    # Typing asks for one suggestion; asking for the next or previous one (Invoked) gets alternatives.
    invoked = params.context is not None and params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    result = _complete(ls, params.text_document.uri, params.position, ALTERNATIVES if invoked else 1)
    return inline_items(result[0] if result else [], params.position)


@server.command("cga.refine")
@server.thread()
def refine(ls: AssistantServer, uri: str, selection: types.Range, instruction: str) -> dict:
    return _command(ls, ls.refine, uri, selection, instruction)


@server.command("cga.followUp")
@server.thread()
def follow_up(ls: AssistantServer, uri: str, instruction: str) -> dict:
    return _command(ls, ls.follow_up, uri, instruction)


@server.command("cga.undo")
@server.thread()
def undo(ls: AssistantServer, uri: str) -> dict:
    return _command(ls, ls.undo_refinement, uri)


@server.command("cga.reset")
@server.thread()
def reset(ls: AssistantServer, uri: str) -> dict:
    return _command(ls, ls.reset_refinement, uri)


def _command(ls: AssistantServer, action, *args) -> dict:
    try:
        return action(*args)
    except EngineError as exc:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"cga: {exc}"))
        return {"applied": False, "error": str(exc)}


def _complete(ls: AssistantServer, uri: str, position: types.Position, count: int = 1) -> tuple[list[str], Context] | None:
    try:
        return ls.complete_at(uri, position.line, position.character, count)
    except EngineError as exc:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"cga: {exc}"))
        return None
    finally:
        ls.finish_request()
