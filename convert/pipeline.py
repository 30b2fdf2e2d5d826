"""convert(): checkpoint folder → finished GGUF at the requested type."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cga.core.atomic_files import publish, temporary_beside
from cga.core.limits import checked_quant

from .checkpoint import open_checkpoint
from .errors import OutputError, QuantizeError
from .families import ModelSpec, detect
from .output import check_destination, refuse_replacing_an_input
from .quantizer import quantize
from .vocab import build_vocab
from .writer import SourceInfo, estimated_size, planned_tensors, write_gguf

# Size of a quantized file relative to F16, generously rounded up, for the disk check.
_SIZE_VS_F16 = {"q8_0": 0.56, "q5_k_m": 0.40, "q4_k_m": 0.36, "q4_0": 0.32}

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class ConvertResult:
    path: Path
    spec: ModelSpec
    quant: str
    can_infill: bool
    size: int


def convert(
    source: Path,
    dest: Path,
    quant: str = "f16",
    *,
    force: bool = False,
    mp_num: int | None = None,
    name: str | None = None,
    source_id: str | None = None,
    revision: str | None = None,
    license: str | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> ConvertResult:
    """Convert a CodeGen checkpoint folder; dest appears only once complete."""
    quant = checked_quant(quant, QuantizeError)
    if mp_num is not None and mp_num not in (1, 2, 4, 8, 16):
        raise QuantizeError(f"--mp-num must be a power of two up to 16, not {mp_num}.")
    refuse_replacing_an_input(dest, source)
    checkpoint = open_checkpoint(source)
    spec = detect(checkpoint, mp_num=mp_num)
    vocab = build_vocab(checkpoint, spec.family, spec.n_vocab)
    if spec.family == "codegen1" and vocab.can_infill:
        spec = replace(spec, family="codegen2")
    if progress:
        progress("reading", 0, 1)
    plan = planned_tensors(checkpoint, spec)
    if progress:
        progress("reading", 1, 1)

    f16 = quant != "f32"
    f16_size = estimated_size(plan, f16=True)
    needed = estimated_size(plan, f16) if quant in ("f16", "f32") else int(f16_size * (1 + _SIZE_VS_F16[quant]))
    dest = Path(dest)
    check_destination(dest, force, needed)
    info = SourceInfo(
        name=name or checkpoint.path.resolve().name,
        source=source_id or str(checkpoint.path.resolve()),
        revision=revision,
        license=license or read_license(checkpoint.path),
    )

    def write_progress(done: int, total: int) -> None:
        if progress:
            progress("writing", done, total)

    try:
        with temporary_beside(dest) as tmp:
            if quant in ("f16", "f32"):
                write_gguf(checkpoint, spec, vocab, info, plan, tmp, f16, write_progress)
            else:
                with temporary_beside(dest, ".f16.tmp") as intermediate:
                    write_gguf(checkpoint, spec, vocab, info, plan, intermediate, True, write_progress)
                    if progress:
                        progress("quantizing", 0, 1)
                    quantize(intermediate, tmp, quant, threads)
                    if progress:
                        progress("quantizing", 1, 1)
            publish(tmp, dest)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutputError(
                f"The disk filled up while writing {dest}; nothing was left behind. Free some space."
            ) from exc
        raise OutputError(f"Could not write {dest}: {exc.strerror or exc}.") from exc
    return ConvertResult(dest, spec, quant, vocab.can_infill, dest.stat().st_size)


def read_license(path: Path) -> str | None:
    """The `license:` line of the model card's front matter, where the checkpoint has one."""
    card = path / "README.md"
    if not card.is_file():
        return None
    lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        if line.startswith("license:"):
            return line.split(":", 1)[1].strip() or None
    return None
