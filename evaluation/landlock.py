"""Linux Landlock for a program run where bubblewrap cannot run: the file system cut down without root.

Landlock (Linux 5.13 on, for any unprivileged process) lets a process give up access to every file outside
the folders it names, for itself and everything it starts, before it runs the program. The fallback sandbox
ran programs as the user: one read ~/.ssh/id_rsa and the chat's /proc/<pid>/environ (HF_TOKEN). Under
Landlock the program reads the system's libraries and the Python installation, and reads and writes only its
scratch folder; /proc, the home folder and every other file are refused. From ABI 4 (Linux 6.7) TCP binds
and connects are refused too (UDP is not: the network is only cut by a network namespace), and from ABI 6
(6.12) signals to processes outside the sandbox, the evaluator included.

Called in the child between fork and exec (subprocess's preexec_fn), through raw system calls: there is no
libc wrapper. The syscall numbers are the same on every architecture (the generic table).
"""

from __future__ import annotations

import ctypes
import os
import sys

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
# Every right to change a folder's entries (ABI 1), then REFER (2), TRUNCATE (3), IOCTL_DEV (5).
_CHANGE = sum(1 << bit for bit in range(4, 13))
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
READ = READ_FILE | READ_DIR | EXECUTE


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _Ruleset(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


def abi() -> int:
    """The Landlock version this kernel offers (0: none, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _handled_fs(version: int) -> int:
    rights = READ_FILE | READ_DIR | EXECUTE | WRITE_FILE | _CHANGE
    if version >= 2:
        rights |= _REFER
    if version >= 3:
        rights |= _TRUNCATE
    if version >= 5:
        rights |= _IOCTL_DEV
    return rights


def restrict(readable: list[str], writable: list[str]) -> bool:
    """Limit this process, and all it will start, to reading readable and reading and writing writable; False
    where the kernel has no Landlock (nothing is restricted then, and the caller says so)."""
    version = abi()
    if version < 1:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    handled = _handled_fs(version)
    ruleset = _Ruleset(handled, _NET_BIND_TCP | _NET_CONNECT_TCP if version >= 4 else 0, 0)
    if version >= 6:
        ruleset.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
    size = 24 if version >= 6 else 16 if version >= 4 else 8
    fd = libc.syscall(_CREATE_RULESET, ctypes.byref(ruleset), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return False
    try:
        for paths, rights in ((readable, READ), (writable, handled)):
            for path in paths:
                _allow(libc, fd, path, rights, handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_RESTRICT_SELF, fd, ctypes.c_uint32(0)) == 0
    finally:
        os.close(fd)


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, rights: int, handled: int) -> None:
    try:
        opened = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder this system does not have (/lib32)
    try:
        if not os.path.isdir(path):  # a file may only be given the rights a file has
            rights &= READ_FILE | WRITE_FILE | EXECUTE | _TRUNCATE | _IOCTL_DEV
        rule = _PathBeneath(rights & handled, opened)
        libc.syscall(_ADD_RULE, ruleset, ctypes.c_uint32(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(opened)
