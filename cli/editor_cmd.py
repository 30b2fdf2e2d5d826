"""`cga editor`: put an editor client where the editor finds it, in one command, and check that it does.

The clients ship inside the package (lsp/editors/): the Neovim plugin goes into Neovim's own package folder
(`pack/cga/start/cga` under its data folder), cga.el into a folder of the Emacs user directory, a built VS Code
extension through `code --install-extension`. Each is a copy, replaced whole (a half-copied plugin would fail
to load), and `--check` asks the editor itself whether it finds the client; the few lines a user still pastes
into their configuration are printed, never written into it.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cga.core.errors import CgaError

from .consoles import plain_console
from .errors import user_errors

console = plain_console(soft_wrap=True)
EDITORS_DIR = Path(__file__).resolve().parent.parent / "lsp" / "editors"
ASK_TIMEOUT_S = 60  # an editor asked a question headless; a user config that waits for input must not hang us

HELP = """Install an editor client for `cga lsp` where the editor finds it, and say what to add to its config.

neovim: the plugin into Neovim's package folder (pack/cga/start/cga under stdpath("data")), then one line for
init.lua. emacs: cga.el into a folder of your Emacs directory, then the lines for your init file (eglot).
vscode: the extension (a .vsix) through `code --install-extension`. --check asks the editor whether it finds
the client, and says what is missing.

Examples:

  cga editor neovim

  cga editor neovim --check

  cga editor emacs

  cga editor vscode --vsix cga-vscode.vsix
"""


class EditorName(str, Enum):
    neovim = "neovim"
    emacs = "emacs"
    vscode = "vscode"


class EditorError(CgaError):
    """An editor client that cannot be installed or found; one sentence that says what to do."""


def register(app: typer.Typer) -> None:
    app.command("editor", help=HELP)(editor_command)


@user_errors
def editor_command(
    editor: Annotated[EditorName, typer.Argument(help="neovim, emacs or vscode.", show_default=False)],
    check: Annotated[bool, typer.Option("--check", help="Only check that the editor finds the client.")] = False,
    dest: Annotated[
        Path | None,
        typer.Option(help="Install into this folder instead (neovim: a pack/*/start folder's child; emacs: any)."),
    ] = None,
    vsix: Annotated[
        Path | None, typer.Option(help="vscode: the extension file to install (default: the one shipped).")
    ] = None,
) -> None:
    if editor is EditorName.vscode:
        install_vscode(vsix, check)
        return
    client = CLIENTS[editor]
    target = dest or client.default_dir()
    again = f"cga editor {editor.value}"
    if check:
        report(client.check(target), again)
        return
    replace_tree(EDITORS_DIR / client.folder, target, client.files)
    console.print(f"Installed {client.what} in {target}.")
    console.print(f"Add {client.where}:\n\n{client.config(target)}\n")
    console.print(f"Then `{again} --check` says whether the editor finds it all.")


@dataclass(frozen=True)
class FileClient:
    """An editor client that is a folder of files copied where the editor looks."""

    what: str
    folder: str  # in lsp/editors
    files: tuple[str, ...]  # what of that folder is the client (the rest is its lint setup)
    where: str  # what the user pastes the config lines into
    default_dir: Callable[[], Path]
    config: Callable[[Path], str]
    check: Callable[[Path], list[str]]


def report(problems: list[str], again: str) -> None:
    if problems:
        for problem in problems:
            console.print(f"Not yet: {problem}", style="yellow")
        console.print(f"Fix the above and run `{again} --check` again.")
        raise typer.Exit(1)
    console.print("The editor finds the client.", style="green")


def replace_tree(source: Path, target: Path, names: tuple[str, ...]) -> None:
    """source's names copied into target, replacing what was there whole: a copy that fails part way leaves
    the earlier install (or none), never half of each."""
    missing = [name for name in names if not (source / name).exists()]
    if missing:
        raise EditorError(f"This install of cga lacks {source / missing[0]}; reinstall codegen-assistant.")
    partial = target.with_name(target.name + ".partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in names:
            if (source / name).is_dir():
                shutil.copytree(source / name, partial / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source / name, partial / name)
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        partial.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise EditorError(
            f"Could not install into {target}: {exc.strerror or exc}; choose another with --dest."
        ) from exc


def out_of_date(source: Path, target: Path, names: tuple[str, ...]) -> str | None:
    """The first shipped file the installed copy lacks or differs in (an upgrade of cga since), or None."""
    shipped_files = [source / name for name in names if (source / name).is_file()]
    shipped_files += [p for name in names for p in (source / name).rglob("*") if p.is_file()]
    for shipped in sorted(p for p in shipped_files if "__pycache__" not in p.parts):
        installed = target / shipped.relative_to(source)
        if not installed.is_file() or not filecmp.cmp(shipped, installed, shallow=False):
            return str(shipped.relative_to(source))
    return None


def ask(command: list[str]) -> str | None:
    """What a headless editor printed on its standard output (its own messages go to the other), or None where
    it is not installed or failed."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=ASK_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


# -- Neovim -------------------------------------------------------------------------------------------------


def neovim_plugin_dir() -> Path:
    """Neovim's own answer for stdpath("data") (NVIM_APPNAME and XDG respected), else its documented default."""
    nvim = shutil.which("nvim")
    if nvim:
        said = ask([nvim, "--headless", "--clean", "-c", "lua io.stdout:write(vim.fn.stdpath('data'))", "-c", "qa!"])
        if said and said.strip():
            return Path(said.strip().splitlines()[-1]) / "site" / "pack" / "cga" / "start" / "cga"
    app = os.environ.get("NVIM_APPNAME") or "nvim"
    if sys.platform == "win32":
        data = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / f"{app}-data"
    else:
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / app
    return data / "site" / "pack" / "cga" / "start" / "cga"


# Run inside the user's Neovim (their init.lua and plugins loaded): what it finds of ours.
_NEOVIM_PROBE = """
local found = vim.api.nvim_get_runtime_file("lua/cga/init.lua", false)[1] or ""
local ok = pcall(require, "cga")
local help = pcall(vim.cmd, "help cga")
io.stdout:write(string.format("cga-probe|%s|%s|%s|%s\\n", tostring(ok), found,
  tostring(vim.fn.exists(":CgaRefine") == 2), tostring(help)))
"""


def check_neovim(target: Path) -> list[str]:
    nvim = shutil.which("nvim")
    if nvim is None:
        return ["Neovim (nvim) is not on PATH; install Neovim 0.7 or later."]
    said = ask([nvim, "--headless", "-i", "NONE", "-c", "lua " + _NEOVIM_PROBE.replace("\n", " "), "-c", "qa!"])
    line = next((x for x in (said or "").splitlines() if x.startswith("cga-probe|")), None)
    if line is None:
        return ["Neovim did not start headless with your configuration; run `nvim` and read its messages."]
    _, loads, found, set_up, help_works = line.split("|")
    problems = []
    if loads != "true":
        problems.append(f"Neovim does not find the plugin; run `cga editor neovim` (it installs into {target}).")
    elif stale := out_of_date(EDITORS_DIR / "nvim", Path(found).parent.parent.parent, CLIENTS[EditorName.neovim].files):
        problems.append(f"the plugin Neovim loads ({found}) is older than this cga ({stale}); run cga editor neovim.")
    if loads == "true" and set_up != "true":
        problems.append('your init.lua does not call require("cga").setup(); add that line.')
    if loads == "true" and help_works != "true":
        problems.append(":help cga is not found; run cga editor neovim again.")
    return problems


# -- Emacs --------------------------------------------------------------------------------------------------


def emacs_lisp_dir() -> Path:
    """A folder named cga in Emacs's user directory (Emacs's own answer: ~/.emacs.d or ~/.config/emacs)."""
    emacs = shutil.which("emacs")
    if emacs:
        said = ask([emacs, "--batch", "--eval", "(princ (expand-file-name user-emacs-directory))"])
        if said and said.strip():
            return Path(said.strip().splitlines()[-1]) / "cga"
    return Path.home() / ".emacs.d" / "cga"


def emacs_config(target: Path) -> str:
    folder = str(target).replace("\\", "/").replace('"', '\\"')
    return (
        f'  (add-to-list \'load-path "{folder}")\n'
        "  (require 'cga)\n"
        "  (cga-rest-mode 1)\n"
        "  (with-eval-after-load 'eglot\n"
        "    (add-to-list 'eglot-server-programs\n"
        '                 \'(python-mode . ("cga" "lsp" :initializationOptions (:refineInBackground t)))))'
    )


def check_emacs(target: Path) -> list[str]:
    emacs = shutil.which("emacs")
    if emacs is None:
        return ["Emacs is not on PATH; install Emacs 27.1 or later (eglot comes with Emacs 29)."]
    probe = (
        "(progn (setq debug-on-error nil) "
        '(princ (format "cga-probe|%s|%s|%s\\n" '
        "(condition-case nil (progn (require 'eglot) t) (error nil)) "
        "(condition-case nil (progn (require 'cga) t) (error nil)) "
        '(or (locate-library "cga") ""))))'
    )
    said = ask([emacs, "--batch", "-l", str(_emacs_init()), "--eval", probe]) if _emacs_init() else None
    said = said or ask([emacs, "--batch", "--eval", probe])
    line = next((x for x in (said or "").splitlines() if x.startswith("cga-probe|")), None)
    if line is None:
        return ["Emacs did not start in batch mode; run `emacs` and read its messages."]
    _, eglot, loads, found = line.split("|")
    problems = []
    if eglot != "t":
        problems.append("Emacs has no eglot; Emacs 29 ships it, or install it from GNU ELPA (M-x package-install).")
    if loads != "t":
        problems.append(f"Emacs does not find cga.el; add the load-path line for {target} to your init file.")
    elif stale := out_of_date(EDITORS_DIR / "emacs", Path(found).parent, CLIENTS[EditorName.emacs].files):
        problems.append(f"the cga.el Emacs loads ({found}) is older than this cga ({stale}); run cga editor emacs.")
    return problems


def _emacs_init() -> Path | None:
    """The user's init file, which --batch does not read by itself."""
    for candidate in (
        Path.home() / ".emacs",
        Path.home() / ".emacs.el",
        Path.home() / ".emacs.d" / "init.el",
        Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "emacs" / "init.el",
    ):
        if candidate.is_file():
            return candidate
    return None


CLIENTS = {
    EditorName.neovim: FileClient(
        "the Neovim plugin",
        "nvim",
        ("lua", "doc"),
        "this line to your init.lua (`:help cga-setup` lists the options)",
        neovim_plugin_dir,
        lambda target: '  require("cga").setup()',
        check_neovim,
    ),
    EditorName.emacs: FileClient(
        "cga.el",
        "emacs",
        ("cga.el",),
        "these lines to your Emacs init file",
        emacs_lisp_dir,
        emacs_config,
        check_emacs,
    ),
}


# -- VS Code ------------------------------------------------------------------------------------------------


def shipped_vsix() -> Path | None:
    found = sorted((EDITORS_DIR / "vscode").glob("*.vsix"))
    return found[-1] if found else None


def install_vscode(vsix: Path | None, check: bool) -> None:
    code = shutil.which("code") or shutil.which("code-server") or shutil.which("codium")
    if code is None:
        raise EditorError("VS Code's `code` command is not on PATH; in VS Code run 'Shell Command: Install code'.")
    if check:
        listed = ask([code, "--list-extensions"]) or ""
        if "codegen-assistant.cga-vscode" not in listed.lower():
            report(["VS Code does not have the cga extension; run cga editor vscode."], "cga editor vscode")
        report([], "cga editor vscode")
        return
    chosen = vsix or shipped_vsix()
    if chosen is None:
        raise EditorError(
            "This install of cga carries no built VS Code extension; install a release of codegen-assistant, or "
            "build one in lsp/editors/vscode (npm ci && npm run package) and give it with --vsix."
        )
    if not chosen.is_file():
        raise EditorError(f"{chosen} is not a file; give the .vsix that `npm run package` wrote.")
    done = subprocess.run([code, "--install-extension", str(chosen), "--force"], capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise EditorError(f"VS Code did not install {chosen.name}: {said[-1] if said else 'no reason given'}.")
    console.print(f"Installed {chosen.name} in VS Code; its settings are under 'CodeGen Assistant' (cga.*).")
