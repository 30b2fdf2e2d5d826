"""Running generated programs: another process, a scratch directory, time and memory limits, no network.

Never in the assistant's process. The child gets a fresh, empty working
directory, a minimal environment, RLIMIT_AS / RLIMIT_CPU / RLIMIT_FSIZE, its
own process group (killed whole on timeout), and no network: a new network
namespace where the kernel allows one (Linux), and in every case a socket
module that refuses to connect.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

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
    output_mb: int = 16


@dataclass(frozen=True)
class Outcome:
    status: str  # "passed", "failed", "timeout"
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _isolate(limits: Limits) -> None:
    """In the child, before exec: limits, then an empty network namespace if the kernel allows it."""
    memory = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    output = limits.output_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:  # root: a namespace with only a downed loopback
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)  # unprivileged, where user namespaces are allowed


def run_program(code: str, limits: Limits = Limits()) -> Outcome:
    scratch = Path(tempfile.mkdtemp(prefix="cga-eval-"))
    try:
        (scratch / "program.py").write_text(code, encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch), "PYTHONHASHSEED": "0",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT], cwd=scratch, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=lambda: _isolate(limits),
        )
        try:
            out, err = proc.communicate(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return Outcome("timeout", None, out.decode(errors="replace"), err.decode(errors="replace"))
        status = "passed" if proc.returncode == 0 else "failed"
        return Outcome(status, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
