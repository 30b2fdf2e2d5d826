"""What the language server does, without pygls: load the model, complete at a cursor, refine code.

`lsp/server.py` is a thin layer of LSP handlers over this, in the way of
jedi-language-server; whatever talks to the editor goes through the small
`Editor` interface, so the rules here (latest request wins, the answer cache,
prompt windows, refinement turns) are tested with a plain object in place of
an editor and a fake backend in place of llama.cpp.

Threads: requests arrive on pygls's worker threads. Two locks, each with one
job. `generation_lock` is the model, loaded and run by one request at a time
(held for seconds). `state` is everything requests share besides it, held only
to read or swap a value, never while generating, and taken inside
`generation_lock`, never the other way round.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cga.assistant import heap, prompts, security
from cga.assistant.backend import MIN_ANSWER_TOKENS, Backend, Generation, Stats
from cga.assistant.conversation import Conversation
from cga.assistant.model_choice import choose_model
from cga.assistant.opening import open_backend, remote_url
from cga.assistant.server_url import redacted
from cga.assistant.whole_code import CUT_SHORT, whole_code

from .completion_context import Context, context_at, indent_of, shape, window_starts
from .positions import offset_at, position_at
from .project_context import Chunk, ProjectContext
from .refinement import RefineError, Refinement, enclosing_function
from .secret_files import looks_secret
from .settings import Settings, parse_settings

CACHE_SIZE = 64
ALTERNATIVES = 4  # suggestions asked for when the user wants others (next/previous): the greedy one, then samples
ALTERNATIVE_TEMPERATURE = 0.5  # measured on SmolLM2: at 0.7 most samples drift off the document's indentation
SINGLE_LINE_TOKENS = 48
MAX_LOADED = 2  # models kept loaded at once: a Python (mono) one and a multi-language one
# The first suggestion in a file the model has not read yet reads at most this much of it (a few tenths of a
# second instead of seconds); the whole window is read behind it, and later suggestions use all of it.
FIRST_WINDOW_TOKENS = 256


@dataclass(frozen=True)
class Document:
    text: str
    version: int | None
    language: str


Position = tuple[int, int]  # line, UTF-16 character (the editor's units)


class Turn:
    """One piece of model work and the requests waiting for it (more than one when they ask the same)."""

    def __init__(self, key: tuple | None, count: int, background: bool = False, reading: bool = False) -> None:
        self.key, self.count = key, count
        self.background = background  # work no request waits for: it never stops one
        self.reading = reading  # a read of a window (warm): a cursor come to rest elsewhere makes it stale
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.waiters: set[object] = set()  # request ids; $/cancelRequest stops the work when none is left
        self.result: tuple[list[str], Context] | None = None


class Editor(Protocol):
    """What the service needs from the editor it serves."""

    def document(self, uri: str) -> Document | None:
        """The open document's current text, or None if the editor has not opened it."""

    def status(self, state: str, model: str | None, message: str = "") -> None:
        """loading | ready | generating | error (VS Code's status-bar item shows it)."""

    def log(self, message: str, *, important: bool = False) -> None:
        """A line for the editor's log (important: its info level, else its debug level)."""

    def warn(self, message: str) -> None:
        """A message the user sees (a settings problem)."""

    def begin_progress(self, title: str) -> Any:
        """Start a progress indicator; a token for end_progress, or None where the editor has none."""

    def end_progress(self, token: Any, message: str) -> None: ...

    def apply_edit(self, uri: str, start: Position, end: Position, text: str, label: str) -> bool:
        """Replace a range of the document (one undo step for the user); whether the editor applied it."""


class BackendLoader:
    """Opens the model the settings name: a team's server, or a local model (without a model setting, the one
    best suited to the document's language). Tests give a fake one."""

    def label(self, settings: Settings, language: str) -> str:
        """What is about to load, for the progress title and as its key; raises the user's error early."""
        url = remote_url(settings.remote_url)
        return redacted(url) if url else choose_model(settings.model, language).path.name

    def open(self, settings: Settings, language: str) -> tuple[Backend, str]:
        return open_backend(
            settings.model,
            remote=settings.remote_url,
            threads=settings.threads,
            gpu_layers=settings.layers,
            n_ctx=settings.context_tokens,
            language=language,
        )


def _direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@dataclass(frozen=True)
class Shown:
    """The last suggestion answered for a document, and the text either side of the cursor it was for (kept
    apart once, so that each keystroke compares without copying the document)."""

    before: str
    after: str
    language: str
    answer: str


class AssistantService:
    def __init__(
        self,
        editor: Editor,
        settings: Settings = Settings(),
        *,
        loader: BackendLoader | None = None,
        run: Callable[..., Any] = _direct,
    ) -> None:
        """run: how model work is called (the server runs it on the main thread; see lsp/main_thread.py)."""
        self.editor = editor
        self.loader = loader or BackendLoader()
        self.run = run
        self.base_settings = settings  # from the command line; the editor's settings go on top
        self.settings = settings
        self.backend: Backend | None = None  # the one that served last
        self.backends: OrderedDict[str, Backend] = OrderedDict()  # loaded, by what label() names, latest last
        self.chosen: dict[str, str] = {}  # language → what label() named for it under the loaded settings
        self.backend_settings = settings  # what the loaded backends were opened with
        self.generation_lock = threading.Lock()
        self.state = threading.Lock()
        self.in_flight: Turn | None = None  # the completion or warm-up being generated
        self.by_request: dict[object, Turn] = {}  # the work each request being served waits for
        self.cancelled: set[object] = set()  # ids named by $/cancelRequest while they ran
        self.cache: OrderedDict[tuple, list[str]] = OrderedDict()  # the greedy answer (or none) per prompt
        self.shown: dict[str, Shown] = {}  # per document, the last suggestion answered: typing through it
        self.read: set[str] = set()  # documents whose whole window the model has read (warm from now on)
        self.rests = 0  # cursor_rested calls so far: a read for an earlier resting place is stale
        self.rested_at: tuple[str, int, int | None] = ("", 0, None)  # the latest: uri, offset, document version
        self.resting = False  # a thread reads where the cursor rested (_read_where_rested)
        self.closed = False  # close() was called: background work that comes after it does nothing
        self.project = ProjectContext()  # what the model sees of the other files (its own locks)
        self.last_uri: str | None = None  # the document the last completion was for

    # -- the model -----------------------------------------------------------------------------------------

    def loaded(self, language: str = "") -> Backend:
        """The backend for a document's language, (re)opened for the current settings. Callers hold
        generation_lock."""
        with self.state:
            settings = self.settings
        if self.backend_settings.reload_needed(settings):
            self._close_all()
        self.backend_settings = settings
        try:
            # Chosen once per language (choosing reads the store): a keystroke does not pay for it again.
            what = self.chosen.get(language) or self.loader.label(settings, language)
        except Exception as exc:
            self.editor.status("error", None, str(exc))
            raise
        self.chosen[language] = what
        if what in self.backends:
            self.backends.move_to_end(what)
            self.backend = self.backends[what]
            return self.backend
        self.editor.status("loading", None, what)
        token = self.editor.begin_progress(f"Loading {what}")
        try:
            backend, reason = self.run(self.loader.open, settings, language)
        except Exception as exc:
            self.editor.status("error", None, str(exc))
            raise
        finally:
            if token is not None:
                self.editor.end_progress(token, "Model loaded")
        self.backends[what] = self.backend = backend
        while len(self.backends) > MAX_LOADED:
            self.run(self.backends.popitem(last=False)[1].close)
        self.editor.status("ready", backend.info.name)
        self.editor.log(f"cga: {backend.info.name} ({reason}); {backend.describe()}", important=True)
        return backend

    def _close_all(self) -> None:
        while self.backends:
            self.run(self.backends.popitem()[1].close)
        self.backend = None
        self.chosen.clear()

    def _model_name(self) -> str | None:
        return self.backend.info.name if self.backend is not None else None

    def change_settings(self, raw: object) -> None:
        """Apply new editor settings; a different model, thread count or device reloads the model on next use."""
        settings, problems = parse_settings(raw, self.settings)
        for problem in problems:
            self.editor.warn(f"cga: {problem}")
        with self.state:
            previous, self.settings = self.settings, settings
            if previous.reload_needed(settings):
                self.cache.clear()
                self.shown.clear()
        if previous.reload_needed(settings):
            self.editor.log("cga: settings changed; the model loads again on the next request", important=True)

    def initialize(self, raw: object) -> None:
        """The settings the editor starts us with (initializationOptions), over the command line's."""
        settings, problems = parse_settings(raw, self.base_settings)
        for problem in problems:
            self.editor.warn(f"cga: {problem}")
        with self.state:
            self.settings = settings

    def close(self) -> None:
        """Free the models, after the work in progress (a closed llama.cpp model crashes the process when used)."""
        self.cancel_in_flight()
        with self.generation_lock:
            self.closed = True
            self._close_all()

    # -- who runs: the latest request wins, and requests for the same prompt share one answer -----------------

    def take_turn(
        self,
        request_id: object = None,
        key: tuple | None = None,
        count: int = 1,
        background: bool = False,
        reading: bool = False,
    ) -> tuple[Turn, bool]:
        """The turn for new work, and whether it leads (generates) or joins a generation in flight.

        A newer cursor tells the completion in flight to stop (the latest request wins). A request for the very
        prompt in flight (key) instead waits for its answer: VS Code asks for the popup and the ghost text at one
        cursor, and cancelling one for the other left the popup empty (issue 19). One that wants more answers
        than the one in flight computes waits its turn behind it instead of stopping it.
        """
        with self.state:
            previous = self.in_flight
            if background and previous is not None and not previous.background and not previous.done.is_set():
                # Background work (reading a file, the next suggestion) started just after an answer must not
                # stop a request that came meanwhile: it gives up instead (it took the turn and emptied answers).
                gave_up = Turn(None, 1, background=True)
                gave_up.cancel.set()
                return gave_up, False
            same = (
                previous
                if key is not None
                and previous is not None
                and previous.key == key
                and not previous.cancel.is_set()
                and not previous.done.is_set()
                else None
            )
            if same is not None and same.count >= count:
                turn, leads = same, False
            else:
                turn, leads = Turn(key, count, background, reading), True
                self.in_flight = turn
            if request_id is not None:
                turn.waiters.add(request_id)
                self.by_request[request_id] = turn
        if leads and previous is not None and same is None:
            previous.cancel.set()
        return turn, leads

    @contextlib.contextmanager
    def _background(self, reading: bool = False) -> Iterator[Turn]:
        """The turn for background work, once the background work before it is done (one read of a file does
        not stop another, nor the next suggestion the read behind a first answer); any request stops it."""
        while True:
            with self.state:
                previous = self.in_flight
            if previous is None or not previous.background or previous.done.is_set():
                break
            previous.done.wait()
        turn = self.take_turn(background=True, reading=reading)[0]
        try:
            yield turn
        finally:
            turn.done.set()

    def _register(self, request_id: object) -> threading.Event:
        """A cancel event that only $/cancelRequest sets (a refinement is not stale when the user types)."""
        turn = Turn(None, 1)
        if request_id is not None:
            with self.state:
                turn.waiters.add(request_id)
                self.by_request[request_id] = turn
        return turn.cancel

    def cancel_in_flight(self) -> None:
        """Stop the completion or warm-up being generated (the text it was for just changed)."""
        with self.state:
            in_flight = self.in_flight
        if in_flight is not None:
            in_flight.cancel.set()

    def cancel_request(self, request_id: object) -> None:
        """$/cancelRequest: stop that request's generation between two tokens, unless another request waits for
        the same answer."""
        with self.state:
            turn = self.by_request.get(request_id)
            if turn is not None:
                self.cancelled.add(request_id)
                turn.waiters.discard(request_id)
            stop = turn is not None and not turn.waiters
        if turn is not None and stop:
            turn.cancel.set()

    def finish_request(self, request_id: object) -> bool:
        """Forget a request that was served; whether the client cancelled it meanwhile."""
        with self.state:
            turn = self.by_request.pop(request_id, None)
            if turn is not None:
                turn.waiters.discard(request_id)
            was_cancelled = request_id in self.cancelled
            self.cancelled.discard(request_id)
        if was_cancelled:
            self.editor.log(f"cga: request {request_id} cancelled by the editor")
        return was_cancelled

    # -- completion ------------------------------------------------------------------------------------------

    def warm(self, uri: str, offset: int | None = None, rest: int | None = None) -> None:
        """Prefill the KV cache with the window of a cursor (the end of a document just opened, where no cursor
        is known yet), so that the completions there are not cold ones. Once one window is read, the document
        counts as read: a cursor elsewhere reads its own window whole, as the quality of what it is shown
        depends on it (bench/race_bench.py: short windows while typing got no line right).

        Any completion request cancels this (latest wins) and keeps what was computed. rest: the read is for
        where the cursor came to rest (cursor_rested), and is dropped once it rests elsewhere.
        """
        document = self.editor.document(uri)
        if document is None:
            return
        if not self._may_read(uri, document.language):
            return
        with self._background(reading=True) as turn, self.generation_lock:
            cancel = turn.cancel
            if cancel.is_set() or self.closed:
                return
            if rest is not None:
                with self.state:
                    rested_in = self.rested_at[2] if rest == self.rests else None
                document = self.editor.document(uri)  # as it is now, after the wait for the turn
                if rested_in is None or document is None or document.version != rested_in:
                    return  # the cursor rested elsewhere since, or the user typed: a request reads what it needs
            backend = self.loaded(document.language)
            text = document.text
            at = len(text) if offset is None else min(offset, len(text))
            head = self._head(uri, document.language, text)
            tokens = self._prompt(backend, text, at, context_at(text, at).suffix, head=head)
            if not tokens and rest is not None:
                return  # nothing before the cursor: reading it is not reading the document
            if tokens:
                self.run(_complete_text, backend, tokens, Generation(max_tokens=0, cancel=cancel, cache_key=uri))
            if cancel.is_set():
                return  # a request came: it reads what it needs, and this resumes after it
            with self.state:
                self.read.add(uri)
        where = " where the cursor rested" if rest is not None else ""
        self.editor.log(f"cga: warmed the cache with {len(tokens)} tokens of {uri}{where}")
        heap.tidy()

    def cursor_rested(self, uri: str, position: Position) -> None:
        """The cursor came to rest somewhere (cga/cursorRested, which our editor plugins send a moment after it
        stops): its window is read now, while the user reads the code there, so that the first suggestion
        there is not a cold one (2,000 tokens take 10 s on two cores). A read for an earlier resting place, or
        for the end of a file just opened, stops: only where the cursor is now counts. The next suggestion
        computed ahead does not stop (after Tab the cursor rests where it is for).

        Returns at once: one thread reads, always for the latest place, however often the cursor rests. The very
        top of a file has nothing to read (an editor's cursor starts there): it stops nothing."""
        document = self.editor.document(uri)
        if document is None:
            return
        offset = offset_at(document.text, *position)
        if offset == 0:
            return
        with self.state:
            self.rests += 1
            self.rested_at = (uri, offset, document.version)
            stale, start = self.in_flight, not self.resting
            self.resting = True
        if stale is not None and stale.reading:
            stale.cancel.set()
        if start:
            threading.Thread(target=self._read_where_rested, name="cga-rested", daemon=True).start()

    def _read_where_rested(self) -> None:
        while True:
            with self.state:
                rest, (uri, offset, _) = self.rests, self.rested_at
            self._warm_quietly(uri, offset, rest)
            with self.state:
                if rest == self.rests:
                    self.resting = False
                    return

    def _warm_quietly(self, uri: str, offset: int, rest: int | None = None) -> None:
        try:
            self.warm(uri, offset, rest)
        except Exception as exc:
            self.editor.log(f"cga: reading {uri} failed: {exc!r}")

    def _widen(self, uri: str, offset: int, after: Turn) -> None:
        """The whole window read once the request that answered from the first one is done: started before,
        it took the turn and cancelled the answer it was to follow (see take_turn); the next request cancels
        it, as any other."""
        after.done.wait()
        self._warm_quietly(uri, offset)

    def forget(self, uri: str) -> None:
        """The editor closed a document: the next time it opens, it is a new file to the model."""
        with self.state:
            self.read.discard(uri)
            self.shown.pop(uri, None)
        self.project.forget(uri)

    def opened(self, uri: str) -> None:
        """The editor opened a document: its top joins the project context; then its window is read."""
        self.keep_chunk(uri, 0)
        self.warm(uri)

    def edited(self, uri: str, line: int) -> None:
        """Where the user last changed a document (from didChange): the chunk kept of it when it is saved or
        left is taken there."""
        self.cancel_in_flight()  # what the model is writing is for text that just changed
        self.project.note_edit(uri, line)

    def keep_chunk(self, uri: str, line: int | None = None) -> None:
        """A chunk of a document for the project context (saved, left for another: around its last edit)."""
        document = self.editor.document(uri)
        if document is not None and self._may_read(uri, document.language):
            self.project.pick(uri, document.language, document.text, line)

    def _head(self, uri: str, language: str, text: str) -> tuple[str, ...]:
        """The project context for a document's prompt (see lsp/project_context.py), as pieces of text."""
        if not self.settings.project_context_tokens:
            return ()
        return tuple(self.project.pieces(uri, language, text, self._may_show))

    def _may_show(self, chunk: Chunk) -> bool:
        return self._may_read(chunk.uri, chunk.language)

    def complete_at(
        self, uri: str, position: Position, count: int = 1, request_id: object = None
    ) -> tuple[list[str], Context] | None:
        """Up to count different answers at a cursor (the greedy one first), or None if the user moved on."""
        document = self.editor.document(uri)
        if document is None or not self._may_read(uri, document.language):
            return None  # not opened by the client, or a document the user keeps from the model
        with self.state:
            left, self.last_uri = self.last_uri, uri
        if left is not None and left != uri:
            self.keep_chunk(left)  # the user moved to another file: where they worked in the last one is context
        offset = offset_at(document.text, *position)
        ctx = context_at(document.text, offset)
        if not ctx.prefix.strip():
            return None  # nothing before the cursor to go on (the top of a file, an empty one)
        if count == 1:  # alternatives are sampled afresh each time they are asked for
            with self.state:
                rest = self._typed_through(uri, document, offset)
            if rest is not None:
                self.editor.log(
                    f"cga: completion: typed through the suggestion shown, {len(rest)} characters left; no model call"
                )
                return [rest], ctx
        head = self._head(uri, document.language, document.text)
        prompt_key = _prompt_key(ctx, document.language, head)
        if count == 1:
            with self.state:
                cached = self.cache.get(prompt_key)
                if cached is not None:
                    self.cache.move_to_end(prompt_key)
            if cached is not None:
                self._shown(uri, document, offset, cached)
                return cached, ctx
        arrived = time.perf_counter()
        # Requests share work only for the same version of the document: an answer is dropped when its version is gone.
        turn, leads = self.take_turn(request_id, (uri, document.version, prompt_key), count)
        if not leads:
            turn.done.wait()
            return turn.result if turn.result is None else (turn.result[0][:count], turn.result[1])
        try:
            turn.result = self._generate(uri, document, offset, ctx, head, count, turn, prompt_key, arrived)
        finally:
            turn.done.set()
        result = turn.result
        if result is not None and count == 1:
            self._shown(uri, document, offset, result[0])
        return result

    def _shown(self, uri: str, document: Document, offset: int, answers: list[str]) -> None:
        """A suggestion the editor shows: typing through it needs no model, and what comes after it is computed
        before it is asked for."""
        if not answers:
            return
        with self.state:
            self.shown[uri] = Shown(document.text[:offset], document.text[offset:], document.language, answers[0])
        threading.Thread(
            target=self._next_quietly, args=(uri, document, offset, answers[0]), name="cga-next", daemon=True
        ).start()

    def _next_quietly(self, uri: str, document: Document, offset: int, answer: str) -> None:
        try:
            self.prepare_next(uri, document, offset, answer)
        except Exception as exc:
            self.editor.log(f"cga: the next suggestion in {uri} failed: {exc!r}")

    def prepare_next(self, uri: str, document: Document, offset: int, answer: str) -> None:
        """The suggestions that come after this one, computed as if it were accepted (llama.vim's speculative
        FIM): at the end of the accepted text (the request an editor sends after Tab), then on the next line,
        indented as the editor indents it (one step deeper after a block opener), so that Tab then Enter shows
        the next line at once, from the cache. Any keystroke that asks the model stops this, and this never
        stops a request."""
        text = document.text[:offset] + answer + document.text[offset:]
        at = offset + len(answer)
        line = text[text.rfind("\n", 0, at) + 1 : at]
        indent = indent_of(line)
        if line.rstrip().endswith((":", "{")):
            indent += "\t" if context_at(text, at).uses_tabs else "    "
        entered = text[:at] + "\n" + indent + text[at:]
        for candidate, where in ((text, at), (entered, at + 1 + len(indent))):
            if not self._precompute(uri, document.language, candidate, where):
                return

    def _precompute(self, uri: str, language: str, text: str, offset: int) -> bool:
        """The greedy suggestion at a cursor of a text the document may become, into the cache; False if a
        request came first."""
        ctx = context_at(text, offset)
        head = self._head(uri, language, text)
        key = _prompt_key(ctx, language, head)
        with self.state:
            if not ctx.prefix.strip() or key in self.cache:
                return True
        with self._background() as turn:
            with self.generation_lock:
                if turn.cancel.is_set() or self.closed:
                    return False
                backend = self.loaded(language)
                tokens = self._prompt(backend, text, offset, ctx.suffix, head=head)
                answers, _, greedy = self._answers(backend, tokens, ctx, language, 1, turn.cancel, uri)
            if turn.cancel.is_set():
                return False
        self._remember(key, answers, greedy)
        return True

    def _remember(self, key: tuple, answers: list[str], greedy: str) -> None:
        """The greedy answer for a prompt (or none, when it was blank), for the next request with that prompt."""
        with self.state:
            self.cache[key] = answers[:1] if answers and answers[0] is greedy else []
            while len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)

    def _typed_through(self, uri: str, document: Document, offset: int) -> str | None:
        """While what the user types since the last suggestion is its beginning, the rest of it, answered at
        once: the model would mostly write it again, and a keystroke should not wait for a model (issue 22).
        Anything else (another character, a cursor moved elsewhere, text changed around it) asks the model.
        Callers hold state."""
        shown = self.shown.get(uri)
        text = document.text
        if shown is None or shown.language != document.language or offset < len(shown.before):
            return None
        typed = text[len(shown.before) : offset]
        if not shown.answer.startswith(typed) or len(typed) >= len(shown.answer):
            return None
        if len(text) != offset + len(shown.after) or not (text.startswith(shown.before) and text.endswith(shown.after)):
            return None
        return shown.answer[len(typed) :]

    def _may_read(self, uri: str, language: str) -> bool:
        """Whether the model may see this document at all: not a disabled language, not a file of secrets."""
        settings = self.settings
        if language in settings.disabled_languages:
            return False
        return settings.complete_secret_files or not looks_secret(uri)

    def _generate(
        self,
        uri: str,
        document: Document,
        offset: int,
        ctx: Context,
        head: tuple[str, ...],
        count: int,
        turn: Turn,
        prompt_key: tuple,
        arrived: float,
    ) -> tuple[list[str], Context] | None:
        cancel = turn.cancel
        settings = self.settings
        if settings.debounce_ms and cancel.wait(settings.debounce_ms / 1000):
            return None  # a newer keystroke came within the debounce time
        with self.generation_lock:
            if cancel.is_set():
                return None
            backend = self.loaded(document.language)
            started = time.perf_counter()
            tokens = self._prompt(backend, document.text, offset, ctx.suffix, head=head)
            with self.state:
                first = uri not in self.read and len(tokens) > FIRST_WINDOW_TOKENS
                if uri not in self.read and not first:
                    self.read.add(uri)  # it all fits the first window: reading it is reading all of it
            if first:
                tokens = self._prompt(backend, document.text, offset, ctx.suffix, FIRST_WINDOW_TOKENS)
            prompted = time.perf_counter()
            self.editor.status("generating", self._model_name())
            try:
                # The first window is kept apart from the whole one, so that reading the whole window (behind
                # this answer, between keystrokes) resumes where it stopped instead of starting over.
                answers, stats, greedy = self._answers(
                    backend, tokens, ctx, document.language, count, cancel, f"{uri}#first-window" if first else uri
                )
            finally:
                self.editor.status("ready", self._model_name())
        heap.tidy()
        # Where a request's time goes (bench/lsp_bench.py reads this line): waiting for the model, building the
        # prompt, the model to its first text and to its end, and the whole request as the service saw it.
        self.editor.log(
            f"cga: completion: prompt {stats.prompt_tokens} tokens, {stats.reused_tokens} reused, "
            f"{stats.generated} generated, stopped by {stats.stop}, {len(answers)} answers; "
            f"waited {started - arrived:.3f} s, prompt built {prompted - started:.3f} s, "
            f"first text {stats.first_text_seconds or 0:.3f} s, generated {stats.seconds or 0:.3f} s, "
            f"request {time.perf_counter() - arrived:.3f} s; project context: "
            + (", ".join(piece.split("\n", 1)[0].split(" ", 1)[-1] for piece in head if not first) or "none")
        )
        if first:  # read the whole window behind this answer, once it is settled (see _widen)
            threading.Thread(target=self._widen, args=(uri, offset, turn), name="cga-widen", daemon=True).start()
        if cancel.is_set():
            return None
        self._remember(prompt_key, answers, greedy)
        current = self.editor.document(uri)
        if current is None or current.version != document.version:
            return None  # the document changed while the model wrote: the answer is for text that is gone
        return answers, ctx

    def _answers(
        self,
        backend: Backend,
        tokens: list[int],
        ctx: Context,
        language: str,
        count: int,
        cancel: threading.Event,
        cache_key: str,
    ) -> tuple[list[str], Stats, str]:
        """The greedy answer (and its stats), then samples, shaped for the editor and ended on whole code; blank
        and repeated ones left out."""
        answers: list[str] = []
        limit = self.answer_tokens(backend) if ctx.multiline else min(self.answer_tokens(backend), SINGLE_LINE_TOKENS)
        for n in range(count):
            options = Generation(
                max_tokens=limit,
                stop=() if ctx.multiline else ("\n",),
                cancel=cancel,
                temperature=ALTERNATIVE_TEMPERATURE if n else 0.0,
                cache_key=cache_key,
                min_probability=0.0 if n else self.settings.confidence_cut,
                heal_whitespace=True,
                min_indent=len(ctx.base_indent) + 1 if ctx.multiline else 0,
                time_limit_ms=self.settings.block_time_limit_ms if ctx.multiline else 0,
            )
            text, answer_stats = self.run(_complete_text, backend, tokens, options)
            if answer_stats.stop in CUT_SHORT:
                text = whole_code(text, ctx.prefix, language, ctx.right_of_cursor)
            answer = shape(text, ctx)
            if n == 0:
                stats, greedy = answer_stats, answer
            if answer.strip() and answer not in answers:
                answers.append(answer)
            if cancel.is_set():
                break
        return answers, stats, greedy

    def answer_tokens(self, backend: Backend) -> int:
        """maxTokens, within half the loaded model's window (which the model's own context may have cut)."""
        return min(self.settings.max_tokens, backend.n_ctx // 2)

    def _prompt(
        self,
        backend: Backend,
        text: str,
        offset: int,
        suffix: str,
        limit: int | None = None,
        head: tuple[str, ...] = (),
    ) -> list[int]:
        """The prompt for a cursor: the project context (head, at most projectContextTokens and half the room),
        then the longest window (see window_starts) that leaves room for the answer; at most limit tokens, with
        no project context then (the first window of a file is for a quick first answer)."""
        budget = backend.n_ctx - max(self.answer_tokens(backend), MIN_ANSWER_TOKENS)
        budget = min(budget, limit) if limit else budget
        share = 0 if limit else min(self.settings.project_context_tokens, budget // 2)
        ahead = self.project.tokens(head, share, backend.info.name, backend.tokenize) if head and share else []
        budget -= len(ahead)
        for start in window_starts(text, offset):
            prefix = text[start:offset]
            if backend.info.can_infill and suffix.strip():
                tokens = prompts.infill(backend.info, backend.tokenize, prefix, suffix)
            else:
                tokens = backend.tokenize(prefix)
            if len(tokens) <= budget:
                return ahead + tokens
        return ahead + tokens[-budget:]  # the cursor's line alone is longer than the window

    # -- refinement ------------------------------------------------------------------------------------------

    def refine(
        self, uri: str, selection: tuple[Position, Position] | None, instruction: str, request_id: object = None
    ) -> dict:
        document = self._document(uri)
        text = document.text
        start, end = (offset_at(text, *selection[0]), offset_at(text, *selection[1])) if selection else (0, 0)
        if start == end:
            start, end = enclosing_function(text, start)
        if not text[start:end].strip():
            raise RefineError("Select the code to refine, or put the cursor inside a function.")
        return self._ask(
            Refinement.start(uri, text[start:end], start, document.language or "python"), instruction, request_id
        )

    def follow_up(self, uri: str, instruction: str, request_id: object = None) -> dict:
        return self._ask(self._current(uri), instruction, request_id)

    def undo_refinement(self, uri: str) -> dict:
        refinement = self._current(uri)
        return self._apply(refinement, refinement.undo, "Undo the last refinement")

    def reset_refinement(self, uri: str) -> dict:
        refinement = self._current(uri)
        return self._apply(refinement, refinement.reset, "Put the original code back")

    def _ask(self, refinement: Refinement, instruction: str, request_id: object) -> dict:
        cancel = self._register(request_id)

        def rewrite() -> str:
            with self.generation_lock:
                backend = self.loaded(refinement.conversation.language)
                self.editor.status("generating", self._model_name())
                try:
                    code = self.run(refinement.ask, backend, instruction, max(self.settings.max_tokens, 256), cancel)
                finally:
                    self.editor.status("ready", self._model_name())
            for finding in security.findings(code, refinement.conversation.language):
                self.editor.warn(f"cga: security: {finding}")  # a note, never a block
            return code

        return self._apply(refinement, rewrite, f"Refine: {instruction[:60]}")

    def _document(self, uri: str) -> Document:
        document = self.editor.document(uri)
        if document is None:
            raise RefineError(f"{uri} is not open in the editor.")
        return document

    def _current(self, uri: str) -> Refinement:
        refinement = Refinement.load(uri)
        start, end = refinement.span
        if self._document(uri).text[start:end] != refinement.conversation.meta["current"]:
            raise RefineError("The refined code was changed or moved since; select it and refine again.")
        return refinement

    def _apply(self, refinement: Refinement, step: Callable[[], str], label: str) -> dict:
        """Take one refinement step and put its code in the document as one edit (the editor's undo reverts it)."""
        before = self._document(refinement.uri).text
        start, end = refinement.span  # where the code is now, before the step moves it
        previous = before[start:end]
        kept = refinement.stored()  # what is on disk now (another refinement of this document, or none)
        code = step()
        text = self._document(refinement.uri).text
        if text[start:end] != previous:  # the user edited there while the model wrote
            raise RefineError("The code changed while the model wrote; select it and refine again.")
        # Saved before the editor changes anything: a save that fails after the edit was applied lost the undo
        # and reset of a rewrite already in the document (issue 20). An edit the editor does not take puts the
        # state before it back.
        refinement.save()
        try:
            applied = self.editor.apply_edit(
                refinement.uri, position_at(text, start), position_at(text, end), code, label
            )
        except BaseException:
            self._put_back(refinement, kept)
            raise
        if not applied:
            self._put_back(refinement, kept)
        return {"applied": applied, "text": code, "turns": len(refinement.conversation.turns)}

    @staticmethod
    def _put_back(refinement: Refinement, kept: Conversation | None) -> None:
        """The state on disk as it was before a step the editor did not take."""
        if kept is None:
            refinement.forget()
        else:
            refinement.conversation = kept
            refinement.save()


def _prompt_key(ctx: Context, language: str, head: tuple[str, ...]) -> tuple:
    """The exact prompt, not just its tail, and the language, which may choose another model."""
    return (hash(ctx.prefix), hash(ctx.suffix), ctx.multiline, language, hash(head))


def _complete_text(backend: Backend, tokens: list[int], options: Generation) -> tuple[str, Stats]:
    answer = backend.stream(tokens, options)
    return answer.text(), answer.stats
