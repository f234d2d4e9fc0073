"""retry_on_overload retries exactly the server-busy error, with bounded attempts."""

from __future__ import annotations

import pytest
from codex_app_server import (
    InternalError,
    JsonRpcError,
    ServerBusyError,
    retry_on_overload,
    retry_on_overload_async,
)
from codex_app_server._protocol import ErrorResponse, JsonRpcCore


def busy_error() -> JsonRpcError:
    """A server-busy error exactly as the core decodes it from the wire."""
    core = JsonRpcCore()
    request_id, _ = core.request("thread/start", {})
    (event,) = core.receive_data(
        b'{"id": %d, "error": {"code": -32001, "message": "Server overloaded; retry later."}}\n'
        % request_id
    )
    assert isinstance(event, ErrorResponse)
    return event.error


def flaky(failures: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def op() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "ok"

    return calls, op


def test_busy_errors_are_retried_until_success() -> None:
    calls, op = flaky(3, busy_error())
    assert retry_on_overload(op, attempts=5, initial_delay=0.001) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 4


def test_attempts_are_bounded_and_the_last_error_surfaces() -> None:
    calls, op = flaky(10, busy_error())
    with pytest.raises(ServerBusyError, match="overloaded"):
        retry_on_overload(op, attempts=3, initial_delay=0.001)  # type: ignore[arg-type]
    assert len(calls) == 3


def test_other_errors_are_not_retried() -> None:
    calls, op = flaky(1, InternalError(-32603, "boom"))
    with pytest.raises(InternalError):
        retry_on_overload(op, attempts=5, initial_delay=0.001)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        retry_on_overload(lambda: None, attempts=0)


async def test_async_form_retries_busy_errors() -> None:
    calls: list[int] = []

    async def op() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise busy_error()
        return "ok"

    assert await retry_on_overload_async(op, initial_delay=0.001) == "ok"
    assert len(calls) == 3
