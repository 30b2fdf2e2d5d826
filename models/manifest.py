"""What the store knows about each installed file: where it came from and its sha256.

`models/manifest.json` beside the GGUF files. A model is checked against its
record when it is loaded: a file whose size or modification time differs from
the record is hashed again and refused if the hash differs (`cga models
verify` always hashes). Files without a record (converted by hand into the
folder) load as they are.

Several `cga` processes may change the store at once (parallel imports, a pull
in one terminal and an rm in another), so every read-modify-write of the
manifest, and the rename that puts a model file in place, happens under one
file lock beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from cga.core.atomic_files import write_atomically
from cga.core.errors import ModelLoadError
from cga.core.json_text import parsed_json

MANIFEST = "manifest.json"
LOCK = ".manifest.lock"
LOCK_WAIT_S = 120  # the lock is held for a rename and a small JSON write, never for a download or a conversion
VERSION = 1


class TamperedModel(ModelLoadError):
    """An installed file no longer matches the sha256 recorded when it was installed."""


@dataclass(frozen=True)
class Record:
    file: str
    sha256: str
    size: int
    mtime_ns: int
    source: str  # a hub id or a local path
    revision: str | None
    quant: str
    catalog: str | None  # the catalog entry it is a conversion of, if any
    installed: str
    verified: str  # how the conversion was checked: "transformers", "llama.cpp" or "imported"


def sha256_of(path: Path, progress=None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def load(folder: Path) -> dict[str, Record]:
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        raw = parsed_json(path.read_text(encoding="utf-8"))
        return {name: Record(**fields) for name, fields in raw["models"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(
            f"The model manifest {path} is unreadable ({exc}); move it aside and re-import your models "
            "with `cga models import`."
        ) from exc


def _save(folder: Path, records: dict[str, Record]) -> None:
    """Atomic: a crash leaves the old manifest or the new one, never half of one."""
    body = json.dumps({"version": VERSION, "models": {n: asdict(r) for n, r in sorted(records.items())}}, indent=2)
    write_atomically(folder / MANIFEST, body.encode("utf-8"))


@contextmanager
def editing(folder: Path) -> Iterator[dict[str, Record]]:
    """The records, to change in place under the store's lock; saved when the block ends without an error.

    The manifest is read before the block runs, so an unreadable manifest stops an install before
    its file is moved into place.
    """
    try:
        with FileLock(folder / LOCK, timeout=LOCK_WAIT_S):
            records = load(folder)
            yield records
            _save(folder, records)
    except Timeout:
        raise ModelLoadError(
            f"Another cga process has held the model store's lock ({folder / LOCK}) for "
            f"{LOCK_WAIT_S} s; wait for it to finish, or delete that file if none is running."
        ) from None
    except OSError as exc:
        raise ModelLoadError(
            f"Could not change the model store in {folder} ({exc.strerror or exc}); make it "
            "writable or point CGA_HOME at a writable folder."
        ) from exc


def new_record(
    path: Path, *, sha256: str, source: str, revision: str | None, quant: str, catalog: str | None, verified: str
) -> Record:
    stat = path.stat()
    return Record(
        file=path.name,
        sha256=sha256,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        source=source,
        revision=revision,
        quant=quant,
        catalog=catalog,
        installed=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        verified=verified,
    )


def check(folder: Path, name: str, path: Path, *, full: bool = False) -> Record | None:
    """Raise TamperedModel if the file differs from its record; None when it has no record."""
    entry = load(folder).get(name)
    if entry is None:
        return None
    stat = path.stat()
    if not full and (stat.st_size, stat.st_mtime_ns) == (entry.size, entry.mtime_ns):
        return entry
    if stat.st_size != entry.size or sha256_of(path) != entry.sha256:
        raise TamperedModel(
            f"{path} does not match the sha256 recorded when it was installed; it was changed or damaged. "
            f"Remove it with `cga models rm {name}` and pull or import it again."
        )
    return entry
