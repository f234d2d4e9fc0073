"""The blocking half of the backend pair: what the two faces cannot write once.

The sync modules in ``_sync/`` are written from ``_async/`` by ``scripts/unasync.py``, which
swaps :mod:`codex_app_server._backend_async` for this module; both define the same names.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .approvals import refuse_async

if TYPE_CHECKING:
    from ._connection import Connection

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

BoundedSemaphore = threading.BoundedSemaphore
sleep = time.sleep

#: What reaches a turn's reader when its caller gives up: Ctrl-C.
Interrupted = KeyboardInterrupt

S = TypeVar("S")


class _Startable(Protocol):
    def _start(self) -> None: ...

    def close(self) -> None: ...


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


class Lifecycle:
    """Starting in the constructor: a blocking object is ready once it exists."""

    def _begin(self: _Startable) -> None:
        # The constructor's last step.
        self._start()

    def _ensure_started(self) -> None:
        # Nothing to do: the constructor started it.
        return

    def __enter__(self: S) -> S:
        return self

    def __exit__(self: _Startable, *exc_info: object) -> None:
        self.close()


def open_connection(connection: Connection) -> None:
    """Nothing to do: a :class:`~codex_app_server._connection.Connection` launches its server
    in its constructor."""


def open_all(make: Callable[[Any], C], configs: Sequence[Any]) -> list[C]:
    """Each member's client, started side by side (each launch or handshake takes a moment);
    on any failure the started ones are closed and the first error raised."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(configs)) as starter:
        futures = [starter.submit(make, config) for config in configs]
        concurrent.futures.wait(futures)
    errors = [error for f in futures if (error := f.exception()) is not None]
    if errors:
        for future in futures:
            if future.exception() is None:
                future.result().close()
        raise errors[0]
    return [f.result() for f in futures]


def start_all(members: Sequence[Any]) -> None:
    """Nothing to do: :func:`open_all` started every member."""


def close_all(members: Sequence[_Closable]) -> None:
    """Close every member, one after the other."""
    for member in members:
        member.close()


def stop_interrupted(interrupt: Callable[[], None]) -> None:
    """Stop a turn whose reader was interrupted (Ctrl-C), on the server too, so it does not
    run on unobserved."""
    interrupt()


def check_handler(handler: object) -> None:
    """Refuse a coroutine handler before anything starts: nothing on the sync client's worker
    threads can await it."""
    refuse_async(handler)


def call_tool(call: Callable[[], Any], is_async: bool) -> Any:
    """Run a bound tool on the handler's worker thread (a coroutine function in its own loop)."""
    return asyncio.run(call()) if is_async else call()
