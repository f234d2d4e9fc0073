"""The websocket transport: an app-server listening on ``ws://`` instead of a child process.

``codex app-server --listen ws://HOST:PORT`` carries one JSON-RPC message per text frame. The
transports here move frames and nothing else: :class:`WebSocketTransport` (a reader thread, for
the sync connection) and :class:`AsyncWebSocketTransport` (reader and writer tasks on the loop,
for the async one) present the same surface as the stdio transports, so one JSON-RPC core and
one connection class serve both. A dropped socket is never reconnected behind the caller's back:
events sent while disconnected would be lost, so every waiter gets ``TransportClosedError``.

A token is never sent in clear text to another machine: :func:`check_url` refuses a token (or
credentials inside the URL) over ``ws://`` to a host that is not loopback unless the caller
opts in, and ``wss://`` is TLS with certificate checks (the system's CAs, or ``ssl_context``).
URLs in messages go through :func:`~codex_app_server._redact.redact_url`.

The ``websockets`` package is an optional extra:
``pip install 'codex-app-server-sdk[websocket]'``.

:func:`wait_until_ready` polls the server's ``/readyz``; :func:`signed_bearer_token` makes the
HS256 JWT that ``--ws-auth signed-bearer-token`` servers accept.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._redact import is_secret_key, redact_text, redact_url
from ..errors import AppServerStartError, CodexError, RequestTimeoutError
from .room import WaitRoom
from .stderr import StderrTail
from .stdio import SHUTDOWN_STEP
from .urls import check_url

if TYPE_CHECKING:
    import ssl

    from websockets.asyncio.client import ClientConnection as AsyncClientConnection
    from websockets.sync.client import ClientConnection

__all__ = [
    "INSTALL_HINT",
    "AsyncWebSocketTransport",
    "WebSocketTransport",
    "signed_bearer_token",
    "wait_until_ready",
]

#: What to run when the optional dependency is missing.
INSTALL_HINT = "pip install 'codex-app-server-sdk[websocket]'"
#: Seconds allowed for the TCP connection and the websocket handshake.
OPEN_TIMEOUT = 30.0

OnMessage = Callable[[str | bytes], None]
OnEof = Callable[[str], None]


def _missing() -> ImportError:
    return ImportError(
        f"connecting to an app-server by url= needs the websockets package: {INSTALL_HINT}"
    )


class _HandshakeLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' client logger with credentials hidden.

    At DEBUG, websockets logs every handshake header (``name``, ``value`` arguments) and the
    request line; no bearer token, URL credential or secret-looking header may be among them.
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) == 2 and is_secret_key(args[0]):
            args = (args[0], "<redacted>")
        args = tuple(redact_text(a) if isinstance(a, str) else a for a in args)
        super().log(level, msg, *args, **kwargs)


_HANDSHAKE_LOG = _HandshakeLog(logging.getLogger("websockets.client"), {})


def _headers(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


def _open_error(url: str, exc: BaseException) -> AppServerStartError:
    """A clear start error for a refused or failed handshake (never echoing a credential)."""
    url = redact_url(url)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        body = bytes(getattr(response, "body", b"") or b"").decode("utf-8", "replace").strip()
        hint = " (check ws_token)" if status in (401, 403) else ""
        return AppServerStartError(
            redact_text(
                f"the app-server at {url} refused the websocket connection: HTTP {status}"
                f"{': ' + body if body else ''}{hint}"
            )
        )
    return AppServerStartError(redact_text(f"could not open a websocket to {url}: {exc}"))


def _closed_reason(url: str, exc: BaseException) -> str:
    return redact_text(f"the websocket to {url} closed: {exc}")


class _WebSocketBase:
    """What both websocket transports hold before they connect, and say of their server."""

    def __init__(
        self, url: str, *, token: str | None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        #: The server's address as messages show it (credentials hidden).
        self.url = redact_url(url)
        #: A remote server's stderr cannot be seen; kept so every transport looks alike.
        self.stderr = StderrTail()
        self._address = url
        self._token = token
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def pid(self) -> int:
        """Not available: the server is not a local child process."""
        raise CodexError(f"the app-server at {self.url} is not a local process; it has no pid")

    @property
    def exit_code(self) -> int | None:
        """Always ``None``: a remote server's exit status cannot be known."""
        return None


class WebSocketTransport(_WebSocketBase):
    """A websocket to an app-server whose frames are pushed to ``on_message`` from a reader thread.

    Built with the address and not connected: :meth:`open`, called by the connection, connects.
    ``on_message`` is called with ``lock`` held; threads waiting for what it changes wait in
    :attr:`room`. ``on_eof`` is called once, from the reader thread, with a description of why
    the socket closed. Opening performs the handshake, so a refused token fails there.
    """

    def open(
        self,
        lock: threading.Lock,
        on_data: Callable[[bytes], None],
        on_message: OnMessage,
        on_eof: OnEof,
    ) -> None:
        """Connect (the handshake checks the token) and start the reader thread; every frame
        goes to ``on_message`` (``on_data`` is unused: a websocket carries messages)."""
        try:
            from websockets.sync.client import connect
        except ImportError:
            raise _missing() from None
        url = self._address
        #: Where threads wait for messages; only the reader thread reads.
        self.room = WaitRoom(lock)
        self._on_message = on_message
        self._on_eof = on_eof
        self._write_lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        try:
            # Entering the connection as a context manager is what every websockets release
            # from 13 on accepts without a deprecation warning.
            self._ws: ClientConnection = self._stack.enter_context(
                connect(
                    url,
                    ssl=self._ssl_context,
                    additional_headers=_headers(self._token),
                    open_timeout=OPEN_TIMEOUT,
                    max_size=None,  # like stdio lines: no limit on a message's size
                    close_timeout=SHUTDOWN_STEP,
                    logger=_HANDSHAKE_LOG,
                )
            )
        except Exception as exc:
            raise _open_error(url, exc) from None
        self._reader_thread = threading.Thread(
            target=self._read, name="codex-app-server-websocket", daemon=True
        )
        self._reader_thread.start()

    def write(self, data: bytes) -> None:
        """Send one JSON-RPC line as one text frame; raises ``OSError`` once the socket closed."""
        from websockets.exceptions import ConnectionClosed

        try:
            with self._write_lock:
                self._ws.send(data.rstrip(b"\n").decode())
        except ConnectionClosed as exc:
            raise BrokenPipeError(_closed_reason(self.url, exc)) from None

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = f"the websocket to {self.url} closed"
        try:
            while True:
                message = self._ws.recv()
                with self.room.lock:
                    self._on_message(message)
                    self.room.notify()
        except ConnectionClosed as exc:
            reason = _closed_reason(self.url, exc)
        finally:
            self._on_eof(reason)

    def close(self) -> int | None:
        """Close the socket (a close frame, then a bounded wait) and stop the reader."""
        self._stack.close()
        if threading.current_thread() is not self._reader_thread:
            self._reader_thread.join(timeout=SHUTDOWN_STEP)
        return None


class AsyncWebSocketTransport(_WebSocketBase):
    """The asyncio twin of :class:`WebSocketTransport`: a reader task and a writer task.

    :meth:`write` is synchronous, like the stdio pipe's: it queues a frame for the writer task,
    which keeps frames in order; :meth:`drain` waits until the queue is sent.
    """

    #: Every write is followed by :meth:`drain`: back-pressure comes from the socket.
    writing_paused = True

    def __init__(
        self, url: str, *, token: str | None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(url, token=token, ssl_context=ssl_context)
        self._broken: str | None = None

    async def open(
        self, on_data: Callable[[bytes], None], on_message: OnMessage, on_eof: OnEof
    ) -> None:
        """Connect (the handshake checks the token) and start the reader and writer tasks;
        every frame goes to ``on_message`` (``on_data`` is unused)."""
        try:
            from websockets.asyncio.client import connect
        except ImportError:
            raise _missing() from None
        url = self._address
        try:
            self._ws: AsyncClientConnection = await connect(
                url,
                ssl=self._ssl_context,
                additional_headers=_headers(self._token),
                open_timeout=OPEN_TIMEOUT,
                max_size=None,
                close_timeout=SHUTDOWN_STEP,
                logger=_HANDSHAKE_LOG,
            )
        except Exception as exc:
            raise _open_error(url, exc) from None
        self._on_message = on_message
        self._on_eof = on_eof
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._reader_task = asyncio.ensure_future(self._read())
        self._writer_task = asyncio.ensure_future(self._pump())

    def write(self, data: bytes) -> None:
        """Queue one JSON-RPC line as a text frame; raises ``OSError`` once the socket closed."""
        if self._broken is not None:
            raise BrokenPipeError(self._broken)
        self._outbox.put_nowait(data.rstrip(b"\n").decode())

    async def drain(self) -> None:
        """Wait until every queued frame is sent (back-pressure comes from the socket)."""
        await self._outbox.join()
        if self._broken is not None:
            raise BrokenPipeError(self._broken)

    async def _pump(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                text = await self._outbox.get()
                try:
                    await self._ws.send(text)
                finally:
                    self._outbox.task_done()
        except ConnectionClosed as exc:
            self._broken = _closed_reason(self.url, exc)
        finally:
            self._broken = self._broken or f"the websocket to {self.url} is closed"
            # Frames that can no longer be sent must not keep drain() waiting.
            while not self._outbox.empty():
                self._outbox.get_nowait()
                self._outbox.task_done()

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = f"the websocket to {self.url} closed"
        try:
            while True:
                self._on_message(await self._ws.recv())
        except ConnectionClosed as exc:
            reason = _closed_reason(self.url, exc)
        finally:
            self._writer_task.cancel()
            self._on_eof(reason)

    async def close(self) -> int | None:
        """Close the socket (a close frame, then a bounded wait) and stop both tasks."""
        await self._ws.close()
        self._writer_task.cancel()
        tasks = {self._reader_task, self._writer_task} - {asyncio.current_task()}
        # asyncio.wait neither raises a task's error nor cancels the caller's wait.
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_STEP)
        for task in pending:
            task.cancel()
        return None


def ready_url(url: str) -> str:
    """The HTTP address of a websocket app-server's readiness probe (``/readyz``)."""
    parts = urllib.parse.urlsplit(check_url(url))
    scheme = "https" if parts.scheme == "wss" else "http"
    host = parts.netloc.rpartition("@")[2]  # credentials are for the websocket, not the probe
    return urllib.parse.urlunsplit((scheme, host, "/readyz", "", ""))


def wait_until_ready(
    url: str, *, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Block until the app-server at ``url`` (``ws://HOST:PORT``) answers ``/readyz`` with 200.

    For a server that is starting (a container, a process launched elsewhere). Raises
    :class:`~codex_app_server.RequestTimeoutError` if it is not ready within ``timeout`` seconds.
    ``ssl_context`` is the TLS context for a ``wss://`` server (default: the system's CAs).
    Needs no extra package.
    """
    import urllib.error
    import urllib.request

    probe = ready_url(url)
    deadline = time.monotonic() + timeout
    last: object = "no answer"
    while True:
        try:
            with urllib.request.urlopen(
                probe, timeout=min(2.0, timeout), context=ssl_context
            ) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise RequestTimeoutError(
                redact_text(
                    f"the app-server at {redact_url(url)} was not ready in {timeout} s: {last}"
                )
            )
        time.sleep(0.05)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_bearer_token(
    secret: bytes | str,
    *,
    issuer: str | None = None,
    audience: str | None = None,
    ttl: float = 300.0,
    claims: dict[str, Any] | None = None,
) -> str:
    """An HS256 JWT for an app-server started with ``--ws-auth signed-bearer-token``.

    ``secret`` is the content of the server's ``--ws-shared-secret-file``; ``issuer`` and
    ``audience`` must match its ``--ws-issuer``/``--ws-audience`` when it sets them. The token
    expires ``ttl`` seconds from now (the server requires ``exp``); ``claims`` adds more. Pass
    the result as ``ws_token=``.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    now = int(time.time())
    payload: dict[str, Any] = {"iat": now, "exp": now + max(1, int(ttl))}
    if issuer is not None:
        payload["iss"] = issuer
    if audience is not None:
        payload["aud"] = audience
    payload.update(claims or {})
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"
