"""Write a checkpoint as an F32 or F16 GGUF, one tensor at a time.

Two passes over the weights: the first reads only names and shapes to write the
GGUF header, the second transforms and writes each tensor and lets it go, so
peak memory is about one tensor, not one model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from cga.core import gguf_keys

from .checkpoint import Checkpoint
from .errors import BrokenCheckpoint
from .families import ModelSpec
from .tensor_map import expected_tensors, map_name, to_gguf_layout, zero_biases
from .vocab import Vocab, special_ids

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SourceInfo:
    name: str
    source: str  # a local path or a hub id
    revision: str | None = None
    license: str | None = None


def planned_tensors(checkpoint: Checkpoint, spec: ModelSpec) -> list[tuple[str, str, tuple[int, ...]]]:
    """(hf name, gguf name, shape) in file order, checked against what the config implies."""
    expected = expected_tensors(spec)
    plan: list[tuple[str, str, tuple[int, ...]]] = []
    for hf_name, array in checkpoint.tensors():
        mapped = map_name(spec, hf_name)
        if mapped is None:
            continue
        name = mapped[0]
        want = expected.get(name)
        if want is None:
            continue
        if tuple(array.shape) != want:
            raise BrokenCheckpoint(
                f"config.json disagrees with the weights: {hf_name} has shape {tuple(array.shape)}, "
                f"the config implies {want}."
            )
        plan.append((hf_name, name, want))
    missing = sorted(set(expected) - {p[1] for p in plan})
    if missing:
        raise BrokenCheckpoint(
            f"{checkpoint.path} lacks {len(missing)} weight(s) the config needs, e.g. {missing[0]}; "
            "the download may be incomplete."
        )
    return plan


def output_dtype(shape: tuple[int, ...], f16: bool) -> np.dtype:
    # Norms and biases stay F32: llama.cpp expects them so and they are tiny.
    return np.dtype(np.float16 if f16 and len(shape) > 1 else np.float32)


def estimated_size(plan: list[tuple[str, str, tuple[int, ...]]], f16: bool) -> int:
    return sum(int(np.prod(shape)) * output_dtype(shape, f16).itemsize for _, _, shape in plan) + 2**22


def write_gguf(
    checkpoint: Checkpoint,
    spec: ModelSpec,
    vocab: Vocab,
    info: SourceInfo,
    plan: list[tuple[str, str, tuple[int, ...]]],
    path: Path,
    f16: bool,
    progress: Progress | None = None,
) -> None:
    writer = gguf.GGUFWriter(path, spec.arch)
    _write_metadata(writer, spec, vocab, info, f16)
    extra = zero_biases(spec)
    for _, name, shape in plan:
        dtype = output_dtype(shape, f16)
        writer.add_tensor_info(name, shape, dtype, int(np.prod(shape)) * dtype.itemsize)
    for name, array in extra.items():
        writer.add_tensor_info(name, array.shape, array.dtype, array.nbytes)
    writer.write_header_to_file(path)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()

    wanted = {hf_name: (name, shape) for hf_name, name, shape in plan}
    done = 0
    try:
        for hf_name, array in checkpoint.tensors():
            if hf_name not in wanted:
                continue
            _, shape = wanted[hf_name]
            mapped = map_name(spec, hf_name)
            assert mapped is not None  # wanted holds only names that map
            kind = mapped[1]
            # Layout fixes only reorder rows, so they run in the source dtype;
            # one cast at the end keeps peak memory near one tensor's size.
            data = to_gguf_layout(spec, kind, array)
            writer.write_tensor_data(np.ascontiguousarray(data, dtype=output_dtype(shape, f16)))
            done += 1
            if progress:
                progress(done, len(plan))
        for array in extra.values():
            writer.write_tensor_data(array)
    finally:
        writer.close()


def _write_metadata(writer: gguf.GGUFWriter, spec: ModelSpec, vocab: Vocab, info: SourceInfo, f16: bool) -> None:
    writer.add_name(info.name)
    if "://" in info.source:
        writer.add_source_url(info.source)
    else:
        writer.add_string(gguf_keys.SOURCE, info.source)
    if info.revision:
        writer.add_string(gguf_keys.REVISION, info.revision)
    if info.license:
        writer.add_license(info.license)
    writer.add_string(gguf_keys.FAMILY, spec.family)
    writer.add_bool(gguf_keys.CAN_INFILL, vocab.can_infill)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)

    writer.add_context_length(spec.context_length)
    writer.add_embedding_length(spec.n_embd)
    writer.add_feed_forward_length(spec.n_ff)
    writer.add_block_count(spec.n_layer)
    writer.add_head_count(spec.n_head)
    writer.add_head_count_kv(spec.n_head_kv)
    writer.add_rope_dimension_count(spec.rotary_dim)
    if spec.arch == "llama":
        writer.add_layer_norm_rms_eps(spec.norm_eps)
        writer.add_rope_freq_base(spec.rope_theta)
        writer.add_vocab_size(spec.n_vocab)
    else:
        writer.add_layer_norm_eps(spec.norm_eps)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges(vocab.merges)
    ids = special_ids(vocab)
    writer.add_bos_token_id(ids["bos"])
    writer.add_eos_token_id(ids["eos"])
    writer.add_pad_token_id(ids["eos"])
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    if "eom" in ids:
        writer.add_eom_token_id(ids["eom"])
    fim_keys = {
        "fim_prefix": gguf.Keys.Tokenizer.FIM_PRE_ID,
        "fim_middle": gguf.Keys.Tokenizer.FIM_MID_ID,
        "fim_suffix": gguf.Keys.Tokenizer.FIM_SUF_ID,
    }
    for key, gguf_key in fim_keys.items():
        if key in ids:
            writer.add_uint32(gguf_key, ids[key])
    for key, value in ids.items():
        writer.add_uint32(gguf_keys.TOKEN_ID.format(key), value)
