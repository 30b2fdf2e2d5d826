"""The evaluation sandbox against the hostile programs a model could write.

Every test runs under each containment this machine has: bubblewrap (CI installs it) and the process limits that
are all macOS gets. What only bubblewrap can promise (the user's files, the evaluator's process) is asserted for
bubblewrap alone; README.md says what each one does.
"""

from __future__ import annotations

import os
import site
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from cga.evaluation import landlock
from cga.evaluation.sandbox import SCRATCH_PREFIX, Limits, containment, described, run_program

pytestmark = pytest.mark.slow  # end to end: real servers, editors or processes (see pyproject.toml)

KINDS = ["bubblewrap", "landlock", "process limits"]


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    if request.param == "bubblewrap" and containment() != "bubblewrap":
        pytest.skip("bubblewrap is not installed or user namespaces are not allowed here (apt install bubblewrap)")
    if request.param == "landlock" and landlock.abi() < 1:
        pytest.skip("this kernel has no Landlock (Linux 5.13 or later with it enabled)")
    return request.param


@pytest.fixture
def bubblewrap() -> str:
    if containment() != "bubblewrap":
        pytest.skip("bubblewrap is not installed or user namespaces are not allowed here (apt install bubblewrap)")
    return "bubblewrap"


def survivors(mark: str) -> list[psutil.Process]:
    time.sleep(0.3)  # what dies with its parent takes a moment
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if mark in " ".join(process.info["cmdline"] or []) and process.status() != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def sleeper(mark: str, **popen) -> str:
    """Program text that starts a process sleeping a minute, findable by mark."""
    return (
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {mark}']"
        + "".join(f", {k}={v}" for k, v in popen.items())
        + ")"
    )


def test_programs_have_no_network_and_a_scratch_directory(kind):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    port = server.getsockname()[1]
    outcome = run_program(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n", contain=kind)
    assert outcome.status == "failed" and not accepted
    raw = run_program(
        f"import _socket\ns = _socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', {port}))\n", contain=kind
    )
    assert raw.status == "failed" and not accepted  # the network namespace, below Python's socket module
    server.close()
    where = run_program("import os\nprint(os.listdir('.'))\nprint(os.environ['HOME'] == os.getcwd())\n", contain=kind)
    assert where.stdout == "['program.py']\nTrue\n"


def test_a_grandchild_that_left_the_session_is_killed(kind):
    mark = uuid.uuid4().hex
    outcome = run_program(f"import subprocess, sys\n{sleeper(mark, start_new_session=True)}\n", contain=kind)
    assert outcome.status == "passed", outcome
    assert survivors(mark) == []


def test_a_grandchild_holding_stdout_does_not_hold_the_evaluator(kind):
    mark = uuid.uuid4().hex
    started = time.monotonic()
    outcome = run_program(
        f"import subprocess, sys\n{sleeper(mark)}\nwhile True:\n    pass\n", Limits(seconds=2), contain=kind
    )
    assert outcome.status == "timeout" and time.monotonic() - started < 5
    started = time.monotonic()
    quick = run_program(f"import subprocess, sys\n{sleeper(mark)}\nprint('done')\n", Limits(seconds=2), contain=kind)
    assert quick.status == "passed" and quick.stdout == "done\n" and time.monotonic() - started < 3
    assert survivors(mark) == []


def test_a_flood_of_output_stops_at_the_limit(kind):
    started = time.monotonic()
    outcome = run_program(
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", Limits(seconds=10, output_kb=256), contain=kind
    )
    assert outcome.status == "output limit" and len(outcome.stdout) <= 256 * 1024
    assert time.monotonic() - started < 5


def test_memory_is_bounded_for_the_whole_process_tree(kind):
    """Four children of 200 MiB each are each under the 512 MiB limit, and over it together."""
    mark = uuid.uuid4().hex
    program = textwrap.dedent(f"""
        import subprocess, sys, time
        hold = "b = bytearray(200 * 2**20); import time; time.sleep(30)  # {mark}"
        children = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(4)]
        time.sleep(30)
    """)
    outcome = run_program(program, Limits(seconds=20, memory_mb=512), contain=kind)
    assert outcome.status == "memory limit", outcome
    assert not survivors(mark)


def test_shared_memory_is_a_small_folder_in_the_sandbox(bubblewrap):
    program = textwrap.dedent("""
        block = b"x" * 2**20
        for n in range(150):  # 1.5 GiB in files of 10 MiB, each under the limit on one file's size
            with open(f"/dev/shm/part{n}", "wb") as out:
                for _ in range(10):
                    out.write(block)
    """)
    outcome = run_program(program, Limits(seconds=20), contain=bubblewrap)
    assert outcome.status == "failed" and "No space left on device" in outcome.stderr, outcome


def test_a_fork_bomb_is_stopped_and_nothing_is_left(kind):
    mark = uuid.uuid4().hex
    program = textwrap.dedent(f"""
        import os, sys
        for i in range(300):
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)  # {mark}"])
        print("forked 300")
    """)
    outcome = run_program(program, Limits(seconds=10, processes=32), contain=kind)
    assert outcome.status in ("process limit", "failed") and "forked 300" not in outcome.stdout, outcome
    assert survivors(mark) == []


def evaluator(program: str, kind: str) -> subprocess.Popen:
    """A separate evaluator process (as `cga eval` is) running one program."""
    driver = f"from evaluation.sandbox import run_program\nprint(run_program({program!r}, contain={kind!r}).status)\n"
    return subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_evaluator_killed_outright_leaves_no_program_and_no_scratch(kind):
    mark = uuid.uuid4().hex
    proc = evaluator(f"import time\ntime.sleep(60)  # {mark}\n", kind)
    deadline = time.monotonic() + 20
    while not survivors(mark) and time.monotonic() < deadline:
        pass
    assert survivors(mark), "the program never started"
    proc.kill()
    proc.wait()
    assert survivors(mark) == []
    run_program("pass", contain=kind)  # the next run sweeps what the dead evaluator left
    assert not list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{proc.pid}-*"))


def test_programs_cannot_touch_the_users_files(bubblewrap, tmp_path):
    """Process limits run the program as the user: it can read and write what the user can (README says so)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the user's secret")
    program = textwrap.dedent(f"""
        import os
        for attempt in (lambda: print(open({str(secret)!r}).read()),
                        lambda: open({str(tmp_path / "escaped")!r}, 'w').write('x'),
                        lambda: open(os.path.expanduser('~') + '/escaped', 'w').write('x'),
                        lambda: open('/usr/escaped', 'w').write('x'),
                        lambda: print(os.listdir({str(Path.home())!r}))):
            try:
                attempt()
            except OSError as exc:
                print(type(exc).__name__)
        open('allowed.txt', 'w').write('scratch is writable')
        print(open('allowed.txt').read())
    """)
    outcome = run_program(program, contain=bubblewrap)
    assert outcome.status == "passed", outcome
    assert "the user's secret" not in outcome.stdout and "scratch is writable" in outcome.stdout
    assert not (tmp_path / "escaped").exists() and not (Path.home() / "escaped").exists()
    assert not Path("/usr/escaped").exists()
    assert not any(name in outcome.stdout for name in ("'.bashrc'", "'.cache'", "'.profile'"))


def test_a_program_cannot_kill_its_evaluator(bubblewrap):
    """Under process limits the program may signal the evaluator, as any process of the user may."""
    proc = evaluator("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('still here')\n", bubblewrap)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() in ("passed", "failed")


ROOT = Path(__file__).resolve().parents[2]


def test_an_interpreter_under_tmp_runs_in_the_sandbox(bubblewrap):
    """Issue 20: with the venv under /tmp (`python -m venv /tmp/x`), bubblewrap's empty /tmp hid the interpreter,
    every program failed to start and pass@k read 0 %."""
    venv = Path(tempfile.mkdtemp(prefix="cga-venv-", dir="/tmp")) / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        # The packages of the interpreter running the tests (psutil, which the sandbox needs), whether it is the
        # system's or itself a virtualenv: `--system-site-packages` would reach only the base interpreter's
        # (issue 42: the README's test command failed in every virtualenv).
        (site_packages,) = venv.glob("lib/python*/site-packages")
        # addsitedir, not a bare path: the folders' own .pth files (an editable install's finder) count too.
        added = "".join(f"import site; site.addsitedir({folder!r})\n" for folder in site.getsitepackages())
        (site_packages / "tests-parent.pth").write_text(added)
        check = (
            "from evaluation.sandbox import containment, run_program\n"
            "outcome = run_program('import sys\\nprint(6 * 7, sys.prefix)')\n"
            "print(containment(), outcome.status, outcome.stdout.strip())\n"
        )
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", check],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["bubblewrap", "passed", "42", str(venv)]
    finally:
        import shutil

        shutil.rmtree(venv.parent, ignore_errors=True)


def test_a_sandbox_that_cannot_start_python_is_an_error_not_a_score(bubblewrap, monkeypatch):
    from cga.evaluation import sandbox

    if sys.base_prefix.startswith("/usr"):
        pytest.skip("this Python is the system's, which the sandbox always shows")
    monkeypatch.setattr(sandbox, "_python_dirs", lambda: [])  # bubblewrap shown no Python at all
    sandbox.containment.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxError, match="cannot start"):
            containment()
    finally:
        sandbox.containment.cache_clear()


@pytest.mark.parametrize("contain", ["bubblewrap", "landlock"])
def test_a_contained_program_reads_none_of_the_users_files_nor_the_evaluators_environment(contain, tmp_path):
    """Issue 41, item 13: where bubblewrap cannot run, a program read ~/.ssh/id_rsa and the chat's
    /proc/<pid>/environ (HF_TOKEN). Landlock (no root needed) keeps it to the system, Python and its folder."""
    if contain == "bubblewrap" and containment() != "bubblewrap":
        pytest.skip("bubblewrap is not installed or user namespaces are not allowed here")
    if contain == "landlock" and landlock.abi() < 1:
        pytest.skip("this kernel has no Landlock")
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    program = (
        "import os, numpy\n"
        f"for path in ({str(secret)!r}, '/proc/{os.getpid()}/environ', {str(Path.home() / '.bashrc')!r}):\n"
        "    try:\n        print('READ', path, open(path, 'rb').read(20))\n"
        "    except OSError as exc:\n        print('refused', type(exc).__name__)\n"
        "open('mine.txt', 'w').write('kept')\nprint(open('mine.txt').read(), numpy.add(2, 3))\n"
    )
    outcome = run_program(program, contain=contain)
    assert outcome.status == "passed", outcome.stderr[-1000:]
    assert "READ" not in outcome.stdout and outcome.stdout.count("refused") == 3, outcome.stdout
    assert "kept 5" in outcome.stdout  # its own folder, the standard library and numpy still work


def test_what_the_banner_says_of_the_network_is_what_a_program_finds(kind):
    """Issue 41, item 12: "no network" was claimed where a UDP datagram and `_socket` reached 127.0.0.1.
    Whatever this kernel allows, the words match what happens."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(3)
        port = listener.getsockname()[1]
        program = (
            "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)\n"
            f"s.sendto(b'escaped', ('127.0.0.1', {port}))\n"
        )
        run_program(program, contain=kind)
        try:
            escaped = listener.recv(100) == b"escaped"
        except TimeoutError:
            escaped = False
    how, _ = described(kind)
    assert escaped == ("NOT cut" in how or "UDP is not cut" in how), (how, escaped)
