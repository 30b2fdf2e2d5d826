"""`cga complete` as a user runs it: the real command in a child process."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.run_cli import run_cga


def test_completes_with_the_embedded_default_model():
    result = run_cga("complete", "def fibonacci(n):", "--max-tokens", "24")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "embedded SmolLM2" in result.stderr and "cga models pull" in result.stderr


def test_reads_standard_input_and_an_empty_answer_explains_itself():
    """SmolLM2 answers this with a column-0 comment, which the paper's rule cuts: the user is told so."""
    result = run_cga("complete", "--max-tokens", "8", input="import os\n\ndef list_files(path):\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the blank line the model wrote before the comment is held back, not shown
    ended, note = result.stderr.splitlines()[-2:]
    assert re.fullmatch(r"[12] tokens?; cut where the next part of the program began\.", ended), ended  # per CPU
    assert note == (
        "The model began a new step (a comment, a second function or print) without writing code for this one, "
        "and the program rule cut it; pass --no-truncate to see everything it wrote."
    )
    kept = run_cga("complete", "--max-tokens", "8", "--no-truncate", input="import os\n\ndef list_files(path):\n")
    assert kept.stdout.lstrip("\n").startswith("# list_files(path)")


def test_a_file_with_windows_line_breaks_gets_the_answer_the_same_file_with_newlines_gets():
    source = 'import os\n\n\ndef list_files(path):\n    """Return the names of the files in path."""\n'
    command = [sys.executable, "-m", "cga.cli", "complete", "--max-tokens", "16", "--no-truncate"]
    answers = [  # bytes: text mode would turn a \r\n in the answer into \n
        subprocess.run(command, input=text.encode(), capture_output=True, timeout=600).stdout
        for text in (source, source.replace("\n", "\r\n"))
    ]
    assert answers[0].strip() and answers[1] == answers[0] and b"\r" not in answers[1]


def test_non_utf8_input_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "cga.cli", "complete"], input=b"x = '\xff\xfe'\n", capture_output=True
    )
    assert result.returncode == 1
    assert b"not UTF-8" in result.stderr and b"Traceback" not in result.stderr


def test_a_non_utf8_argument_is_refused():
    result = subprocess.run([sys.executable, "-m", "cga.cli", "complete", b"x = '\xff'"], capture_output=True)
    assert result.returncode == 1
    assert b"not UTF-8" in result.stderr and b"Traceback" not in result.stderr


def test_nothing_to_complete_is_refused_with_a_sentence():
    for result in (run_cga("complete", ""), run_cga("complete", input=""), run_cga("complete", input="  \n")):
        assert result.returncode == 1 and "no code to complete" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_infill_on_a_model_that_cannot_is_refused():
    result = run_cga("complete", "def f(", "--suffix", ")")
    assert result.returncode == 1
    assert "cannot fill in the middle" in result.stderr


def test_infill_on_codegen2(codegen2_gguf):
    result = run_cga(
        "complete",
        "def add(a, b):\n    ",
        "--suffix",
        "\n\nprint(add(1, 2))\n",
        "--model",
        codegen2_gguf,
        "--max-tokens",
        "8",
    )
    assert result.returncode == 0, result.stderr


def test_missing_model_file():
    result = run_cga("complete", "x", "--model", "/nowhere/model.gguf")
    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    result = run_cga("complete", "x", "--model", bad)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error:") and "Traceback" not in result.stderr


def test_a_full_disk_on_standard_output_is_one_sentence():
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "cga.cli", "complete", "def f():", "-n", "4"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert result.returncode == 1 and "Could not write the completion" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_answer_joins_typed_indentation_and_a_typed_space_without_doubling_them():
    """Issue 23: after `    ` the model's ` return` gave a 5-space indent (the editor's doubled space, issue 19)."""
    indent = run_cga("complete", "--max-tokens", "6", input="def add(a, b):\n    ")
    assert indent.returncode == 0, indent.stderr
    assert indent.stdout[:1].strip(), repr(indent.stdout)  # code at once: the typed indentation is the line's
    space = run_cga("complete", "--max-tokens", "4", input="def add(a, b):\n    return a ")
    assert space.returncode == 0, space.stderr
    assert space.stdout.strip() and not space.stdout.startswith((" ", "\t")), repr(space.stdout)


def test_a_huge_input_is_cut_to_the_window_that_fits_before_it_is_tokenized():
    from tests.remote_server.misbehaving import misbehaving_server

    code = "".join(f"value_{i} = {i}\n" for i in range(80_000))  # 1.2 MB
    with misbehaving_server() as server:  # a tokenizer of one token per character, a 2,048-token context
        result = run_cga("complete", "--remote", server.url, "--max-tokens", "8", input=code, timeout=120)
        tokenized = [len(body["content"]) for path, body in server.seen if path == "/tokenize"]
        (prompt,) = [body["prompt"] for path, body in server.seen if path == "/completion"]
    assert result.returncode == 0, result.stderr
    assert "lines fit the model's context; the" in result.stderr and "before them were left out" in result.stderr
    assert max(tokenized) <= 8 * 2048  # never the whole input
    assert 1800 < len(prompt) <= 2048 - 64 and code.endswith(prompt)
    assert code[-len(prompt) - 1] == "\n"  # from a line start


def test_input_over_the_size_limit_is_refused_before_it_is_read():
    result = run_cga("complete", input="x" * (9 * 2**20))
    assert result.returncode == 1 and "more than 8 MiB" in result.stderr


HOSTILE = "x = 1\x1b]52;c;aGk=\x07\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\x9b2J\x1b"


def test_escape_sequences_an_answer_carries_never_reach_a_terminal_but_a_pipe_gets_them_exact():
    """Issue 41, item 11: OSC 52 (the clipboard), OSC 0 (the title), CSI 2J (clear screen) in a model's or a
    server's answer reached the terminal; cga chat strips them, and now cga complete too, at a terminal."""
    import pexpect

    from tests.remote_server.misbehaving import misbehaving_server, stream_events

    events = [{"content": c, "stop": False} for c in HOSTILE] + [{"content": "", "stop": True, "stop_type": "eos"}]
    with misbehaving_server() as server:
        server.faults["/completion"] = stream_events(events)
        piped = run_cga("complete", "def f", "--remote", server.url, "-n", "64")
        server.faults["/completion"] = stream_events(events)
        child = pexpect.spawn(
            sys.executable,
            ["-m", "cga.cli", "complete", "def f", "--remote", server.url, "-n", "64"],
            encoding="utf-8",
            codec_errors="replace",
            timeout=60,
            dimensions=(24, 100),
        )
        child.expect(pexpect.EOF)
        child.close()
    assert piped.returncode == 0 and HOSTILE in piped.stdout  # the bytes exactly, as the README promises
    shown = child.before
    assert child.exitstatus == 0, shown
    assert "x = 1" in shown and "red" in shown
    answer_line = next(line for line in shown.splitlines() if "x = 1" in line)
    assert "\x1b" not in answer_line and "\x9b" not in answer_line and "\x07" not in answer_line, repr(answer_line)


def test_a_model_file_that_claims_a_huge_window_does_not_decide_the_memory(tmp_path):
    """Issue 41, item 5: SmolLM2 rewritten to claim 2^20 tokens of context asked llama.cpp for 18.5 GB (and was
    called corrupt); 2^18 took 4.7 GB for a 4-token answer. A command's window is what it needs, and it says so."""
    import gguf

    from cga.assistant.model_choice import embedded_default
    from tests.gguf_edit import with_metadata

    huge = with_metadata(
        embedded_default(), tmp_path / "huge.gguf", {"llama.context_length": (gguf.GGUFValueType.UINT32, 1 << 20)}
    )
    probe = (
        "import resource, subprocess, sys; "
        "done = subprocess.run([sys.executable, '-m', 'cga.cli', 'complete', 'def add(a, b):', '--model', "
        f"{str(huge)!r}, '-n', '4'], capture_output=True, text=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.stderr.write(done.stderr); sys.exit(done.returncode)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "The model's window is 1,048,576 tokens; this command uses 4,096" in done.stderr
    peak_kib = int(done.stdout.split()[-1])
    assert peak_kib < 1_000_000, f"{peak_kib / 2**20:.1f} GiB at its peak"  # the embedded model needs ~300 MB
