"""What the two faces of the user API share, without I/O.

Building a client's config and handler table, typing a turn's events, telling a missing thread
apart, and structured output's model. The API itself is written once, in ``_async/api.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._connection import AnyConnection
from ._handlers import HandlerTable, ServerRequestHandler
from ._protocol import Notification, excerpt
from ._turns import OutputSchema, parse_output, typed
from .approvals import approval_handlers
from .config import CodexConfig
from .errors import JsonRpcError, ThreadNotFoundError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import Turn

__all__ = [
    "make_config",
    "make_handlers",
    "parse_with",
    "structured_model",
    "thread_not_found",
    "typed_or_skip",
]

logger = logging.getLogger("codex_app_server")

ModelT = TypeVar("ModelT", bound="BaseModel")


def make_config(config: CodexConfig | None, options: Mapping[str, Any]) -> CodexConfig:
    """A config from an explicit ``CodexConfig`` or keyword options (not both)."""
    if config is not None and options:
        raise TypeError(f"pass either config= or keyword options, not both (got {sorted(options)})")
    if config is not None:
        return config
    try:
        return CodexConfig(**options)
    except TypeError as exc:
        raise TypeError(f"{exc}; see CodexConfig for the accepted options") from None


def typed_or_skip(event: Notification, connection: AnyConnection) -> Any:
    """``typed(event)``, or ``None`` (logged and counted) when its line proves not to be JSON.

    Deltas are routed on ids read off their first bytes and parsed only by their consumer, so
    a garbage line that merely starts like one is found out here, and skipped like any other.
    """
    try:
        return typed(event)
    except ValueError:
        if not event.raw:
            raise
        try:
            json.loads(event.raw)
        except (ValueError, RecursionError) as exc:
            connection.protocol_violations += 1
            logger.warning(
                "skipped a message from the app-server: not JSON: %s: %s", exc, excerpt(event.raw)
            )
            return None
        raise  # valid JSON that typed() still refused is a bug to see, not line noise to skip


def thread_not_found(exc: JsonRpcError, thread_id: str) -> JsonRpcError:
    """``exc`` as a :class:`~codex_app_server.ThreadNotFoundError` when it says the thread
    does not exist (the server has no typed code for that, only its message)."""
    if isinstance(exc, ThreadNotFoundError) or not any(
        marker in exc.message for marker in _NOT_FOUND_MARKERS
    ):
        return exc
    return ThreadNotFoundError(
        exc.code, exc.message, exc.data, method=exc.method, thread_id=thread_id
    )


#: How the server words "no such thread" (``thread/resume`` and ``thread/fork``, 0.169.0).
_NOT_FOUND_MARKERS = ("no rollout found",)


def structured_model(output_schema: OutputSchema | None) -> type[BaseModel] | None:
    """The pydantic model class given as ``output_schema``, if it is one."""
    return None if output_schema is None or isinstance(output_schema, Mapping) else output_schema


def parse_with(turn: Turn, given: type[ModelT] | None, remembered: type[BaseModel] | None) -> Any:
    """``parse_output`` with ``run_parsed``'s model: the one given, else the turn's schema's."""
    model = given or remembered
    if model is None:
        raise TypeError(
            "run_parsed() needs the model: give it (run_parsed(Model)) or start the turn with "
            "output_schema=Model"
        )
    return parse_output(turn, model)


def make_handlers(
    approval_handler: Any, handlers: Mapping[str, ServerRequestHandler] | None
) -> HandlerTable:
    """The handler table for a client: explicit per-method handlers win over the approval one."""
    table = HandlerTable(approval_handlers(approval_handler) if approval_handler else None)
    for method, handler in (handlers or {}).items():
        table.set(method, handler)
    return table
