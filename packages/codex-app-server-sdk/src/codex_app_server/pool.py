"""Pools of app-servers: many local processes or websocket servers behind one object.

:class:`CodexPool` (sync) and :class:`AsyncCodexPool` (asyncio) start or connect to every
member, place each new thread on the least-busy member (fewest turns in progress, then fewest
threads placed), and keep a thread's later turns on the member that owns it: a thread lives in
one app-server, so its turns can run nowhere else. :meth:`CodexPool.health` reports each member.
A member whose connection ends is left out of placement; nothing reconnects on its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._handlers import ServerRequestHandler
from ._redact import redact_url
from .api import Codex, Thread
from .approvals import ApprovalHandler, AsyncApprovalHandler
from .async_api import AsyncCodex, AsyncThread
from .config import CodexConfig
from .errors import CodexError, TransportClosedError

__all__ = ["AsyncCodexPool", "CodexPool", "MemberHealth"]

#: A pool member as given: a config (a local process, or ``url=``) or a ``ws://`` URL.
MemberSpec = CodexConfig | str

C = TypeVar("C", Codex, AsyncCodex)


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


def _configs(members: Iterable[MemberSpec]) -> list[CodexConfig]:
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


class CodexPool(_PoolBase[Codex]):
    """A pool of app-servers for blocking code; every member is started by the constructor.

    ``members``: :class:`~codex_app_server.CodexConfig` objects (a local process each, or a
    websocket server with ``url=``/``ws_token=``) or plain ``ws://`` URLs. ``approval_handler``
    and ``handlers`` apply to every member. Threads are :class:`~codex_app_server.Thread`
    objects of their member; use the pool from as many threads as you like.
    """

    def __init__(
        self,
        members: Iterable[MemberSpec],
        *,
        approval_handler: ApprovalHandler | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
    ) -> None:
        super().__init__()
        configs = _configs(members)

        def start(config: CodexConfig) -> Codex:
            return Codex(config, approval_handler=approval_handler, handlers=handlers)

        # Start the members side by side: each launch or handshake takes a moment.
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(configs)) as starter:
            futures = [starter.submit(start, config) for config in configs]
            concurrent.futures.wait(futures)
        errors = [error for f in futures if (error := f.exception()) is not None]
        if errors:
            for future in futures:
                if future.exception() is None:
                    future.result().close()
            raise errors[0]
        self._members = [_Member(i, f.result()) for i, f in enumerate(futures)]

    def thread_start(
        self, *, approval_handler: ApprovalHandler | None = None, **params: Any
    ) -> Thread:
        """Start a thread on the least-busy member (see :meth:`Codex.thread_start`)."""
        member = self._place()
        try:
            thread = member.codex.thread_start(approval_handler=approval_handler, **params)
        except BaseException:
            self._release(member)
            raise
        self._own(member, thread.id)
        return thread

    def thread_resume(
        self, thread_id: str, *, approval_handler: ApprovalHandler | None = None, **params: Any
    ) -> Thread:
        """Load ``thread_id`` on the member that owns it, or the least-busy one if none does.

        A stored thread can be resumed by any member that shares its ``CODEX_HOME``.
        """
        member, placed = self._resume_target(thread_id)
        try:
            thread = member.codex.thread_resume(
                thread_id, approval_handler=approval_handler, **params
            )
        except BaseException:
            if placed:
                self._release(member)
            raise
        self._own(member, thread_id)
        return thread

    def close(self) -> None:
        """Stop or disconnect every member; safe to call more than once."""
        for member in self._members:
            member.codex.close()

    def __enter__(self) -> CodexPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncCodexPool(_PoolBase[AsyncCodex]):
    """The asyncio twin of :class:`CodexPool`; members start on ``async with`` or :meth:`start`."""

    def __init__(
        self,
        members: Iterable[MemberSpec],
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
    ) -> None:
        super().__init__()
        self._members = [
            _Member(i, AsyncCodex(config, approval_handler=approval_handler, handlers=handlers))
            for i, config in enumerate(_configs(members))
        ]

    async def start(self) -> None:
        """Start or connect to every member at once; on any failure, close them all and raise."""
        results: Sequence[BaseException | None] = await asyncio.gather(
            *(m.codex.start() for m in self._members), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            raise failures[0]

    async def thread_start(
        self, *, approval_handler: AsyncApprovalHandler | None = None, **params: Any
    ) -> AsyncThread:
        """Start a thread on the least-busy member (see :meth:`AsyncCodex.thread_start`)."""
        member = self._place()
        try:
            thread = await member.codex.thread_start(approval_handler=approval_handler, **params)
        except BaseException:
            self._release(member)
            raise
        self._own(member, thread.id)
        return thread

    async def thread_resume(
        self, thread_id: str, *, approval_handler: AsyncApprovalHandler | None = None, **params: Any
    ) -> AsyncThread:
        """Load ``thread_id`` on the member that owns it, or the least-busy one if none does."""
        member, placed = self._resume_target(thread_id)
        try:
            thread = await member.codex.thread_resume(
                thread_id, approval_handler=approval_handler, **params
            )
        except BaseException:
            if placed:
                self._release(member)
            raise
        self._own(member, thread_id)
        return thread

    async def close(self) -> None:
        """Stop or disconnect every member; safe to call more than once."""
        await asyncio.gather(*(m.codex.close() for m in self._members), return_exceptions=True)

    async def __aenter__(self) -> AsyncCodexPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
