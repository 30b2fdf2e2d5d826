"""One chat turn as the command line handles it, over a scripted backend: what is shown, said and kept.

tests/cli/test_chat.py and test_chat_terminal.py run the whole command on real models.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cga.assistant.chat import ChatSession
from cga.assistant.conversation import PYTHON_HEADER, Conversation
from cga.cli.chat_cmd import _answer
from cga.cli.chat_commands import ChatState, run_command
from tests.fake_backend import FakeBackend

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def turn(answer: str, max_tokens: int = 64) -> tuple[ChatState, str, str]:
    """One instruction answered by a CodeGen-like model: (state, what stdout showed, what stderr said)."""
    session = ChatSession(FakeBackend(answer, codegen=True), Conversation(header=PYTHON_HEADER), max_tokens=max_tokens)
    state = ChatState(session, "last", Console(file=io.StringIO(), force_terminal=False))
    return state, session, state.out


def said(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_an_answer_the_program_rule_empties_is_explained_and_not_kept(capsys):
    state, session, out = turn("# Then sort it\nnumbers.sort()\n")
    _answer(state, "Make a list of numbers.", 64)
    assert said(capsys) == [
        "The model began a new step (a comment, a second function or print) without writing code for this one, "
        "and the program rule cut it; say this step more simply, or /show the program so far. Nothing was added."
    ]
    assert session.conversation.turns == [] and out.file.getvalue() == ""


def test_an_answer_cut_at_the_token_limit_is_kept_and_says_so(capsys):
    state, session, out = turn("numbers = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]\n", max_tokens=20)
    _answer(state, "Make a list of numbers.", 20)
    assert said(capsys) == [
        "(Cut at 20 tokens; raise --max-tokens for a longer answer.)",
        "This answer is not valid Python (line 6: '[' was never closed); /edit fixes it, /undo drops it.",
    ]
    assert session.conversation.turns[-1].code == "numbers = [1, 2, 3, "  # one character is one token here
    assert out.file.getvalue() == "numbers = [1, 2, 3, \n\n"


def test_an_insecure_answer_is_kept_with_one_warning_line(capsys):
    state, session, _ = turn("value = eval(input())\n")
    _answer(state, "Read a value.", 64)
    assert said(capsys) == [
        "Security: line 1: Use of possibly insecure function - consider using safer "
        "ast.literal_eval. (B307, medium severity)"
    ]
    assert session.conversation.turns[-1].code == "value = eval(input())"


def test_an_answer_that_does_not_parse_is_kept_and_said_with_its_line(capsys):
    """Issue 42, item 9: invalid Python was shown with no word and failed only at /run."""
    state, session, _ = turn("def area(r):\n    return 3.14 * r *\n")
    _answer(state, "Write the area of a circle.", 64)
    assert said(capsys) == ["This answer is not valid Python (line 7: invalid syntax); /edit fixes it, /undo drops it."]
    assert session.conversation.turns[-1].code == "def area(r):\n    return 3.14 * r *"


def test_a_failing_test_names_its_own_line_and_the_programs_lines_as_show_numbers_them(capsys):
    """Issue 42, item 9: a /test traceback said `line 22` of a 14-line program (the test's own line)."""
    state, session, _ = turn("def half(n):\n    return n // 2\n")
    _answer(state, "Halve a number.", 64)
    capsys.readouterr()
    run_command("/test assert half(5) == 2.5", state)
    err = capsys.readouterr().err
    assert 'File "/test", in <module>' in err and "AssertionError" in err, err
    assert "program.py" not in err
    run_command('/test half("x")', state)
    err = capsys.readouterr().err
    shown = session.conversation.program().splitlines()
    line = shown.index("    return n // 2") + 1
    assert f'File "the program", line {line}, in half' in err and 'File "/test", in <module>' in err, err
