"""Read a Hugging Face checkpoint folder one tensor at a time.

Streaming matters more than speed here: a 16B CodeGen checkpoint is 32 GB at
fp16 and must convert on a laptop with less RAM than that, so tensors are
memory-mapped and handed out one by one, never gathered into a dict.
"""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cga.core.json_text import parsed_json

from .errors import BrokenCheckpoint, NotACheckpoint, UnsafeCheckpoint

SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"

_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,  # widened to float32 on read; numpy has no bfloat16
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder: its config and where each tensor lives."""

    path: Path
    config: dict
    weight_files: tuple[Path, ...]

    def read_json(self, name: str) -> dict | None:
        """An optional JSON side file (tokenizer_config.json, …), or None."""
        file = self.path / name
        if not file.is_file():
            return None
        try:
            return parsed_json(file.read_text(encoding="utf-8"))
        except ValueError as exc:  # bad JSON, bad UTF-8, or nested too deeply
            raise BrokenCheckpoint(f"{file} is not valid JSON ({exc}).") from exc

    def tensors(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (name, array) pairs, one at a time, in file order."""
        for file in self.weight_files:
            if file.suffix == ".safetensors":
                yield from _read_safetensors(file)
            else:
                yield from _read_pickle(file)


def open_checkpoint(path: Path) -> Checkpoint:
    """Find the config and the weight files of a checkpoint folder."""
    path = Path(path)
    if not path.is_dir():
        raise NotACheckpoint(f"{path} is not a folder; give the folder that holds config.json and the weights.")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise NotACheckpoint(f"{path} has no config.json, so it is not a Hugging Face checkpoint.")
    try:
        config = parsed_json(config_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BrokenCheckpoint(f"{config_file} is not valid JSON ({exc}).") from exc
    if not isinstance(config, dict):
        raise BrokenCheckpoint(f"{config_file} does not hold a JSON object.")
    return Checkpoint(path=path, config=config, weight_files=_weight_files(path))


def _weight_files(path: Path) -> tuple[Path, ...]:
    for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
        index = path / index_name
        if index.is_file():
            try:
                weight_map = parsed_json(index.read_text(encoding="utf-8"))["weight_map"]
            except (ValueError, KeyError, TypeError) as exc:
                raise BrokenCheckpoint(f"{index} is not a valid shard index ({exc}).") from exc
            if not isinstance(weight_map, dict) or not all(_plain_file_name(n) for n in weight_map.values()):
                raise BrokenCheckpoint(
                    f"{index} names shards that are not plain file names in {path}; "
                    "a shard index may only name files beside it."
                )
            files = tuple(path / name for name in dict.fromkeys(weight_map.values()))
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise BrokenCheckpoint(f"{path} lacks shard(s) {', '.join(missing)} named in {index_name}.")
            return files
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (path / single).is_file():
            return (path / single,)
    raise NotACheckpoint(
        f"{path} has no model.safetensors, pytorch_model.bin or shard index; download the weights too."
    )


def _plain_file_name(name: object) -> bool:
    """A name that stays in its folder: no separators, not `.` or `..`."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _safetensors_header(file: Path) -> tuple[dict, int]:
    size = file.stat().st_size
    with file.open("rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise BrokenCheckpoint(f"{file} is truncated (no safetensors header).")
        (length,) = struct.unpack("<Q", raw)
        if length > size - 8:
            raise BrokenCheckpoint(f"{file} is truncated or not a safetensors file.")
        try:
            header = parsed_json(handle.read(length))
        except ValueError as exc:
            raise BrokenCheckpoint(f"{file} has a corrupt safetensors header.") from exc
    if not isinstance(header, dict):
        raise BrokenCheckpoint(f"{file} has a corrupt safetensors header (not a table of tensors).")
    return header, 8 + length


def _tensor_entry(file: Path, name: str, info: object, data_size: int) -> tuple[np.dtype, list[int], int, int]:
    """dtype, shape and byte range of one header entry, each checked: the header is the file's, not ours."""

    def broken(what: str) -> BrokenCheckpoint:
        return BrokenCheckpoint(f"{file}: tensor {name} has {what}; the file is corrupt or not a checkpoint.")

    if not isinstance(info, dict):
        raise broken("no description")
    stored = info.get("dtype")
    dtype = _SAFETENSORS_DTYPES.get(stored) if isinstance(stored, str) else None
    if dtype is None:
        raise BrokenCheckpoint(f"{file}: tensor {name} has unsupported dtype {stored!r}.")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise broken(f"an invalid shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise broken(f"invalid data offsets {offsets!r}")
    begin, end = offsets
    if end > data_size:
        raise BrokenCheckpoint(f"{file} is truncated: tensor {name} runs past the end of the file.")
    if math.prod(shape) * np.dtype(dtype).itemsize != end - begin:
        raise broken(f"{end - begin} bytes for shape {shape}")
    return np.dtype(dtype), shape, begin, end


def _read_safetensors(file: Path) -> Iterator[tuple[str, np.ndarray]]:
    # Read by hand with a memory map: the safetensors package's numpy backend
    # cannot return bfloat16, which is how several CodeGen fine-tunes ship.
    header, data_start = _safetensors_header(file)
    size = file.stat().st_size
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, begin, end = _tensor_entry(file, name, info, size - data_start)
        if end == begin:  # an empty tensor: nothing to map
            array = np.zeros(shape, dtype=dtype)
        else:
            array = np.memmap(file, dtype=dtype, mode="r", offset=data_start + begin, shape=(math.prod(shape),))
            array = array.reshape(shape)
        if info["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        yield name, array


def _read_pickle(file: Path) -> Iterator[tuple[str, np.ndarray]]:
    try:
        import torch
    except ImportError as exc:
        raise BrokenCheckpoint(
            f"{file.name} is a PyTorch pickle; reading it needs torch: pip install 'codegen-assistant[torch]'."
        ) from exc
    try:
        state = _torch_load(torch, file)
    except Exception as exc:  # torch raises many types for a corrupt or hostile file
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UnsafeCheckpoint(f"{file} holds pickled code, not just tensors; refusing to load it.") from exc
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise BrokenCheckpoint(f"{file} cannot be read as a PyTorch checkpoint ({first_line}).") from exc
    if not isinstance(state, dict):
        raise BrokenCheckpoint(f"{file} does not hold a state dict.")
    for name in list(state):
        tensor = state.pop(name)
        if not isinstance(tensor, torch.Tensor):
            continue
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        yield name, tensor.numpy()


def _torch_load(torch, file: Path):
    # weights_only refuses any pickle that would construct arbitrary objects,
    # so a hostile checkpoint's code never runs. mmap keeps memory at one
    # tensor, but only the zip format (torch >= 1.6) supports it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on pickle protocols mean nothing to a user
        try:
            return torch.load(file, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap can only be used" not in str(exc):
                raise
            return torch.load(file, map_location="cpu", weights_only=True)
