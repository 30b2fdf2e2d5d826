"""The one module that imports llama_cpp.

Everything that talks to llama.cpp (the engine, the converter's quantizer and
verifier) goes through here, so the import order quirks and the log silencing
live in one place.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import llama_cpp
from llama_cpp import llama_chat_format

from .limits import default_threads

if TYPE_CHECKING:
    import numpy as np

# llama.cpp's file type for each of limits.QUANT_TYPES.
FTYPES: dict[str, int] = {
    "f32": llama_cpp.LLAMA_FTYPE_ALL_F32,
    "f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16,
    "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "q5_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
}

_log_messages: list[str] = []


@llama_cpp.llama_log_callback
def _collect_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    # llama.cpp talks a lot on stderr; keep its last lines for error messages
    # and show them only when CGA_DEBUG is set.
    message = text.decode("utf-8", errors="replace")
    _log_messages.append(message)
    del _log_messages[:-200]
    if os.environ.get("CGA_DEBUG"):
        os.write(2, text)


llama_cpp.llama_log_set(_collect_log, ctypes.c_void_p(0))


def recent_log(lines: int = 5) -> str:
    """The last lines llama.cpp logged, to explain a failure."""
    return " ".join("".join(_log_messages).strip().splitlines()[-lines:])


def quantize(source: Path, dest: Path, quant: str, threads: int | None = None) -> None:
    """Quantize a GGUF with llama.cpp's own quantizer; raises RuntimeError on failure."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[quant]
    params.nthread = threads or default_threads()
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(dest).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama.cpp's quantizer returned {status}: {recent_log()}")


def system_info() -> dict[str, list[str]]:
    """llama.cpp's backends and the features each was built with: {"CPU": ["AVX2", …], "CUDA": […]}."""
    text = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    backends: dict[str, list[str]] = {}
    current = None
    for part in (p.strip() for p in text.split("|")):
        if " : " in part:  # "CPU : SSE3 = 1" starts a backend's list
            current, part = (x.strip() for x in part.split(" : ", 1))
            backends[current] = []
        if current and " = " in part:
            key, value = (x.strip() for x in part.split(" = ", 1))
            if value not in ("0", ""):
                backends[current].append(key if value == "1" else f"{key}={value}")
    return backends


class _GgufInitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


# gguf_type -> the getter for a single value of it (ggml/include/gguf.h); ARRAY (9) is left out.
_GGUF_GETTERS = {
    0: ("u8", ctypes.c_uint8),
    1: ("i8", ctypes.c_int8),
    2: ("u16", ctypes.c_uint16),
    3: ("i16", ctypes.c_int16),
    4: ("u32", ctypes.c_uint32),
    5: ("i32", ctypes.c_int32),
    6: ("f32", ctypes.c_float),
    7: ("bool", ctypes.c_bool),
    8: ("str", ctypes.c_char_p),
    10: ("u64", ctypes.c_uint64),
    11: ("i64", ctypes.c_int64),
    12: ("f64", ctypes.c_double),
}


@functools.cache
def _gguf_api() -> ctypes.CDLL:
    lib = llama_cpp.llama_cpp._lib  # libllama; ggml's gguf functions resolve through it
    signatures = {
        "gguf_init_from_file": ([ctypes.c_char_p, _GgufInitParams], ctypes.c_void_p),
        "gguf_free": ([ctypes.c_void_p], None),
        "gguf_get_n_kv": ([ctypes.c_void_p], ctypes.c_int64),
        "gguf_get_key": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_char_p),
        "gguf_find_key": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int64),
        "gguf_get_kv_type": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_int),
        "gguf_get_arr_n": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_size_t),
        "gguf_get_arr_type": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_int),
        "gguf_get_arr_str": ([ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t], ctypes.c_char_p),
        "gguf_get_n_tensors": ([ctypes.c_void_p], ctypes.c_int64),
        "gguf_get_data_offset": ([ctypes.c_void_p], ctypes.c_size_t),
        "gguf_get_tensor_offset": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_size_t),
        "gguf_get_tensor_size": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_size_t),
    }
    for name, (argtypes, restype) in signatures.items():
        getattr(lib, name).argtypes = argtypes
        getattr(lib, name).restype = restype
    for kind, value_type in _GGUF_GETTERS.values():
        getter = getattr(lib, f"gguf_get_val_{kind}")
        getter.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        getter.restype = value_type
    return lib


_GGUF_ARRAY = 9
_GGUF_STRING = 8


@dataclass(frozen=True)
class GgufHeader:
    values: dict[str, object]  # single-valued metadata
    array_lengths: dict[str, int]  # the arrays' keys and lengths (tokenizer.ggml.tokens: the vocabulary size)
    tensor_count: int
    data_end: int  # the byte where the last tensor's data ends: a file shorter than this was cut off
    # A token text the vocabulary holds twice (as llama.cpp reads it: an empty one is "[EMPTY_<id>]"), or None:
    # llama.cpp asserts on it and aborts the whole process, with no word, at load (GGML_ASSERT in llama-vocab).
    repeated_token: str | None = None


def read_header(path: Path) -> GgufHeader | None:
    """A GGUF's metadata and tensor layout, or None when the file is not a readable GGUF.

    ggml's own parser in C reads a CodeGen file's header in milliseconds;
    gguf-py's GGUFReader, which builds Python objects for all 51,200
    vocabulary entries and merges first, takes about 3 s and leaves ~10 MiB behind.
    """
    lib = _gguf_api()
    ctx = lib.gguf_init_from_file(str(path).encode(), _GgufInitParams(no_alloc=True, ctx=None))
    if not ctx:
        return None
    try:
        values: dict[str, object] = {}
        arrays: dict[str, int] = {}
        for i in range(lib.gguf_get_n_kv(ctx)):
            key = lib.gguf_get_key(ctx, i).decode("utf-8", errors="replace")
            kind = lib.gguf_get_kv_type(ctx, i)
            if kind == _GGUF_ARRAY:  # the getters for single values would abort the process
                arrays[key] = lib.gguf_get_arr_n(ctx, i)
            elif kind in _GGUF_GETTERS:
                value = getattr(lib, f"gguf_get_val_{_GGUF_GETTERS[kind][0]}")(ctx, i)
                values[key] = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        repeated = _repeated_token(lib, ctx)
        tensors = lib.gguf_get_n_tensors(ctx)
        data_end = lib.gguf_get_data_offset(ctx) + max(
            (lib.gguf_get_tensor_offset(ctx, i) + lib.gguf_get_tensor_size(ctx, i) for i in range(tensors)), default=0
        )
        return GgufHeader(values, arrays, tensors, data_end, repeated)
    finally:
        lib.gguf_free(ctx)


def _repeated_token(lib: ctypes.CDLL, ctx: int) -> str | None:
    key = lib.gguf_find_key(ctx, b"tokenizer.ggml.tokens")
    if key < 0 or lib.gguf_get_kv_type(ctx, key) != _GGUF_ARRAY or lib.gguf_get_arr_type(ctx, key) != _GGUF_STRING:
        return None
    seen: set[bytes] = set()
    for i in range(lib.gguf_get_arr_n(ctx, key)):
        text = lib.gguf_get_arr_str(ctx, key, i) or f"[EMPTY_{i}]".encode()
        if text in seen:
            return text.decode("utf-8", errors="replace")
        seen.add(text)
    return None


def read_metadata(path: Path) -> dict[str, object] | None:
    """A GGUF's single-valued metadata (arrays left out), or None when the file is not a readable GGUF."""
    header = read_header(path)
    return header.values if header else None


def read_file_type(path: Path) -> str:
    """The file type ("f16", "q4_k_m", …) recorded in a GGUF's metadata."""
    stored = (read_metadata(path) or {}).get("general.file_type")
    value = stored if isinstance(stored, int) else -1
    names = {v: k for k, v in FTYPES.items()}
    if value in names:
        return names[value]
    try:  # a type this project does not write (the embedded model's Q4_1): gguf-py's name for it
        from gguf import LlamaFileType

        return LlamaFileType(value).name.lower().removeprefix("mostly_")
    except (ImportError, ValueError):
        return f"type-{value}"


@dataclass(frozen=True)
class MemoryPlan:
    """How a context trades memory for nothing measurable (see Engine): the defaults are llama.cpp's."""

    use_mmap: bool = True
    n_ubatch: int = 512
    quantized_keys: bool = False  # an 8-bit K cache; V stays f16 (quantized V needs flash attention)


class _TemplateNotCompiled:
    """Stands in for llama-cpp-python's Jinja2ChatFormatter while a model loads.

    Llama() compiles every chat template in a file's metadata as it loads, in
    a sandbox whose constant folding evaluates `'x' * 10**9` at compile time
    (4 GB and 7 s measured) and whose syntax errors escape as tracebacks. We
    never use its chat handlers: templates are rendered, within bounds, by
    assistant/chat_template.py.
    """

    def __init__(self, **_: object) -> None:
        pass

    def to_chat_handler(self) -> None:
        return None


_load_lock = threading.Lock()


_LOAD_CHECK = """
import sys
import llama_cpp
llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=True)
"""


def load_failure(path: Path, timeout: float = 300) -> str | None:
    """Why llama.cpp cannot load a GGUF (its vocabulary and header, in a child process: a file can make it abort
    outright), or None when it can. For what is about to be installed: a file that never loads is not kept."""
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-c", _LOAD_CHECK, str(path)], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"it did not load within {timeout:g} s"
    if done.returncode == 0:
        return None
    said = [line.strip() for line in done.stderr.splitlines() if "error" in line.lower() or "failed" in line.lower()]
    reason = said[0] if said else (done.stderr.strip().splitlines() or ["no reason given"])[-1]
    return reason[:200] if done.returncode > 0 else f"llama.cpp aborted ({reason[:160]})"


def load_model(
    path: Path,
    *,
    n_ctx: int = 2048,
    logits_all: bool = False,
    n_threads: int | None = None,
    n_gpu_layers: int = 0,
    memory: MemoryPlan = MemoryPlan(),
    flash_attention: bool = False,
    verbose: bool = False,
) -> llama_cpp.Llama:
    """A llama_cpp.Llama for a GGUF file; raises ValueError when llama.cpp cannot load it.

    flash_attention: llama.cpp's CPU attention without it computes a token in a batch slightly differently
    from the same token alone (logits up to 1.5 apart on SmolLM2), so greedy output depends on how the
    prompt was read; with it, every batch computes what single tokens compute, at a cost on long contexts
    (bench/prompt_lookup_bench.py).
    """
    with _load_lock:
        formatter = llama_chat_format.Jinja2ChatFormatter
        llama_chat_format.Jinja2ChatFormatter = _TemplateNotCompiled  # type: ignore[misc,assignment]
        try:
            return _new_llama(path, n_ctx, logits_all, n_threads, n_gpu_layers, memory, flash_attention, verbose)
        finally:
            llama_chat_format.Jinja2ChatFormatter = formatter  # type: ignore[misc]


def _new_llama(
    path: Path,
    n_ctx: int,
    logits_all: bool,
    n_threads: int | None,
    n_gpu_layers: int,
    memory: MemoryPlan,
    flash_attention: bool,
    verbose: bool,
) -> llama_cpp.Llama:
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        logits_all=logits_all,
        n_threads=n_threads,
        n_gpu_layers=n_gpu_layers,
        use_mmap=memory.use_mmap,
        n_batch=512,
        n_ubatch=memory.n_ubatch,
        type_k=llama_cpp.GGML_TYPE_Q8_0 if memory.quantized_keys else llama_cpp.GGML_TYPE_F16,
        flash_attn=flash_attention,
        verbose=verbose,
    )


def piece_table(llm: llama_cpp.Llama) -> list[bytes]:
    """Every token's exact bytes; special tokens render as nothing.

    llama-cpp-python's own detokenizer uses a 32-byte buffer per token and
    silently truncates longer pieces (GPT-2 has runs of `*`, `-`, `=` longer
    than that), so the table is built once with a buffer that always fits.
    """
    vocab = llm._model.vocab
    size = 256
    buf = ctypes.create_string_buffer(size)
    pieces = []
    for token in range(llm.n_vocab()):
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, False)
        if n < 0:  # longer than the buffer: grow and retry
            buf = ctypes.create_string_buffer(-n)
            size = -n
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, False)
        pieces.append(buf.raw[:n])
    return pieces


def is_end_of_generation(llm: llama_cpp.Llama, token: int) -> bool:
    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))


def probability_of(llm: llama_cpp.Llama, token: int) -> float:
    """The probability the model gave token at the step that just sampled it (the context's last logits).

    llama-cpp-python keeps no logits without logits_all; the context still holds those of the last token it
    decoded, which are the ones the token was sampled from until generation decodes it in turn.
    """
    import numpy as np

    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
    top = float(logits.max())
    return float(np.exp(logits[token] - top) / np.exp(logits - top).sum())


def version() -> str:
    """llama-cpp-python's version (what llama.cpp it carries)."""
    return str(llama_cpp.__version__)


def supports_gpu_offload() -> bool:
    return bool(llama_cpp.llama_supports_gpu_offload())


def decode_with_logits(llm: llama_cpp.Llama, tokens: list[int]) -> np.ndarray:
    """Decode tokens after the cached ones and return the logits of every one of them.

    llama-cpp-python keeps logits for all positions only with logits_all, which
    costs n_ctx × n_vocab floats (400 MB for CodeGen); draft verification needs
    them for a handful of tokens only.
    """
    import numpy as np

    n_past = llm.n_tokens
    llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
    llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
    llm._ctx.decode(llm._batch)
    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(tokens), llm.n_vocab())).copy()
    llm.input_ids[n_past : n_past + len(tokens)] = tokens
    llm.n_tokens = n_past + len(tokens)
    return logits


def decode_for_next(llm: llama_cpp.Llama, tokens: list[int]) -> np.ndarray:
    """Decode tokens after the cached ones and return the logits after the last one.

    Through llama-cpp-python's own eval, so the micro-batches fall exactly
    where plain generation puts them: llama.cpp's sums depend on the batching,
    and a different split can flip a near tie.
    """
    import numpy as np

    llm.eval(tokens)
    return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).copy()


def shared_prefix(a: Iterable[int], b: Iterable[int]) -> int:
    """How many leading tokens two token sequences have in common."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def cached_prefix(llm: llama_cpp.Llama, prompt: list[int]) -> int:
    """How many leading tokens of prompt the KV cache already holds."""
    return shared_prefix(llm._input_ids[: llm.n_tokens], prompt)


@dataclass(frozen=True)
class SavedCache:
    """One sequence's KV cache in a file as llama.cpp writes it, and what it must be to be read back.

    The record stays in this process, never in the file: a file that is cut short (a crash mid-write, a full
    disk), damaged or replaced (another model's, of the same shapes) does not match its size and checksum, and
    llama.cpp never reads it (it aborts the whole process on a short file: `GGML_ASSERT(nread <= state_size)`).
    """

    tokens: tuple[int, ...]
    path: Path
    size: int  # bytes
    checksum: int  # CRC-32 of the file: 4 GB/s, a few hundredths of a second for a long document's cache


def _crc32(path: Path, size: int) -> int | None:
    """The file's CRC-32, or None if it is not size bytes long (or cannot be read)."""
    crc = 0
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size != size:
                return None
            while chunk := file.read(1 << 22):
                crc = zlib.crc32(chunk, crc)
    except OSError:
        return None
    return crc


def save_cache(llm: llama_cpp.Llama, path: Path) -> SavedCache | None:
    """The KV cache of what the context holds now, written to path (only the cells in use: about 60 KiB a token
    for codegen-350M with 8-bit keys); None, and no file left, where it cannot be written whole. A file, not
    memory: the page cache holds it while there is room, and the process stays small."""
    count = llm.n_tokens
    tokens = (llama_cpp.llama_token * count)(*llm._input_ids)
    size = int(llama_cpp.llama_state_seq_save_file(llm._ctx.ctx, str(path).encode(), 0, tokens, count))
    checksum = _crc32(path, size) if size else None
    if checksum is None:
        path.unlink(missing_ok=True)  # a partial file (a full disk) goes now, not when the process ends
        return None
    return SavedCache(tuple(int(t) for t in tokens), path, size, checksum)


def restore_cache(llm: llama_cpp.Llama, saved: SavedCache) -> bool:
    """Put a saved KV cache back in place of the current one; False (the file deleted, and an empty cache) if the
    file is not the one saved or llama.cpp refuses it: the prompt is then read again."""
    if _crc32(saved.path, saved.size) != saved.checksum:
        saved.path.unlink(missing_ok=True)
        return False
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    tokens = (llama_cpp.llama_token * len(saved.tokens))()
    count = ctypes.c_size_t(0)
    if not llama_cpp.llama_state_seq_load_file(
        llm._ctx.ctx, str(saved.path).encode(), 0, tokens, len(tokens), ctypes.byref(count)
    ):
        llm.n_tokens = 0
        return False
    llm.input_ids[: count.value] = tokens[: count.value]
    llm.n_tokens = count.value
    llm._requires_eval = True  # the logits are not the restored state's: the next prompt replays a token
    return True


def keep_cached(llm: llama_cpp.Llama, n: int) -> None:
    """Forget every cached token from position n on."""
    if n < llm.n_tokens:
        llm._requires_eval = True  # the logits at hand are a forgotten token's: sampling must decode again
    llm._ctx.kv_cache_seq_rm(-1, n, -1)
    llm.n_tokens = n
