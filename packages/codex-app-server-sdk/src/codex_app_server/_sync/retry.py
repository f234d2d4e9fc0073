# Generated from ../_async/retry.py by scripts/unasync.py: edit that file instead.
"""Retrying a request the server refused because it was overloaded (see
:mod:`codex_app_server.retry` for what is retried and why that is safe)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .._backend_sync import sleep
from ..retry import delays, is_retryable_error

__all__ = ["retry_on_overload"]

T = TypeVar("T")


def retry_on_overload(
    op: Callable[[], T],
    *,
    attempts: int = 5,
    initial_delay: float = 0.25,
    max_delay: float = 4.0,
) -> T:
    """Call ``op()``; while it raises a retryable error, wait and call it again.

    Retryable is what :func:`~codex_app_server.is_retryable_error` says (a
    ``ServerBusyError``); anything else is raised at once, and after ``attempts`` calls the
    last error is.

    ``attempts`` bounds the total number of calls. Example::

        thread = retry_on_overload(lambda: codex.thread_start(model="gpt-5"))
    """
    for delay in delays(attempts, initial_delay, max_delay):
        try:
            return op()
        except Exception as exc:
            if not is_retryable_error(exc):
                raise
            sleep(delay)
    return op()
