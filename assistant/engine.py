"""The engine: one loaded GGUF, streaming generation with exact text and clean stops.

Thin over llama-cpp-python: its `generate` already reuses the KV cache for
the prefix a new prompt shares with the last one; what is ours is the exact
byte-level text, stopping, truncation, cancellation and device placement.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from cga.core import native
from cga.core.errors import UserDirError
from cga.core.limits import MAX_THREADS, default_threads
from cga.core.model_info import ModelInfo, read_model_info
from cga.core.wording import plural

from . import heap, kept_caches
from .backend import MIN_ANSWER_TOKENS, Answer, ConfidenceCut, Generation, Stats, filter_stream
from .errors import ModelLoadError, PromptTooLong
from .kept_caches import KEEP_CACHES_BYTES
from .prompt_lookup import greedy_tokens
from .token_healing import Healer, whitespace_tail

NO_GPU_BUILD = (
    "this llama-cpp-python has no GPU support, so it runs on the CPU (README, 'GPU builds', shows how to "
    "install a CUDA or Metal build)"
)


@dataclass(frozen=True)
class Placement:
    gpu_layers: int
    n_layers: int
    threads: int
    gpu_asked: bool = False  # layers were asked for the GPU explicitly (a number or "all")

    @property
    def all_on_gpu(self) -> bool:
        return self.gpu_layers >= self.n_layers

    def describe(self) -> str:
        if self.gpu_layers == 0:
            return f"CPU, {plural(self.threads, 'thread')}" + (f"; {NO_GPU_BUILD}" if self.gpu_asked else "")
        if self.all_on_gpu:
            return f"all {self.n_layers} layers on the GPU"
        return (
            f"{self.gpu_layers} of {self.n_layers} layers on the GPU, the rest on {plural(self.threads, 'CPU thread')}"
        )


def resolve_gpu_layers(setting: str, n_layers: int) -> int:
    """'auto' (all on a GPU build, none otherwise), 'all', 'none' or a number; 0 on a build without a GPU, where
    llama.cpp would take the number, run everything on the CPU and report layers it never offloaded."""
    setting = str(setting).lower()
    if setting == "none":
        return 0
    if setting in ("auto", "all"):
        value = n_layers + 1  # + the output layer
    else:
        try:
            value = int(setting)
        except ValueError:
            raise ModelLoadError(f"--gpu-layers takes auto, all, none or a number, not '{setting}'.") from None
        if value < 0:
            raise ModelLoadError("--gpu-layers must not be negative.")
    return min(value, n_layers + 1) if native.supports_gpu_offload() else 0


def lean_memory(path: Path, *, on_gpu: bool = False) -> native.MemoryPlan:
    """The engine's context settings on a CPU: a third less memory than llama.cpp's defaults, and faster.

    Measured by bench/context_settings_bench.py (codegen-350M Q4_K_M, 2,048-token
    context, 1,536-token cold prefill, 2 threads; peak resident memory of the process):

        micro-batch  K cache  weights  prefill tok/s  decode tok/s  peak MiB
        512          f16      mapped   547            119           635   (llama.cpp's defaults)
        512          q8_0     read     566            110           507
        256          q8_0     read     586            118           463
        128          q8_0     read     575            118           440   <- chosen
        64           q8_0     read     481            109           430
        32           q8_0     read     409            115           422   (before: 30 % slower prefill for 18 MiB)

    - Read the weights instead of mapping them: llama.cpp repacks Q4_K weights
      for faster matmuls, and a mapped file keeps the original pages resident
      beside the repacked copy. A file too big for half the free RAM stays
      mapped, so the OS can page it.
    - Micro-batches of 128 tokens: the fastest prefill within the noise of 256,
      a quarter of the attention scratch of 512.
    - An 8-bit K cache (V stays f16: a quantized V needs flash attention,
      which decodes 2.6x slower on the CPU here).
    On a GPU none of this applies: llama.cpp's own settings, since small
    micro-batches starve a GPU's prefill and its memory is not the host's.
    """
    if on_gpu:
        return native.MemoryPlan()
    free = psutil.virtual_memory().available
    return native.MemoryPlan(use_mmap=path.stat().st_size > free / 2, n_ubatch=128, quantized_keys=True)


# Tokens read between two looks at the cancel event: about 0.1 s of codegen-350M on 2 cores, which is what a
# keystroke waits at most behind reading a file (bench/lsp_bench.py's "waited"); 128 read 16 % faster but made
# every keystroke wait twice as long.
PREFILL_CHUNK = 64


# The window of an engine whose caller names none (cga complete, chat, bench): llama.cpp allocates the KV cache
# for all of it at load, so a file's own context length decided the memory (SmolLM2 rewritten to claim 2^18
# tokens took 4.7 GB for a 4-token answer; 2^20 asked for 18.5 GB). Twice CodeGen's; a chat drops its oldest
# turns to fit, as it does at any window.
COMMAND_WINDOW = 4096


class Engine:
    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        gpu_layers: str = "auto",
        n_ctx: int | None = None,
        keep_bytes: int = KEEP_CACHES_BYTES,
        flash_attention: bool = False,
    ) -> None:
        if threads is not None and not 1 <= threads <= MAX_THREADS:
            raise ModelLoadError(
                f"{threads} threads is more than llama.cpp can run (1–{MAX_THREADS}); "
                f"this machine has {os.cpu_count()} CPU threads."
            )
        self.info: ModelInfo = read_model_info(path)
        n_layers = self.info.block_count
        threads = threads or default_threads()
        self.placement = Placement(
            resolve_gpu_layers(gpu_layers, n_layers),
            n_layers,
            threads,
            gpu_asked=str(gpu_layers).lower() not in ("auto", "none", "0"),
        )
        self.n_ctx = min(n_ctx or COMMAND_WINDOW, self.info.context_length)
        try:
            self.llm = native.load_model(
                path,
                n_ctx=self.n_ctx,
                n_threads=threads,
                n_gpu_layers=self.placement.gpu_layers,
                memory=lean_memory(path, on_gpu=self.placement.gpu_layers > 0),
                flash_attention=flash_attention,
            )
        except ValueError as exc:
            raise ModelLoadError(
                f"llama.cpp could not load {path}; the file is corrupt or not a supported GGUF. "
                f"({native.recent_log(2)})"
            ) from exc
        self.pieces = native.piece_table(self.llm)
        self.healer: Healer | None = None  # indexed at the first prompt that needs it
        self.keep_bytes = keep_bytes
        self.kept: OrderedDict[str, native.SavedCache] = OrderedDict()  # other documents' caches, latest last
        self.kept_dir: Path | None = None  # made at the first switch, removed by close()
        self.cache_key: str | None = None  # the document whose prompt the KV cache holds now
        heap.tidy()  # llama.cpp's load buffers, before they set the process's high-water mark

    def describe(self) -> str:
        return self.placement.describe()

    @property
    def drafts_pay(self) -> bool:
        return self.placement.all_on_gpu

    def _switch_to(self, key: str | None, prompt: list[int]) -> None:
        """Documents take turns in one KV cache: before another document's prompt, keep the one there and bring
        back the new one's, where that saves reading it again."""
        if key is None or key == self.cache_key:
            return
        if self.cache_key is not None and self.llm.n_tokens and self.keep_bytes:
            self._keep(self.cache_key)
        self.cache_key = key
        saved = self.kept.pop(key, None)
        if saved is not None:
            if native.shared_prefix(saved.tokens, prompt) > native.cached_prefix(self.llm, prompt):
                native.restore_cache(self.llm, saved)
            saved.path.unlink(missing_ok=True)

    def _read(self, prompt: list[int], cached: int, cancel: threading.Event) -> bool:
        """Prefill all of the prompt but its last token (generation decodes that one to sample from) in chunks, so
        that a cancel (the next keystroke) takes effect within one chunk instead of after the whole prompt; what
        was read stays cached for the prompt that comes next. False if cancelled."""
        native.keep_cached(self.llm, cached)  # what differs from the cache goes
        for start in range(cached, len(prompt) - 1, PREFILL_CHUNK):
            if cancel.is_set():
                return False
            self.llm.eval(prompt[start : min(start + PREFILL_CHUNK, len(prompt) - 1)])
        return not cancel.is_set()

    def _keep(self, key: str) -> None:
        """Write the cache there is now to a file of its own (see native.save_cache), within keep_bytes."""
        try:
            if self.kept_dir is None:
                self.kept_dir = kept_caches.new_folder()
            path = self.kept_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.kv"
        except (OSError, UserDirError):
            return  # nowhere to keep it: going back to the document reads it again
        saved = native.save_cache(self.llm, path)
        if saved is None:
            return
        self.kept[key] = saved
        while sum(s.size for s in self.kept.values()) > self.keep_bytes:
            self.kept.popitem(last=False)[1].path.unlink(missing_ok=True)  # the document left longest ago

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def text_of(self, tokens: list[int]) -> str:
        return b"".join(self.pieces[t] for t in tokens).decode("utf-8", errors="replace")

    def stream(self, prompt: list[int] | str, options: Generation) -> Answer:
        stats = Stats()
        return Answer(self._answer(prompt, options, stats), stats)

    def _answer(self, prompt: list[int] | str, options: Generation, stats: Stats) -> Iterator[str]:
        if isinstance(prompt, str):
            prompt = self.tokenize(prompt)
        room = self.n_ctx - len(prompt)
        if room < MIN_ANSWER_TOKENS:
            raise PromptTooLong(
                f"The prompt is {len(prompt)} tokens but the model's context is {self.n_ctx}; shorten it."
            )
        self._switch_to(options.cache_key, prompt)
        stats.prompt_tokens = len(prompt)
        typed = whitespace_tail(self.pieces, prompt) if options.heal_whitespace and not options.prompt_lookup else 0
        base = prompt[: len(prompt) - typed]
        stats.reused_tokens = native.cached_prefix(self.llm, base)
        if options.cancel is not None and not self._read(base, stats.reused_tokens, options.cancel):
            stats.stop = "cancelled"
            return
        if options.max_tokens == 0:
            if options.cancel is None:
                self._read(base, stats.reused_tokens, threading.Event())
            stats.stop = "length"
            return
        chunks = self._text(prompt, options, stats, min(options.max_tokens, room), typed=typed)
        yield from filter_stream(chunks, options, stats)

    def _text(
        self, prompt: list[int], options: Generation, stats: Stats, max_tokens: int, typed: int = 0
    ) -> Iterator[str]:
        """Raw text, token by token; multi-byte characters split across tokens come out whole. The prompt's last
        `typed` tokens (white space) are chosen again by the model (token_healing.py): only what goes beyond them
        is the answer."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        lookup = options.prompt_lookup and options.temperature == 0
        sure = 0.0 if lookup else options.min_probability  # drafted tokens are not sampled from the last logits
        beyond = b""  # what the healed tokens write past the typed text
        if typed:
            if self.healer is None:
                self.healer = Healer(self.pieces)
            base, spelled = prompt[:-typed], b"".join(self.pieces[t] for t in prompt[-typed:])
            chosen = self.healer.choose(self.llm, base, spelled)
            if chosen:
                beyond = b"".join(self.pieces[t] for t in chosen)[len(spelled) :]
                prompt = base + chosen
                stats.generated += bool(beyond)  # tokens that only spell what was typed are not answer
        if lookup:
            tokens = greedy_tokens(self.llm, prompt, stats)
        else:
            tokens = self.llm.generate(
                prompt,
                temp=options.temperature,
                top_p=options.top_p,
                top_k=0 if options.temperature > 0 else 40,
                min_p=0.0,
                repeat_penalty=1.0,
            )
        cut = ConfidenceCut(options, sure)
        if beyond:
            text = decoder.decode(beyond)
            cut.wrote(text)
            yield text
        for token in tokens:
            if native.is_end_of_generation(self.llm, token):
                stats.stop = "end"
                break
            if sure and cut.unsure(native.probability_of(self.llm, token)):
                stats.stop = "unsure"
                break
            stats.generated += 1
            text = decoder.decode(self.pieces[token])
            cut.wrote(text)
            yield text
            if stats.generated >= max_tokens:
                break
        yield decoder.decode(b"", final=True)

    def complete(self, prompt: list[int] | str, options: Generation) -> str:
        return self.stream(prompt, options).text()

    def close(self) -> None:
        """Free the model and its context now rather than whenever the garbage collector runs."""
        self.llm.close()
        if self.kept_dir is not None:
            kept_caches.remove(self.kept_dir)
            self.kept.clear()
