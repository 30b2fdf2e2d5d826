"""How answers look on a screen: wrapped at the width, Markdown for chat models, code for CodeGen (snapshots)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cga.cli.chat_display import show_answer

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def screen(chunks: list[str], *, markdown: bool, width: int = 30) -> str:
    out = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None, record=True)
    show_answer(iter(chunks), out, markdown=markdown, language="python")
    return "\n".join(line.rstrip() for line in out.export_text().splitlines())


def test_a_code_line_wider_than_the_screen_wraps_instead_of_being_cut():
    code = "total = compute_the_total(first_value, second_value, third_value)\n"
    shown = screen([code[:20], code[20:]], markdown=False)
    assert shown.splitlines()[:3] == ["total =", "compute_the_total(first_value,", "second_value, third_value)"]
    assert "…" not in shown


def test_a_chat_answer_shows_as_markdown_and_its_prose_stays_prose():
    answer = "Here:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds them.\n"
    shown = screen([answer[i : i + 7] for i in range(0, len(answer), 7)], markdown=True, width=40)
    assert "```" not in shown
    assert shown.splitlines()[0] == "Here:"
    assert " def add(a, b):" in shown and shown.rstrip().endswith("It adds them.")


def test_a_pipe_gets_the_text_as_written_and_a_blank_line_after_it():
    out = Console(file=io.StringIO(), width=30, force_terminal=False)
    show_answer(iter(["x = 1", "\ny = 2"]), out, markdown=False, language="python")
    show_answer(iter(["z = 3\n"]), out, markdown=False, language="python")
    assert out.file.getvalue() == "x = 1\ny = 2\n\nz = 3\n\n"


def test_code_a_chat_model_wrote_without_fences_keeps_its_lines():
    """The embedded model's later turns: a bare def with its body between sentences (issue 23, item 1)."""
    answer = (
        "Sure, here it is:\ndef csv_to_list_list(filename):\n    with open(filename) as csvfile:\n"
        "        return list(csv.reader(csvfile))\nIt reads the file.\n"
    )
    shown = screen([answer[i : i + 5] for i in range(0, len(answer), 5)], markdown=True, width=60)
    lines = [line.strip() for line in shown.splitlines()]
    assert lines.index("def csv_to_list_list(filename):") + 1 == lines.index("with open(filename) as csvfile:")
    assert "return list(csv.reader(csvfile))" in lines
    assert lines[0] == "Sure, here it is:" and lines[-1] == "It reads the file."
