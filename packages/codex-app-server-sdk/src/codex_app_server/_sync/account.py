# Generated from ../_async/account.py by scripts/unasync.py: edit that file instead.
"""Signing in: the start-up check, API-key and ChatGPT sign-in, and the sign-in handles.

The client's ``login_*`` methods and its start-up check call the functions here; the
no-I/O parts (checking a key, wording an error, reading the completion) are in
:mod:`codex_app_server.account`. A ChatGPT sign-in runs on the server while the user works in
a browser; the handles below follow it to its ``account/login/completed``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .._protocol import LOGIN_SCOPE, Subscription
from ..account import (
    CANCEL_GRACE,
    api_key_params,
    cancelled,
    check_signed_in,
    completion,
    outcome,
    start_failed,
    start_timeout,
    started_as,
    timed_out,
    was_cancelled,
)
from ..errors import JsonRpcError, MethodNotFoundError, RequestTimeoutError, TransportClosedError

if TYPE_CHECKING:
    from .._connection import Inbox
    from ..generated import AccountLoginCompletedNotification
    from .client import CodexClient

__all__ = [
    "ChatgptLoginHandle",
    "DeviceCodeLoginHandle",
    "ensure_signed_in",
    "login_api_key",
    "login_chatgpt",
    "login_chatgpt_device_code",
]


def ensure_signed_in(client: CodexClient) -> None:
    """Raise :class:`~codex_app_server.NotSignedInError` if the server's provider needs a
    sign-in it does not have (the start-up check of the client)."""
    try:
        account = client.account_read()
    except MethodNotFoundError:
        return  # a server without account/read (a stand-in) cannot say: nothing to check
    check_signed_in(account, client.initialize_response.codex_home)


def login_api_key(client: CodexClient, api_key: str) -> None:
    """Store ``api_key`` as the app-server's sign-in (``account/login/start``, ``apiKey``)."""
    params = api_key_params(api_key)
    try:
        result = client.request(
            "account/login/start", params, timeout=start_timeout(client.config.request_timeout)
        )
    except JsonRpcError as exc:
        raise start_failed(exc, api_key=api_key) from None
    started_as("apiKey", result)


def _start(client: CodexClient, kind: str) -> tuple[Any, Subscription[Inbox]]:
    # Subscribed before the request: the attempt can end before its reply has been read.
    subscription = client.connection.subscribe(LOGIN_SCOPE)
    try:
        result = client.request(
            "account/login/start",
            {"type": kind},
            timeout=start_timeout(client.config.request_timeout),
        )
        return started_as(kind, result), subscription
    except JsonRpcError as exc:
        client.connection.unsubscribe(subscription)
        raise start_failed(exc) from None
    except BaseException:
        client.connection.unsubscribe(subscription)
        raise


class _Login:
    """What the sign-in handles share: waiting for the attempt's end, cancelling it."""

    def __init__(
        self, client: CodexClient, login_id: str, subscription: Subscription[Inbox]
    ) -> None:
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
                raise cancelled(self.login_id)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = self._subscription.sink.get(remaining)
            except RequestTimeoutError:
                raise timed_out(self.login_id, timeout) from None
            done = completion(event, self.login_id)
            if done is not None:
                self._release()
                return outcome(done)

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
            while was_cancelled(reply):
                event = subscription.sink.get(max(0.0, deadline - time.monotonic()))
                if completion(event, self.login_id) is not None:
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
        self,
        client: CodexClient,
        login_id: str,
        auth_url: str,
        subscription: Subscription[Inbox],
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
