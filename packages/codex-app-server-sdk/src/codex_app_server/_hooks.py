"""Connection hooks: observers of one connection's traffic, like httpx's event hooks.

The connection calls them; they observe and never steer (what a hook raises is logged and
dropped). With no hooks registered the connection pays one empty-list test per request and
per read, so streaming does not slow down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._protocol import Event, Notification, RequestId, Response, ServerRequest

__all__ = [
    "ConnectionHooks",
    "NotificationHook",
    "ReplyHook",
    "RequestHook",
    "SentRequest",
    "ServerRequestHook",
]

logger = logging.getLogger("codex_app_server")


@dataclass(frozen=True, eq=False)
class SentRequest:
    """A request this client sent, as the request and reply hooks see it."""

    request_id: RequestId
    method: str
    #: The params as given (JSON text for a typed call, or a mapping, or ``None``).
    params: Mapping[str, Any] | bytes | None


#: Called before a request is written (in the caller's thread or task).
RequestHook = Callable[[SentRequest], None]
#: Called once a request is settled: with its reply, or with the error the caller gets (an
#: error reply, a timeout, the connection closing, a cancellation).
ReplyHook = Callable[[SentRequest, "Response | None", "BaseException | None"], None]
#: Called with every notification, on the reader, in arrival order, before it is delivered.
NotificationHook = Callable[[Notification], None]
#: Called with every server request, on the reader, before it is answered.
ServerRequestHook = Callable[[ServerRequest], None]


@dataclass(eq=False)
class ConnectionHooks:
    """Observers of one connection's traffic, like httpx's event hooks.

    Register by appending to a list (``connection.hooks.request.append(on_request)``); each
    hook is called in order of registration. A hook observes: what it raises is logged and
    does not reach the connection or the caller. Hooks on the reader run while it holds the
    connection's lock (sync) or on the loop (async): keep them quick. With no hooks the
    connection pays one empty-list test per request and per read.
    """

    request: list[RequestHook] = field(default_factory=list)
    reply: list[ReplyHook] = field(default_factory=list)
    notification: list[NotificationHook] = field(default_factory=list)
    server_request: list[ServerRequestHook] = field(default_factory=list)

    def saw_request(self, request: SentRequest) -> None:
        """Call the request hooks."""
        for hook in self.request:
            _call_hook(hook, request)

    def saw_reply(
        self, request: SentRequest, reply: Response | None, error: BaseException | None
    ) -> None:
        """Call the reply hooks."""
        for hook in self.reply:
            _call_hook(hook, request, reply, error)

    def saw_notifications(self, events: Sequence[Event]) -> None:
        """Call the notification hooks with each notification among ``events``."""
        for event in events:
            if type(event) is Notification:
                for hook in self.notification:
                    _call_hook(hook, event)

    def saw_server_request(self, request: ServerRequest) -> None:
        """Call the server-request hooks."""
        for hook in self.server_request:
            _call_hook(hook, request)


def _call_hook(hook: Callable[..., None], *args: Any) -> None:
    try:
        hook(*args)
    except Exception:
        logger.exception("a connection hook (%r) raised; ignored", hook)
