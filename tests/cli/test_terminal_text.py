"""What chat lets reach the terminal from a program or a model (issue 20: /run output wrote the clipboard)."""

from __future__ import annotations

import pytest

from cga.cli.terminal_text import printable

pytestmark = pytest.mark.pure


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("ok\x1b]52;c;aGVsbG8=\x07 done", "ok done"),  # writes the clipboard
        ("title\x1b]0;pwned\x1b\\ back", "title back"),  # sets the window title
        ("\x1b[2J\x1b[Hcleared", "cleared"),  # clears the screen, moves the cursor
        ("\x9b2Jeight-bit", "eight-bit"),  # the same as a C1 control
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),  # a device control string
        ("query\x1b[6n", "query"),  # asks the terminal to type an answer
        ("bell\x07 and cr\rover", "bell^G and cr^Mover"),  # other controls are shown, not obeyed
        ("tabs\tand\nlines", "tabs\tand\nlines"),
    ],
)
def test_only_text_and_colours_reach_the_terminal(raw, shown):
    assert printable(raw) == shown


def test_colours_stay_for_programs_and_go_for_models():
    assert printable("\x1b[1;31mred\x1b[0m") == "\x1b[1;31mred\x1b[0m"
    assert printable("\x1b[1;31mred\x1b[0m", colours=False) == "red"
