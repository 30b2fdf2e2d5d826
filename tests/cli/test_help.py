"""Every command's help, and every install hint as a user sees it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from cga.assistant.model_choice import embedded_default
from tests.run_cli import run_cga

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    "",
    "convert",
    "verify",
    "complete",
    "chat",
    "lsp",
    "doctor",
    "bench",
    "models",
    "models list",
    "models pull",
    "models import",
    "models rm",
    "models info",
    "models verify",
    "eval",
    "eval humaneval",
    "eval mtpb",
    "eval perplexity",
]
HINT = re.compile(r"pip install '(codegen-assistant[^']*)'")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_reads_plainly(command):
    shown = run_cga(*command.split(), "--help", env={"COLUMNS": "100"})
    assert shown.returncode == 0 and shown.stdout.startswith("Usage: cga"), shown.stderr
    assert "<bool>" not in shown.stdout and "{" not in shown.stdout.splitlines()[0]


def test_short_flags_mean_one_thing_across_commands():
    meanings: dict[str, set[str]] = {}
    for command in COMMANDS:
        for short, long in re.findall(r"^\s+(-\w), (--[\w-]+)", run_cga(*command.split(), "--help").stdout, re.M):
            meanings.setdefault(short, set()).add(long)
    assert {short: longs for short, longs in meanings.items() if len(longs) > 1} == {}
    assert meanings["-n"] == {"--max-tokens"}


def test_every_install_hint_in_the_code_names_an_extra_that_exists():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    hints = [
        (path.relative_to(ROOT), hint)
        for folder in ("cli", "convert", "models", "assistant", "evaluation", "lsp")
        for path in (ROOT / folder).rglob("*.py")
        for hint in HINT.findall(path.read_text())
    ]
    assert hints
    for path, hint in hints:
        assert re.fullmatch(r"codegen-assistant\[(\w+)\]", hint) and hint[18:-1] in extras, (path, hint)


def test_install_hints_keep_their_extra_on_screen(tmp_path):
    assert "pip install 'codegen-assistant[torch]'" in run_cga("verify", "--help").stdout
    (tmp_path / "matplotlib").mkdir()  # a machine without matplotlib
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    refused = run_cga("bench", embedded_default(), "--plot", tmp_path / "b.png", env={"PYTHONPATH": str(tmp_path)})
    assert refused.returncode == 1
    assert refused.stderr.strip() == "Error: --plot needs matplotlib: pip install 'codegen-assistant[plot]'."


def test_version_and_a_catalog_table_that_keeps_its_languages():
    assert re.fullmatch(r"cga \d+\.\d+\.\d+\n", run_cga("--version").stdout)
    listed = run_cga("models", "list", "--all", env={"COLUMNS": "200"}).stdout
    assert "C, C++, Go, Java, JavaScript, Python" in listed and "…" not in listed
