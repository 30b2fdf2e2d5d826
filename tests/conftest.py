"""Fixtures shared by every tier, and the pure tier's guard.

`python -m pytest -m pure` runs only the modules marked `pure` (rules that need
neither llama.cpp nor torch) and fails if either was imported, so a change to
position arithmetic or a stopping rule is checked in seconds. The default
command runs everything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HEAVY = ("llama_cpp", "torch")


def pure_tier(config: pytest.Config) -> bool:
    return config.getoption("markexpr", "") == "pure"


def pytest_configure(config: pytest.Config) -> None:
    if not pure_tier(config):
        import cga.core.native  # noqa: F401  llama_cpp before numpy and torch, as in the CLI (see cli/app.py)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the pure tier, a module without the mark is not even imported (its imports may be heavy)."""
    if pure_tier(config) and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return "pytest.mark.pure" not in collection_path.read_text(encoding="utf-8")
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the selected tests need built (tests/prepare.py), made now: before the first test, and said."""
    if pure_tier(session.config) or session.config.option.collectonly:
        return
    from tests.prepare import needed_by, prepare

    tests = Path(__file__).resolve().parent
    files = {
        Path(item.path).resolve().relative_to(tests).as_posix()
        for item in session.items
        if Path(item.path).resolve().is_relative_to(tests)
    }
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter else (lambda text: print(text, file=sys.stderr))
    session.config.stash[_PREPARED] = prepare(needed_by(files), say)


_PREPARED = pytest.StashKey[float]()
_TIERS: dict[str, list[float]] = {}  # tier: [tests, seconds]


def tier_of(keywords) -> str:
    return "pure" if "pure" in keywords else "slow" if "slow" in keywords else "standard"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    counts = _TIERS.setdefault(tier_of(report.keywords), [0, 0.0])
    counts[1] += report.duration
    if report.when == "setup":
        counts[0] += 1


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The suite's time per tier (issue 23, item 9): where a slow run went, in every run's last lines."""
    from cga.cli.progress import duration

    parts = [f"preparing {duration(config.stash[_PREPARED])}"] if _PREPARED in config.stash else []
    parts += [
        f"{name} {int(_TIERS[name][0])} tests {duration(_TIERS[name][1])}"
        for name in ("pure", "standard", "slow")
        if name in _TIERS
    ]
    if parts:
        terminalreporter.write_line("Time per tier: " + "; ".join(parts))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    heavy = [name for name in HEAVY if name in sys.modules]
    if pure_tier(session.config) and heavy:
        print(f"\nThe pure tier imported {', '.join(heavy)}; keep those imports out of pure rules.", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test touches the real user directories."""
    home = tmp_path_factory.mktemp("cga-home")
    monkeypatch.setenv("CGA_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def codegen1(tmp_path_factory):
    from tests.builders import build_codegen

    return build_codegen(tmp_path_factory.mktemp("codegen1") / "ckpt")


@pytest.fixture(scope="session")
def codegen2_mp8(tmp_path_factory):
    """The codegen2-1B layout: 8 qkv blocks, special infill tokens, sharded .bin."""
    from tests.builders import build_codegen

    return build_codegen(
        tmp_path_factory.mktemp("codegen2") / "ckpt",
        n_embd=256,
        n_head=8,
        mp_num=8,
        infill=True,
        storage="bin",
        shards=3,
        seed=1,
    )


@pytest.fixture(scope="session")
def codegen25(tmp_path_factory):
    from tests.builders import build_codegen25

    return build_codegen25(tmp_path_factory.mktemp("codegen25") / "ckpt", seed=2)


@pytest.fixture(scope="session")
def smollm():
    from cga.assistant.engine import Engine
    from cga.assistant.model_choice import embedded_default

    return Engine(embedded_default(), threads=2, n_ctx=512)


@pytest.fixture(scope="session")
def codegen2_gguf(codegen2_mp8, tmp_path_factory):
    from cga.convert.pipeline import convert

    return convert(codegen2_mp8.path, tmp_path_factory.mktemp("engine") / "c2.q8_0.gguf", "q8_0").path


@pytest.fixture(scope="session")
def codegen2(codegen2_gguf):
    from cga.assistant.engine import Engine

    return Engine(codegen2_gguf, threads=2, n_ctx=512)
