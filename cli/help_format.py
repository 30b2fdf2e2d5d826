"""Two corrections to how typer (0.29) draws help, applied once when the CLI starts.

A repeatable option's value shows as `<list[str]>` and a bounded one's as `<int range>`: what the user types
is one `<str>` (again for each) or one `<int>`; the help text says "repeatable" and the bounds.

A required argument is shown in the usage line as `{source}`; the convention users know is `SOURCE` (optional
ones `[PROMPT]`). The help text itself is plain (`rich_markup_mode=None` on every Typer), so that install hints
such as `codegen-assistant[torch]` show as written instead of being read as markup, and flags carry no type label.
tests/cli/test_help.py reads every command's help. Where a later typer renames the method, the usage line falls
back to typer's own drawing instead of failing.
"""

from __future__ import annotations

import re

from typer import core

_TYPE_LABEL = re.compile(r"^<list\[(.*)\]>$|^<(\w+) range>$")


def apply() -> None:
    if hasattr(core.TyperArgument, "_usage_display_name"):

        def _usage_display_name(self: core.TyperArgument) -> str:
            name = self.display_name_raw.upper()
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        core.TyperArgument._usage_display_name = _usage_display_name  # type: ignore[method-assign]

    parameter = getattr(core, "_TyperParameter", None)
    if parameter is not None and hasattr(parameter, "display_type"):
        drawn = parameter.display_type

        def display_type(self, ctx) -> str:
            label = drawn(self, ctx)
            match = _TYPE_LABEL.match(label) if isinstance(label, str) else None
            return f"<{match.group(1) or match.group(2)}>" if match else label

        parameter.display_type = display_type
