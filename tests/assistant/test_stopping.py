"""Stop strings never leak; the CodeGen paper's program truncation, line by line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cga.assistant.stopping import ProgramTruncator, StopScanner, prompt_leaves_block_open

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def run(filter_, chunks):
    return "".join(filter_.feed(c) for c in chunks) + filter_.flush()


@pytest.mark.parametrize(
    "chunks, stops, expected",
    [
        (["hello", " wor", "ld"], ["world"], "hello "),
        (["a<", "|end", "|>b"], ["<|end|>"], "a"),
        (["x\n", "\nclass"], ["\nclass"], "x\n"),
        (["abc", "def"], ["zz"], "abcdef"),
        (["partial <"], ["<|end|>"], "partial <"),  # held back, released at the end
        (["no stops"], [], "no stops"),
        (["🚀", "🔥"], ["🔥"], "🚀"),
    ],
)
def test_stop_scanner(chunks, stops, expected):
    assert run(StopScanner(stops), chunks) == expected


def test_stop_scanner_holds_back_a_forming_stop():
    scanner = StopScanner(["<|end|>"])
    assert scanner.feed("text <|e") == "text "
    assert scanner.feed("nd|> more") == ""
    assert scanner.stopped


@pytest.mark.parametrize(
    "text, inside_block, expected",
    [
        ("x = 1\nprint(x)\n# next turn\ny = 2\n", False, "x = 1\nprint(x)\n"),
        ("def f():\n    return 1\n\n\n\ndef g():\n", False, "def f():\n    return 1\n\n"),
        ("def f():\n    return 1\n\ndef g():\n    pass\n", False, "def f():\n    return 1\n\n"),
        ("print(1)\nprint(2)\n", False, "print(1)\n"),
        ("    return a + b\n\ndef main():\n", True, "    return a + b\n\n"),
        ("    '''doc'''\n    return 1\n", True, "    '''doc'''\n    return 1\n"),
        ('x = 1\n"""\nstray docstring\n', False, "x = 1\n"),
        ("    # a comment in the body\n    return 1", True, "    # a comment in the body\n    return 1"),
        # The paper's rule counts def and print only: a class or an if is part of the turn.
        ("class A:\n    pass\nif A:\n    print(1)\n", False, "class A:\n    pass\nif A:\n    print(1)\n"),
    ],
)
def test_program_truncation(text, inside_block, expected):
    assert run(ProgramTruncator(inside_block), [text[i : i + 3] for i in range(0, len(text), 3)]) == expected


def test_a_one_shot_program_keeps_its_comments_and_functions():
    text = "def f():\n    return 1\n# then\ndef g():\n    return 2\nprint(f())\nprint(g())\n\n\nx = 1\n"
    streamed = ProgramTruncator(single_turn=True)
    assert run(streamed, [text[i : i + 5] for i in range(0, len(text), 5)]) == text.split("\n\n\n")[0] + "\n\n"


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("def f(a):\n", True),
        ("def f(a):", True),
        ("x = 1\n", False),
        ("class A:\n    def g(self):\n        ", True),
        ("", False),
        ("import os\n\n", False),
    ],
)
def test_prompt_leaves_block_open(prompt, expected):
    assert prompt_leaves_block_open(prompt) is expected


def by_whole_lines(text: str, single_turn: bool) -> str:
    """The rule applied to complete lines only: what streaming must equal, however the text arrives."""
    truncator = ProgramTruncator(single_turn=single_turn)
    out = []
    lines = text.split("\n")
    for n, line in enumerate(lines):
        kept = truncator._check(line)
        if kept is None:
            break
        out.append(kept + ("\n" if n < len(lines) - 1 else ""))
    return "".join(out)


LINE_STARTS = st.sampled_from(
    [
        "",
        " ",
        "    ",
        "#",
        "'''",
        '"""',
        "'",
        "def",
        "def ",
        "print",
        "print(",
        "pri",
        "printer",
        "class",
        "x = 1",
        "if x:",
        "\t",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(LINE_STARTS, st.text("abc (=):'\"#", max_size=6)), max_size=8),
    cuts=st.lists(st.integers(1, 7), max_size=40),
    single_turn=st.booleans(),
)
def test_streaming_shows_the_same_text_as_whole_lines_however_it_is_cut(lines, cuts, single_turn):
    text = "\n".join(a + b for a, b in lines)
    truncator, shown, at = ProgramTruncator(single_turn=single_turn), [], 0
    for size in cuts + [len(text)]:
        shown.append(truncator.feed(text[at : at + size]))
        at += size
    shown.append(truncator.flush())
    assert "".join(shown) == by_whole_lines(text, single_turn)


def test_a_line_streams_before_it_ends():
    truncator = ProgramTruncator()
    assert truncator.feed("    return a") == "    return a"  # an indented line is kept whatever follows
    assert truncator.feed(" + b") == " + b"
    assert truncator.feed("\npri") == "\n"  # may be the second top-level print: held back


@pytest.mark.parametrize(
    "chunks, min_indent, expected",
    [
        (["return a + b\n", "\n\ndef other():"], 1, "return a + b\n\n\n"),  # ends before the next top-level line
        (["x = 1\n    y", " = 2\n  z = 3\n"], 4, "x = 1\n    y = 2\n"),  # two spaces: out of the block
        (["first\n", "  ", "  ", "deep\n", "  out"], 4, "first\n    deep\n"),  # decided once the indent is known
        (["a\n", "   \n", "\t\n", "    b\n"], 4, "a\n   \n\t\n    b\n"),  # blank lines end nothing
        (["only one line"], 8, "only one line"),  # the cursor's own line is not judged
        (["a\n", "    "], 4, "a\n    "),  # white space held back, released at the end
    ],
)
def test_block_end_stops_before_the_first_line_indented_less(chunks, min_indent, expected):
    from cga.assistant.stopping import BlockEnd

    block = BlockEnd(min_indent)
    assert run(block, chunks) == expected
    assert block.stopped == (expected != "".join(chunks))


def test_a_time_limit_ends_an_answer_once_it_holds_a_line_break():
    import time

    from cga.assistant.backend import Generation, Stats, filter_stream

    def slow():
        for chunk in ("one", " line", "\n", "two", " more", " words"):
            yield chunk
            time.sleep(0.06)

    stats = Stats()
    text = "".join(filter_stream(slow(), Generation(time_limit_ms=50), stats))
    assert text == "one line\n" and stats.stop == "time"  # past the limit, but the first line is never cut short
    stats = Stats()
    assert "".join(filter_stream(slow(), Generation(), stats)) == "one line\ntwo more words"
