"""Pools of app-servers: many local processes or websocket servers behind one object.

:class:`CodexPool` (sync) and :class:`AsyncCodexPool` (asyncio) start or connect to every
member, place each new thread on the least-busy member (fewest turns in progress, then fewest
threads placed), and keep a thread's later turns on the member that owns it: a thread lives in
one app-server, so its turns can run nowhere else. :meth:`CodexPool.health` reports each member.
A member whose connection ends is left out of placement; nothing reconnects on its own.

This module holds the placement, without I/O; the pools themselves are written once, in
``_async/pool.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._redact import redact_url
from .config import CodexConfig
from .errors import CodexError, TransportClosedError

if TYPE_CHECKING:
    from ._async.api import AsyncCodex
    from ._sync.api import Codex

__all__ = ["MemberHealth", "MemberSpec", "configs_of"]

#: A pool member as given: a config (a local process, or ``url=``) or a ``ws://`` URL.
MemberSpec = CodexConfig | str

C = TypeVar("C", "Codex", "AsyncCodex")


@dataclass(frozen=True)
class MemberHealth:
    """One member's state when :meth:`CodexPool.health` was called.

    ``target``: the websocket URL, or ``"pid N"`` for a local process. ``connected``: whether its
    connection is still open. ``active_turns``: turns in progress on it through this pool.
    ``threads``: threads placed on it. ``error``: why the connection ended, if it did.
    """

    index: int
    target: str
    connected: bool
    active_turns: int
    threads: int
    error: str | None = None


@dataclass(eq=False)
class _Member(Generic[C]):
    index: int
    codex: C
    threads: int = 0

    def active_turns(self) -> int:
        return self.codex.client.connection.active_turns()

    def health(self) -> MemberHealth:
        connection = self.codex.client.connection
        closed = connection.closed
        error = connection.closed_reason
        config = self.codex.client.config
        target = redact_url(config.url) if config.url is not None else _pid_label(connection)
        return MemberHealth(
            index=self.index,
            target=target,
            connected=not closed,
            active_turns=0 if closed else self.active_turns(),
            threads=self.threads,
            error=None if error is None else str(error).splitlines()[0],
        )


def _pid_label(connection: Any) -> str:
    try:
        return f"pid {connection.pid}"
    except CodexError:
        return "not started"


def configs_of(members: Iterable[MemberSpec]) -> list[CodexConfig]:
    """The members as configs; a plain string is a websocket URL."""
    configs = [CodexConfig(url=m) if isinstance(m, str) else m for m in members]
    if not configs:
        raise ValueError("a pool needs at least one member (a CodexConfig or a ws:// URL)")
    return configs


class _PoolBase(Generic[C]):
    """Placement and ownership shared by the sync and async pools; no I/O here."""

    def __init__(self) -> None:
        self._members: list[_Member[C]] = []
        self._owners: dict[str, _Member[C]] = {}
        self._lock = threading.Lock()

    def _place(self) -> _Member[C]:
        """Reserve the least-busy open member for a new thread."""
        with self._lock:
            open_members = [m for m in self._members if not m.codex.client.connection.closed]
            if not open_members:
                raise TransportClosedError("every app-server in the pool has closed its connection")
            member = min(open_members, key=lambda m: (m.active_turns(), m.threads, m.index))
            member.threads += 1
            return member

    def _release(self, member: _Member[C]) -> None:
        with self._lock:
            member.threads -= 1

    def _resume_target(self, thread_id: str) -> tuple[_Member[C], bool]:
        """The owner of ``thread_id`` if it is still connected, else a newly placed member."""
        member = self._owner_of(thread_id)
        if member is not None and not member.codex.client.connection.closed:
            return member, False
        return self._place(), True

    def _own(self, member: _Member[C], thread_id: str) -> None:
        with self._lock:
            self._owners[thread_id] = member

    def _owner_of(self, thread_id: str) -> _Member[C] | None:
        with self._lock:
            return self._owners.get(thread_id)

    @property
    def members(self) -> list[C]:
        """The clients of the members, in the order given."""
        return [m.codex for m in self._members]

    def owner(self, thread_id: str) -> C:
        """The member that owns ``thread_id``; raises ``KeyError`` for a thread it never saw."""
        member = self._owner_of(thread_id)
        if member is None:
            raise KeyError(f"thread {thread_id} was not started or resumed through this pool")
        return member.codex

    def health(self) -> list[MemberHealth]:
        """Each member's connection state, turns in progress and threads placed."""
        with self._lock:
            return [m.health() for m in self._members]

    def __len__(self) -> int:
        return len(self._members)
