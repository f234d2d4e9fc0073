"""Exceptions raised by the SDK.

Everything the SDK raises on purpose derives from :class:`CodexError`. JSON-RPC error replies
become one subclass of :class:`JsonRpcError` per error code, so callers can catch exactly the
failure they know how to handle (``except ServerBusyError: retry``) without parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AppServerStartError",
    "CodexError",
    "CodexNotFoundError",
    "IncompatibleServerError",
    "InternalError",
    "InvalidParamsError",
    "InvalidRequestError",
    "JsonRpcError",
    "MethodNotFoundError",
    "ParseError",
    "ProtocolViolationError",
    "RequestTimeoutError",
    "RetryLimitExceededError",
    "ServerBusyError",
    "TransportClosedError",
    "TurnFailedError",
]


class CodexError(Exception):
    """Base class of every exception the SDK raises deliberately."""


class CodexNotFoundError(CodexError, FileNotFoundError):
    """No ``codex`` executable could be found or the one given cannot be run."""


class TransportClosedError(CodexError):
    """The app-server process exited or its pipe closed.

    ``exit_code`` is the process's exit status when known; ``stderr_tail`` holds the last lines
    the server wrote to stderr, which usually say why it stopped.
    """

    def __init__(
        self, message: str, *, exit_code: int | None = None, stderr_tail: str = ""
    ) -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        detail = message
        if exit_code is not None:
            detail += f" (exit code {exit_code})"
        if stderr_tail:
            detail += f"\n--- app-server stderr (tail) ---\n{stderr_tail.rstrip()}"
        super().__init__(detail)


class AppServerStartError(TransportClosedError):
    """The app-server exited before completing the ``initialize`` handshake."""


class IncompatibleServerError(CodexError):
    """The app-server is older than the protocol this SDK was generated for."""


class ProtocolViolationError(CodexError):
    """The app-server sent a reply this SDK cannot read (not JSON, or nested too deeply)."""


class RequestTimeoutError(CodexError, TimeoutError):
    """A wait exceeded the bound the caller set (``timeout=``)."""


class JsonRpcError(CodexError):
    """The server answered a request with a JSON-RPC error.

    Attributes mirror the wire: ``code``, ``message`` and the optional ``data``; ``method`` names
    the request that failed, when known.
    """

    #: The JSON-RPC error code this class stands for (``None`` on the base class).
    CODE: int | None = None

    def __init__(
        self, code: int, message: str, data: Any = None, *, method: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        where = f" from {method!r}" if method else ""
        super().__init__(f"JSON-RPC error {code}{where}: {message}")

    @staticmethod
    def from_error(error: Mapping[str, Any], *, method: str | None = None) -> JsonRpcError:
        """Build the most specific exception for a wire ``error`` object."""
        code = error.get("code")
        message = str(error.get("message", ""))
        data = error.get("data")
        if not isinstance(code, int):
            return JsonRpcError(
                -32603, f"malformed error object: {dict(error)!r}", data, method=method
            )
        cls: type[JsonRpcError] = _BY_CODE.get(code, JsonRpcError)
        if _data_mentions(data, "responseTooManyFailedAttempts"):
            cls = RetryLimitExceededError
        elif cls is JsonRpcError and _data_mentions(data, "serverOverloaded"):
            cls = ServerBusyError
        return cls(code, message, data, method=method)


class ParseError(JsonRpcError):
    """-32700: the server could not parse what the client sent."""

    CODE = -32700


class InvalidRequestError(JsonRpcError):
    """-32600: the request was not a valid JSON-RPC request (or came before ``initialize``)."""

    CODE = -32600


class MethodNotFoundError(JsonRpcError):
    """-32601: the server does not know this method (it may be older than the SDK)."""

    CODE = -32601


class InvalidParamsError(JsonRpcError):
    """-32602: the parameters were rejected by the server."""

    CODE = -32602


class InternalError(JsonRpcError):
    """-32603: the server failed while handling the request."""

    CODE = -32603


class ServerBusyError(JsonRpcError):
    """-32001: the server is overloaded; the request is safe to retry later.

    :func:`codex_app_server.retry_on_overload` retries exactly this error.
    """

    CODE = -32001


class RetryLimitExceededError(JsonRpcError):
    """The server gave up after retrying the model itself (``responseTooManyFailedAttempts``)."""


class TurnFailedError(CodexError):
    """A turn completed with status ``failed``; ``turn`` is the generated ``Turn`` model."""

    def __init__(self, turn: Any) -> None:
        self.turn = turn
        error = getattr(turn, "error", None)
        self.error = error
        message = getattr(error, "message", None) or "turn failed without an error message"
        super().__init__(f"turn {getattr(turn, 'id', '?')} failed: {message}")


_BY_CODE: dict[int, type[JsonRpcError]] = {
    cls.CODE: cls
    for cls in (
        ParseError,
        InvalidRequestError,
        MethodNotFoundError,
        InvalidParamsError,
        InternalError,
        ServerBusyError,
    )
    if cls.CODE is not None
}


def _data_mentions(data: Any, key: str) -> bool:
    """Whether ``key`` appears as a string value or object key anywhere in error ``data``."""
    if data == key:
        return True
    if isinstance(data, Mapping):
        return any(k == key or _data_mentions(v, key) for k, v in data.items())
    if isinstance(data, list):
        return any(_data_mentions(v, key) for v in data)
    return False
