"""What the end-to-end tests fetch is said before it is fetched, and can be declined (issue 42, item 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import prepare

ROOT = Path(__file__).resolve().parents[1]


def need(tmp_path: Path, name: str, megabytes: int) -> prepare.Need:
    target = tmp_path / name

    def make() -> Path:
        target.write_text("made")
        return target

    return prepare.Need(name, "a test's own", megabytes, ("x.py",), make, target.exists)


@pytest.fixture(autouse=True)
def fresh_results(monkeypatch):
    monkeypatch.setattr(prepare, "_results", {})


def test_what_will_be_fetched_is_said_with_its_size_before_anything_is(tmp_path, monkeypatch):
    monkeypatch.delenv(prepare.OPT_OUT, raising=False)
    said: list[str] = []
    first, second = need(tmp_path, "first", 700), need(tmp_path, "second", 50)
    prepare.prepare([first, second], said.append)
    assert "about 750 MB" in said[0] and "first (700 MB), second (50 MB)" in said[0], said
    assert f"{prepare.OPT_OUT}=0 skips" in said[0]
    assert (tmp_path / "first").exists() and (tmp_path / "second").exists()
    said.clear()
    monkeypatch.setattr(prepare, "_results", {})
    prepare.prepare([first, second], said.append)
    assert said == []  # made already: nothing to say


def test_declined_downloads_skip_the_tests_that_need_them_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv(prepare.OPT_OUT, "0")
    said: list[str] = []
    prepare.prepare([need(tmp_path, "big", 900)], said.append)
    assert not (tmp_path / "big").exists() and said == []
    monkeypatch.setattr(prepare, "NEEDS", (need(tmp_path, "big", 900),))
    with pytest.raises(pytest.skip.Exception, match="CGA_TEST_DOWNLOADS=0 says not to fetch it"):
        prepare.made("big")


def test_a_real_editor_test_skips_with_the_reason_when_downloads_are_declined(tmp_path):
    """Neovim 0.11 from an empty cache, declined: the test skips and says why; nothing lands in the cache."""
    env = {
        **__import__("os").environ,
        prepare.OPT_OUT: "0",
        "CGA_NEOVIM_BUILDS": str(tmp_path / "builds"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/lsp/test_neovim.py::test_a_new_file_gets_a_suggestion_at_a_block_opener_and_tab_saves_exactly_it[0.11]",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "1 skipped" in done.stdout and "CGA_TEST_DOWNLOADS=0 says not to fetch it" in done.stdout, done.stdout
    assert not (tmp_path / "builds").exists()
