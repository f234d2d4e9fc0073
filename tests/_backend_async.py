"""The async side of the test backend pair: what the faces do differently, with asyncio.

The sources in ``_async/`` import this module; ``scripts/unasync.py`` swaps the name for
``_backend_sync`` in the twins it writes into ``_sync/``, which do the same with threads: run
calls at once, wait for an event, start a client (lazily here, in its constructor there).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from codex_app_server import AsyncCodex, CodexConfig

T = TypeVar("T")

#: A flag one caller sets and another waits for.
Event = asyncio.Event


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Whether ``event`` was set within ``timeout`` seconds."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def blocking(function: Callable[..., T], *args: Any) -> T:
    """A blocking call (the scripted model's waits), made off the event loop."""
    return await asyncio.to_thread(function, *args)


async def collect(events: AsyncIterator[T]) -> list[T]:
    """Every item of a stream, in order."""
    return [event async for event in events]


async def start_and_close(config: CodexConfig) -> None:
    """Start a client on ``config`` and close it; what starting raised is raised."""
    async with AsyncCodex(config):
        pass


class Background(Generic[T]):
    """A call running beside the test (a task; a thread in the sync twin)."""

    def __init__(self, task: asyncio.Future[T]) -> None:
        self._task = task

    async def outcome(self, timeout: float = 10.0) -> T | BaseException:
        """What the call returned or raised; fails the test if it runs past ``timeout``."""
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        assert done, f"the call was still running after {timeout} s"
        return self._task.exception() or self._task.result()


async def in_background(call: Callable[[], Awaitable[T]]) -> Background[T]:
    """Start ``call`` and let it run until it first waits."""
    task = asyncio.ensure_future(call())
    await asyncio.sleep(0)
    return Background(task)


async def gather(*calls: Callable[[], Awaitable[T]]) -> list[T]:
    """Run every call at once; their results in order, or the first error."""
    return list(await asyncio.gather(*(call() for call in calls)))
