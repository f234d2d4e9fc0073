"""Retrying requests the server refused because it was overloaded.

Only what :func:`is_retryable_error` accepts is retried: a
:class:`~codex_app_server.ServerBusyError` (JSON-RPC ``-32001``, or an error of another code
whose data says ``serverOverloaded``). The server says it did not start the work, so trying
again cannot run anything twice. Every other error is raised at once. Delays grow
exponentially with full jitter, and the number of attempts is bounded, so a persistently busy
server surfaces as the last ``ServerBusyError``.

:func:`~codex_app_server.retry_on_overload` and its asyncio form are written once, in
``_async/retry.py``.
"""

from __future__ import annotations

import random

from .errors import ServerBusyError

__all__ = ["delays", "is_retryable_error"]


def is_retryable_error(exc: BaseException) -> bool:
    """Whether ``exc`` is safe to retry as it is: the server refused the work without starting it.

    True for :class:`~codex_app_server.ServerBusyError` only (an overload, whatever code the
    server sent it with). A failed turn, a timeout or a closed connection is not: the work may
    have run, so repeating it is the caller's decision. This is the test
    :func:`~codex_app_server.retry_on_overload` applies.
    """
    return isinstance(exc, ServerBusyError)


def delays(attempts: int, initial_delay: float, max_delay: float) -> list[float]:
    """The waits between ``attempts`` calls: exponential, capped, with full jitter."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if initial_delay < 0 or max_delay < 0:
        raise ValueError("delays must not be negative")
    # Full jitter: a random point below the exponential ceiling spreads out clients that
    # were all refused at the same moment.
    return [random.uniform(0, min(max_delay, initial_delay * 2**n)) for n in range(attempts - 1)]
