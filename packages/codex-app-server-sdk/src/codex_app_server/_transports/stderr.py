"""The bounded tail of what a server wrote to stderr, shown when it fails.

Every transport keeps one: a failure's message quotes it (safe for a terminal) instead of
the whole stream, without the lines that never say why a server stopped.
"""

from __future__ import annotations

import re
import threading
from collections import deque

from .._escape import quoted

__all__ = ["StderrTail"]

# Lines the server writes on every start or failure that never say why it stopped: a release
# build's backtrace has no symbols, and the PATH-alias and bubblewrap notices concern features
# the SDK does not use. Quoted before the real cause, they hid it.
_NOISE = re.compile(
    r"\s*(?:Stack backtrace:|\d+: <unknown>)\s*"
    r"|.*WARNING: proceeding, even though we could not create PATH aliases.*"
    r"|.*Codex could not find bubblewrap on PATH.*"
)
#: A log line's timestamp, ignored when telling whether lines repeat.
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+")


class StderrTail:
    """The last lines the server wrote to stderr, bounded in lines and characters.

    :meth:`text` gives them safe for a terminal (colour codes and control characters removed,
    see :func:`~codex_app_server._escape.quoted`) and without the known noise lines.
    """

    def __init__(self, max_lines: int = 200, max_chars: int = 16_000) -> None:
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._partial = ""
        self._max_chars = max_chars
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        """Add bytes read from stderr."""
        text = self._partial + chunk.decode("utf-8", "replace")
        *lines, self._partial = text.split("\n")
        with self._lock:
            self._lines.extend(line[: self._max_chars] for line in lines)
        if len(self._partial) > self._max_chars:
            self._partial = self._partial[-self._max_chars :]

    def text(self) -> str:
        """The tail as one string without noise, at most ``max_chars`` long."""
        with self._lock:
            raw = [*self._lines, self._partial]
        lines = [quoted(line.rstrip()) for line in raw]
        kept: list[str] = []
        last, repeats = None, 0
        # A warning logged once per request (an unknown model) would fill the tail: say it once.
        for line in [*(line for line in lines if not _NOISE.fullmatch(line)), None]:
            key = None if line is None else _TIMESTAMP.sub("", line)
            if key is not None and key == last:
                repeats += 1
                continue
            if repeats:
                kept[-1] += f" [{repeats + 1} times]"
            if line is not None:
                kept.append(line)
            last, repeats = key, 0
        # Blank lines that only separated the dropped ones would be all that is left of them.
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
        return text[-self._max_chars :]
