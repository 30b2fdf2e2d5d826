"""Running generated programs: contained by the kernel where it can, bounded everywhere.

Never in the assistant's process. What contains a program depends on the machine:

- **bubblewrap** (Linux, where `bwrap` is installed and user namespaces are
  allowed; Debian/Ubuntu: `apt install bubblewrap`): the program runs in its
  own user, PID, mount, network, IPC and UTS namespaces. It sees the system's
  /usr and the Python installation read-only, an empty /tmp and a scratch
  folder /cga-sandbox and /dev/shm (each in memory, 64 MiB, gone when it ends), and nothing of the
  user's files, home or network. It cannot signal the evaluator (it lives in
  another PID namespace), and when it ends, or the evaluator dies, every
  process it started dies with it.
- **landlock** (Linux without bubblewrap or user namespaces, on a kernel with
  Landlock: evaluation/landlock.py): process limits, and the file system cut
  to the system's libraries, the Python installation (read) and the scratch
  folder (read and write); TCP and signals out too on newer kernels. The
  network is cut only where a network namespace can be had (network_cut).
- **process limits** (anywhere else: macOS, Linux without either): a
  scratch folder of its own, a minimal environment, the network namespace
  where the kernel allows it and a socket module that refuses to connect, and
  on Linux the evaluator adopts the program's orphans, so that processes which
  left its session are found and killed too. It runs as the user, so it can
  read and write what the user can: evaluate untrusted models with bubblewrap.

Both: a wall-clock limit, RLIMIT_AS / RLIMIT_CPU / RLIMIT_FSIZE / RLIMIT_NPROC,
at most `Limits.processes` processes and `Limits.memory_mb` resident memory for
the whole process tree together (both counted while it runs, every 20 ms:
RLIMIT_NPROC does not bind root, RLIMIT_AS binds each process alone and macOS
does not enforce it), at most `Limits.output_kb` of stdout and stderr kept (a flood
stops the program), and the whole process tree killed at the end.
"""

from __future__ import annotations

import ctypes
import functools
import os
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from cga.core.errors import CgaError

from . import landlock

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SCRATCH_PREFIX = "cga-eval-"
SCRATCH = "/cga-sandbox"  # the program's folder inside bubblewrap: a name no Python installation uses
POLL_S = 0.02
# Each in-memory folder the program may write to under bubblewrap (/tmp, its scratch folder, /dev/shm, which
# --dev alone would make a tmpfs of half the RAM: 1.5 GiB were written there in a second).
TMPFS_BYTES = 64 << 20

# Runs in the child before the program: the network is refused at the socket level too.
BOOT = """
import socket, runpy, sys
def _refuse(*args, **kwargs):
    raise OSError("network access is disabled in the evaluation sandbox")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
sys.argv = ["program.py"]
runpy.run_path("program.py", run_name="__main__")
"""


@dataclass(frozen=True)
class Limits:
    seconds: float = 10.0
    memory_mb: int = 2048
    output_mb: int = 16  # the largest file the program may write
    output_kb: int = 1024  # stdout and stderr kept; more stops the program
    processes: int = 64


@dataclass(frozen=True)
class Outcome:
    status: str  # "passed", "failed", "timeout", "output limit", "process limit" or "memory limit"
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class SandboxError(CgaError):
    """The sandbox cannot run even a trivial program: every score would be a failure, so there is none."""


@functools.cache
def containment() -> str:
    """ "bubblewrap" where it runs here, else "landlock" where the kernel has it, else "process limits" (see the
    module docstring).

    Bubblewrap that starts but cannot start this Python inside it (an interpreter it does not see) raises
    SandboxError: every program would fail and pass@k would read 0 % (issue 20, a venv under /tmp).
    """
    bwrap = shutil.which("bwrap")
    fallback = "landlock" if landlock.abi() >= 1 else "process limits"
    if not (bwrap and sys.platform.startswith("linux")):
        return fallback
    probe = subprocess.run(
        [bwrap, "--unshare-all", "--die-with-parent", *_system_binds(), "true"], capture_output=True, timeout=30
    )
    if probe.returncode != 0:
        return fallback  # user namespaces refused (Ubuntu's restricted ones): Landlock needs none
    with tempfile.TemporaryFile() as program:
        program.write(b"import sys\nprint(sys.version_info[0])\n")
        program.flush()
        program.seek(0)
        python = subprocess.run(
            [bwrap, *_bubblewrap_args(program.fileno()), sys.executable, "-I", "-c", BOOT],
            capture_output=True,
            timeout=60,
            pass_fds=(program.fileno(),),
        )
    if python.returncode != 0 or python.stdout.strip() != b"3":
        why = (python.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise SandboxError(
            f"The bubblewrap sandbox cannot start {sys.executable} ({why[:200]}); no program could "
            "be scored. Uninstall bubblewrap to run programs with process limits only, or report this."
        )
    return "bubblewrap"


@functools.cache
def network_cut() -> bool:
    """Whether a program run without bubblewrap gets a network namespace of its own (none where the kernel
    refuses user namespaces to an unprivileged user): only then is "no network" true of it. The socket
    module's refusal in the launcher is not containment: `_socket`, UDP and a child Python get past it."""
    if not sys.platform.startswith("linux"):
        return False
    probe = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"print(int(libc.unshare({CLONE_NEWNET}) == 0 or libc.unshare({CLONE_NEWUSER | CLONE_NEWNET}) == 0))"
    )
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() == "1"


def described(contain: str | None = None) -> tuple[str, bool]:
    """What contains a program here, as the user reads it (the chat's /run banner, eval's line), and whether
    that keeps the user's files and the network from it."""
    kind = contain or containment()
    if kind == "bubblewrap":
        return "bubblewrap: no network, none of your files", True
    if network_cut():
        network = "no network"
    elif kind == "landlock" and landlock.abi() >= 4:
        network = "no TCP, but UDP is not cut (this kernel refuses network namespaces)"
    else:
        network = "the network is NOT cut (this kernel refuses network namespaces)"
    if kind == "landlock":
        return f"Landlock: none of your files, {network}", network == "no network"
    return f"process limits only: it runs as you and can read and write your files; {network}", False


def run_program(code: str, limits: Limits = Limits(), *, contain: str | None = None) -> Outcome:
    """Run code as a program; contain picks "bubblewrap", "landlock" or "process limits" (default: the best
    available)."""
    if (contain or containment()) == "bubblewrap":
        with tempfile.TemporaryFile() as program:  # unlinked at once: nothing is left if we are killed
            program.write(code.encode("utf-8"))
            program.flush()
            program.seek(0)
            command = [
                shutil.which("bwrap") or "bwrap",
                *_bubblewrap_args(program.fileno()),
                sys.executable,
                "-I",
                "-c",
                BOOT,
            ]
            return _supervise(command, None, {}, limits, pass_fds=(program.fileno(),))
    _remove_orphaned_scratch()
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        (scratch / "program.py").write_text(code, encoding="utf-8")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            **_QUIET_ENV,
        }
        _adopt_orphans()
        files = _landlock_paths(scratch) if (contain or containment()) == "landlock" else None
        return _supervise([sys.executable, "-I", "-c", BOOT], scratch, env, limits, unshare_net=True, files=files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_QUIET_ENV = {
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "LANG": "C.UTF-8",
}


def _landlock_paths(scratch: Path) -> tuple[list[str], list[str]]:
    """What a program under Landlock may read (the system's libraries, the Python installation) and read and
    write (its scratch folder): the same as bubblewrap shows it, less /proc."""
    system = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache", "/etc/localtime"]
    devices = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"]
    return [*system, *devices, *_python_dirs()], [str(scratch), "/dev/null"]


def _system_binds() -> list[str]:
    binds = ["--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache", "/etc/localtime"):
        binds += ["--ro-bind-try", path, path]
    return binds


def _python_dirs() -> list[str]:
    """The interpreter, its standard library and installed packages (numpy for MTPB), nothing else of the user's."""
    wanted = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)), *site.getsitepackages()}
    return sorted(d for d in wanted if os.path.isdir(d) and not d.startswith("/usr/"))


def _bubblewrap_args(program_fd: int) -> list[str]:
    """Linux only, like bubblewrap itself."""
    # The empty folders first, the interpreter's after: bubblewrap mounts in order, so a Python installed under
    # /tmp or /work (`python -m venv /tmp/x`) stays visible instead of being hidden by the empty /tmp.
    args = [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        *_system_binds(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/dev/shm",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/tmp",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        SCRATCH,
    ]
    for folder in _python_dirs():
        args += ["--ro-bind", folder, folder]
    args += [
        "--chdir",
        SCRATCH,
        "--file",
        str(program_fd),
        f"{SCRATCH}/program.py",
        "--clearenv",
        "--setenv",
        "HOME",
        SCRATCH,
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
    ]
    for key, value in _QUIET_ENV.items():
        args += ["--setenv", key, value]
    return args


def _limit(limits: Limits, tasks: int, unshare_net: bool, files: tuple[list[str], list[str]] | None = None) -> None:
    """In the child, before exec (POSIX only: Windows has no rlimits; there the supervisor's counts bound it)."""
    import resource

    memory = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    output = limits.output_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    if hasattr(resource, "RLIMIT_NPROC"):  # it counts every process and thread of the user, so: theirs + ours
        hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        tasks = tasks if hard == resource.RLIM_INFINITY else min(tasks, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the evaluator killed outright takes the program along
        if unshare_net and libc.unshare(CLONE_NEWNET) != 0:  # root: a namespace with only a downed loopback
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)  # unprivileged, where user namespaces are allowed
        if files is not None and not landlock.restrict(*files):
            os._exit(126)  # promised and not given: the program does not run at all


def _supervise(
    command: list[str],
    cwd: Path | None,
    env: dict[str, str],
    limits: Limits,
    *,
    pass_fds: tuple[int, ...] = (),
    unshare_net: bool = False,
    files: tuple[list[str], list[str]] | None = None,
) -> Outcome:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    tasks = _user_tasks() + limits.processes
    posix = os.name == "posix"
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=posix,
        pass_fds=pass_fds,
        preexec_fn=(lambda: _limit(limits, tasks, unshare_net, files)) if posix else None,
    )
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes: Popen's types allow None
    pipes = {"stdout": proc.stdout, "stderr": proc.stderr}
    budget = limits.output_kb * 1024
    kept: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    flooded, stop = threading.Event(), threading.Event()
    readers = [
        threading.Thread(target=_drain, args=(stream.fileno(), kept[name], kept, budget, flooded, stop), daemon=True)
        for name, stream in pipes.items()
    ]
    for reader in readers:
        reader.start()
    status = None
    deadline = time.monotonic() + limits.seconds
    try:
        while proc.poll() is None:
            if flooded.is_set():
                status = "output limit"
            elif time.monotonic() > deadline:
                status = "timeout"
            else:
                count, resident = _tree(proc.pid)
                if count > limits.processes:
                    status = "process limit"
                elif resident > limits.memory_mb * 2**20:
                    status = "memory limit"
            if status:
                break
            time.sleep(POLL_S)
    finally:
        _kill_tree(proc, before)
    grace = time.monotonic() + 0.5  # for what is still in the pipes; a survivor holding them must not hold us
    for reader in readers:
        reader.join(timeout=max(0.0, grace - time.monotonic()))
    stop.set()
    for reader in readers:
        reader.join()
    for stream in pipes.values():
        stream.close()
    returncode = proc.wait()
    if status is None:
        status = "output limit" if flooded.is_set() else "passed" if returncode == 0 else "failed"
    return Outcome(
        status,
        None if status == "timeout" else returncode,
        kept["stdout"].decode(errors="replace"),
        kept["stderr"].decode(errors="replace"),
    )


def _drain(
    fd: int, into: bytearray, both: dict[str, bytearray], budget: int, flooded: threading.Event, stop: threading.Event
) -> None:
    """Read to the end or until stopped, keeping at most the budget (both streams together); more sets flooded.

    Never blocked in read() on POSIX: a pipe held open by a process that escaped would keep a blocked reader,
    and closing the pipe would wait for that reader. Windows cannot select() a pipe: there the reader blocks,
    in a daemon thread, and the tree kill ends its writers.
    """
    while not stop.is_set():
        if os.name == "posix":
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if not ready:
                continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        room = budget - sum(len(b) for b in both.values())
        into += chunk[: max(0, room)]
        if len(chunk) > room:
            flooded.set()


def _user_tasks() -> int:
    """Processes and threads this user runs now (what RLIMIT_NPROC counts; Windows has no such limit)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is None:
        return 0
    total = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        uids, threads = process.info["uids"], process.info["num_threads"]
        if uids is not None and uids.real == uid:
            total += threads or 1
    return total


def _tree(pid: int) -> tuple[int, int]:
    """Processes in the program's tree and the memory they hold together (resident bytes): the one bound for
    the whole tree, where RLIMIT_AS bounds each process alone (4 children × 700 MiB held 2.5 GiB under it)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    resident = 0
    for process in processes:
        try:
            resident += process.memory_info().rss
        except psutil.Error:
            pass  # it ended meanwhile
    return len(processes), resident


def _kill_tree(proc: subprocess.Popen, before: set[int]) -> None:
    """The program's session, its descendants, and orphans it left that this process adopted."""
    if hasattr(os, "killpg"):  # POSIX: the program's session; Windows has none, its tree is found below
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.kill()  # Windows: the program itself (TerminateProcess); POSIX: already gone with its session
    except OSError:
        pass
    try:
        ours = psutil.Process().children(recursive=True)
    except psutil.Error:
        ours = []
    stray = [p for p in ours if p.pid not in before and p.pid != proc.pid]
    for process in stray:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(stray, timeout=2)


@functools.cache
def _adopt_orphans() -> None:
    """Linux: orphans of the program (a grandchild that called setsid) become our children, so _kill_tree sees them."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)


def _remove_orphaned_scratch() -> None:
    """Scratch folders of evaluators that were killed outright (their process id is in the name)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        owner = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
