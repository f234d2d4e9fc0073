"""Answering the requests the server sends to the client.

One table per connection maps a server-request method to the function that answers it, with
optional per-thread overrides. Handlers get typed params (the generated model) and return the
typed result (the generated response model, or a dict in wire or snake_case form, validated
before it is sent). What no handler covers gets a safe answer: approvals are declined, other
requests get a well-formed refusal, and anything unknown gets a JSON-RPC error, never silence.

Both connections use this module; only *where* a handler runs differs (a worker thread for the
sync client, a task or an executor for the async client), never on the reader.

A request of a sub-agent thread is decided as if its parent had sent it (see
:mod:`~codex_app_server._lineage`): the parent's per-thread handler, then the grandparent's, up to
the root thread, then the client's. A request of a thread whose lineage is not known gets the
safe default.

Approval handlers answer through :mod:`~codex_app_server.approvals`, which the table hands what
the connection saw of its turns' file changes (:meth:`HandlerTable.observe`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._lineage import ThreadTree
from .approvals._answering import answering
from .approvals._decisions import APPROVAL_METHODS, DECLINED
from .approvals._files import FileChanges
from .generated import registry

if TYPE_CHECKING:
    from ._protocol import Notification

__all__ = [
    "DECLINE_DEFAULTS",
    "INTERNAL_METHODS",
    "HandlerTable",
    "Reply",
    "ServerRequestHandler",
    "decode_params",
    "encode_result",
]

#: A function answering one kind of server request: typed params in, typed result out
#: (for the async client it may also be a coroutine function).
ServerRequestHandler = Callable[[Any], Any]

#: The safe answer to each known server request when the user gave no handler for it.
DECLINE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    **DECLINED,
    "item/tool/requestUserInput": {"answers": {}},
    "mcpServer/elicitation/request": {"action": "decline"},
    "item/tool/call": {
        "contentItems": [{"type": "inputText", "text": "this client registered no such tool"}],
        "success": False,
    },
}

#: Server requests the SDK answers for itself (token refresh): their handlers run in a lane of
#: their own, so they never wait behind slow user handlers.
INTERNAL_METHODS = frozenset({"account/chatgptAuthTokens/refresh"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send back: a ``result``, or an ``error`` as ``(code, message)``."""

    result: Any = None
    error: tuple[int, str] | None = None


def decode_params(method: str, params: Mapping[str, Any]) -> Any:
    """The typed params of a server request (the raw dict for a method this SDK doesn't know)."""
    spec = registry.SERVER_REQUESTS.get(method)
    if spec is None or spec.params_model is None:
        return dict(params)
    return registry.load_model(spec.params_model).model_validate(params)


def encode_result(method: str, result: Any) -> Any:
    """Validate a handler's result against the method's response model; return wire JSON."""
    spec = registry.SERVER_REQUESTS.get(method)
    if spec is None:
        return _dump(result)
    model = registry.load_model(spec.response_model)
    if isinstance(result, model):
        return _dump(result)
    if isinstance(result, Mapping):
        return _dump(model.model_validate(dict(result)))
    raise TypeError(
        f"the handler for {method!r} returned {type(result).__name__}; "
        f"return a {model.__name__} (or a dict of its fields)"
    )


def _dump(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", by_alias=True, exclude_none=True)
    return value


class HandlerTable:
    """Which function answers which server request, per connection and per thread.

    It also holds the connection's :class:`~codex_app_server._lineage.ThreadTree` (which thread
    spawned which), read under the same lock, and what the connection saw of its turns' file
    changes (:class:`~codex_app_server.approvals._files.FileChanges`), which approval rules read.
    """

    def __init__(self, handlers: Mapping[str, ServerRequestHandler] | None = None) -> None:
        self._lock = threading.Lock()
        self._files = FileChanges()
        self._global: dict[str, ServerRequestHandler] = {
            method: self._answering(method, handler) for method, handler in (handlers or {}).items()
        }
        self._per_thread: dict[str, dict[str, ServerRequestHandler]] = {}
        self._tree = ThreadTree()

    def set(
        self, method: str, handler: ServerRequestHandler | None, *, thread_id: str | None = None
    ) -> None:
        """Install (or with ``None`` remove) the handler of ``method``, optionally per thread."""
        with self._lock:
            table = (
                self._global if thread_id is None else self._per_thread.setdefault(thread_id, {})
            )
            if handler is None:
                table.pop(method, None)
            else:
                table[method] = self._answering(method, handler)
            if thread_id is not None and not table:
                self._per_thread.pop(thread_id, None)

    def forget_thread(self, thread_id: str) -> list[str]:
        """Drop everything held for ``thread_id`` and its sub-agents: per-thread handlers
        (approvals, tools) and lineage. Returns the ids dropped."""
        with self._lock:
            dropped = self._tree.forget(thread_id)
            for gone in dropped:
                self._per_thread.pop(gone, None)
        self._files.forget(dropped)
        return dropped

    def thread_count(self) -> int:
        """How many threads this table holds anything for (handlers, lineage, file changes)."""
        with self._lock:
            held = self._per_thread.keys() | self._tree.ids()
        return len(held | self._files.thread_ids())

    def observe(self, event: Notification) -> None:
        """Take in a notification the connection read, on its reader before delivery: the
        turns' file changes approval rules decide on."""
        self._files.observe(event)

    def find(self, method: str, thread_id: str | None) -> ServerRequestHandler | None:
        """The handler for a request; ``None`` means send the safe default.

        Thread-specific first, then each ancestor's (a sub-agent follows its parent's
        policy), then the client's; a thread whose lineage is not known gets ``None``.
        """
        with self._lock:
            if thread_id is None:
                return self._global.get(method)
            lineage = self._tree.lineage(thread_id)
            for owner in lineage:
                handler = self._per_thread.get(owner, {}).get(method)
                if handler is not None:
                    return handler
            return self._global.get(method) if lineage else None

    # -- lineage (fed by the connection, in arrival order) ---------------------------------

    def add_root(self, thread_id: str, parent: str | None = None, *, spawned: bool = False) -> None:
        """A thread this client started or resumed; ``parent`` if it is a sub-agent."""
        with self._lock:
            if parent is not None:
                self._tree.link(thread_id, parent)
            elif spawned:
                self._tree.add_orphan(thread_id)
            else:
                self._tree.add_root(thread_id)

    def link(self, child: str, parent: str) -> bool:
        """``parent`` spawned ``child`` (an exact protocol field says so); ``True`` if new."""
        with self._lock:
            return self._tree.link(child, parent)

    def turn_started(self, thread_id: str, turn_id: str, root_turn_id: str | None) -> str | None:
        """Note a started turn; returns the parent it placed ``thread_id`` under, if new."""
        with self._lock:
            return self._tree.turn_started(thread_id, turn_id, root_turn_id)

    def turn_ended(self, turn_id: str) -> None:
        """A turn completed."""
        with self._lock:
            self._tree.turn_ended(turn_id)

    def lineage(self, thread_id: str) -> list[str]:
        """``thread_id`` and its known ancestors, nearest first."""
        with self._lock:
            return self._tree.lineage(thread_id, broken_ok=True)

    def subagents(self, thread_id: str, *, nested: bool = False) -> list[str]:
        """The sub-agent threads ``thread_id`` spawned (with ``nested``, theirs too)."""
        with self._lock:
            return self._tree.children(thread_id, nested=nested)

    def _answering(self, method: str, handler: ServerRequestHandler) -> ServerRequestHandler:
        """Approval handlers answer through one helper, however they were installed."""
        if method not in APPROVAL_METHODS:
            return handler
        return answering(method, handler, self._files)

    @staticmethod
    def default_reply(method: str) -> Reply:
        """The answer given when no handler is installed for ``method``."""
        default = DECLINE_DEFAULTS.get(method)
        if default is not None:
            return Reply(result=default)
        return Reply(error=(-32601, f"this client does not handle the server request {method!r}"))

    @staticmethod
    def failure_reply(method: str, exc: BaseException) -> Reply:
        """The answer sent when a handler raised: an error the server can read."""
        return Reply(
            error=(
                -32603,
                f"the client's handler for {method!r} failed: {type(exc).__name__}: {exc}",
            )
        )
