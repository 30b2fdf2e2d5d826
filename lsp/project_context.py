"""What the model is shown of the rest of the project, ahead of the file at the cursor.

Two sources, as the peers do it: a ring of chunks from the files the user
recently opened, edited or saved (llama.vim keeps 16 chunks of 64 lines and
evicts near-duplicates), and the definitions the current file imports and
uses (lsp/python_definitions.py). They go at the very start of the prompt,
each under a comment naming its file, so they must change only when the
project does: between keystrokes in one file they are the same text, and the
KV cache keeps its work. bench/project_context_bench.py measures what they
buy and cost; the projectContextTokens setting is their share of the prompt.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .python_definitions import Definition, DefinitionIndex
from .secret_files import without_credentials

RING_CHUNKS = 16
CHUNK_LINES = 32  # llama.vim's 64 lines are over a third of CodeGen's window (bench/project_context_bench.py)
SIMILAR = 0.9  # llama.vim's: a new chunk replaces the kept ones whose lines are this much the same
TOKEN_CACHE = 256
MIN_PIECE_TOKENS = 8  # a piece's comment line and one line of it  # the tokens of pieces, by text: a remote backend tokenizes over the network
# The comment that names a piece's file, by the language of the file the prompt is for.
LINE_COMMENTS = {
    "python": "#",
    "shellscript": "#",
    "ruby": "#",
    "perl": "#",
    "r": "#",
    "yaml": "#",
    "toml": "#",
    "makefile": "#",
    "dockerfile": "#",
    "lua": "--",
    "sql": "--",
    "haskell": "--",
}


@dataclass(frozen=True)
class Chunk:
    uri: str
    language: str
    text: str


class ProjectContext:
    """The ring of chunks and the definitions index, each behind its own lock: `lock` guards the ring (held to
    read or swap it, as the editor's notifications and the requests come on different threads), `reading`
    the index while it reads modules from disk, so that a slow read never holds up a notification."""

    def __init__(self, size: int = RING_CHUNKS, lines: int = CHUNK_LINES) -> None:
        self.size, self.lines = size, lines
        self.lock = threading.Lock()
        self.reading = threading.Lock()
        self.ring: list[Chunk] = []  # oldest first
        self.edited: dict[str, int] = {}  # per document, the line last changed: where a chunk of it is taken
        self.definitions = DefinitionIndex()
        self.snapshots: dict[str, tuple[list[Definition], list[Chunk]]] = {}  # per document: see pieces()
        self.token_cache: OrderedDict[tuple[str, str], list[int]] = OrderedDict()

    def note_edit(self, uri: str, line: int) -> None:
        with self.lock:
            self.edited[uri] = line

    def pick(self, uri: str, language: str, text: str, line: int | None = None) -> None:
        """Keep the chunk of a document around a line (by default the last one edited, else its top)."""
        with self.lock:
            if line is None:
                line = self.edited.get(uri, 0)
            all_lines = text.splitlines(keepends=True)
            start = max(0, min(line - self.lines // 2, len(all_lines) - self.lines))
            chunk = "".join(all_lines[start : start + self.lines])
            if not chunk.strip():
                return
            new = Chunk(uri, language, chunk)
            if new in self.ring:
                return
            self.ring = [kept for kept in self.ring if _similarity(kept.text, chunk) < SIMILAR] + [new]
            del self.ring[: max(0, len(self.ring) - self.size)]

    def forget(self, uri: str) -> None:
        """A document closed: opened again, its prompt begins with the chunks kept by then."""
        with self.lock:
            self.edited.pop(uri, None)
            self.snapshots.pop(uri, None)

    def pieces(self, uri: str, language: str, text: str, allowed: Callable[[Chunk], bool]) -> list[str]:
        """What may go ahead of this document's prompt, most useful first: the definitions it imports, then chunks
        of other files, newest first; each piece under a comment that names its file."""
        comment = LINE_COMMENTS.get(language, "//")
        path = _path(uri)
        with self.reading:
            found = self.definitions.imported(path, text) if path is not None and language == "python" else []
        with self.lock:
            # The chunks a document's prompt began with stay until its imports change or it is opened again:
            # another file opened meanwhile would otherwise change the beginning of every other document's
            # prompt, and going back to one would read it all again instead of reusing its KV cache.
            kept = self.snapshots.get(uri)
            if kept is None or kept[0] != found:
                kept = self.snapshots[uri] = (found, [chunk for chunk in reversed(self.ring) if chunk.uri != uri])
            ring = [chunk for chunk in kept[1] if allowed(chunk)]
        by_file: OrderedDict[Path, list[str]] = OrderedDict()
        for definition in found:
            by_file.setdefault(definition.path, []).append(definition.source)
        pieces = [f"{comment} {_shown_path(file, path)}\n" + "\n\n".join(sources) for file, sources in by_file.items()]
        pieces += [f"{comment} {_shown_path(_path(chunk.uri), path)}\n{chunk.text}" for chunk in ring]
        return [without_credentials(piece).rstrip("\n") + "\n\n" for piece in pieces]

    def tokens(self, pieces: Iterable[str], budget: int, model: str, tokenize: Callable[[str], list[int]]) -> list[int]:
        """The pieces that fit the budget (one too long for what is left cut to its first lines), most useful
        first, as one prompt head with the most useful last (nearest the code). The same pieces give the same
        tokens, so the head stays the same while the user types."""
        kept: list[list[int]] = []
        left = budget
        for piece in pieces:
            if left < MIN_PIECE_TOKENS:
                break  # nothing more fits: the pieces after it are not tokenized at all
            tokens = self._tokens(piece, model, tokenize)
            lines = piece.rstrip("\n").split("\n")
            while len(tokens) > left and len(lines) > 2:  # its first lines, where what fits ends (a line each)
                lines = lines[: max(2, min(len(lines) - 1, len(lines) * left // len(tokens)))]
                tokens = self._tokens("\n".join(lines) + "\n\n", model, tokenize)
            if len(tokens) > left:
                break  # the most useful come first: what follows one that does not fit is not worth tokenizing
            kept.append(tokens)
            left -= len(tokens)
        return [token for tokens in reversed(kept) for token in tokens]

    def _tokens(self, piece: str, model: str, tokenize: Callable[[str], list[int]]) -> list[int]:
        key = (model, piece)
        with self.lock:
            known = self.token_cache.get(key)
            if known is not None:
                self.token_cache.move_to_end(key)
                return known
        tokens = tokenize(piece)
        with self.lock:
            self.token_cache[key] = tokens
            while len(self.token_cache) > TOKEN_CACHE:
                self.token_cache.popitem(last=False)
        return tokens


def _similarity(a: str, b: str) -> float:
    """The share of lines two chunks have in common (llama.vim's measure)."""
    lines_a, lines_b = Counter(a.splitlines()), Counter(b.splitlines())
    total = sum(lines_a.values()) + sum(lines_b.values())
    return 2 * sum((lines_a & lines_b).values()) / total if total else 1.0


def _path(uri: str) -> Path | None:
    """The file of a file:// URI (None for an untitled buffer and other schemes)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if len(path) > 2 and path[0] == "/" and path[2] == ":":  # /C:/Users/... on Windows
        path = path[1:]
    return Path(path)


def _shown_path(file: Path | None, current: Path | None) -> str:
    """A file's name as a comment shows it: relative to the current file's folder's parent where it can be."""
    if file is None:
        return "untitled"
    if current is not None:
        try:
            return file.relative_to(current.parent.parent).as_posix()
        except ValueError:
            pass
    return file.name
