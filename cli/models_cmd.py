"""`cga models`: list, pull, import, remove, inspect and verify the local models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from .consoles import plain_console
from .errors import fail, stderr, user_errors
from .options import Threads
from .progress import phase_progress

console = plain_console(soft_wrap=True)

app = typer.Typer(
    rich_markup_mode=None,  # help text is plain: install hints such as [torch] must show as written
    name="models",
    help="The local models: what is installed, what can be pulled and what fits this machine.",
    no_args_is_help=True,
)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="models")


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


@app.command("list", help="Installed models, and with --all every catalog model with the memory it needs.")
@user_errors
def list_command(
    all_models: Annotated[
        bool, typer.Option("--all", "-a", help="Also list the catalog models not installed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")] = False,
) -> None:
    import dataclasses
    import json

    from cga.assistant.machine import available_memory
    from cga.assistant.model_choice import EMBEDDED_NAME
    from cga.models import catalog, store

    models = store.installed()
    if as_json:
        print(
            json.dumps(
                {
                    "models_dir": str(store.models_dir()),
                    "installed": [
                        {
                            "name": m.name,
                            "path": str(m.path),
                            "size": m.size,
                            "family": m.info.family,
                            "record": dataclasses.asdict(m.record) if m.record else None,
                        }
                        for m in models
                    ],
                    "catalog": [
                        {**dataclasses.asdict(e), "memory_gb": {q: e.memory_gb(q) for q in ("q4_k_m", "q8_0", "f16")}}
                        for e in catalog.CATALOG
                    ]
                    if all_models
                    else [],
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"Installed in {store.models_dir()}", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("family", "type", "size"):
        table.add_column(column, no_wrap=True)
    table.add_column("source", overflow="fold")
    table.add_column("checked")
    for m in models:
        record = m.record
        table.add_row(
            m.name,
            m.info.family,
            record.quant if record else "-",
            _gib(m.size),
            record.source if record else "(added by hand)",
            record.verified if record else "-",
        )
    if models:
        console.print(table)
    else:
        console.print(f"No models installed in {store.models_dir()}; `cga models pull codegen-350M-mono` gets one.")
    console.print(
        f"Embedded: {EMBEDDED_NAME} (SmolLM2-135M-Instruct, not a CodeGen model), always there; "
        f"--model {EMBEDDED_NAME} picks it.",
        style="dim",
    )
    if not all_models:
        return
    free = available_memory() / 2**30
    bases = {m.base for m in models}
    # No vertical rules and no installed column (a mark on the name instead): the languages fit at 80 columns.
    available = Table(
        title=f"Catalog: GB of memory needed per type; {free:.1f} GiB available now; ✓ installed",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    available.add_column("name", no_wrap=True)
    available.add_column("size", no_wrap=True)
    available.add_column("languages", overflow="fold", min_width=12)
    for column in ("infill", "q4_k_m", "q8_0", "f16", "fits"):
        available.add_column(column, no_wrap=True)
    for entry in catalog.CATALOG:
        fits = [q for q in ("f16", "q8_0", "q4_k_m") if entry.memory_gb(q) <= free]
        available.add_row(
            entry.name + (" ✓" if entry.name in bases else ""),
            f"{entry.params_b:g}B",
            entry.languages,
            "yes" if entry.infill else "no",
            *(f"{entry.memory_gb(q):.1f}" for q in ("q4_k_m", "q8_0", "f16")),
            fits[0] if fits else "no",
        )
    console.print(available)


@app.command(
    "pull",
    help="""Download a CodeGen checkpoint, convert and verify it, and install it.

NAME is a catalog name (`cga models list --all`) or a hub id such as
Salesforce/codegen-350M-mono for fine-tunes, optionally with :QUANT
(q8_0, q4_k_m, f16, …). Without it, a catalog model gets the most faithful
type fast enough on this machine (measured in a few seconds, as `cga doctor`
shows) and a fine-tune q4_k_m. An interrupted pull resumes where it stopped.
HF_ENDPOINT points at another hub; HF_HUB_OFFLINE=1 refuses at once.

Examples:

  cga models pull codegen-350M-mono

  cga models pull codegen2-1B:q8_0
""",
)
@user_errors
def pull_command(
    name: Annotated[str, typer.Argument(help="NAME[:QUANT]", show_default=False)],
    revision: Annotated[str | None, typer.Option(help="Branch, tag or commit (default: main).")] = None,
    keep_download: Annotated[bool, typer.Option(help="Keep the downloaded checkpoint after converting.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Pull again even if installed.")] = False,
    threads: Threads = None,
) -> None:
    from cga.models.install import pull

    def choose_type(entry) -> tuple[str, str]:
        from cga.assistant.machine import inspect, pull_type
        from cga.assistant.speed_probe import probe

        with stderr.status("Measuring this machine's speed to choose the type…"):
            return pull_type(entry, inspect(), probe(threads))

    with phase_progress() as progress:
        model = pull(
            name,
            revision=revision,
            threads=threads,
            keep_download=keep_download,
            force=force,
            progress=progress,
            say=lambda text: stderr.print(text),
            choose_type=choose_type,
        )
    console.print(f"Installed {model.name} ({_gib(model.size)}): cga chat --model {model.base}")


@app.command(
    "import",
    help="""Add a GGUF file (copied) or a checkpoint folder (converted) to the store.

Examples:

  cga models import ~/Downloads/my-codegen.q4_k_m.gguf

  cga models import ./my-finetune --quant q8_0 --name my-finetune.q8_0
""",
)
@user_errors
def import_command(
    path: Annotated[Path, typer.Argument(help="A .gguf file or a checkpoint folder.", show_default=False)],
    name: Annotated[str | None, typer.Option(help="Name in the store (default: from the file or folder).")] = None,
    quant: Annotated[str, typer.Option("--quant", "-q", help="Type for a checkpoint folder.")] = "q4_k_m",
    force: Annotated[bool, typer.Option("--force", help="Replace a model of the same name.")] = False,
    threads: Threads = None,
) -> None:
    from cga.models.install import import_model

    with phase_progress() as progress:
        model = import_model(
            path,
            name=name,
            quant=quant,
            threads=threads,
            force=force,
            progress=progress,
            say=lambda text: stderr.print(text),
        )
    console.print(f"Installed {model.name} ({_gib(model.size)}).")


@app.command("rm", help="Remove an installed model (its file and its manifest record).")
@user_errors
def rm_command(
    name: Annotated[str, typer.Argument(help="An installed model's name.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    from cga.models import store
    from cga.models.install import remove

    found = store.find(name)
    if found is not None and not yes:
        if not sys.stdin.isatty():
            fail(f"Removing {found.name} ({_gib(found.size)}) needs confirmation; pass --yes.")
        typer.confirm(f"Remove {found.name} ({_gib(found.size)})?", abort=True)
    path = remove(name)
    console.print(f"Removed {path}.")


@app.command("info", help="Everything known about a model: catalog entry, installed files, provenance.")
@user_errors
def info_command(name: Annotated[str, typer.Argument(help="A catalog or installed name.", show_default=False)]) -> None:
    from cga.models import catalog, store

    entry = catalog.lookup(name.split(":", 1)[0])
    found = [m for m in store.installed() if m.name == name or m.base == name or m.name == name.replace(":", ".")]
    if entry is None and not found:
        close = store.closest_names(name) or catalog.closest(name)
        fail(
            f"'{name}' is neither installed nor in the catalog."
            + (f" Did you mean {' or '.join(close)}?" if close else "")
        )
    if entry is not None:
        console.print(Text.assemble((entry.name, "bold"), f"  {entry.hub_id}"))
        console.print(f"  family {entry.family}, {entry.params_b:g}B parameters, languages: {entry.languages}")
        console.print(
            f"  infill {'yes' if entry.infill else 'no'}, qkv blocks {entry.mp_num or '-'}, license {entry.license}"
        )
        console.print(
            "  memory: " + ", ".join(f"{q} {entry.memory_gb(q):.1f} GB" for q in ("q4_k_m", "q5_k_m", "q8_0", "f16"))
        )
    for m in found:
        console.print(Text.assemble((m.name, "bold"), f"  {m.path} ({_gib(m.size)})"))
        console.print(
            f"  {m.info.arch} / {m.info.family}, context {m.info.context_length}, "
            f"infill {'yes' if m.info.can_infill else 'no'}"
        )
        if m.record:
            r = m.record
            console.print(
                f"  source {r.source} @ {r.revision or '-'}; {r.quant}; checked by {r.verified}; "
                f"installed {r.installed}"
            )
            console.print(f"  sha256 {r.sha256}")
    if entry is not None and not found:
        console.print(f"Not installed: cga models pull {entry.name}")


@app.command("verify", help="Hash an installed model again and compare it with its manifest record.")
@user_errors
def verify_command(name: Annotated[str, typer.Argument(help="An installed model's name.", show_default=False)]) -> None:
    from cga.models import manifest, store

    found = store.find(name)
    if found is None:
        fail(f"No model named '{name}' is installed; see `cga models list`.")
    with console.status(f"Hashing {found.path.name}…"):
        record = manifest.check(store.models_dir(), found.name, found.path, full=True)
    if record is None:
        fail(f"{found.name} has no manifest record (added by hand); `cga models import` it to record one.")
    console.print(f"{found.name}: sha256 matches ({record.sha256[:16]}…).")
