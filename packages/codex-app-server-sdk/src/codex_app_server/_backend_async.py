"""The asyncio half of the backend pair: what the two faces cannot write once.

The sources in ``_async/`` import their I/O primitives from here; ``scripts/unasync.py`` swaps
this module for :mod:`codex_app_server._backend_sync`, which defines the same names for the
blocking face. Everything else about the user API, the typed client and the pool is written
once, in ``_async/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import CodexError

if TYPE_CHECKING:
    from ._connection import AsyncConnection

__all__ = [
    "BoundedSemaphore",
    "Interrupted",
    "Lifecycle",
    "call_tool",
    "check_handler",
    "close_all",
    "open_all",
    "open_connection",
    "sleep",
    "start_all",
    "stop_interrupted",
]

BoundedSemaphore = asyncio.BoundedSemaphore
sleep = asyncio.sleep

#: What reaches a turn's reader when its caller gives up: the task was cancelled.
Interrupted = asyncio.CancelledError

T = TypeVar("T")


class _Startable(Protocol):
    _start_lock: asyncio.Lock

    def _is_started(self) -> bool: ...

    async def _start(self) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=_Startable)


class Lifecycle:
    """Starting on first use: ``async with``, :meth:`start` or the first awaited call."""

    _start_lock: asyncio.Lock

    def _begin(self) -> None:
        # The constructor's last step: nothing starts before it is awaited.
        self._start_lock = asyncio.Lock()

    @property
    def started(self: _Startable) -> bool:
        """Whether :meth:`start` has completed."""
        return self._is_started()

    async def start(self: _Startable) -> None:
        """Start now (otherwise ``async with`` or the first awaited call does); safe to repeat."""
        async with self._start_lock:
            if not self._is_started():
                await self._start()

    async def _ensure_started(self: _Startable) -> None:
        if not self._is_started():
            await self.start()

    async def __aenter__(self: S) -> S:
        await self.start()
        return self

    async def __aexit__(self: _Startable, *exc_info: object) -> None:
        await self.close()


async def open_connection(connection: AsyncConnection) -> None:
    """Launch the server of an :class:`~codex_app_server._connection.AsyncConnection`."""
    await connection.start()


def open_all(make: Callable[[Any], T], configs: Sequence[Any]) -> list[T]:
    """Each member's client, not started yet (:func:`start_all` starts them)."""
    return [make(config) for config in configs]


async def start_all(members: Sequence[_Startable]) -> None:
    """Start every member at once; on any failure, close them all and raise."""
    results = await asyncio.gather(*(m.start() for m in members), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await close_all(members)
        raise failures[0]


async def close_all(members: Sequence[_Startable]) -> None:
    """Close every member at once."""
    await asyncio.gather(*(m.close() for m in members), return_exceptions=True)


async def stop_interrupted(interrupt: Callable[[], Awaitable[None]]) -> None:
    """Stop a turn whose reader was cancelled, on the server too, so it does not run on
    unobserved: shielded from the cancellation under way, and quiet about a turn that
    ended meanwhile."""

    async def quietly() -> None:
        try:
            await interrupt()
        except CodexError:  # the turn may have ended meanwhile; nothing left to stop
            return

    await asyncio.shield(quietly())


def check_handler(handler: object) -> None:
    """Nothing to refuse: the asyncio client awaits coroutine handlers and runs plain ones
    in a thread."""


async def call_tool(call: Callable[[], Any], is_async: bool) -> Any:
    """Run a bound tool: a coroutine function awaited, a plain one in the default executor
    (it may block)."""
    if is_async:
        return await call()
    return await asyncio.get_running_loop().run_in_executor(None, call)
