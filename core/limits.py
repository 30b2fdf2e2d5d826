"""Bounds checked before llama.cpp sees a value.

llama.cpp trusts what it is given: a thread count above its maximum or a
GGUF that claims four billion layers aborts the whole process (no message,
exit -6), and a claimed context of four billion tokens allocates gigabytes
before failing. Every number from a user, a settings file or a model file
passes one of these bounds first.
"""

from __future__ import annotations

import os
from typing import NoReturn

import psutil

MAX_THREADS = 512  # GGML_MAX_N_THREADS in ggml.h
MAX_CONTEXT = 1 << 20  # tokens; the largest context a CodeGen-class model could use many times over
MAX_LAYERS = 1024  # the largest published models have a few hundred
MAX_VOCAB = 1 << 20  # tokens; real vocabularies are 50k–260k
MAX_EMBEDDING = 1 << 16  # the widest published models use 16k–25k


def default_threads() -> int:
    """Threads for llama.cpp when the user names none: the physical cores (llama.cpp's own default; a second
    thread on one core's hyperthread only contends for its arithmetic units), one left for the editor and
    the system where there are more than four. Measured on a quiet 2-core machine: 64 tokens of the embedded
    model after a 3,000-character prompt took 5.7 s with 2 threads and 5.8 s with 1; on a busy one, 2 threads
    lost to 1 (43.9 s against 17.7 s), which is what leaving a core free above four avoids."""
    cores = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    return max(1, min(cores - 1 if cores > 4 else cores, MAX_THREADS))


# The file types the converter writes and llama.cpp's quantizer makes, most faithful first.
QUANT_TYPES = ("f32", "f16", "q8_0", "q5_k_m", "q4_k_m", "q4_0")


def checked_quant(name: str, error: type[Exception]) -> str:
    """The type in lower case; anything else raises error with the one sentence that lists the choices."""
    if name.lower() not in QUANT_TYPES:
        _refuse_quant(name, error)
    return name.lower()


def _refuse_quant(name: str, error: type[Exception]) -> NoReturn:
    raise error(f"Unknown quantization type '{name}'; choose one of {', '.join(QUANT_TYPES)}.")
