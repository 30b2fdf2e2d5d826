"""Which lines of a chat model's answer are code: for showing them as code and for running them."""

from __future__ import annotations

import pytest

from cga.assistant.answer_code import code_of_answer, code_of_continuation, starts_code, with_code_fenced

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


@pytest.mark.parametrize(
    "line",
    [
        "def f(x):",
        "return x + 1",
        "print(total)",
        "import os",
        "x = foo(",
        "for i in range(3):",
        "    with open(p) as f:",
        "@cache",
        "class A:",
    ],
)
def test_statements_start_code(line):
    assert starts_code(line)


@pytest.mark.parametrize(
    "line",
    [
        "Here is the code:",
        "Usage",
        "Note: this",
        "Hope this helps!",
        "1. Open it",
        "# A heading",
        "",
        "The function `f` returns 5.",
        "Example:",
        "42",
    ],
)
def test_prose_does_not(line):
    assert not starts_code(line)


def test_unfenced_code_is_fenced_and_fenced_code_and_prose_stay():
    answer = "Here:\ndef f(x):\n    y = x\n\n    return y\nIt copies x.\n```python\nz = 1\n```\nDone."
    assert with_code_fenced(answer) == (
        "Here:\n```python\ndef f(x):\n    y = x\n\n    return y\n```\nIt copies x.\n```python\nz = 1\n```\nDone."
    )
    assert with_code_fenced(answer, "javascript") == answer  # only Python is recognised unfenced


def test_a_continuation_ends_at_the_chat_models_closing_fence():
    """MTPB with the embedded model: code, a stray fence, then prose (issue 23, item 2)."""
    assert (
        code_of_continuation("x = [1, 2]\nprint(sum(x))\n```\n\nThis prints the sum.\n")
        == "x = [1, 2]\nprint(sum(x))\n"
    )
    assert code_of_continuation("```python\nx = 1\n```\nprose") == "x = 1\n"


def test_a_continuation_without_fences_ends_where_prose_begins():
    assert code_of_continuation("x = 1\nprint(x)\nThe code above prints 1.\n") == "x = 1\nprint(x)\n"
    assert code_of_continuation("def f(a):\n    return a") == "def f(a):\n    return a"  # code as is
    assert code_of_continuation("y = f(\n    2,\n)\n") == "y = f(\n    2,\n)\n"


def test_the_code_of_a_chat_answer():
    assert code_of_answer("Sure:\n```python\ndef f():\n    pass\n```\nDone.") == "def f():\n    pass\n"
    assert code_of_answer("Here:\ndef f():\n    pass\nThen call it:\nf()\nDone.") == "def f():\n    pass\n\nf()\n"
    assert code_of_answer("I cannot help with that.") == "I cannot help with that."
