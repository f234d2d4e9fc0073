"""Make text from the server or the model safe to show on a terminal.

Such text is hostile: an escape sequence or a carriage return can rewrite what the terminal
shows (an approval prompt, say), a bidi override can reverse it, and a lone surrogate cannot
even be encoded. Every character that ``str.isprintable()`` rejects (C0 and C1 controls,
DEL, ESC, CR, format characters such as bidi overrides and zero-width joiners, line and
paragraph separators, unassigned and private code points, lone surrogates, spaces other than
the ASCII one) is shown as a Python-style escape (``\\r``, ``\\x1b``, ``\\u202e``) instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["json_line", "printable", "quoted"]

#: What multi-line text may keep: its line breaks and tabs.
_LAYOUT = "\n\t"


#: Characters with a short escape, as Python writes them.
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with every non-printable character escaped; ``lines`` keeps ``\\n`` and ``\\t``.

    Without ``lines`` the result is one line: a line break shows as ``\\n``, so nothing the
    text holds can start a line of its own.
    """
    keep = _LAYOUT if lines else ""
    # Fast path: most text needs nothing, and isprintable() runs at C speed.
    plain = text.replace("\n", "").replace("\t", "") if lines else text
    if plain.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escaped(c) for c in text)


# Terminal escape sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks) and the
# two-character ones. Quoted in an error they are noise, so they are dropped, not escaped.
_SEQUENCES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")


def quoted(text: str, limit: int | None = None) -> str:
    """Server text for an error message or a log: at most ``limit`` characters, safe to show.

    Terminal escape sequences (colours in a stderr tail) are dropped and every other
    non-printable character escaped as :func:`printable` does; line breaks and tabs stay.
    """
    text = printable(_SEQUENCES.sub("", text), lines=True)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit].rstrip()}... ({len(text) - limit} more characters)"
    return text


def _json_escaped(char: str) -> str:
    # JSON spells a character outside the BMP as its UTF-16 surrogate pair.
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )


def json_line(value: Any) -> str:
    """``value`` as one line of JSON that is also safe on a terminal.

    ``json.dumps`` escapes only C0 controls; DEL, C1 controls and format characters would
    reach the terminal raw. They can only occur inside strings, where a ``\\uXXXX`` escape
    keeps the JSON equal to the original.
    """
    line = json.dumps(value, ensure_ascii=False)
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else _json_escaped(c) for c in line)
