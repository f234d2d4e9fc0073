"""The files a turn's file changes write, as one connection sees them go by.

A file-change approval request (``item/fileChange/requestApproval``) does not carry its files:
they are on the ``fileChange`` item announced before it (``item/started``) and in the item's
``item/fileChange/patchUpdated`` updates. One :class:`FileChanges` per connection (held by its
handler table) takes those notifications in on the reader, in arrival order and before any
subscriber sees them; approval rules read it when they decide a request. What it has not seen
is not known, and rules that need the paths then decline.

It also remembers which items the rules let through: an update that names a path beyond an
accepted item marks its turn, and the turn's next approval request is cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._protocol import Notification

__all__ = ["FileChanges", "paths_of", "server_path"]

logger = logging.getLogger("codex_app_server")

# A line without it is no file-change item: not parsed.
_FILE_CHANGE = b'"fileChange"'


def paths_of(changes: Iterable[tuple[Any, Any]]) -> list[Path] | None:
    """The paths written by ``(path, kind)`` pairs; ``None`` if any is not understood."""
    paths: list[Path] = []
    for path, kind in changes:
        kind_type = kind.get("type") if isinstance(kind, dict) else getattr(kind, "type", None)
        if kind_type not in ("add", "delete", "update"):
            return None  # a newer kind may write somewhere this SDK cannot see
        if isinstance(kind, dict):
            if not set(kind) <= {"type", "move_path"}:
                return None  # a field this SDK does not know may name another destination
            move = kind.get("move_path")
        else:
            move = getattr(kind, "move_path", None)
        for written in (path, move) if move else (path,):
            resolved = server_path(written)
            if resolved is None:
                return None
            paths.append(resolved)
    return paths


def server_path(path: Any) -> Path | None:
    """A path the server named, resolved; ``None`` unless it is an absolute path string."""
    if not isinstance(path, str) or not PurePath(path).is_absolute():
        return None
    return Path(path).resolve()


def _reported(changes: Any) -> list[Path] | None:
    """The paths of a wire ``changes`` list; ``None`` when any of them cannot be read."""
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        return None
    return paths_of((c.get("path"), c.get("kind") or {}) for c in changes)


@dataclass
class _Turn:
    """One turn's file-change items: every path each reported (``None``: one it cannot read),
    the paths the rules accepted per item, and why an update went beyond an accepted item."""

    known: dict[str, list[Path] | None] = field(default_factory=dict)
    accepted: dict[str, list[Path]] = field(default_factory=dict)
    flagged: str | None = None

    def report(self, item_id: str, reported: list[Path] | None) -> None:
        before = self.known.get(item_id, [])
        # A later report need not repeat the files an earlier one named: keep the union.
        self.known[item_id] = None if reported is None or before is None else [*before, *reported]
        accepted = self.accepted.get(item_id)
        if accepted is not None:
            self.check(item_id, accepted, reported)

    def check(self, item_id: str, accepted: list[Path], reported: list[Path] | None) -> None:
        """Mark the turn if ``reported`` goes beyond what was ``accepted`` of ``item_id``."""
        if self.flagged is not None:
            return
        beyond = [str(path) for path in reported or () if path not in accepted]
        if reported is None or beyond:
            what = ", ".join(beyond) or "paths it cannot read"
            self.flagged = f"an update to accepted file change {item_id} added {what}"
            logger.warning("approval rules: %s; the turn's next request is cancelled", self.flagged)


def _turn_of(request: Any) -> tuple[Any, Any]:
    return getattr(request, "thread_id", None), getattr(request, "turn_id", None)


class FileChanges:
    """What one connection saw of its running turns' file-change items; thread-safe.

    A turn's entry goes with its ``turn/completed``, a thread's with the thread
    (:meth:`forget`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: dict[tuple[Any, Any], _Turn] = {}

    def observe(self, event: Notification) -> None:
        """Take in a notification the connection read (on the reader, before delivery)."""
        method = event.method
        if method == "turn/completed":
            if self._turns:
                with self._lock:
                    self._turns.pop((event.thread_id, event.turn_id), None)
            return
        if method == "item/started":
            if event.raw and _FILE_CHANGE not in event.raw:
                return
            item = event.params.get("item")
            if not isinstance(item, Mapping) or item.get("type") != "fileChange":
                return
            item_id, changes = item.get("id"), item.get("changes")
        elif method == "item/fileChange/patchUpdated":
            item_id, changes = event.params.get("itemId"), event.params.get("changes")
        else:
            return
        if event.thread_id is None or event.turn_id is None or not isinstance(item_id, str):
            return
        reported = _reported(changes)
        with self._lock:
            turn = self._turns.setdefault((event.thread_id, event.turn_id), _Turn())
            turn.report(item_id, reported)

    def paths(self, request: Any) -> list[Path] | None:
        """Every path the item of a file-change ``request`` reported; ``None`` if not known."""
        item_id = getattr(request, "item_id", None)
        with self._lock:
            turn = self._turns.get(_turn_of(request))
            known = None if turn is None or item_id is None else turn.known.get(item_id)
            return None if known is None else list(known)

    def flagged(self, request: Any) -> str | None:
        """Why ``request``'s turn is cancelled, if an accepted file change grew since."""
        with self._lock:
            turn = self._turns.get(_turn_of(request))
            return None if turn is None else turn.flagged

    def accepted(self, request: Any, paths: list[Path]) -> None:
        """The file change of ``request`` was let through, having been seen to write ``paths``:
        a later report of its item naming anything else marks the turn."""
        thread_id, turn_id = _turn_of(request)
        item_id = getattr(request, "item_id", None)
        if thread_id is None or turn_id is None or not isinstance(item_id, str):
            return
        with self._lock:
            turn = self._turns.setdefault((thread_id, turn_id), _Turn())
            turn.accepted[item_id] = paths
            # What was reported while the request was being decided counts too.
            turn.check(item_id, paths, turn.known.get(item_id, []))

    def forget(self, thread_ids: Iterable[str]) -> None:
        """Drop what is held for the turns of these threads."""
        gone = set(thread_ids)
        with self._lock:
            for key in [key for key in self._turns if key[0] in gone]:
                del self._turns[key]

    def thread_ids(self) -> set[str]:
        """The threads anything is held for."""
        with self._lock:
            return {thread_id for thread_id, _ in self._turns}
