"""The import graph runs one way: each package imports only itself and the packages below it.

Every import counts, also those inside functions, since a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure

ROOT = Path(__file__).resolve().parents[1]
# Lowest first; the README's layout section gives the reason for each step.
LAYERS = ["core", "convert", "models", "assistant", "evaluation", "lsp", "cli"]


def in_repository(name: str) -> str:
    """A dotted name as the repository lays it out: `cga.lsp.server` is lsp/server.py."""
    return name.removeprefix("cga.")


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(in_repository(alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(in_repository(node.module).split(".")[0])
    return found & set(LAYERS)


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_those_below_it(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    wrong = {
        str(path.relative_to(ROOT)): sorted(imports_of(path) - allowed)
        for path in sorted((ROOT / package).rglob("*.py"))
        if imports_of(path) - allowed
    }
    assert not wrong, f"{package} imports from above itself: {wrong}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from cga.lsp.server import x\n    import cga.cli.app\n")
    assert imports_of(sample) == {"lsp", "cli"}


def test_only_core_native_imports_llama_cpp():
    """Its import-order quirk and log silencing live in one place (core/native.py's docstring)."""
    importers = []
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                )
                if any(name.split(".")[0] == "llama_cpp" for name in names):
                    importers.append(str(path.relative_to(ROOT)))
    assert sorted(set(importers)) == ["core/native.py"]


def modules_imported(path: Path, package: str) -> set[str]:
    """The modules of its own package a module imports (lazily too), as dotted names."""
    here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    parent = here.rsplit(".", 1)[0] if path.name != "__init__.py" else here.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(in_repository(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = in_repository(node.module or "")
            if node.level:
                anchor = parent.rsplit(".", node.level - 1)[0] if node.level > 1 else parent
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import x`: the module x
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / package).rglob("*.py")}
    return {m for m in found if m in modules and m != here and not m.endswith("__init__")} - {package}


def cycles_in(package: str) -> list[list[str]]:
    graph = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): modules_imported(p, package)
        for p in sorted((ROOT / package).rglob("*.py"))
    }
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append(path[path.index(module) :] + [module])
            return
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, path + [module])
        done.add(module)

    for module in graph:
        visit(module, [])
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_no_module_imports_one_that_imports_it_back(package):
    """Inside a package too, dependencies run one way (issue 21: backend, engine and remote imported each
    other); lazy imports count."""
    assert cycles_in(package) == []


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import x\n")
    (package / "b.py").write_text("def f():\n    from pkg.a import y\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert cycles_in("pkg") == [["pkg.a", "pkg.b", "pkg.a"]]
