"""Text written by others, made safe to show on a terminal: control characters and escape sequences removed.

What the `railyard` command prints from the service (a model name, a reason, a
job's log) was written by someone else, and a terminal acts on what it prints:
ESC sequences retitle the window, clear the screen, move the cursor over
earlier lines or plant links; C1 controls (U+0080–U+009F) do the same on
terminals that honour them; bidi overrides reorder what the reader sees.
`printable` removes each ESC sequence whole (CSI, OSC, DCS and the rest), then
every other control character: C0 (a newline and a tab survive in multi-line
text), DEL, C1, and the bidi embeddings, overrides and isolates.
`first_control` finds the first of them, for checks that refuse such text.
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(r"""
      \x1b \[ [0-?]* [ -/]* [@-~]                     # CSI: parameters, intermediates, final byte
    | \x1b [\]PX^_] [^\x07\x1b\n]* (?: \x07 | \x1b\\ )  # OSC, DCS, SOS, PM, APC: a string up to BEL or ST, on one line
    | \x1b [ -/]* [0-~]                               # any other: intermediates, final byte
""", re.VERBOSE)
_OTHERS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\t\n{_OTHERS}]")
_CONTROL_BUT_LINES = re.compile(f"[{_OTHERS}]")


def _controls(multiline: bool) -> re.Pattern:
    return _CONTROL_BUT_LINES if multiline else _CONTROL


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` without escape sequences and control characters; newlines and tabs kept when `multiline`."""
    return _controls(multiline).sub("", _SEQUENCE.sub("", text))


def first_control(text: str, *, multiline: bool = False) -> str | None:
    """The first control character `printable` would remove from `text`, or None."""
    found = _controls(multiline).search(text)
    return found[0] if found else None
