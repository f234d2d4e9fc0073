"""Transports: how a connection's bytes reach one app-server, and nothing about JSON-RPC.

A transport is built unopened and handed to the connection, which opens it with three
callbacks: ``on_data`` (a byte stream: stdio, memory), ``on_message`` (one whole message per
frame: websocket) and ``on_eof`` (called once, with why the output ended). :func:`transport_for`
and :func:`async_transport_for` build the one a :class:`~codex_app_server.CodexConfig` asks
for: the child process (:mod:`.stdio`) or, with ``url=``, a websocket (:mod:`.websocket`).
:mod:`.memory` is a peer in the same process, for tests of the connection and the client.

The sync transports (:class:`Transport`) call back with the connection's lock held, from
whichever thread read, and let threads wait in their :class:`~.room.WaitRoom`; the async ones
(:class:`AsyncTransport`) call back on the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..config import CodexConfig
    from .room import WaitRoom
from .stderr import StderrTail

__all__ = ["AsyncTransport", "Transport", "async_transport_for", "transport_for"]

OnData = Callable[[bytes], None]
OnMessage = Callable[[str | bytes], None]
OnEof = Callable[[str], None]


class Transport(Protocol):
    """What the sync connection needs of a transport."""

    #: The server's last stderr lines (empty where they cannot be seen).
    stderr: StderrTail

    @property
    def room(self) -> WaitRoom:
        """Where threads wait for the output (set by :meth:`open`)."""

    @property
    def pid(self) -> int:
        """The server's process id (raises where there is none)."""

    @property
    def exit_code(self) -> int | None:
        """The server's exit status once known."""

    def open(
        self, lock: threading.Lock, on_data: OnData, on_message: OnMessage, on_eof: OnEof
    ) -> None:
        """Start: the callbacks run with ``lock`` held."""

    def write(self, data: bytes) -> None:
        """Send one line; raises ``OSError`` once the transport is closed."""

    def close(self) -> int | None:
        """Stop the server or the link; idempotent; returns the exit status if known."""


class AsyncTransport(Protocol):
    """What the async connection needs of a transport."""

    #: The server's last stderr lines (empty where they cannot be seen).
    stderr: StderrTail
    #: Whether a writer must await :meth:`drain` before going on (back-pressure).
    writing_paused: bool

    @property
    def pid(self) -> int:
        """The server's process id (raises where there is none)."""

    @property
    def exit_code(self) -> int | None:
        """The server's exit status once known."""

    async def open(self, on_data: OnData, on_message: OnMessage, on_eof: OnEof) -> None:
        """Start: the callbacks run on the running loop."""

    def write(self, data: bytes) -> None:
        """Queue one line; raises ``OSError`` once the transport is closed."""

    async def drain(self) -> None:
        """Wait until what was written is taken (raises ``OSError`` once closed)."""

    async def close(self) -> int | None:
        """Stop the server or the link; idempotent; returns the exit status if known."""


def transport_for(config: CodexConfig) -> Transport:
    """The sync transport ``config`` asks for: a websocket with ``url=``, else the child."""
    if config.url is not None:
        from .websocket import WebSocketTransport

        return WebSocketTransport(
            config.url, token=config.ws_token, ssl_context=config.ws_ssl_context
        )
    from .stdio import StdioProcess

    return StdioProcess(config)


def async_transport_for(config: CodexConfig) -> AsyncTransport:
    """The async transport ``config`` asks for: a websocket with ``url=``, else the child."""
    if config.url is not None:
        from .websocket import AsyncWebSocketTransport

        return AsyncWebSocketTransport(
            config.url, token=config.ws_token, ssl_context=config.ws_ssl_context
        )
    from .stdio import AsyncStdioProcess

    return AsyncStdioProcess(config)
