"""Text from a program or a model, made safe to show at the user's terminal.

A program run by /run (or a model's answer) that prints `ESC ] 52 ; c ; …`
writes the user's clipboard, `ESC ] 0 ; …` sets the window title, and other
sequences move the cursor, clear the screen or query the terminal (issue 20).
Only plain text and SGR colour sequences (`ESC [ … m`) reach the terminal;
every other escape or control sequence is dropped, and any other control
character shown as `^X`.
"""

from __future__ import annotations

import re

# In order: SGR colours (kept); OSC, DCS, SOS, PM and APC strings up to their terminator (BEL or ST, or the end
# of the text); CSI sequences; two-character escapes; the 8-bit forms of the same (C1 controls); any other control.
_PIECES = re.compile(
    r"(?P<sgr>(?:\x1b\[|\x9b)[0-9;:]*m)"
    r"|(?P<string>(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c|$))"
    r"|(?P<csi>(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?)"
    r"|(?P<escape>\x1b[ -/]*[0-~]?)"
    r"|(?P<control>[\x00-\x08\x0b-\x1f\x7f-\x9f])"
)


def _shown(match: re.Match[str], colours: bool) -> str:
    if match.group("sgr"):
        return "\x1b[" + match.group("sgr").lstrip("\x1b[\x9b") if colours else ""
    control = match.group("control")
    if control and ord(control) < 0x80:
        return "^" + chr((ord(control) + 64) % 128)  # visible, as `cat -v` shows it
    return ""


def printable(text: str, *, colours: bool = True) -> str:
    """text with no sequence that acts on the terminal, its colours kept if colours; tabs and line breaks stay."""
    return _PIECES.sub(lambda match: _shown(match, colours), text.replace("\r\n", "\n"))
