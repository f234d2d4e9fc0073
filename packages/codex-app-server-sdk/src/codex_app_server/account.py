"""Signing in, the no-I/O part: the start-up check's verdict, a key's checks, the errors.

The requests and the sign-in handles are written once, in ``_async/account.py`` (the sync
module is generated from it); ``Codex()`` / ``AsyncCodex`` call :func:`check_signed_in` at
start through them.

An API key goes to the server only inside the ``account/login/start`` request on the
app-server's stdin (never argv), the SDK's DEBUG log redacts it, and no message, ``repr`` or
error raised here contains it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._protocol import Notification
from ._turns import typed
from .errors import JsonRpcError, LoginFailedError, NotSignedInError, RequestTimeoutError

if TYPE_CHECKING:
    from .generated import (
        AccountLoginCompletedNotification,
        CancelLoginAccountResponse,
        GetAccountResponse,
    )

__all__ = ["CANCEL_GRACE", "LOGIN_START_TIMEOUT", "check_signed_in"]

#: Seconds a sign-in may take to start (the server asks OpenAI for a device code first);
#: without a network it fails at once, and it never waits longer than this.
LOGIN_START_TIMEOUT = 60.0

#: Seconds ``cancel()`` waits for the server to report the cancelled attempt's end.
CANCEL_GRACE = 10.0

_COMPLETED = "account/login/completed"


def check_signed_in(account: GetAccountResponse, codex_home: str) -> None:
    """Raise :class:`~codex_app_server.NotSignedInError` if the provider needs a sign-in."""
    if not account.requires_openai_auth or account.account is not None:
        return
    raise NotSignedInError(
        "not signed in: the configured model provider needs an OpenAI sign-in, and "
        f"CODEX_HOME ({codex_home}) holds none. Sign in once, with that CODEX_HOME:\n"
        "  - an API key: printenv OPENAI_API_KEY | python -m codex_cli_bin login --with-api-key\n"
        "  - ChatGPT, in a browser: python -m codex_cli_bin login\n"
        "  - ChatGPT, with a code to enter on another device: "
        "python -m codex_cli_bin login --device-auth\n"
        "or from Python: start with require_sign_in=False, then call codex.login_api_key(key) "
        "or codex.login_chatgpt(). (The app-server does not read OPENAI_API_KEY by itself.)"
    )


def api_key_params(api_key: str) -> dict[str, Any]:
    """``account/login/start``'s params for ``api_key``, once it looks like a key."""
    # Checked here because the server stores anything; the key itself is never quoted.
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not api_key.strip():
        raise ValueError("api_key is empty; pass the OpenAI API key (it starts with 'sk-')")
    if any(char.isspace() or not char.isprintable() for char in api_key):
        raise ValueError(
            "api_key contains whitespace or control characters; pass the key alone, without "
            "quotes, spaces or a trailing newline"
        )
    return {"type": "apiKey", "apiKey": api_key}


def start_timeout(request_timeout: float | None) -> float:
    """How long ``account/login/start`` may take: the client's timeout, capped."""
    return min(request_timeout or LOGIN_START_TIMEOUT, LOGIN_START_TIMEOUT)


def start_failed(exc: JsonRpcError, *, api_key: str | None = None) -> LoginFailedError:
    """The error for a refused ``account/login/start``; never quotes ``api_key``."""
    if api_key is not None:
        reason = exc.message.replace(api_key, "<redacted>")
        return LoginFailedError(f"API-key sign-in could not start: {reason}", error=reason)
    return LoginFailedError(
        f"ChatGPT sign-in could not start: {exc.message}; check that this machine can reach "
        "OpenAI, or sign in with an API key (login_api_key)",
        error=exc.message,
    )


def started_as(kind: str, result: Any) -> Any:
    """The typed ``account/login/start`` reply, checked to be the kind asked for."""
    from .generated import LoginAccountResponse

    started = LoginAccountResponse.model_validate(result).root
    if started.type != kind:
        raise LoginFailedError(f"asked for a {kind!r} sign-in, the server started {started.type!r}")
    return started


def completion(event: Notification, login_id: str) -> AccountLoginCompletedNotification | None:
    """The completion of ``login_id`` if ``event`` is it."""
    if event.method != _COMPLETED:
        return None
    done: AccountLoginCompletedNotification = typed(event).params
    return done if done.login_id == login_id else None


def outcome(done: AccountLoginCompletedNotification) -> AccountLoginCompletedNotification:
    """``done`` if the sign-in succeeded; else raise its ``LoginFailedError``."""
    if done.success:
        return done
    raise LoginFailedError(
        f"sign-in {done.login_id} failed: {done.error or 'no reason given'}",
        login_id=done.login_id,
        error=done.error,
    )


def was_cancelled(reply: CancelLoginAccountResponse) -> bool:
    """Whether the server stopped a running attempt (it then reports the attempt's end)."""
    return bool(reply.status == "canceled")


def cancelled(login_id: str) -> LoginFailedError:
    """The error ``wait()`` raises once the attempt was cancelled."""
    return LoginFailedError(f"sign-in {login_id} was cancelled", login_id=login_id)


def timed_out(login_id: str, timeout: float | None) -> RequestTimeoutError:
    """The error of a ``wait()`` whose ``timeout`` passed (the attempt stays open)."""
    return RequestTimeoutError(
        f"sign-in {login_id} did not complete within {timeout} s; it is still open: call "
        "wait() again, or cancel() it"
    )
