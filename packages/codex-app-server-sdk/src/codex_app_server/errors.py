"""Exceptions raised by the SDK.

Everything the SDK raises on purpose derives from :class:`CodexError`. JSON-RPC error replies
become one subclass of :class:`JsonRpcError` per error code, so callers can catch exactly the
failure they know how to handle (``except ServerBusyError: retry``) without parsing messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._escape import quoted

__all__ = [
    "AppServerStartError",
    "CodexError",
    "CodexNotFoundError",
    "CodexRpcError",
    "ConfigOverrideError",
    "IncompatibleServerError",
    "InternalError",
    "InternalRpcError",
    "InvalidParamsError",
    "InvalidRequestError",
    "JsonRpcError",
    "LoginFailedError",
    "MethodNotFoundError",
    "NotSignedInError",
    "ParseError",
    "ProtocolViolationError",
    "RequestTimeoutError",
    "RetryLimitExceededError",
    "ServerBusyError",
    "ThreadNotFoundError",
    "TransportClosedError",
    "TurnFailedError",
]


#: The longest piece of server text a JSON-RPC or turn error's message quotes; the whole text
#: stays on an attribute (``JsonRpcError.message``, ``TurnFailedError.error.message``).
QUOTE_LIMIT = 500


class CodexError(Exception):
    """Base class of every exception the SDK raises deliberately."""


class CodexNotFoundError(CodexError, FileNotFoundError):
    """No ``codex`` executable could be found or the one given cannot be run."""


#: The reason a client's calls fail after its owner closed it (``close()``, or leaving ``with``).
CLOSED_BY_OWNER = "the client was closed by its owner (close() or the end of its with block)"


class TransportClosedError(CodexError):
    """The app-server process exited or its pipe closed.

    ``reason`` is what happened, in the SDK's words; ``exit_code`` is the process's exit status
    when known; ``stderr_tail`` holds the last lines the server wrote to stderr (colour codes
    and known noise removed), which usually say why it stopped. A client closed by its owner
    (``close()`` or the end of its ``with`` block) has neither: the server's stderr is not
    why it stopped.
    """

    def __init__(
        self, message: str, *, exit_code: int | None = None, stderr_tail: str = ""
    ) -> None:
        self.reason = message
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


class ConfigOverrideError(CodexError, ValueError):
    """The started app-server did not take some ``config_overrides``.

    A key it does not know is ignored by the server, and a value it cannot use is replaced by
    a default, both without an error of their own; the SDK compares the overrides with the
    effective configuration the server reports (``config/read``), stops the server and
    raises this. ``problems`` lists one line per override. ``check_overrides="warn"`` warns
    instead, ``"off"`` skips the check.
    """

    def __init__(self, message: str, *, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(message)


class IncompatibleServerError(CodexError):
    """The app-server is older than the protocol this SDK was generated for."""


class ProtocolViolationError(CodexError):
    """The app-server sent a reply this SDK cannot read (not JSON, or nested too deeply)."""


class RequestTimeoutError(CodexError, TimeoutError):
    """A wait exceeded the bound the caller set (``timeout=``)."""


class JsonRpcError(CodexError):
    """The server answered a request with a JSON-RPC error.

    Attributes mirror the wire: ``code``, ``message`` (the server's whole text) and the optional
    ``data``; ``method`` names the request that failed, when known. The exception's own text
    quotes at most :data:`QUOTE_LIMIT` characters of the message, made safe for a terminal.
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
        super().__init__(f"JSON-RPC error {code}{where}: {_readable(message)}")

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
        elif _data_mentions(data, "serverOverloaded"):
            # Whatever the code, the server says it refused the work: safe to retry.
            cls = ServerBusyError
        elif _names_unknown_method(code, message, method):
            cls = MethodNotFoundError
        return cls(code, message, data, method=method)


class ParseError(JsonRpcError):
    """-32700: the server could not parse what the client sent."""

    CODE = -32700


class InvalidRequestError(JsonRpcError):
    """-32600: the request was not a valid JSON-RPC request (or came before ``initialize``)."""

    CODE = -32600


class MethodNotFoundError(InvalidRequestError):
    """The server does not know this method (it may be older than the SDK).

    JSON-RPC's code for it is -32601, but the app-server answers an unknown method with -32600
    and ``Invalid request: unknown variant `METHOD`, expected one of ...``; both become this
    error (``code`` keeps what the server sent, ``message`` the whole list it gave). It is
    also an :class:`InvalidRequestError`, the kind of the code the server sends.
    """

    CODE = -32601


class InvalidParamsError(JsonRpcError):
    """-32602: the parameters were rejected by the server."""

    CODE = -32602


class InternalError(JsonRpcError):
    """-32603: the server failed while handling the request."""

    CODE = -32603


class ServerBusyError(JsonRpcError):
    """-32001, or any error whose data says ``serverOverloaded``: the server is overloaded.

    The server did not start the work, so the request is safe to retry later;
    :func:`codex_app_server.retry_on_overload` retries exactly this error (see
    :func:`codex_app_server.is_retryable_error`). ``code`` keeps what the server sent.
    """

    CODE = -32001


class RetryLimitExceededError(JsonRpcError):
    """The server gave up after retrying the model itself (``responseTooManyFailedAttempts``)."""


class ThreadNotFoundError(InvalidRequestError):
    """The thread named by a request does not exist (unknown or deleted id).

    ``thread_id`` is the id asked for. Resuming falls back on it::

        try:
            thread = codex.thread_resume(saved_id)
        except ThreadNotFoundError:
            thread = codex.thread_start()
    """

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        *,
        method: str | None = None,
        thread_id: str = "",
    ) -> None:
        self.thread_id = thread_id
        super().__init__(code, message, data, method=method)


class TurnFailedError(CodexError):
    """A turn completed with status ``failed``; ``turn`` is the generated ``Turn`` model.

    ``error`` is the turn's ``TurnError``. The message quotes its text and then its cause:
    ``codex_error_info`` (for example ``internalServerError``) and the model provider's HTTP
    status where Codex reports one, as in ``(httpConnectionFailed, HTTP 503)``. Codex reports
    a provider's HTTP 500 as ``internalServerError`` without the status; the message adds it.
    """

    def __init__(self, turn: Any) -> None:
        self.turn = turn
        error = getattr(turn, "error", None)
        self.error = error
        message = getattr(error, "message", None) or "turn failed without an error message"
        cause = _turn_error_cause(getattr(error, "codex_error_info", None))
        super().__init__(
            f"turn {getattr(turn, 'id', '?')} failed: {quoted(message, QUOTE_LIMIT)}{cause}"
        )


class NotSignedInError(CodexError):
    """The configured model provider needs an OpenAI sign-in and the app-server has none.

    Raised by ``Codex()`` / ``AsyncCodex`` at start; the message lists the ways to sign in.
    Pass ``require_sign_in=False`` to start anyway (to sign in through the API afterwards).
    """


class LoginFailedError(CodexError):
    """A sign-in attempt could not start, failed, or was cancelled.

    ``login_id`` names the attempt when the server gave it one; ``error`` is the server's
    reason, when it sent one.
    """

    def __init__(self, message: str, *, login_id: str | None = None, error: str | None = None):
        self.login_id = login_id
        self.error = error
        super().__init__(message)


#: The name the ``openai-codex`` SDK gives the base of typed JSON-RPC errors; here it is
#: :class:`JsonRpcError` itself, so ``except CodexRpcError`` catches every error reply.
CodexRpcError = JsonRpcError
#: The ``openai-codex`` SDK's name for the -32603 error: :class:`InternalError`.
InternalRpcError = InternalError


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


# serde's "expected one of `a`, `b`, ..." lists every name it knows: for a method, 200 of them.
_NAME_LIST = re.compile(r"expected one of (`[^`]*`(?:(?:, | or )`[^`]*`){5,})")


def _readable(message: str) -> str:
    """A server message to quote: long lists of names counted, at most QUOTE_LIMIT characters."""
    message = _NAME_LIST.sub(
        lambda found: (
            f"expected one of {found.group(1).count('`') // 2} names "
            "(the full list is on the exception's .message)"
        ),
        message,
    )
    return quoted(message, QUOTE_LIMIT)


# The app-server decodes a request's method as an enum: an unknown one fails as an invalid
# request naming the variant and listing every method it knows.
_UNKNOWN_VARIANT = re.compile(r"unknown variant `([^`]*)`, expected one of `initialize`")


def _names_unknown_method(code: int, message: str, method: str | None) -> bool:
    found = _UNKNOWN_VARIANT.search(message) if code == InvalidRequestError.CODE else None
    return found is not None and method in (None, found.group(1))


#: What Codex's ``codex_error_info`` implies about the provider's HTTP status when it says none.
_IMPLIED_STATUS = {"internalServerError": 500}


def _turn_error_cause(info: Any) -> str:
    """`` (kind, HTTP status)`` from a turn error's ``codex_error_info``, or ``""``."""
    if info is None:
        return ""
    dump = getattr(info, "model_dump", None)
    wire = dump(by_alias=True, mode="json") if callable(dump) else info
    wire = getattr(wire, "value", wire)  # an enum member
    if isinstance(wire, str):
        kind, status = wire, _IMPLIED_STATUS.get(wire)
    elif isinstance(wire, Mapping) and len(wire) == 1:
        ((kind, detail),) = wire.items()
        status = detail.get("httpStatusCode") if isinstance(detail, Mapping) else None
    else:
        return ""
    parts = [quoted(str(kind), 80)]
    if isinstance(status, int):
        parts.append(f"HTTP {status}")
    return f" ({', '.join(parts)})"


def _data_mentions(data: Any, key: str) -> bool:
    """Whether ``key`` appears as a string value or object key anywhere in error ``data``."""
    if data == key:
        return True
    if isinstance(data, Mapping):
        return any(k == key or _data_mentions(v, key) for k, v in data.items())
    if isinstance(data, list):
        return any(_data_mentions(v, key) for v in data)
    return False
