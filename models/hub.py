"""Downloading a checkpoint from the Hugging Face hub (or any endpoint that speaks its API).

huggingface-hub does most of the work: listing, metadata, authentication,
retries, and the final check of every file. What is ours: choosing the files
a conversion needs, checking the disk before the first byte, one clear
sentence for every way the hub can be out of reach, and fetching the weight
files resumably across runs. huggingface-hub 2.x resumes a dropped connection
within one run but deletes a partly written file when the run ends, so an
interrupted multi-GB `.bin` would start over; we keep it under `.cga-partial/`
and continue with a Range request. huggingface-hub then accepts the finished
file because its sha256 matches the hub's LFS ETag. `HF_ENDPOINT` points it
at another server.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import HubUnreachable, StoreError

METADATA = [
    "config.json",
    "*.md",
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
]
SAFETENSORS = ["model.safetensors", "model-*.safetensors", "model.safetensors.index.json"]
PYTORCH = ["pytorch_model.bin", "pytorch_model-*.bin", "pytorch_model.bin.index.json"]
ATTEMPTS = 6  # per weight file and run; each continues where the last one stopped
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Plan:
    hub_id: str
    revision: str  # the commit the files come from
    files: dict[str, int]  # name -> size
    to_download: int  # bytes not yet on disk


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _patterns(names: list[str]) -> list[str]:
    """Metadata plus one copy of the weights: safetensors where the repo has them, else PyTorch .bin."""
    has_safetensors = any(fnmatch.fnmatch(n, p) for n in names for p in SAFETENSORS[:2])
    return METADATA + (SAFETENSORS if has_safetensors else PYTORCH)


def _call(what: str, hub_id: str, action):
    """Run a huggingface-hub call, turning its many failures into one sentence each."""
    import httpx2  # huggingface-hub's HTTP client
    from huggingface_hub.errors import (
        DryRunError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if _offline():
        raise HubUnreachable(
            f"HF_HUB_OFFLINE is set, so {hub_id} cannot be {what}. Unset it when you are online, or bring the "
            "checkpoint yourself and `cga models import FOLDER`."
        )
    try:
        return action()
    except RepositoryNotFoundError as exc:
        raise StoreError(f"{hub_id} does not exist on {endpoint()} (or needs a login: `hf auth login`).") from exc
    except RevisionNotFoundError as exc:
        raise StoreError(f"{hub_id} has no such revision on {endpoint()}.") from exc
    except (OfflineModeIsEnabled, LocalEntryNotFoundError, DryRunError) as exc:
        raise HubUnreachable(
            f"Cannot reach {endpoint()} to get {hub_id}: {_reason(exc)}. Check your network (or HF_ENDPOINT), "
            "then run the same command again; what was downloaded is kept."
        ) from exc
    except HfHubHTTPError as exc:
        raise HubUnreachable(
            f"{endpoint()} answered {hub_id} with an error ({_reason(exc)}); try again later."
        ) from exc
    except (httpx2.ConnectError, httpx2.TimeoutException, ConnectionError) as exc:
        raise HubUnreachable(
            f"Cannot reach {endpoint()} to get {hub_id} ({_reason(exc)}). Check your network (or HF_ENDPOINT), "
            "then run the same command again; what was downloaded is kept."
        ) from exc
    except (OSError, httpx2.HTTPError) as exc:  # dropped connections, a disk that filled up anyway
        raise HubUnreachable(
            f"Downloading {hub_id} from {endpoint()} failed ({_reason(exc)}). Run the same command again to resume."
        ) from exc


def _reason(exc: BaseException) -> str:
    while exc.__cause__ is not None and not str(exc):
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def plan(hub_id: str, revision: str | None, folder: Path) -> Plan:
    """Which files a conversion needs, their sizes, and how much is still to download into folder."""
    from huggingface_hub import HfApi, snapshot_download

    def ask() -> Plan:
        info = HfApi().model_info(hub_id, revision=revision, timeout=30)
        names = [s.rfilename for s in info.siblings or []]
        patterns = _patterns(names)
        commit = info.sha or revision or "main"  # the hub names the commit; a stand-in may not
        dry = snapshot_download(hub_id, revision=commit, local_dir=folder, allow_patterns=patterns, dry_run=True)
        sizes = {d.filename: d.file_size or 0 for d in dry}
        return Plan(hub_id, commit, sizes, sum(sizes[d.filename] for d in dry if d.will_download))

    found = _call("looked up", hub_id, ask)
    if not any(name.endswith((".safetensors", ".bin")) for name in found.files):
        raise StoreError(f"{hub_id} has no model.safetensors or pytorch_model.bin weights to convert.")
    return found


def check_space(folder: Path, needed: int, what: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise StoreError(
            f"{what} needs {needed / 2**30:.2f} GiB but {folder} has {free / 2**30:.2f} GiB free; "
            "free some space (or set CGA_HOME to a bigger disk) and try again."
        )


def download(found: Plan, folder: Path, progress: Progress | None = None) -> Path:
    """Fetch the planned files into folder (resuming what an earlier attempt left) and return it."""
    from huggingface_hub import snapshot_download

    failure: Exception | None = None
    for name, size in sorted(found.files.items()):
        if name.endswith((".safetensors", ".bin")) and not (folder / name).exists():
            try:  # a file that fails does not stop the others: the next run has less to do
                _call(
                    "downloaded", found.hub_id, lambda name=name, size=size: _fetch(found, folder, name, size, progress)
                )
            except HubUnreachable as exc:
                failure = failure or exc
    if failure is not None:
        raise failure
    patterns = list(found.files)
    _call(
        "downloaded",
        found.hub_id,
        lambda: snapshot_download(
            found.hub_id,
            revision=found.revision,
            local_dir=folder,
            allow_patterns=patterns,
            max_workers=min(4, os.cpu_count() or 1),
        ),
    )
    return folder


def _fetch(found: Plan, folder: Path, name: str, size: int, progress: Progress | None) -> None:
    """One file, appended to `.cga-partial/` as it arrives, continued with Range requests, moved in when whole."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    meta = get_hf_file_metadata(hf_hub_url(found.hub_id, name, revision=found.revision))
    partial = folder / ".cga-partial" / f"{meta.etag}-{name.replace('/', '_')}"
    partial.parent.mkdir(parents=True, exist_ok=True)
    error: Exception | None = None
    for _ in range(ATTEMPTS):
        done = partial.stat().st_size if partial.exists() else 0
        if done >= size:
            break
        headers = build_hf_headers()
        if done:
            headers["Range"] = f"bytes={done}-"
        try:
            with get_session().stream(
                "GET", meta.location, headers=headers, follow_redirects=True, timeout=30
            ) as response:
                response.raise_for_status()
                mode = "ab" if response.status_code == 206 else "wb"  # a 200 ignored the range: start over
                done = done if mode == "ab" else 0
                with open(partial, mode) as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(Path(name).name[:11], done, size)
        except (httpx2.TransportError, httpx2.RemoteProtocolError) as exc:
            error = exc  # try again from where it stopped
    if not partial.exists() or partial.stat().st_size != size:
        raise error or OSError(f"{name} arrived with the wrong size")
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, folder / name)
