"""`cga chat` as a user runs it, piped, with Ctrl-C and a restart."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

from tests.run_cli import run_cga


def saved(home, name="last") -> dict:
    return json.loads((home / "conversations" / f"{name}.json").read_text())


def test_piped_chat_with_commands(isolated_home, codegen2_gguf):
    script = "Assign 5 to a variable named 'n'.\nPrint 'n'.\n/undo\n/save mine\n/show\n/bogus\n"
    result = run_cga("chat", "--model", codegen2_gguf, "--max-tokens", "12", input=script)
    assert result.returncode == 0, result.stderr
    assert "Dropped: Print 'n'." in result.stderr
    assert "Unknown command /bogus" in result.stderr
    assert "# Assign 5 to a variable named 'n'." in result.stdout  # from /show
    assert [t["instruction"] for t in saved(isolated_home, "mine")["turns"]] == ["Assign 5 to a variable named 'n'."]


def test_resume_continues_where_it_stopped(isolated_home, codegen2_gguf):
    first = run_cga("chat", "--model", codegen2_gguf, "--max-tokens", "8", input="Define a function f.\n")
    assert first.returncode == 0, first.stderr
    second = run_cga("chat", "--model", codegen2_gguf, "--max-tokens", "8", "--resume", input="/show\n")
    assert second.returncode == 0, second.stderr
    assert "# Define a function f." in second.stdout


def test_resume_of_an_unknown_name(isolated_home):
    result = run_cga("chat", "--resume", "--name", "never-saved", input="")
    assert result.returncode == 1
    assert "No saved conversation named 'never-saved'" in result.stderr


def test_resume_of_a_damaged_conversation_names_the_file_and_keeps_it_aside(isolated_home):
    folder = isolated_home / "conversations"
    folder.mkdir()
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run_cga("chat", "--resume", "--name", "deep", input="")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"{folder / 'deep.json'} is damaged (nested too deeply); it was kept aside as deep.json.damaged-"
        in result.stderr
    )
    assert [p.name.split("-")[0] for p in folder.iterdir()] == ["deep.json.damaged"]


def test_ctrl_c_mid_answer_keeps_the_conversation(isolated_home):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cga.cli", "chat", "--max-tokens", "400", "--temperature", "0.8"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    proc.stdin.write(b"Write a long Python module with many functions.\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready, "no answer started"
    os.read(proc.stdout.fileno(), 1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    out, err = proc.communicate(input=b"/save after\n", timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"Stopped; the conversation is as it was." in err
    assert saved(isolated_home, "after")["turns"] == []


def test_a_line_that_is_not_utf8_is_skipped_and_the_chat_goes_on(isolated_home):
    result = subprocess.run(
        [sys.executable, "-m", "cga.cli", "chat", "--max-tokens", "8"],
        input=b"x = '\xff'\nWrite a function that adds two numbers.\n",
        capture_output=True,
    )
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    assert b"not UTF-8 text" in result.stderr and result.stdout.strip()  # the next line was answered


def test_a_max_tokens_the_context_cannot_hold_is_refused_up_front(isolated_home):
    result = run_cga("chat", "-n", "5000", input="Add two numbers.\n")
    # The command's window is 4,096 tokens (the embedded model's own is 8,192: issue 41, item 5), half for the answer.
    assert result.returncode == 1 and "use at most 2048" in result.stderr and "Traceback" not in result.stderr


LONG_NAMES = ["x" * 150, "名" * 60]  # the second is 60 characters but 180 bytes: too long for a file name with .json


def test_names_too_long_for_a_file_are_one_sentence(isolated_home):
    script = "".join(f"/save {n}\n/load {n}\n" for n in LONG_NAMES) + "Assign 1 to x.\n/save fine\n"
    result = run_cga("chat", "-n", "8", input=script)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("is not a usable name") == 4
    assert [t["instruction"] for t in saved(isolated_home, "fine")["turns"]] == ["Assign 1 to x."]
    for name in LONG_NAMES:
        refused = run_cga("chat", "--name", name, input="Assign 1 to x.\n")
        assert refused.returncode == 1 and "is not a usable name" in refused.stderr and not refused.stdout


def test_a_user_directory_that_cannot_be_written_is_one_sentence(tmp_path, monkeypatch, codegen2_gguf):
    """CGA_HOME under a plain file: no process, root included, can create it (a read-only home, portably)."""
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("CGA_HOME", str(tmp_path / "a-file" / "home"))
    # Reading needs no user directory.
    assert run_cga("complete", "--model", codegen2_gguf, "-n", "2", "x = ").returncode == 0
    assert run_cga("models", "list").returncode == 0
    chat = run_cga("chat", "--model", codegen2_gguf, "-n", "8", input="Assign 1 to x.\nAssign 2 to y.\n")
    assert chat.returncode == 0 and "Traceback" not in chat.stderr, chat.stderr
    assert chat.stderr.count("Could not save the conversation") == 2 and chat.stdout.strip()  # both turns answered
    # Writing says where and what to do.
    for command in (["models", "import", codegen2_gguf], ["models", "pull", "codegen-350M-mono"]):
        refused = run_cga(*command)
        assert refused.returncode == 1 and "point CGA_HOME at a writable folder" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


def test_an_insecure_answer_gets_a_warning_and_is_kept(isolated_home):
    """An answer that calls a shell with shell=True: one warning line, and the turn is kept all the same. (The
    answer comes from a scripted server: what the embedded model writes for it varies with the CPU's kernels.)"""
    from tests.remote_server.misbehaving import misbehaving_server, stream_events

    code = "import subprocess\nsubprocess.run(command, shell=True)\n"
    with misbehaving_server() as server:
        server.faults["/completion"] = stream_events(
            [{"content": c, "stop": False} for c in code] + [{"content": "", "stop": True, "stop_type": "eos"}]
        )
        result = run_cga("chat", "--remote", server.url, "-n", "120", input="Run a shell command given as a string.\n")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Security:")]
    assert warnings == [
        "Security: line 2: subprocess call with shell=True identified, security issue. (B602, high severity)"
    ]
    assert "shell=True" in saved(isolated_home)["turns"][0]["code"]


def test_saved_names_leave_out_the_language_servers_refinements(isolated_home):
    (isolated_home / "conversations").mkdir(parents=True)
    for name in ("mine", "lsp-0123456789abcdef01234567"):
        (isolated_home / "conversations" / f"{name}.json").write_text('{"version": 1}')
    result = run_cga("chat", "-n", "8", input="/load nothing-here\n")
    assert "(saved: mine)" in result.stderr


def test_a_new_chat_keeps_the_earlier_conversation_instead_of_overwriting_it(isolated_home, codegen2_gguf):
    """Issue 20: a second `cga chat` replaced the saved 3-turn 'last' with its own 1-turn one, without a word."""
    first = run_cga(
        "chat",
        "--model",
        codegen2_gguf,
        "--max-tokens",
        "8",
        input="Define a function f.\nDefine a function g.\nDefine a function h.\n",
    )
    assert first.returncode == 0, first.stderr
    earlier = saved(isolated_home)
    assert len(earlier["turns"]) == 3
    second = run_cga("chat", "--model", codegen2_gguf, "--max-tokens", "8", input="Define a function k.\n")
    assert second.returncode == 0, second.stderr
    assert len(saved(isolated_home)["turns"]) == 1
    kept = [p for p in (isolated_home / "conversations").glob("last-*.json")]
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == earlier
    assert f"kept as '{kept[0].stem}'" in second.stderr and f"--resume --name {kept[0].stem}" in second.stderr
    again = run_cga(
        "chat", "--model", codegen2_gguf, "--max-tokens", "8", "--resume", "--name", kept[0].stem, input="/show\n"
    )
    assert "# Define a function h." in again.stdout
    quiet = run_cga("chat", "--model", codegen2_gguf, "--max-tokens", "8", input="/show\n")  # nothing new said
    assert len(list((isolated_home / "conversations").glob("last-*.json"))) == 1 and "kept as" not in quiet.stderr


def test_a_chat_model_starts_from_an_empty_program_and_a_codegen_model_from_the_papers_header(
    isolated_home, codegen2_gguf
):
    """Issue 42, item 9: /show of a SmolLM2 program began with `# Import libraries.` and `import numpy as np`
    that nobody asked for (the header, shown to a chat model, read as a request)."""
    chat = run_cga("chat", "-n", "24", input="Write a function add(a, b) that returns a + b.\n/show\n")
    assert chat.returncode == 0, chat.stderr
    assert saved(isolated_home)["header"] == "" and "# Import libraries." not in chat.stdout
    asked = run_cga("chat", "--header", "-n", "8", "--name", "asked", input="Define f.\n")
    assert asked.returncode == 0 and saved(isolated_home, "asked")["header"].startswith("# Import libraries.")
    codegen = run_cga("chat", "--model", codegen2_gguf, "-n", "8", "--name", "cg", input="Define f.\n")
    assert codegen.returncode == 0 and saved(isolated_home, "cg")["header"].startswith("# Import libraries.")
