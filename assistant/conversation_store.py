"""Saving and loading conversations as JSON under the user directory.

Saves are atomic (temporary file, fsync, rename), so a full disk or a crash
mid-save leaves the previous file as it was.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from cga.core.atomic_files import write_atomically
from cga.core.errors import CgaError, UserDirError
from cga.core.paths import created, user_dir

from .conversation import Conversation

_NAME = re.compile(r"^[\w.-]+$")
MAX_NAME_BYTES = 100  # with ".json" and a temporary's prefix and suffix, well inside any file system's 255


class ConversationError(CgaError):
    """A conversation cannot be saved or loaded."""


class NoConversation(ConversationError):
    """Nothing is saved under that name."""


class DamagedConversation(ConversationError):
    """The saved file is there but not a conversation (cut short, edited by hand, from elsewhere)."""


def conversations_dir() -> Path:
    return user_dir() / "conversations"


INTERNAL_PREFIX = "lsp-"  # the language server's refinements, one per document: not the user's to list


def names() -> list[str]:
    """The user's saved conversations, by name."""
    return sorted(p.stem for p in conversations_dir().glob("*.json") if not p.stem.startswith(INTERNAL_PREFIX))


def path_for(name: str) -> Path:
    if not _NAME.match(name) or name.startswith(".") or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ConversationError(
            f"'{name[:MAX_NAME_BYTES]}' is not a usable name; use letters, digits, '.', '-' "
            f"or '_', at most {MAX_NAME_BYTES} bytes in UTF-8 ({MAX_NAME_BYTES} ASCII characters)."
        )
    return conversations_dir() / f"{name}.json"


def save(conversation: Conversation, name: str) -> Path:
    dest = path_for(name)
    try:
        created(dest.parent)
    except UserDirError as exc:
        raise ConversationError(f"Could not save the conversation: {exc}") from exc
    data = json.dumps(conversation.to_dict(), indent=2, ensure_ascii=False).encode("utf-8")
    try:
        write_atomically(dest, data, private=True)  # it holds the user's code
    except OSError as exc:
        raise ConversationError(
            f"Could not save the conversation to {dest} ({exc.strerror or exc}); the previous save is intact."
        ) from exc
    return dest


def load(name: str, check: Callable[[Conversation], None] | None = None) -> Conversation:
    """The conversation saved under name; check(conversation) may raise ValueError for what its owner needs
    beyond the schema. A damaged file is moved aside, so that it is reported once and never hides a new save."""
    path = path_for(name)
    if not path.is_file():
        saved = ", ".join(names()) or "none yet"
        raise NoConversation(f"No saved conversation named '{name}' (saved: {saved}).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConversationError(f"{path} cannot be read ({exc.strerror or exc}); check its permissions.") from None
    try:
        conversation = Conversation.from_dict(json.loads(data.decode("utf-8")))
        if check is not None:
            check(conversation)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise DamagedConversation(f"{path} is damaged ({why}); {_set_aside(path)}") from None
    return conversation


def _set_aside(path: Path) -> str:
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        path.rename(aside)
    except OSError as exc:
        return f"it could not be moved aside ({exc.strerror or exc}); remove it."
    return f"it was kept aside as {aside.name}."


def remove(name: str) -> None:
    """Forget the conversation saved under name, if there is one."""
    path_for(name).unlink(missing_ok=True)


def keep_aside(name: str) -> str | None:
    """Move the conversation saved under name to a name of its own with the time (`last-20261202-1905`), so a
    new conversation under name does not overwrite it; that name, or None if nothing was saved under name."""
    path = path_for(name)
    if not path.is_file():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
    base = f"{name[: MAX_NAME_BYTES - len(stamp) - 5]}-{stamp}"
    for n in range(1, 100):
        kept = base if n == 1 else f"{base}-{n}"
        if not path_for(kept).exists():
            try:
                path.rename(path_for(kept))
            except OSError as exc:
                raise ConversationError(
                    f"Could not keep the earlier conversation '{name}' aside "
                    f"({exc.strerror or exc}); it was not overwritten."
                ) from exc
            return kept
    raise ConversationError(f"Too many earlier conversations named after '{name}'; remove some from {path.parent}.")
