"""The rest of the project in the prompt (lsp/project_context.py, lsp/python_definitions.py): real files in a
project folder, the language server's service with a scripted backend that records every prompt."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cga.lsp.project_context import CHUNK_LINES, RING_CHUNKS, ProjectContext
from cga.lsp.python_definitions import DefinitionIndex
from tests.lsp.test_service import end_of
from tests.lsp.test_service import make as make_service

pytestmark = pytest.mark.pure

SHAPES = '''"""Shapes."""

import math


def area(width: float, height: float) -> float:
    """The area of a rectangle.

    Both sides in metres.
    """
    body_of_area = width * height
    return body_of_area


class Circle:
    """A circle."""

    radius: float = 1.0

    def circumference(self) -> float:
        hidden_body = 2 * math.pi * self.radius
        return hidden_body

    def _private(self) -> None:
        pass


def unused_here(x):
    return x
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = tmp_path / "geometry"
    package.mkdir()
    (package / "__init__.py").write_text("from .shapes import area\n")
    (package / "shapes.py").write_text(SHAPES)
    return tmp_path


def make(**backend_options):
    """The service with the project context on (it is off by default)."""
    service, editor, backend, loader = make_service(**backend_options)
    service.change_settings({"projectContextTokens": 384})
    return service, editor, backend, loader


def complete_in(service, editor, uri: str, text: str) -> None:
    """Open a document the model has read (no short first window) and ask at its end."""
    editor.open(uri, text)
    service.read.add(uri)
    service.complete_at(uri, end_of(text))


def imported(path: Path, text: str) -> dict[str, str]:
    return {d.name: d.source for d in DefinitionIndex().imported(path, text)}


def test_a_relative_import_brings_the_signature_and_docstring_of_what_it_names_not_the_body(project: Path):
    found = imported(project / "geometry" / "main.py", "from .shapes import unused_here, area\n\nx = area(2, 3)\n")
    assert list(found) == ["unused_here", "area"]  # the import's order: the line being typed may be a first use
    assert found["area"].startswith("def area(width: float, height: float) -> float:\n")
    assert "The area of a rectangle." in found["area"] and "body_of_area" not in found["area"]


def test_a_class_shows_its_fields_and_public_method_signatures(project: Path):
    found = imported(project / "geometry" / "main.py", "from geometry.shapes import Circle\n\nc = Circle()\n")
    assert "radius: float = 1.0" in found["Circle"]
    assert "def circumference(self) -> float:" in found["Circle"]
    assert "hidden_body" not in found["Circle"] and "_private" not in found["Circle"]


@pytest.mark.parametrize(
    "text",
    [
        "import geometry.shapes as s\n\ns.area(1, 2)\n",
        "from geometry import shapes\n\nshapes.area(1, 2)\n",
        "from geometry import area\n\narea(1, 2)\n",  # re-exported by the package's __init__
        "from geometry import (\n    area,\n)\n\narea(1, 2)\n",
    ],
)
def test_module_imports_attributes_and_re_exports_are_followed(project: Path, text: str):
    found = imported(project / "app.py", text)
    assert list(found) == ["area"] and found["area"].startswith("def area(")


def test_nothing_is_read_outside_the_project_or_from_a_file_of_secrets(project: Path, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "private.py"
    outside.write_text("def leak():\n    '''outside the project'''\n")
    os.symlink(outside, project / "geometry" / "linked.py")
    (project / "geometry" / "secrets.py").write_text("def token():\n    '''s3cr3t'''\n")
    main = project / "geometry" / "main.py"
    assert imported(main, "from .linked import leak\n\nleak()\n") == {}
    assert imported(main, "from .secrets import token\n\ntoken()\n") == {}
    assert imported(main, "from .... import os\n\nos.getcwd()\n") == {}  # more dots than packages
    assert imported(main, "import os\n\nos.getcwd()\n") == {}  # not a file of this project


def test_a_changed_module_is_read_again(project: Path):
    index, main = DefinitionIndex(keep_seconds=0), project / "geometry" / "main.py"
    text = "from .shapes import area\n\narea(1, 2)\n"
    assert "width: float" in index.imported(main, text)[0].source
    shapes = project / "geometry" / "shapes.py"
    shapes.write_text("def area(side):\n    return side * side\n")
    os.utime(shapes, ns=(1, 1))  # a new stamp even where the clock is coarse
    assert index.imported(main, text)[0].source.startswith("def area(side):")


def test_the_ring_keeps_the_newest_chunks_and_drops_near_duplicates():
    ring = ProjectContext()
    lines = "".join(f"line {n}\n" for n in range(200))
    ring.pick("file:///a.py", "python", lines, 100)
    assert ring.ring[0].text.startswith(f"line {100 - CHUNK_LINES // 2}\n")
    assert ring.ring[0].text.count("\n") == CHUNK_LINES
    ring.pick("file:///a.py", "python", lines, 101)  # almost the same chunk: it replaces the first
    assert len(ring.ring) == 1 and ring.ring[0].text.startswith(f"line {101 - CHUNK_LINES // 2}\n")
    for n in range(RING_CHUNKS + 3):
        ring.pick(f"file:///f{n}.py", "python", "".join(f"f{n} line {i}\n" for i in range(10)))
    assert len(ring.ring) == RING_CHUNKS and ring.ring[-1].uri == f"file:///f{RING_CHUNKS + 2}.py"
    ring.pick("file:///blank.py", "python", "\n\n   \n")
    assert ring.ring[-1].uri != "file:///blank.py"


def test_the_prompt_begins_with_the_definitions_used_and_keeps_that_beginning_while_typing(project: Path):
    service, editor, backend, _ = make(n_ctx=2048)
    main = (project / "geometry" / "main.py").as_uri()
    text = "from .shapes import area\n\n\ndef floor(w, h):\n    return "
    complete_in(service, editor, main, text)
    editor.type(main, text + "ar")
    service.complete_at(main, end_of(text + "ar"))
    first, second = backend.prompts
    head = first[: first.index(text)]
    assert head.startswith("# geometry/shapes.py\ndef area(width: float, height: float) -> float:\n")
    assert "body_of_area" not in head
    assert second == head + text + "ar"  # the same beginning: the KV cache keeps its work


def test_files_opened_join_the_context_but_never_a_secret_or_disabled_one(project: Path):
    service, editor, backend, _ = make(n_ctx=2048)
    service.change_settings({"disabledLanguages": ["markdown"]})
    for name, text, language in (
        ("helpers.py", "def helper_from_an_open_file():\n    pass\n", "python"),
        (".env", "API_KEY=never-in-a-prompt\n", "dotenv"),
        ("notes.md", "private notes never in a prompt\n", "markdown"),
    ):
        uri = (project / name).as_uri()
        editor.open(uri, text, language)
        service.opened(uri)
    main = (project / "main.py").as_uri()
    text = "def main():\n    "
    complete_in(service, editor, main, text)
    prompt = backend.prompts[-1]
    assert prompt.startswith(f"# {project.name}/helpers.py\ndef helper_from_an_open_file():\n") and prompt.endswith(
        text
    )
    assert "never-in-a-prompt" not in "".join(backend.prompts + backend.ahead)
    assert "private notes" not in "".join(backend.prompts + backend.ahead)


def test_the_context_stays_within_its_share_and_is_off_at_zero(project: Path):
    service, editor, backend, _ = make(n_ctx=2048)
    service.change_settings({"projectContextTokens": 100})
    big = "".join(f"def helper_{n}(x):\n    return x + {n}\n\n" for n in range(40))
    other = (project / "other.py").as_uri()
    editor.open(other, big)
    service.keep_chunk(other, 0)
    main = (project / "main.py").as_uri()
    text = "def main():\n    "
    complete_in(service, editor, main, text)
    head = backend.prompts[-1][: -len(text)]
    assert 0 < len(head) <= 100 and head.startswith(
        f"# {project.name}/other.py\ndef helper_0(x):\n"
    )  # one token a character
    service.change_settings({"projectContextTokens": 0})
    editor.type(main, text + "x")  # not the suggestion shown: the model is asked
    service.complete_at(main, end_of(text + "x"))
    assert backend.prompts[-1] == text + "x"


def test_the_first_window_of_a_new_file_leaves_the_context_for_the_read_behind_it(project: Path):
    service, editor, backend, _ = make(n_ctx=2048)
    other = (project / "other.py").as_uri()
    editor.open(other, "def helper():\n    pass\n")
    service.keep_chunk(other)
    main = (project / "main.py").as_uri()
    text = "".join(f"value_{n} = {n}\n" for n in range(100)) + "total = "
    editor.open(main, text)
    service.complete_at(main, end_of(text))
    for _ in range(500):
        if main in service.read:
            break
        threading.Event().wait(0.01)
    first, whole = backend.prompts[:2]
    assert "helper" not in first and whole.startswith(f"# {project.name}/other.py\n")


def test_leaving_a_file_keeps_a_chunk_around_its_last_edit(project: Path):
    service, editor, backend, _ = make(n_ctx=2048)
    first = (project / "first.py").as_uri()
    lines = "".join(f"first_{n} = {n}\n" for n in range(300))
    editor.open(first, lines)
    service.read.add(first)
    service.edited(first, 200)
    service.complete_at(first, (200, 0))
    second = (project / "second.py").as_uri()
    editor.open(second, "x = ")
    service.read.add(second)
    service.complete_at(second, end_of("x = "))
    head = backend.prompts[-1]
    assert head.startswith(f"# {project.name}/first.py\n") and "first_200 = 200" in head and "first_0 = 0\n" not in head


def test_a_file_opened_later_does_not_change_the_prompt_of_a_file_already_read(project: Path):
    """Its beginning stays, so going back to the first file reuses its KV cache; opened again, it gets the
    newer chunks."""
    service, editor, backend, _ = make(n_ctx=2048)
    early, late = (project / "early.py").as_uri(), (project / "late.py").as_uri()
    editor.open(early, "EARLY = 1\n")
    service.opened(early)
    main = (project / "main.py").as_uri()
    text = "def main():\n    "
    complete_in(service, editor, main, text)
    first = backend.prompts[-1]
    editor.open(late, "LATE = 2\n")
    service.opened(late)
    editor.type(main, text + "x")
    service.complete_at(main, end_of(text + "x"))
    assert backend.prompts[-1] == first + "x" and "EARLY" in first
    service.forget(main)  # closed, then opened again
    editor.type(main, text + "y")
    service.read.add(main)
    service.complete_at(main, end_of(text + "y"))
    assert "LATE = 2" in backend.prompts[-1] and "EARLY = 1" in backend.prompts[-1]


@pytest.mark.parametrize(
    "hostile",
    [
        "x = " + "1+" * 200_000 + "1\n",  # the parser's stack overflows (RecursionError or MemoryError)
        "x = " + "-" * 100_000 + "1\n",
        "x = " + "(" * 5_000 + ")" * 5_000 + "\n",  # too many nested parentheses
        "x = [" + "[" * 3_000 + "]" * 3_001 + "\n",
        "def f(:\n",  # not Python
        "\udcff",  # not UTF-8 once written with surrogates
    ],
)
def test_a_module_the_parser_cannot_take_never_breaks_a_completion_that_imports_it(project: Path, hostile: str):
    """Issue 41, item 3: `x = 1+1+…+1` (400 KB) broke every completion in a file importing it (-32603)."""
    (project / "geometry" / "deep.py").write_bytes(hostile.encode("utf-8", "surrogateescape"))
    text = "from .deep import x\nfrom .shapes import area\n\ny = "
    assert list(imported(project / "geometry" / "main.py", text)) == ["area"]
    service, editor, backend, _ = make()
    uri = (project / "geometry" / "main.py").as_uri()
    complete_in(service, editor, uri, text)
    assert backend.prompts and "def area(" in backend.prompts[-1]


MARKERS = ("MARKER-ENV-7f3a", "sk-MARKERkey0123456789", "MARKERpass", "Zq8MARKERx7Wv6Ut5Sr4Qp3", "MARKERtok")


def test_no_secret_reaches_the_prompt_through_a_link_or_an_assignment(project: Path):
    """Issue 41, item 9: `settings_link.py -> .env` sent the .env line to the server (the rule read the link's
    name), and `OPENAI_API_KEY = "sk-…"` in settings.py was copied into the prompt as it was."""
    package = project / "geometry"
    (project / ".env").write_text(f"TOKEN={MARKERS[0]}\n")
    (package / "settings_link.py").symlink_to(project / ".env")
    (package / "settings.py").write_text(
        f'OPENAI_API_KEY = "{MARKERS[1]}"\n'
        f'DATABASE = {{"host": "db", "password": "{MARKERS[2]}"}}\n'
        f'SALT = "{MARKERS[3]}"\n'
        "TIMEOUT = 30\n\n"
        f'def connect(url, token="{MARKERS[4]}"):\n    """Open the database."""\n'
    )
    service, editor, backend, _ = make(n_ctx=2048)
    link_uri = (package / "settings_link.py").as_uri()
    editor.open(link_uri, (package / "settings_link.py").read_text())  # opened: a chunk of it, were it allowed
    service.opened(link_uri)
    text = "from .settings import OPENAI_API_KEY, DATABASE, SALT, TIMEOUT, connect\nfrom . import settings_link\n\nx = "
    complete_in(service, editor, (package / "main.py").as_uri(), text)
    prompt = backend.prompts[-1]
    assert "TIMEOUT = 30" in prompt and "def connect(url, token=" in prompt  # the definitions came
    assert "OPENAI_API_KEY = ..." in prompt
    everything = "".join(backend.prompts + backend.ahead)
    for marker in MARKERS:
        assert marker not in everything, marker


@pytest.mark.parametrize("form", ["one_module", "many_modules"])
def test_thousands_of_imports_are_read_and_tokenized_within_bounds(project: Path, form: str):
    """Issue 41, item 6: every piece was tokenized again at every prompt, and beyond 256 pieces the token cache
    thrashed (10,000 imports: 40,016 tokenizer calls, each an HTTP call to a team's server, 12-20 s a
    completion). Only what fits the share is tokenized, once, and typing on tokenizes nothing of it again."""
    package = project / "geometry"
    if form == "one_module":
        names = [f"f{i}" for i in range(10_000)]
        (package / "big.py").write_text("".join(f"def {n}(x):\n    return x\n\n" for n in names))
        text = "from .big import (" + ", ".join(names) + ")\n\ny = "
    else:
        for i in range(400):
            (package / f"m{i}.py").write_text(f"def f{i}(x):\n    return x\n")
        text = "".join(f"from .m{i} import f{i}\n" for i in range(400)) + "\ny = "
    service, editor, backend, _ = make(n_ctx=2048)
    pieces = []
    tokenize = backend.tokenize
    backend.tokenize = lambda text, **kw: (
        (pieces.append(text) if text.startswith("# ") else None) or tokenize(text, **kw)
    )
    uri = (package / "main.py").as_uri()
    complete_in(service, editor, uri, text)
    first = len(pieces)
    for typed in ("1", "2", "3"):  # typing on: the same head, its tokens kept
        text += typed
        editor.type(uri, text)
        service.complete_at(uri, end_of(text))
    assert "def f0(x):" in backend.prompts[-1] and "def f399(" not in backend.prompts[-1]
    assert first <= 20 and len(pieces) == first, (first, len(pieces) - first)
