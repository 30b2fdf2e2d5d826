"""One correction to how typer (0.29) draws help, applied once when the CLI starts.

A required argument is shown in the usage line as `{source}`; the convention users know is `SOURCE` (optional
ones `[PROMPT]`). The help text itself is plain (`rich_markup_mode=None` on every Typer), so that install hints
such as `codegen-assistant[torch]` show as written instead of being read as markup, and flags carry no type label.
tests/cli/test_help.py reads every command's help. Where a later typer renames the method, the usage line falls
back to typer's own drawing instead of failing.
"""

from __future__ import annotations

from typer import core


def apply() -> None:
    if hasattr(core.TyperArgument, "_usage_display_name"):
        def _usage_display_name(self: core.TyperArgument) -> str:
            name = self.display_name_raw.upper()
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        core.TyperArgument._usage_display_name = _usage_display_name
