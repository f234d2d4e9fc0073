# Generated from ../_async/pool.py by scripts/unasync.py: edit that file instead.
"""A pool of app-servers: many local processes or websocket servers behind one object.

Placement and ownership (no I/O) are :mod:`codex_app_server.pool`'s ``_PoolBase``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._backend_sync import Lifecycle, close_all, open_all, start_all
from .._handlers import ServerRequestHandler
from ..approvals import ApprovalHandler
from ..config import CodexConfig
from ..pool import MemberSpec, _Member, _PoolBase, configs_of
from .api import Codex, Thread

__all__ = ["CodexPool"]


class CodexPool(_PoolBase[Codex], Lifecycle):
    """A pool of app-servers, started and initialized by the constructor.

    Every member starts at once; if any fails, all are closed and its error raised.

    ``members``: :class:`~codex_app_server.CodexConfig` objects (a local process each, or a
    websocket server with ``url=``/``ws_token=``) or plain ``ws://`` URLs. ``approval_handler``
    and ``handlers`` apply to every member. Threads are :class:`~codex_app_server.Thread`
    objects of their member; callers may share the pool.
    """

    def __init__(
        self,
        members: Iterable[MemberSpec],
        *,
        approval_handler: ApprovalHandler | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
    ) -> None:
        super().__init__()

        def make(config: CodexConfig) -> Codex:
            return Codex(config, approval_handler=approval_handler, handlers=handlers)

        started = open_all(make, configs_of(members))
        self._members = [_Member(i, codex) for i, codex in enumerate(started)]
        self._begin()

    def _is_started(self) -> bool:
        return all(member.codex._is_started() for member in self._members)

    def _start(self) -> None:
        start_all(self.members)

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
        close_all(self.members)
