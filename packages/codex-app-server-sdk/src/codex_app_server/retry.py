"""Retrying requests the server refused because it was overloaded.

Only what :func:`is_retryable_error` accepts is retried: a
:class:`~codex_app_server.ServerBusyError` (JSON-RPC ``-32001``, or an error of another code
whose data says ``serverOverloaded``). The server says it did not start the work, so trying
again cannot run anything twice. Every other error is raised at once. Delays grow
exponentially with full jitter, and the number of attempts is bounded, so a persistently busy
server surfaces as the last ``ServerBusyError``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .errors import ServerBusyError

__all__ = ["is_retryable_error", "retry_on_overload", "retry_on_overload_async"]

T = TypeVar("T")


def is_retryable_error(exc: BaseException) -> bool:
    """Whether ``exc`` is safe to retry as it is: the server refused the work without starting it.

    True for :class:`~codex_app_server.ServerBusyError` only (an overload, whatever code the
    server sent it with). A failed turn, a timeout or a closed connection is not: the work may
    have run, so repeating it is the caller's decision. This is the test
    :func:`retry_on_overload` applies.
    """
    return isinstance(exc, ServerBusyError)


def _delays(attempts: int, initial_delay: float, max_delay: float) -> list[float]:
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if initial_delay < 0 or max_delay < 0:
        raise ValueError("delays must not be negative")
    # Full jitter: a random point below the exponential ceiling spreads out clients that
    # were all refused at the same moment.
    return [random.uniform(0, min(max_delay, initial_delay * 2**n)) for n in range(attempts - 1)]


def retry_on_overload(
    op: Callable[[], T],
    *,
    attempts: int = 5,
    initial_delay: float = 0.25,
    max_delay: float = 4.0,
) -> T:
    """Call ``op()``; while it raises a retryable error, wait and call it again.

    Retryable is what :func:`is_retryable_error` says (a ``ServerBusyError``); anything else is
    raised at once, and after ``attempts`` calls the last error is.

    ``attempts`` bounds the total number of calls. Example::

        thread = retry_on_overload(lambda: codex.thread_start(model="gpt-5"))
    """
    for delay in _delays(attempts, initial_delay, max_delay):
        try:
            return op()
        except Exception as exc:
            if not is_retryable_error(exc):
                raise
            time.sleep(delay)
    return op()


async def retry_on_overload_async(
    op: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    initial_delay: float = 0.25,
    max_delay: float = 4.0,
) -> T:
    """The asyncio form of :func:`retry_on_overload`; ``op`` returns an awaitable.

    Example::

        thread = await retry_on_overload_async(lambda: codex.thread_start(model="gpt-5"))
    """
    for delay in _delays(attempts, initial_delay, max_delay):
        try:
            return await op()
        except Exception as exc:
            if not is_retryable_error(exc):
                raise
            await asyncio.sleep(delay)
    return await op()
