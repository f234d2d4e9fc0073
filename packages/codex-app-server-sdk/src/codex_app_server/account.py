"""Signing in: the start-up check, API-key and ChatGPT sign-in, the account, logging out.

``Codex()`` / ``AsyncCodex`` call :func:`check_signed_in` at start. Their ``login_*``
methods, ``account()`` and ``logout()`` call the functions here, which hold the sign-in logic
once for both APIs. A ChatGPT sign-in runs on the server while the user works in a browser;
the handles below follow it to its ``account/login/completed``.

An API key goes to the server only inside the ``account/login/start`` request on the
app-server's stdin (never argv), the SDK's DEBUG log redacts it, and no message, ``repr`` or
error raised here contains it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ._protocol import LOGIN_SCOPE, Notification, Subscription
from ._turns import typed
from .errors import (
    JsonRpcError,
    LoginFailedError,
    MethodNotFoundError,
    NotSignedInError,
    RequestTimeoutError,
    TransportClosedError,
)

if TYPE_CHECKING:
    from ._client import AsyncCodexClient, CodexClient
    from ._connection import AsyncInbox, Inbox
    from .generated import (
        AccountLoginCompletedNotification,
        CancelLoginAccountResponse,
        GetAccountResponse,
    )

__all__ = [
    "LOGIN_START_TIMEOUT",
    "AsyncChatgptLoginHandle",
    "AsyncDeviceCodeLoginHandle",
    "ChatgptLoginHandle",
    "DeviceCodeLoginHandle",
    "async_ensure_signed_in",
    "check_signed_in",
    "ensure_signed_in",
]

#: Seconds a sign-in may take to start (the server asks OpenAI for a device code first);
#: without a network it fails at once, and it never waits longer than this.
LOGIN_START_TIMEOUT = 60.0

#: Seconds ``cancel()`` waits for the server to report the cancelled attempt's end.
CANCEL_GRACE = 10.0

_COMPLETED = "account/login/completed"


def ensure_signed_in(client: CodexClient) -> None:
    """Raise :class:`~codex_app_server.NotSignedInError` if the server's provider needs a
    sign-in it does not have (the start-up check of ``Codex()``)."""
    try:
        account = client.account_read()
    except MethodNotFoundError:
        return  # a server without account/read (a stand-in) cannot say: nothing to check
    check_signed_in(account, client.initialize_response.codex_home)


async def async_ensure_signed_in(client: AsyncCodexClient) -> None:
    """The asyncio twin of :func:`ensure_signed_in`."""
    try:
        account = await client.account_read()
    except MethodNotFoundError:
        return
    check_signed_in(account, client.initialize_response.codex_home)


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


def _api_key_params(api_key: str) -> dict[str, Any]:
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


def _start_timeout(request_timeout: float | None) -> float:
    return min(request_timeout or LOGIN_START_TIMEOUT, LOGIN_START_TIMEOUT)


def _start_failed(exc: JsonRpcError, *, api_key: str | None = None) -> LoginFailedError:
    """The error for a refused ``account/login/start``; never quotes ``api_key``."""
    if api_key is not None:
        reason = exc.message.replace(api_key, "<redacted>")
        return LoginFailedError(f"API-key sign-in could not start: {reason}", error=reason)
    return LoginFailedError(
        f"ChatGPT sign-in could not start: {exc.message}; check that this machine can reach "
        "OpenAI, or sign in with an API key (login_api_key)",
        error=exc.message,
    )


def _started(kind: str, result: Any) -> Any:
    """The typed ``account/login/start`` reply, checked to be the kind asked for."""
    from .generated import LoginAccountResponse

    started = LoginAccountResponse.model_validate(result).root
    if started.type != kind:
        raise LoginFailedError(f"asked for a {kind!r} sign-in, the server started {started.type!r}")
    return started


def _completion(event: Notification, login_id: str) -> AccountLoginCompletedNotification | None:
    """The completion of ``login_id`` if ``event`` is it."""
    if event.method != _COMPLETED:
        return None
    done: AccountLoginCompletedNotification = typed(event).params
    return done if done.login_id == login_id else None


def _outcome(done: AccountLoginCompletedNotification) -> AccountLoginCompletedNotification:
    if done.success:
        return done
    raise LoginFailedError(
        f"sign-in {done.login_id} failed: {done.error or 'no reason given'}",
        login_id=done.login_id,
        error=done.error,
    )


def _was_cancelled(reply: CancelLoginAccountResponse) -> bool:
    """Whether the server stopped a running attempt (it then reports the attempt's end)."""
    return bool(reply.status == "canceled")


def _cancelled(login_id: str) -> LoginFailedError:
    return LoginFailedError(f"sign-in {login_id} was cancelled", login_id=login_id)


def _timed_out(login_id: str, timeout: float | None) -> RequestTimeoutError:
    return RequestTimeoutError(
        f"sign-in {login_id} did not complete within {timeout} s; it is still open: call "
        "wait() again, or cancel() it"
    )


# -- sync ----------------------------------------------------------------------------------


def login_api_key(client: CodexClient, api_key: str) -> None:
    """Store ``api_key`` as the app-server's sign-in (``account/login/start``, ``apiKey``)."""
    params = _api_key_params(api_key)
    try:
        result = client.request(
            "account/login/start", params, timeout=_start_timeout(client.config.request_timeout)
        )
    except JsonRpcError as exc:
        raise _start_failed(exc, api_key=api_key) from None
    _started("apiKey", result)


def _start(client: CodexClient, kind: str) -> tuple[Any, Subscription[Inbox]]:
    # Subscribed before the request: the attempt can end before its reply has been read.
    subscription = client.connection.subscribe(LOGIN_SCOPE)
    try:
        result = client.request(
            "account/login/start",
            {"type": kind},
            timeout=_start_timeout(client.config.request_timeout),
        )
        return _started(kind, result), subscription
    except JsonRpcError as exc:
        client.connection.unsubscribe(subscription)
        raise _start_failed(exc) from None
    except BaseException:
        client.connection.unsubscribe(subscription)
        raise


class _Login:
    """What the sync sign-in handles share: waiting for the attempt's end, cancelling it."""

    def __init__(self, client: CodexClient, login_id: str, subscription: Subscription[Inbox]):
        self._client = client
        self._login_id = login_id
        self._subscription: Subscription[Inbox] | None = subscription

    @property
    def login_id(self) -> str:
        """The server's id of this sign-in attempt."""
        return self._login_id

    def wait(self, timeout: float | None = None) -> AccountLoginCompletedNotification:
        """Wait for the sign-in to end; return the server's ``account/login/completed``.

        Raises :class:`~codex_app_server.LoginFailedError` if it failed or was cancelled, and
        :class:`~codex_app_server.RequestTimeoutError` if ``timeout`` seconds pass first (the
        attempt stays open: wait again or :meth:`cancel`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._subscription is None:
                raise _cancelled(self.login_id)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = self._subscription.sink.get(remaining)
            except RequestTimeoutError:
                raise _timed_out(self.login_id, timeout) from None
            done = _completion(event, self.login_id)
            if done is not None:
                self._release()
                return _outcome(done)

    def cancel(self) -> None:
        """Stop the attempt and wait (briefly) until the server has (its local callback server
        is closed then); afterwards :meth:`wait` raises. Safe to call twice."""
        subscription = self._subscription
        if subscription is None:
            return
        try:
            if self._client.connection.closed:
                return
            reply = self._client.account_login_cancel(login_id=self.login_id)
            deadline = time.monotonic() + CANCEL_GRACE
            while _was_cancelled(reply):
                event = subscription.sink.get(max(0.0, deadline - time.monotonic()))
                if _completion(event, self.login_id) is not None:
                    break
        except (RequestTimeoutError, TransportClosedError):
            pass  # the attempt is over for this client either way
        finally:
            self._release()

    def _release(self) -> None:
        if self._subscription is not None:
            self._client.connection.unsubscribe(self._subscription)
            self._subscription = None


class ChatgptLoginHandle(_Login):
    """A browser sign-in with ChatGPT, from :meth:`Codex.login_chatgpt`.

    Open ``auth_url`` in a browser on the machine running the app-server: after the user signs
    in, OpenAI redirects to a callback server the app-server runs on ``127.0.0.1``. Then
    :meth:`wait` returns; :meth:`cancel` gives up.
    """

    def __init__(
        self, client: CodexClient, login_id: str, auth_url: str, subscription: Subscription[Inbox]
    ) -> None:
        super().__init__(client, login_id, subscription)
        #: The URL to open in a browser.
        self.auth_url = auth_url

    def __repr__(self) -> str:
        return f"ChatgptLoginHandle(login_id={self.login_id!r})"


class DeviceCodeLoginHandle(_Login):
    """A ChatGPT sign-in with a device code, from :meth:`Codex.login_chatgpt_device_code`.

    Show the user ``verification_url`` and ``user_code``: they open the URL on any device and
    enter the code. :meth:`wait` returns when they have; :meth:`cancel` gives up.
    """

    def __init__(
        self,
        client: CodexClient,
        login_id: str,
        verification_url: str,
        user_code: str,
        subscription: Subscription[Inbox],
    ) -> None:
        super().__init__(client, login_id, subscription)
        #: The page where the user enters the code.
        self.verification_url = verification_url
        #: The one-time code to enter there.
        self.user_code = user_code

    def __repr__(self) -> str:
        return f"DeviceCodeLoginHandle(login_id={self.login_id!r})"


def login_chatgpt(client: CodexClient) -> ChatgptLoginHandle:
    """Start a browser sign-in with ChatGPT."""
    started, subscription = _start(client, "chatgpt")
    return ChatgptLoginHandle(client, started.login_id, started.auth_url, subscription)


def login_chatgpt_device_code(client: CodexClient) -> DeviceCodeLoginHandle:
    """Start a device-code sign-in with ChatGPT."""
    started, subscription = _start(client, "chatgptDeviceCode")
    return DeviceCodeLoginHandle(
        client, started.login_id, started.verification_url, started.user_code, subscription
    )


# -- async ---------------------------------------------------------------------------------


async def async_login_api_key(client: AsyncCodexClient, api_key: str) -> None:
    """The asyncio twin of :func:`login_api_key`."""
    params = _api_key_params(api_key)
    try:
        result = await client.request(
            "account/login/start", params, timeout=_start_timeout(client.config.request_timeout)
        )
    except JsonRpcError as exc:
        raise _start_failed(exc, api_key=api_key) from None
    _started("apiKey", result)


async def _async_start(client: AsyncCodexClient, kind: str) -> tuple[Any, Subscription[AsyncInbox]]:
    subscription = client.connection.subscribe(LOGIN_SCOPE)
    try:
        result = await client.request(
            "account/login/start",
            {"type": kind},
            timeout=_start_timeout(client.config.request_timeout),
        )
        return _started(kind, result), subscription
    except JsonRpcError as exc:
        client.connection.unsubscribe(subscription)
        raise _start_failed(exc) from None
    except BaseException:
        client.connection.unsubscribe(subscription)
        raise


class _AsyncLogin:
    """What the async sign-in handles share: waiting for the attempt's end, cancelling it."""

    def __init__(
        self, client: AsyncCodexClient, login_id: str, subscription: Subscription[AsyncInbox]
    ) -> None:
        self._client = client
        self._login_id = login_id
        self._subscription: Subscription[AsyncInbox] | None = subscription

    @property
    def login_id(self) -> str:
        """The server's id of this sign-in attempt."""
        return self._login_id

    async def wait(self, timeout: float | None = None) -> AccountLoginCompletedNotification:
        """Wait for the sign-in to end; return the server's ``account/login/completed``.

        Raises :class:`~codex_app_server.LoginFailedError` if it failed or was cancelled, and
        :class:`~codex_app_server.RequestTimeoutError` if ``timeout`` seconds pass first (the
        attempt stays open: wait again or :meth:`cancel`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._subscription is None:
                raise _cancelled(self.login_id)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = await self._subscription.sink.get(remaining)
            except RequestTimeoutError:
                raise _timed_out(self.login_id, timeout) from None
            done = _completion(event, self.login_id)
            if done is not None:
                self._release()
                return _outcome(done)

    async def cancel(self) -> None:
        """Stop the attempt and wait (briefly) until the server has (its local callback server
        is closed then); afterwards :meth:`wait` raises. Safe to call twice."""
        subscription = self._subscription
        if subscription is None:
            return
        try:
            if self._client.connection.closed:
                return
            reply = await self._client.account_login_cancel(login_id=self.login_id)
            deadline = time.monotonic() + CANCEL_GRACE
            while _was_cancelled(reply):
                event = await subscription.sink.get(max(0.0, deadline - time.monotonic()))
                if _completion(event, self.login_id) is not None:
                    break
        except (RequestTimeoutError, TransportClosedError):
            pass  # the attempt is over for this client either way
        finally:
            self._release()

    def _release(self) -> None:
        if self._subscription is not None:
            self._client.connection.unsubscribe(self._subscription)
            self._subscription = None


class AsyncChatgptLoginHandle(_AsyncLogin):
    """The asyncio twin of :class:`ChatgptLoginHandle`, from ``AsyncCodex.login_chatgpt``."""

    def __init__(
        self,
        client: AsyncCodexClient,
        login_id: str,
        auth_url: str,
        subscription: Subscription[AsyncInbox],
    ) -> None:
        super().__init__(client, login_id, subscription)
        #: The URL to open in a browser.
        self.auth_url = auth_url

    def __repr__(self) -> str:
        return f"AsyncChatgptLoginHandle(login_id={self.login_id!r})"


class AsyncDeviceCodeLoginHandle(_AsyncLogin):
    """The asyncio twin of :class:`DeviceCodeLoginHandle`."""

    def __init__(
        self,
        client: AsyncCodexClient,
        login_id: str,
        verification_url: str,
        user_code: str,
        subscription: Subscription[AsyncInbox],
    ) -> None:
        super().__init__(client, login_id, subscription)
        #: The page where the user enters the code.
        self.verification_url = verification_url
        #: The one-time code to enter there.
        self.user_code = user_code

    def __repr__(self) -> str:
        return f"AsyncDeviceCodeLoginHandle(login_id={self.login_id!r})"


async def async_login_chatgpt(client: AsyncCodexClient) -> AsyncChatgptLoginHandle:
    """The asyncio twin of :func:`login_chatgpt`."""
    started, subscription = await _async_start(client, "chatgpt")
    return AsyncChatgptLoginHandle(client, started.login_id, started.auth_url, subscription)


async def async_login_chatgpt_device_code(client: AsyncCodexClient) -> AsyncDeviceCodeLoginHandle:
    """The asyncio twin of :func:`login_chatgpt_device_code`."""
    started, subscription = await _async_start(client, "chatgptDeviceCode")
    return AsyncDeviceCodeLoginHandle(
        client, started.login_id, started.verification_url, started.user_code, subscription
    )
