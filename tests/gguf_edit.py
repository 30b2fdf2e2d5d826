"""Copies of a real GGUF with chosen metadata changed, as a damaged or hostile file would carry them.

The key-value section is rebuilt; the tensor infos and data are copied byte for
byte (their offsets are relative to the aligned start of the data).
"""

from __future__ import annotations

import struct
from pathlib import Path

import gguf

T = gguf.GGUFValueType
_PACK = {T.UINT32: "<I", T.INT32: "<i", T.UINT64: "<Q", T.FLOAT32: "<f", T.BOOL: "<?"}


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _kv(key: str, kind: gguf.GGUFValueType, value) -> bytes:
    if kind == T.ARRAY:  # of strings: a vocabulary
        body = struct.pack("<IQ", T.STRING, len(value)) + b"".join(_string(item) for item in value)
    else:
        body = _string(value) if kind == T.STRING else struct.pack(_PACK[kind], value)
    return _string(key) + struct.pack("<I", kind) + body


def with_metadata(src: Path, dst: Path, changes: dict[str, tuple[gguf.GGUFValueType, object] | None]) -> Path:
    """dst: src with each key in changes set to (type, value), or removed where the change is None."""
    reader = gguf.GGUFReader(src)
    raw = Path(src).read_bytes()

    def span(field) -> bytes:
        return raw[field.offset : field.offset + sum(p.nbytes for p in field.parts)]

    kvs = [span(f) for name, f in reader.fields.items() if not name.startswith("GGUF.") and name not in changes]
    kvs += [_kv(key, *change) for key, change in changes.items() if change is not None]
    infos = b"".join(span(t.field) for t in reader.tensors)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(reader.tensors), len(kvs)) + b"".join(kvs) + infos
    alignment = int(reader.alignment)
    head += b"\0" * (-len(head) % alignment)
    Path(dst).write_bytes(head + raw[reader.data_offset :])
    return Path(dst)
