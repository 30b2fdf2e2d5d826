"""Perplexity of GGUF files on a folder of source files: what quantization costs, side by side.

Each file is tokenized and scored in windows of the context size (the first
token of a window is context only); the figure is exp(mean negative log
likelihood) over all scored tokens of all files, so files of the same model
at different quantizations are compared on exactly the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cga.assistant.engine import Engine
from cga.core import native

SOURCE_SUFFIXES = {
    ".py",
    ".c",
    ".h",
    ".cpp",
    ".hpp",
    ".cc",
    ".go",
    ".java",
    ".js",
    ".ts",
    ".rs",
    ".rb",
    ".php",
    ".sh",
    ".lua",
    ".sql",
}


@dataclass(frozen=True)
class Perplexity:
    model: Path
    file_type: str
    tokens: int
    perplexity: float


def source_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder} holds no source files ({', '.join(sorted(SOURCE_SUFFIXES))}).")
    return files


def measure(
    model: Path,
    files: list[Path],
    *,
    window: int = 512,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Perplexity:
    engine = Engine(model, threads=threads, n_ctx=window)
    window = engine.n_ctx  # no longer than the model's own context
    nll, count = 0.0, 0
    try:
        # Progress counts tokens scored, not files: files differ a hundredfold in size, and so would the estimates.
        texts = [engine.tokenize(path.read_text(encoding="utf-8", errors="replace")) for path in files]
        total = sum(max(len(tokens) - 1, 0) for tokens in texts)
        if progress:
            progress(0, total)
        for tokens in texts:
            for start in range(0, max(len(tokens) - 1, 0), window - 1):
                chunk = tokens[start : start + window]
                if len(chunk) < 2:
                    break
                engine.llm.reset()
                logits = native.decode_with_logits(engine.llm, chunk).astype(np.float64)
                top = logits.max(axis=1, keepdims=True)
                log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
                targets = np.array(chunk[1:])
                nll -= float(log_probs[np.arange(len(chunk) - 1), targets].sum())
                count += len(chunk) - 1
                if progress:
                    progress(count, total)
    finally:
        engine.close()
    if count == 0:
        raise ValueError("The files hold fewer than two tokens; nothing to score.")
    return Perplexity(model, native.read_file_type(model), count, float(np.exp(nll / count)))
