"""The definitions a Python file imports from the rest of its project, as short source excerpts for the prompt.

A line that calls a function of another module is written right far more
often when the model has seen that function's signature (Tabby asks the
editor for the declarations the code names; bench/project_context_bench.py
measures what it does for ours). An editor's other language servers are not
ours to ask, so this reads the imported modules from disk: only files of the
same project (the folder tree of the importing file's top package, or its own
folder), only `.py` files of bounded size, never a file that looks like a
secret, and only the names the file imports.
"""

from __future__ import annotations

import ast
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .secret_files import looks_secret

MAX_MODULE_BYTES = 1 << 20  # a generated module larger than this is not read
MAX_DOC_LINES = 6  # of a docstring: its summary is what helps; the rest costs tokens
MAX_MEMBERS = 16  # public method signatures and fields shown of a class
MAX_SCAN_CHARS = 100_000  # of the importing file: where its imports are (a 20 MB document is not scanned whole)
KEEP_SECONDS = 5.0
# Definitions of one file's imports shown at most, and imported names looked at: a file importing 10,000 names
# made the prompt's head 10,000 pieces, each tokenized again at every keystroke (40,016 calls to a team's server,
# 12-20 s a completion). The first ones, in the order of the imports, are the ones kept.
MAX_DEFINITIONS = 64
MAX_NAMES = 512
MAX_FOLLOW = 3  # re-exports followed (`from .decoder import JSONDecoder` in a package's __init__)
# An import statement at the start of a line, parenthesised names included. Each part matches one way only (a
# dot is the module's lead or its separator, never either; the module is never empty between two runs of
# blanks): `from` and 40,000 dots took 47 s with the server stalled.
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<module>\.+\w*(?:\.\w+)*|\w+(?:\.\w+)*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]+)"
    r"|import[ \t]+(?P<plain>[\w. \t,]+))",
    re.MULTILINE,
)
_ATTRIBUTE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Definition:
    path: Path  # the module file it is in
    name: str
    source: str  # the excerpt: signature and docstring summary, class members' signatures


@dataclass(frozen=True)
class _Module:
    stamp: tuple[int, int]  # mtime_ns, size: a changed file is parsed again
    excerpts: dict[str, str]
    reexports: dict[str, tuple[str, str]]  # name → (module, name there): `from .x import y`


class DefinitionIndex:
    """Parsed modules by path, kept while their files do not change. One owner (ProjectContext), under its lock."""

    def __init__(self, size: int = 256, keep_seconds: float = KEEP_SECONDS) -> None:
        self.size, self.keep_seconds = size, keep_seconds
        self.modules: dict[Path, _Module] = {}
        self.answers: dict[tuple, tuple[float, list[Definition]]] = {}

    def imported(self, path: Path, text: str) -> list[Definition]:
        """The definitions of other project files that the file at path (with this text) imports, in the order
        of its imports: the names it imports, and the attributes it uses of the modules it imports. The order
        and the set change only when the imports do, so the prompt's head stays the same while typing.

        Asked at every keystroke: the answer for the same imports is kept for a few seconds (a module edited
        on disk meanwhile is read after that)."""
        scan = text[:MAX_SCAN_CHARS]
        statements = list(_IMPORT.finditer(scan))
        if not statements:
            return []
        uses = _uses(_IMPORT.sub("", scan))
        key = (path, tuple(m.group(0) for m in statements), tuple(uses.items()))
        known = self.answers.get(key)
        if known is not None and time.monotonic() - known[0] < self.keep_seconds:
            return known[1]
        found = self._resolve(path, statements, uses)
        self.answers = {key: (time.monotonic(), found)}  # one file is typed in at a time
        return found

    def _resolve(
        self, path: Path, statements: list[re.Match[str]], uses: dict[str, tuple[str, ...]]
    ) -> list[Definition]:
        base, roots = path.parent, _roots(path)
        found: list[Definition] = []
        seen: set[tuple[Path, str]] = set()
        names = 0
        for match in statements:
            if len(found) >= MAX_DEFINITIONS or names >= MAX_NAMES:
                break
            if match["plain"]:
                for module, alias in _aliases(match["plain"])[: MAX_NAMES - names]:
                    names += 1
                    target = _module_file(module, 0, base, roots)
                    if target is not None:
                        for attr in uses.get(alias, ()):
                            self._add(found, seen, target, attr)
                continue
            module = match["module"]
            level = len(module) - len(module.lstrip("."))
            for name, alias in _aliases(match["names"].strip("()"))[: MAX_NAMES - names]:
                names += 1
                if name == "*" or len(found) >= MAX_DEFINITIONS:
                    continue
                submodule = _module_file(f"{module.lstrip('.')}.{name}".lstrip("."), level, base, roots)
                target = _module_file(module.lstrip("."), level, base, roots) if submodule is None else None
                if submodule is not None:  # `from . import decoder`: the attributes used of it
                    for attr in uses.get(alias, ()):
                        self._add(found, seen, submodule, attr)
                elif target is not None:  # used or about to be: the line being typed may be its first use
                    self._add(found, seen, target, name)
        return found

    def _add(self, found: list[Definition], seen: set[tuple[Path, str]], path: Path, name: str) -> None:
        if len(found) >= MAX_DEFINITIONS:
            return
        for _ in range(MAX_FOLLOW + 1):
            if (path, name) in seen:
                return
            seen.add((path, name))
            module = self._module(path)
            if module is None:
                return
            if name in module.excerpts:
                found.append(Definition(path, name, module.excerpts[name]))
                return
            if name not in module.reexports:
                return
            source, name = module.reexports[name]
            level = len(source) - len(source.lstrip("."))
            target = _module_file(source.lstrip("."), level, path.parent, _roots(path))
            if target is None:
                return
            path = target

    def _module(self, path: Path) -> _Module | None:
        try:
            status = path.stat()
        except OSError:
            return None
        stamp = (status.st_mtime_ns, status.st_size)
        known = self.modules.get(path)
        if known is not None and known.stamp == stamp:
            return known
        if status.st_size > MAX_MODULE_BYTES or looks_secret(str(path)):
            return None
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
            # A project file, however hostile (`x = 1+1+…+1` overflows the parser's stack), is left out of the
            # context; it never breaks a completion in a file that imports it, and is not parsed again (a
            # quarter of a second each time) until it changes.
            return self._kept(path, _Module(stamp, {}, {}))
        lines = source.splitlines()
        excerpts: dict[str, str] = {}
        reexports: dict[str, tuple[str, str]] = {}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                excerpts[node.name] = _excerpt(node, lines)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        excerpts[target.id] = _statement(node, lines)
            elif isinstance(node, ast.ImportFrom):
                source_module = "." * node.level + (node.module or "")
                for alias in node.names:
                    reexports[alias.asname or alias.name] = (source_module, alias.name)
        return self._kept(path, _Module(stamp, excerpts, reexports))

    def _kept(self, path: Path, module: _Module) -> _Module:
        self.modules[path] = module
        while len(self.modules) > self.size:
            self.modules.pop(next(iter(self.modules)))
        return module


def _aliases(names: str) -> list[tuple[str, str]]:
    """`a, b as c` → [(a, a), (b, c)]."""
    pairs = []
    for part in names.replace("\n", " ").split(","):
        words = part.split()
        if len(words) == 1:
            pairs.append((words[0], words[0].split(".")[0] if "." in words[0] else words[0]))
        elif len(words) == 3 and words[1] == "as":
            pairs.append((words[0], words[2]))
    return pairs


def _uses(body: str) -> dict[str, tuple[str, ...]]:
    """The attributes used of each name (`name.attribute`), first use first, in one pass over the text."""
    uses: dict[str, dict[str, None]] = {}
    for name, attribute in _ATTRIBUTE.findall(body):
        uses.setdefault(name, {})[attribute] = None
    return {name: tuple(attributes) for name, attributes in uses.items()}


def _roots(path: Path) -> list[Path]:
    """Where the project's absolute imports start: above the file's top package, and the file's own folder."""
    top = path.parent
    while (top / "__init__.py").is_file() and top.parent != top:
        top = top.parent
    return list(dict.fromkeys([top, path.parent]))


def _module_file(module: str, level: int, base: Path, roots: list[Path]) -> Path | None:
    """The project file of a module (level: the leading dots of a relative import), or None if it is not one."""
    if level:
        start = base
        for _ in range(level - 1):
            start = start.parent
        if not _inside(start, roots[0]):
            return None  # more dots than packages: Python refuses it, and it would read above the project
        starts = [start]
    else:
        starts = roots
    parts = [part for part in module.split(".") if part]
    for start in starts:
        folder = start.joinpath(*parts) if parts else start
        for candidate in (folder.with_suffix(".py") if parts else None, folder / "__init__.py"):
            if candidate is not None and candidate.is_file() and _inside(candidate, roots[0] if level else start):
                return candidate
    return None


def _inside(path: Path, folder: Path) -> bool:
    """Whether path is in folder once links are resolved: an import never reads outside the project."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except OSError:
        return False


def _statement(node: ast.stmt, lines: list[str]) -> str:
    text = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
    return "\n".join(text if len(text) <= 3 else text[:1] + ["    ..."])


def _excerpt(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> str:
    """Decorators, the signature and the docstring's summary; for a class, its fields' and methods' lines too."""
    out = _signature(node, lines)
    if len(out) == 1 and node.body[0].lineno == node.lineno:
        return out[0]  # `def f(): ...` on one line
    body_indent = _indent(lines[node.body[0].lineno - 1])
    rest = node.body
    first = rest[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        doc = lines[first.lineno - 1 : (first.end_lineno or first.lineno)]
        out += doc if len(doc) <= MAX_DOC_LINES else doc[: MAX_DOC_LINES - 1] + [body_indent + '..."""']
        rest = rest[1:]
    if not isinstance(node, ast.ClassDef):
        return "\n".join(out + ([body_indent + "..."] if rest else []))
    public = [m for m in rest if not getattr(m, "name", "").startswith("_") or getattr(m, "name", "") == "__init__"]
    for member in public[:MAX_MEMBERS]:
        if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
            signature = _signature(member, lines)
            one_line = member.body[0].lineno == member.lineno
            out += signature + ([] if one_line else [_indent(lines[member.body[0].lineno - 1]) + "..."])
        elif isinstance(member, (ast.Assign, ast.AnnAssign)):
            out.append(_statement(member, lines))
    return "\n".join(out)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> list[str]:
    """The decorators and the header, up to the line the body starts on (which a one-line def shares)."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    header = lines[first - 1 : max(node.body[0].lineno - 1, node.lineno)]
    while len(header) > 1 and (not header[-1].strip() or header[-1].lstrip().startswith("#")):
        header.pop()  # comments that open the body
    return header


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
