"""Putting models into the store: pull (download, convert, verify, register), import, remove.

A model is registered only when it is complete and checked: the GGUF is
written under a hidden name that the store never lists, verified, hashed,
renamed into place, and only then recorded in the manifest. An interrupted
pull leaves its partial download for the next pull to resume and nothing in
the store.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cga.convert.pipeline import convert
from cga.core.atomic_files import remove_orphans, temporary_beside
from cga.core.limits import checked_quant
from cga.core.model_info import read_model_info
from cga.core.paths import created, user_dir

from . import catalog, hub, manifest, store
from .errors import StoreError

Progress = Callable[[str, int, int], None]  # phase, done, total
DEFAULT_QUANT = "q4_k_m"


@dataclass(frozen=True)
class Wanted:
    base: str  # the store name before the quantization
    hub_id: str
    quant: str
    entry: catalog.CatalogEntry | None  # None for a fine-tune named by its hub id

    @property
    def name(self) -> str:
        return f"{self.base}.{self.quant}"


def parse_wanted(spec: str) -> Wanted:
    """`NAME[:QUANT]` from the catalog, or `OWNER/REPO[:QUANT]` for any CodeGen fine-tune on the hub."""
    model, _, quant = spec.partition(":")
    quant = checked_quant(quant or DEFAULT_QUANT, StoreError)
    entry = catalog.lookup(model)
    if entry is not None:
        return Wanted(entry.name, entry.hub_id, quant, entry)
    if model.count("/") == 1 and _valid_hub_id(model):
        return Wanted(store.check_name(f"{model.split('/')[1]}.{quant}").rpartition(".")[0], model, quant, None)
    close = catalog.closest(model)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise StoreError(
        f"'{model}' is not in the catalog.{hint} See `cga models list --all`, or give a hub id "
        "such as Salesforce/codegen-350M-mono."
    )


def _valid_hub_id(hub_id: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(hub_id)
    except HFValidationError:
        return False
    return True


def downloads_dir() -> Path:
    return created(user_dir() / "downloads")


# For a pull without :QUANT: (type, why), once the hub has answered (it measures this machine, which takes seconds).
ChooseType = Callable[[catalog.CatalogEntry], tuple[str, str]]


def pull(
    spec: str,
    *,
    revision: str | None = None,
    threads: int | None = None,
    keep_download: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    say: Callable[[str], None] = print,
    choose_type: ChooseType | None = None,
) -> store.Installed:
    """choose_type picks the type of a catalog model named without one; without it, DEFAULT_QUANT."""
    wanted = parse_wanted(spec)
    # The catalog entry whose type is ours to choose (None when the spec names one, or names a fine-tune).
    choosing = wanted.entry if choose_type is not None and ":" not in spec else None
    # Without a type, any installed type of the model is the one asked for: nothing to fetch, no network needed.
    existing = store.find(wanted.base if choosing is not None else wanted.name)
    if existing is not None and not force:
        other = ", :QUANT pulls another type" if choosing is not None else ""
        say(f"{existing.name} is already installed ({existing.path}); --force pulls it again{other}.")
        return store.checked(existing)
    created(store.models_dir())  # before a download that could not be installed
    folder = downloads_dir() / wanted.base
    found = hub.plan(wanted.hub_id, revision, folder)
    if choose_type is not None and choosing is not None:
        quant, why = choose_type(choosing)
        say(f"Type {quant}: {why}; {wanted.base}:q4_k_m or :q8_0 picks one.")
        wanted = Wanted(wanted.base, wanted.hub_id, quant, wanted.entry)
    hub.check_space(folder, found.to_download, f"Downloading {wanted.hub_id}")
    say(
        f"Downloading {wanted.hub_id} at {found.revision[:12]} ({found.to_download / 2**20:.0f} MiB to fetch, "
        f"{len(found.files)} files) into {folder}"
    )
    hub.download(found, folder, progress)
    model = install_checkpoint(
        folder,
        wanted.name,
        wanted.quant,
        source=wanted.hub_id,
        revision=found.revision,
        catalog_name=wanted.entry.name if wanted.entry else None,
        mp_num=wanted.entry.mp_num if wanted.entry else None,
        threads=threads,
        progress=progress,
        say=say,
    )
    if not keep_download:
        shutil.rmtree(folder, ignore_errors=True)
    return model


def install_checkpoint(
    folder: Path,
    name: str,
    quant: str,
    *,
    source: str,
    revision: str | None,
    catalog_name: str | None,
    mp_num: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    say: Callable[[str], None] = print,
) -> store.Installed:
    """Convert, verify, hash and register a checkpoint folder as `name`."""
    target = created(store.models_dir()) / f"{store.check_name(name)}.gguf"
    with _pending(target) as pending:
        convert(
            folder,
            pending,
            quant,
            force=True,
            mp_num=mp_num,
            name=name.rpartition(".")[0] or name,
            source_id=source,
            revision=revision,
            threads=threads,
            progress=progress,
        )
        how = verify_conversion(folder, pending, threads, say)
        return _register(
            pending,
            target,
            name,
            source=source,
            revision=revision,
            quant=quant,
            catalog_name=catalog_name,
            verified=how,
            replace=True,
            progress=progress,
        )


def _pending(target: Path):
    """Where a model is written before it is checked: a name of this process's own, never listed, never loaded.

    Own per process, so parallel installs of one name never write into one file; orphans of killed
    installs are swept first.
    """
    remove_orphans(target.parent)
    return temporary_beside(target, ".pending")


def verify_conversion(folder: Path, gguf: Path, threads: int | None, say: Callable[[str], None]) -> str:
    """Against transformers where it is installed; otherwise llama.cpp must load it and read its own tokens back."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        from cga.core.native import load_model, piece_table

        try:
            llm = load_model(gguf, n_ctx=256, n_threads=threads)
        except ValueError:
            raise StoreError(f"llama.cpp cannot load the converted {gguf.name}; please report this.") from None
        sample = "def fibonacci(n):\n    if n < 2:\n        return n\n"
        try:
            pieces = piece_table(llm)
            if b"".join(pieces[t] for t in llm.tokenize(sample.encode(), add_bos=False)).decode() != sample:
                raise StoreError(f"The converted {gguf.name} does not read its own tokens back; please report this.")
        finally:
            llm.close()
        say("Checked with llama.cpp (install 'codegen-assistant[torch]' to verify against transformers too).")
        return "llama.cpp"
    from cga.convert.verify import check, verify

    report = verify(folder, gguf, threads=threads)
    check(report)
    say(f"Verified against transformers: token ids agree {report.token_agreement:.0%}, mean KL {report.mean_kl:.1e}.")
    return "transformers"


def _register(
    pending: Path,
    target: Path,
    name: str,
    *,
    source: str,
    revision: str | None,
    quant: str,
    catalog_name: str | None,
    verified: str,
    replace: bool,
    progress: Progress | None,
) -> store.Installed:
    """Hash, then move into place and record in one step under the store's lock."""
    size = pending.stat().st_size
    done = 0

    def hashed(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("hashing", done, size)

    digest = manifest.sha256_of(pending, hashed)
    with manifest.editing(store.models_dir()) as records:
        if not replace and target.exists():
            raise StoreError(
                f"A model named {name} was installed by another process meanwhile; pick another --name or pass --force."
            )
        os.replace(pending, target)
        records[name] = manifest.new_record(
            target,
            sha256=digest,
            source=source,
            revision=revision,
            quant=quant,
            catalog=catalog_name,
            verified=verified,
        )
    found = store.find(name)
    if found is None:
        raise StoreError(f"{target} was installed but llama.cpp cannot read it back; please report this.")
    return found


def import_model(
    path: Path,
    *,
    name: str | None = None,
    quant: str = DEFAULT_QUANT,
    threads: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
    say: Callable[[str], None] = print,
) -> store.Installed:
    """A GGUF file is copied into the store as it is; a checkpoint folder is converted like a pull."""
    path = path.expanduser()
    if path.is_file():
        info = read_model_info(path)  # refuses what llama.cpp could not load
        from cga.core.native import load_failure, read_file_type

        if (why := load_failure(path)) is not None:
            raise StoreError(f"llama.cpp cannot load {path}, so it was not installed: {why}.")

        name = name or path.stem
        _refuse_existing(name, force)
        hub.check_space(created(store.models_dir()), path.stat().st_size, f"Importing {path.name}")
        target = store.models_dir() / f"{name}.gguf"
        with _pending(target) as pending:
            _copy(path, pending, progress)
            say(f"Importing {info.name} ({info.family}, {read_file_type(path)}) as {name}.")
            return _register(
                pending,
                target,
                name,
                source=str(path.resolve()),
                revision=None,
                quant=read_file_type(path),
                catalog_name=None,
                verified="imported",
                replace=force,
                progress=progress,
            )
    if path.is_dir():
        quant = checked_quant(quant, StoreError)
        name = name or f"{path.resolve().name}.{quant}"
        _refuse_existing(name, force)
        return install_checkpoint(
            path,
            name,
            quant,
            source=str(path.resolve()),
            revision=None,
            catalog_name=None,
            threads=threads,
            progress=progress,
            say=say,
        )
    raise StoreError(f"{path} does not exist; give a .gguf file or a checkpoint folder.")


def _refuse_existing(name: str, force: bool) -> None:
    store.check_name(name)
    if not force and (store.models_dir() / f"{name}.gguf").exists():
        raise StoreError(f"A model named {name} is already installed; pick another --name or pass --force.")


def _copy(source: Path, dest: Path, progress: Progress | None) -> None:
    total, done = source.stat().st_size, 0
    with open(source, "rb") as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 22):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress("copying", done, total)
        out.flush()
        os.fsync(out.fileno())


def remove(name: str) -> Path:
    found = store.find(name)
    if found is None:
        close = store.closest_names(name)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise StoreError(f"No model named '{name}' is installed.{hint} See `cga models list`.")
    with manifest.editing(store.models_dir()) as records:
        found.path.unlink(missing_ok=True)
        records.pop(found.name, None)
    return found.path
