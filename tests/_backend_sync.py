"""The sync side of the test backend pair: what the faces do differently, with threads.

The sources in ``_async/`` import ``_backend_async``; ``scripts/unasync.py`` swaps the name for
this module in the twins it writes into ``_sync/``: run calls at once, wait for an event, start
a client (in its constructor here, lazily there).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from codex_app_server import Codex, CodexConfig

T = TypeVar("T")

#: A flag one caller sets and another waits for.
Event = threading.Event


def wait_event(event: threading.Event, timeout: float) -> bool:
    """Whether ``event`` was set within ``timeout`` seconds."""
    return event.wait(timeout)


def blocking(function: Callable[..., T], *args: Any) -> T:
    """A blocking call (the scripted model's waits): the sync test simply makes it."""
    return function(*args)


def collect(events: Iterator[T]) -> list[T]:
    """Every item of a stream, in order."""
    return list(events)


def start_and_close(config: CodexConfig) -> None:
    """Start a client on ``config`` and close it; what starting raised is raised."""
    with Codex(config):
        pass


class Background(Generic[T]):
    """A call running beside the test (a thread; a task in the async twin)."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._outcome: list[T | BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._outcome.append(call())
        except BaseException as exc:
            self._outcome.append(exc)

    def outcome(self, timeout: float = 10.0) -> T | BaseException:
        """What the call returned or raised; fails the test if it runs past ``timeout``."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the call was still running after {timeout} s"
        return self._outcome[0]


def in_background(call: Callable[[], T]) -> Background[T]:
    """Start ``call`` in a thread of its own."""
    return Background(call)


def gather(*calls: Callable[[], T]) -> list[T]:
    """Run every call at once, each in its thread; their results in order, or the first error."""
    running = [Background(call) for call in calls]
    results = []
    for background in running:
        outcome = background.outcome(60)
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
    return results
