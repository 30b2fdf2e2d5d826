"""The language server's rules, without an editor process or a model: lsp/service.py with a scripted backend.

The same rules run end to end against real editors and llama.cpp in test_server.py, test_vscode.py and
test_neovim.py; here each is pinned down exactly, in milliseconds.
"""

from __future__ import annotations

import threading

import pytest

from cga.core.errors import CgaError
from cga.lsp.completion_context import context_at
from cga.lsp.positions import offset_at
from cga.lsp.refinement import RefineError
from cga.lsp.service import AssistantService, Document
from cga.lsp.settings import Settings
from tests.fake_backend import FakeBackend

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure

URI = "file:///project/calc.py"
SOURCE = "import math\n\n\ndef area(r):\n    x = math.pi * r * r\n    return x\n\n\ndef add(a, b):\n    "


class RecordingEditor:
    """The editor's side of the service: documents it holds, and everything the service told it."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.statuses: list[tuple[str, str]] = []
        self.logs: list[str] = []
        self.warnings: list[str] = []
        self.edits: list[tuple[str, str]] = []  # (label, new text)

    def open(self, uri: str, text: str, language: str = "python") -> None:
        self.documents[uri] = Document(text, 1, language)

    def type(self, uri: str, text: str) -> None:
        old = self.documents[uri]
        self.documents[uri] = Document(text, (old.version or 0) + 1, old.language)

    def document(self, uri):
        return self.documents.get(uri)

    def status(self, state, model, message=""):
        self.statuses.append((state, message))

    def log(self, message, *, important=False):
        self.logs.append(message)

    def warn(self, message):
        self.warnings.append(message)

    def begin_progress(self, title):
        return None

    def end_progress(self, token, message):
        pass

    def apply_edit(self, uri, start, end, text, label):
        old = self.documents[uri].text
        self.type(uri, old[: offset_at(old, *start)] + text + old[offset_at(old, *end) :])
        self.edits.append((label, text))
        return True


class ScriptedLoader:
    def __init__(self, *backends: FakeBackend) -> None:
        self.backends = list(backends)
        self.opened: list[Settings] = []
        self.languages: list[str] = []

    def label(self, settings, language):
        if settings.model == "missing":
            raise CgaError("No model named 'missing'; run cga models list.")
        return f"{settings.model or 'fake'} for {language}"

    def open(self, settings, language):
        self.opened.append(settings)
        self.languages.append(language)
        return self.backends[len(self.opened) - 1], "scripted"


def make(answer="return a + b\n", **backend_options):
    editor, backend = RecordingEditor(), FakeBackend(answer, **backend_options)
    loader = ScriptedLoader(backend, FakeBackend(answer, **backend_options))
    return AssistantService(editor, Settings(max_tokens=32), loader=loader), editor, backend, loader


def end_of(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])


def position_of(text: str, offset: int) -> tuple[int, int]:
    return end_of(text[:offset])


def test_a_completion_is_the_first_line_and_a_repeat_comes_from_the_cache():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    answers, _ = service.complete_at(URI, end_of(SOURCE))
    assert answers == ["return a + b"]
    assert backend.prompts == [SOURCE]
    assert service.complete_at(URI, end_of(SOURCE))[0] == ["return a + b"]
    assert len(backend.prompts) == 1  # the same prompt again is answered from the cache


def test_the_latest_request_wins():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    other = "file:///project/other.py"
    editor.open(other, "def sub(a, b):\n    ")
    backend.gate = threading.Event()
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", service.complete_at(URI, end_of(SOURCE))))
    first.start()
    assert backend.streaming.wait(5)
    stale = service.in_flight.cancel
    second = threading.Thread(target=lambda: results.setdefault("second", service.complete_at(other, (1, 4))))
    second.start()
    while not stale.is_set():  # the second request has told the first to stop
        threading.Event().wait(0.01)
    backend.gate.set()
    first.join(5), second.join(5)
    assert results["first"] is None
    assert results["second"][0] == ["return a + b"]


def _in_flight_then(service, backend, second):
    """Start a completion at the end of SOURCE, hold it mid-answer, run second() beside it, then let it finish."""
    backend.gate = threading.Event()
    results = {}
    first = threading.Thread(
        target=lambda: results.setdefault("first", service.complete_at(URI, end_of(SOURCE), 1, "ghost"))
    )
    first.start()
    assert backend.streaming.wait(5)
    other = threading.Thread(target=lambda: results.setdefault("second", second()))
    other.start()
    threading.Event().wait(0.2)
    backend.gate.set()
    first.join(5), other.join(5)
    return results


def test_a_popup_and_a_ghost_text_request_at_one_cursor_share_one_answer():
    """Issue 19: VS Code asks for both at one cursor; cancelling one for the other left the popup empty."""
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    results = _in_flight_then(service, backend, lambda: service.complete_at(URI, end_of(SOURCE), 1, "popup"))
    assert results["first"][0] == results["second"][0] == ["return a + b"]
    assert len(backend.prompts) == 1  # one generation for both
    assert not service.finish_request("ghost") and not service.finish_request("popup")


def test_the_editor_cancelling_one_of_two_requests_for_one_answer_leaves_the_other_its_answer():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)

    def popup_then_cancel_the_ghost():
        threading.Timer(0.05, service.cancel_request, args=("ghost",)).start()
        return service.complete_at(URI, end_of(SOURCE), 1, "popup")

    results = _in_flight_then(service, backend, popup_then_cancel_the_ghost)
    assert results["second"][0] == ["return a + b"]
    assert service.finish_request("ghost") and not service.finish_request("popup")
    # …while a request cancelled by the editor with no one else waiting stops the generation
    editor.type(URI, SOURCE + "x = ")
    backend.gate = threading.Event()
    backend.streaming.clear()
    alone = threading.Thread(target=lambda: service.complete_at(URI, end_of(SOURCE + "x = "), 1, "alone"))
    alone.start()
    assert backend.streaming.wait(5)
    service.cancel_request("alone")
    backend.gate.set()
    alone.join(5)
    assert service.finish_request("alone") and backend.asked[-1].cancel.is_set()


def test_the_same_text_at_a_newer_version_still_wins_over_the_request_in_flight():
    """Sharing is for one version of the document: the answer in flight would be dropped as stale anyway."""
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)

    def newer():
        editor.type(URI, SOURCE)  # the same text, a new version (an edit undone)
        return service.complete_at(URI, end_of(SOURCE), 1, "newer")

    results = _in_flight_then(service, backend, newer)
    assert results["first"] is None and results["second"][0] == ["return a + b"]
    assert len(backend.prompts) == 2


@pytest.mark.parametrize(
    "uri, language, settings",
    [
        ("file:///project/.env", "dotenv", {"disabledLanguages": ["dotenv"]}),
        ("file:///project/.env", "sh", {}),  # looks like secrets, whatever its language
        ("file:///home/me/.ssh/id_rsa", "", {}),
        ("file:///project/certs/server.PEM", "", {}),
    ],
)
def test_a_disabled_or_secret_document_is_never_read(uri, language, settings):
    """Issue 20: the warm-up read a disabled `.env` (and sent it to the team's server)."""
    service, editor, backend, loader = make()
    service.change_settings(settings)
    editor.open(uri, "API_KEY=sk-live-1234\nPASSWORD=")
    editor.documents[uri] = Document(editor.documents[uri].text, 1, language)
    service.warm(uri)
    assert service.complete_at(uri, (1, 9)) is None
    assert backend.prompts == [] and loader.opened == []  # nothing tokenized, nothing loaded, nothing sent


def test_secret_files_are_read_when_the_user_opts_in():
    service, editor, backend, _ = make()
    service.change_settings({"completeSecretFiles": True})
    editor.open("file:///project/.env", "API_KEY=")
    service.complete_at("file:///project/.env", (0, 8))
    assert backend.prompts == ["API_KEY="]


def test_an_answer_for_text_that_changed_meanwhile_is_dropped():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)

    def answer(prompt):
        editor.type(URI, SOURCE + "pass")  # the user typed while the model wrote
        return "return a + b\n"

    backend.answer = answer
    assert service.complete_at(URI, end_of(SOURCE)) is None


@pytest.mark.parametrize(
    "uri, text, language",
    [
        ("file:///never/opened.py", None, "python"),
        (URI, SOURCE, "markdown"),  # switched off for the language
        (URI, "\n\n   ", "python"),  # nothing before the cursor
    ],
)
def test_no_prompt_where_there_is_nothing_to_complete(uri, text, language):
    service, editor, backend, _ = make()
    service.change_settings({"disabledLanguages": ["markdown"]})
    if text is not None:
        editor.open(uri, text, language)
    assert service.complete_at(uri, end_of(text or "")) is None
    assert backend.prompts == []


def test_infill_puts_the_text_after_the_cursor_in_the_prompt():
    service, editor, backend, _ = make(infill=True)
    text = "def add(a, b):\n    \n\nprint(add(1, 2))\n"
    editor.open(URI, text)
    service.complete_at(URI, (1, 4))
    assert backend.prompts == ["def add(a, b):\n    <mask_1>\n\nprint(add(1, 2))\n<|endoftext|><sep><mask_1>"]


def test_a_new_long_file_answers_from_a_short_window_first_and_then_reads_it_all():
    service, editor, backend, _ = make(n_ctx=2048)  # one character is one token: 2,016 for the prompt
    text = "".join(f"value_{n} = {n}\n" for n in range(300)) + "total = "  # 4,198 characters
    editor.open(URI, text)
    service.complete_at(URI, end_of(text))
    for _ in range(500):  # the whole window is read behind the first answer
        if URI in service.read:
            break
        threading.Event().wait(0.01)
    editor.type(URI, text + "value_0 + ")
    service.complete_at(URI, end_of(text + "value_0 + "))
    first, whole, second = backend.prompts
    assert len(first) <= 256 and text.endswith(first)  # quick: a few lines before the cursor
    assert len(whole) <= 2048 - 32 and text.endswith(whole) and whole.startswith("value_")
    assert second.startswith(whole)  # typing keeps the window's start, so the KV cache keeps its work


def test_the_first_answer_in_a_new_file_is_kept_and_the_cursors_own_window_is_read_behind_it():
    """The read behind a first-window answer once started before the answer was settled: it took the turn and
    cancelled that answer, so the first suggestion in a long new file came back empty (bench/race_bench.py:
    24 of 24). And it read the end of the file, not the window of the cursor the user is typing at."""
    service, editor, backend, _ = make(n_ctx=2048)
    lines = [f"value_{n} = {n}\n" for n in range(600)]  # 8,890 characters: the end and the middle differ
    cursor = sum(map(len, lines[:300])) + len("total = ")
    text = "".join(lines[:300]) + "total = " + "".join(lines[300:])
    editor.open(URI, text)
    answered = service.complete_at(URI, position_of(text, cursor))
    assert answered is not None and answered[0] == ["return a + b"]
    for _ in range(500):
        if URI in service.read:
            break
        threading.Event().wait(0.01)
    first, window = backend.prompts
    assert len(first) <= 256 and text[:cursor].endswith(first)
    assert len(window) > 1024 and text[:cursor].endswith(window)  # the cursor's window, not the file's end


def test_new_settings_reload_the_model_and_drop_the_cache():
    service, editor, backend, loader = make()
    editor.open(URI, SOURCE)
    service.complete_at(URI, end_of(SOURCE))
    service.change_settings({"model": "other.gguf"})
    assert service.complete_at(URI, end_of(SOURCE))[0] == ["return a + b"]
    assert backend.closed and [s.model for s in loader.opened] == [None, "other.gguf"]
    assert len(loader.backends[1].prompts) == 1  # asked again: the old model's answers are not reused


def test_a_bad_setting_is_a_warning_and_an_unknown_model_an_error_status():
    service, editor, *_ = make()
    service.change_settings({"maxTokens": -3})
    assert editor.warnings and "maxTokens" in editor.warnings[0]
    service.change_settings({"model": "missing"})
    editor.open(URI, SOURCE)
    with pytest.raises(CgaError, match="No model named"):
        service.complete_at(URI, end_of(SOURCE))
    assert editor.statuses[-1] == ("error", "No model named 'missing'; run cga models list.")


def test_refine_follow_up_undo_and_reset_edit_the_document():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    backend.answer = lambda prompt: "def area(r):\n    return math.pi * r ** 2\n"
    result = service.refine(URI, ((4, 6), (4, 6)), "Return the area directly.")
    assert result["applied"] and "r ** 2" in editor.documents[URI].text
    assert "x = math.pi" not in editor.documents[URI].text
    backend.answer = lambda prompt: "def area(r: float) -> float:\n    return math.pi * r ** 2\n"
    service.follow_up(URI, "Add type hints.")
    assert "def area(r: float) -> float:" in editor.documents[URI].text
    service.undo_refinement(URI)
    assert "def area(r):\n    return math.pi * r ** 2\n" in editor.documents[URI].text
    service.reset_refinement(URI)
    assert editor.documents[URI].text == SOURCE
    assert [label.split(":")[0] for label, _ in editor.edits] == [
        "Refine",
        "Refine",
        "Undo the last refinement",
        "Put the original code back",
    ]


def test_a_refinement_is_cancelled_by_its_request_id_and_changes_nothing():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    backend.answer = lambda prompt: "def area(r):\n    return math.pi * r ** 2\n"
    backend.gate = threading.Event()
    outcome = {}

    def refine():
        try:
            outcome["result"] = service.refine(URI, ((4, 6), (4, 6)), "Shorter.", request_id=7)
        except RefineError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=refine)
    worker.start()
    assert backend.streaming.wait(5)
    service.cancel_in_flight()  # typing elsewhere does not cancel a refinement…
    service.cancel_request(7)  # …the editor's cancel does
    backend.gate.set()
    worker.join(5)
    assert outcome == {"error": "The refinement was cancelled; the code is as it was."}
    assert service.finish_request(7) is True
    assert editor.edits == [] and editor.documents[URI].text == SOURCE


def test_a_refinement_of_code_the_user_edited_meanwhile_is_refused():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)

    def answer(prompt):
        editor.type(URI, SOURCE.replace("x = math.pi", "y = math.pi"))
        return "def area(r):\n    return math.pi * r ** 2\n"

    backend.answer = answer
    with pytest.raises(RefineError, match="changed while the model wrote"):
        service.refine(URI, ((4, 6), (4, 6)), "Shorter.")
    assert editor.edits == []


def test_a_refinement_with_an_insecure_pattern_is_applied_with_a_warning():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    backend.answer = lambda prompt: "def area(r):\n    return eval(str(math.pi * r * r))\n"
    assert service.refine(URI, ((4, 6), (4, 6)), "Use eval.")["applied"]
    assert [w for w in editor.warnings if "security" in w] == [
        "cga: security: line 2: Use of possibly insecure function - consider using safer ast.literal_eval. "
        "(B307, medium severity)"
    ]


def test_each_language_gets_its_model_and_switching_back_reuses_it():
    editor, python, javascript, go = RecordingEditor(), FakeBackend("x = 1\n"), FakeBackend("x = 1;\n"), FakeBackend("")
    loader = ScriptedLoader(python, javascript, go, FakeBackend(""))
    service = AssistantService(editor, Settings(max_tokens=32), loader=loader)
    for n, (uri, language) in enumerate(
        (("file:///a.py", "python"), ("file:///b.js", "javascript"), ("file:///c.py", "python"))
    ):
        editor.open(uri, f"total_{n} = ", language)
        service.complete_at(uri, (0, 10))
    assert loader.languages == ["python", "javascript"]  # the second Python file reused the first model
    assert len(python.prompts) == 2 and len(javascript.prompts) == 1
    editor.open("file:///d.go", "total := ", "go")
    service.complete_at("file:///d.go", (0, 9))
    assert loader.languages == ["python", "javascript", "go"]
    assert javascript.closed and not python.closed  # two stay loaded: the one used longest ago goes


def test_the_greedy_suggestion_gets_the_confidence_cut_and_the_document_as_its_cache_key():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    service.change_settings({"confidenceCut": 0.3})
    service.complete_at(URI, end_of(SOURCE), count=2)
    greedy, sample = backend.asked
    assert (greedy.min_probability, greedy.temperature, greedy.cache_key) == (0.3, 0.0, URI)
    assert sample.min_probability == 0.0 and sample.temperature > 0  # a sample is unsure by design: never cut
    service.change_settings({"confidenceCut": 1.5})
    assert "confidenceCut" in editor.warnings[-1]


def test_closing_waits_for_the_model_and_nothing_runs_on_it_after():
    """A closed llama.cpp model crashes the process when used: close() waits for generation in progress, and
    background reading that comes after it (behind a first answer) does not open the model again."""
    service, editor, backend, loader = make("return a + b\n")
    editor.open(URI, SOURCE)
    backend.gate = threading.Event()
    writing = threading.Thread(target=service.complete_at, args=(URI, end_of(SOURCE)))
    writing.start()
    assert backend.streaming.wait(5)
    closing = threading.Thread(target=service.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive() and not backend.closed  # still writing: the close waits
    backend.gate.set()
    writing.join(5), closing.join(5)
    assert backend.closed
    service.warm(URI)  # as the reading behind a first answer would, after the close
    assert len(loader.opened) == 1 and not [m for m in editor.logs if "failed" in m]


def test_undo_after_a_follow_up_on_a_selection_without_a_line_break_goes_back_to_turn_one():
    """Issue 20: undo added a blank line (every turn's code was given a line break the selection never had)."""
    service, editor, backend, _ = make()
    source = "def area(r):\n    return 3 * r * r  # keep\n"
    editor.open(URI, source)
    selection = ((0, 0), (1, len("    return 3 * r * r")))  # ends mid-line, before the comment
    backend.answer = lambda prompt: "def area(r):\n    return 3.14 * r * r\n"
    service.refine(URI, selection, "Use a better pi.")
    after_one = editor.documents[URI].text
    assert after_one == "def area(r):\n    return 3.14 * r * r  # keep\n"
    backend.answer = lambda prompt: "def area(r: float) -> float:\n    return 3.14 * r * r\n"
    service.follow_up(URI, "Add type hints.")
    service.undo_refinement(URI)
    assert editor.documents[URI].text == after_one
    service.reset_refinement(URI)
    assert editor.documents[URI].text == source


def test_a_refinement_that_cannot_be_saved_changes_nothing_and_one_the_editor_refuses_keeps_the_undo(isolated_home):
    """Issue 20: the save came after the editor applied the edit, so a failed save lost undo and reset."""
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    backend.answer = lambda prompt: "def area(r):\n    return math.pi * r ** 2\n"
    service.refine(URI, ((4, 6), (4, 6)), "Return the area directly.")
    after_one = editor.documents[URI].text
    # The editor says no to the next step: the document and the kept refinement stay at turn one.
    backend.answer = lambda prompt: "def area(r: float) -> float:\n    return math.pi * r ** 2\n"
    editor.apply_edit = lambda *a: False
    assert service.follow_up(URI, "Add type hints.")["applied"] is False
    del editor.apply_edit
    assert editor.documents[URI].text == after_one
    assert service.undo_refinement(URI)["applied"] and editor.documents[URI].text == SOURCE
    # Nowhere to save: nothing changes in the document, and the user is told.
    conversations = isolated_home / "conversations"
    for saved in conversations.iterdir():
        saved.unlink()
    conversations.rmdir()
    conversations.write_text("a file where the folder should be")
    with pytest.raises(CgaError, match="Could not save"):
        service.refine(URI, ((4, 6), (4, 6)), "Return the area directly.")
    assert editor.documents[URI].text == SOURCE and editor.edits[-1][0] == "Undo the last refinement"


def test_the_suggestion_after_the_one_shown_is_ready_when_it_is_accepted_and_enter_pressed():
    """Tab then Enter: the request after accepting and the one on the next line are answered from what was
    computed while the suggestion was shown (issue 22, item 3), with no model call of their own."""

    def model(prompt: str) -> str:
        return "\n" if prompt.endswith(":") else "return n * 2\n" if prompt.endswith("    ") else "(n):\n"

    service, editor, backend, _ = make(model)
    text = "import math\n\n\ndef double"
    editor.open(URI, text)
    assert service.complete_at(URI, end_of(text))[0] == ["(n):"]
    for _ in range(500):  # computed behind the suggestion shown
        if len(backend.ahead) == 2:
            break
        threading.Event().wait(0.01)
    accepted = text + "(n):"
    assert backend.ahead == [accepted, accepted + "\n    "]  # its end, then the next line, one step deeper
    editor.type(URI, accepted)
    assert service.complete_at(URI, end_of(accepted)) == ([], context_at(accepted, len(accepted)))
    entered = accepted + "\n    "
    editor.type(URI, entered)
    assert service.complete_at(URI, end_of(entered))[0] == ["return n * 2"]
    assert backend.prompts == [text]  # the requests after the first asked the model nothing


def test_background_work_never_stops_a_request_in_flight():
    """Reading a file or computing the next suggestion, started as a request arrives, gives up its turn."""
    service, _, _, _ = make()
    request = service.take_turn(key=("a request",))[0]
    background = service.take_turn(background=True)[0]
    assert background.cancel.is_set() and not request.cancel.is_set()
    request.done.set()
    assert not service.take_turn(background=True)[0].cancel.is_set()  # once it is answered, it runs


def _rested(service: AssistantService) -> None:
    for _ in range(500):
        with service.state:
            if not service.resting:
                return
        threading.Event().wait(0.01)
    raise AssertionError("the read where the cursor rested never ended")


def test_only_the_latest_place_the_cursor_rested_at_is_read():
    service, editor, backend, _ = make()
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(12))
    editor.open(URI, text)
    with service.generation_lock:  # the model is busy while the cursor rests at three places in turn
        for line in (3, 20, 30):
            service.cursor_rested(URI, (line, 0))
    _rested(service)
    assert backend.prompts == [text[: offset_at(text, 30, 0)]]
    assert [log for log in editor.logs if "cursor rested" in log] == [
        f"cga: warmed the cache with {offset_at(text, 30, 0)} tokens of {URI} where the cursor rested"
    ]
    editor.type(URI, text + "x")
    with service.generation_lock:
        service.cursor_rested(URI, (5, 0))
        editor.type(URI, text + "xy")  # typed before the read began: the request that follows reads instead
    _rested(service)
    assert len(backend.prompts) == 1


def test_a_cursor_at_rest_stops_a_read_elsewhere_but_not_the_next_suggestion():
    service, editor, backend, _ = make()
    editor.open(URI, SOURCE)
    # The read of the end of a file just opened, then the next suggestion computed ahead.
    for reading, stopped in ((True, True), (False, False)):
        other = service.take_turn(background=True, reading=reading)[0]
        service.cursor_rested(URI, (0, 0))  # where an editor's cursor starts: nothing before it to read
        assert not other.cancel.is_set()
        service.cursor_rested(URI, (3, 0))
        assert other.cancel.is_set() is stopped
        other.done.set()
        _rested(service)
    assert backend.prompts == [SOURCE[: offset_at(SOURCE, 3, 0)]] * 2


@pytest.mark.parametrize(
    "text, answer, max_tokens, expected",
    [
        # A line cut by max_tokens mid-expression keeps what parses, not `return a *`.
        ("def add(a, b):\n    ", "return a * b + 1\n", 10, ["return a"]),
        # A block cut in its second line keeps its whole lines, not half of the next.
        ("def add(a, b):\n", "    c = a + b\n    return c * (a + b)\n", 28, ["    c = a + b"]),
    ],
)
def test_a_suggestion_cut_short_ends_on_whole_code(text, answer, max_tokens, expected):
    """Issue 42, item 3: under load the time limit or the confidence cut ended ghost text at `return n *`."""
    editor, backend = RecordingEditor(), FakeBackend(answer)
    service = AssistantService(
        editor, Settings(max_tokens=10 if "+ 1" in answer else 28), loader=ScriptedLoader(backend)
    )
    editor.open(URI, text)
    answers, _ = service.complete_at(URI, end_of(text))
    assert answers == expected


def test_the_block_time_limit_is_a_setting_and_0_waits_for_the_block():
    service, editor, backend, _ = make()
    editor.open(URI, "def add(a, b):\n")
    service.complete_at(URI, end_of("def add(a, b):\n"))
    service.change_settings({"blockTimeLimitMs": 0})
    editor.type(URI, "def sub(a, b):\n")
    service.complete_at(URI, end_of("def sub(a, b):\n"))
    assert [options.time_limit_ms for options in backend.asked] == [2000, 0]
