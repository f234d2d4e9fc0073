"""Turn bookkeeping shared by the sync and async APIs: no I/O here.

Building ``turn/start`` params, recognising the end of a turn among its events, typing
notifications, and reading results (final text, structured output) out of a ``Turn``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._protocol import Notification
from .errors import TurnFailedError
from .generated import registry
from .inputs import Input, to_wire_input

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import Turn

__all__ = [
    "OutputSchema",
    "final_text",
    "parse_output",
    "schema_to_wire",
    "turn_params",
    "typed",
]

ModelT = TypeVar("ModelT", bound="BaseModel")

#: What ``output_schema=`` accepts: a JSON Schema dict or a pydantic model class.
OutputSchema = Mapping[str, Any] | type["BaseModel"]


def schema_to_wire(schema: OutputSchema) -> dict[str, Any]:
    """A JSON Schema dict for ``outputSchema``, from a dict or a pydantic model class."""
    if isinstance(schema, Mapping):
        return dict(schema)
    model_json_schema = getattr(schema, "model_json_schema", None)
    if model_json_schema is None:
        raise TypeError(
            f"output_schema is a {type(schema).__name__}; give a JSON Schema dict or a "
            "pydantic model class"
        )
    wire: dict[str, Any] = model_json_schema()
    return wire


def turn_params(
    thread_id: str, input: Input, output_schema: OutputSchema | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The snake_case params of ``turn/start`` (the typed client maps them to the wire)."""
    merged: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    merged["thread_id"] = thread_id
    merged["input"] = to_wire_input(input)
    if output_schema is not None:
        merged["output_schema"] = schema_to_wire(output_schema)
    return merged


def is_turn_end(event: Notification, turn_id: str | None) -> bool:
    """Whether ``event`` is the ``turn/completed`` of ``turn_id``."""
    return event.method == "turn/completed" and event.turn_id == turn_id


def typed(event: Notification) -> Any:
    """The generated envelope model of a notification (``method`` plus typed ``params``)."""
    return registry.parse_server_notification({"method": event.method, "params": event.params})


def completed_turn(event: Notification) -> Turn:
    """The ``Turn`` carried by a ``turn/completed`` notification."""
    turn: Turn = typed(event).params.turn
    return turn


def status_of(turn: Turn) -> str:
    """The turn's status as a plain string (``completed``, ``failed``, ``interrupted``...)."""
    status: Any = turn.status
    status = getattr(status, "root", status)
    return str(getattr(status, "value", status))


def check_turn(turn: Turn) -> Turn:
    """Return ``turn``, or raise :class:`~codex_app_server.TurnFailedError` if it failed."""
    if status_of(turn) == "failed":
        raise TurnFailedError(turn)
    return turn


def final_text(turn: Turn) -> str | None:
    """The text of the turn's last agent message, or ``None`` if it sent none."""
    for item in reversed(turn.items or []):
        root = getattr(item, "root", item)
        if getattr(root, "type", None) == "agentMessage":
            text = getattr(root, "text", None)
            if isinstance(text, str):
                return text
    return None


def parse_output(turn: Turn, model: type[ModelT]) -> ModelT:
    """The final agent message validated into ``model`` (for ``output_schema=`` turns)."""
    text = final_text(turn)
    if text is None:
        raise ValueError(f"turn {turn.id} produced no agent message to parse")
    try:
        return model.model_validate_json(text)
    except ValueError as exc:
        raise ValueError(
            f"turn {turn.id}'s final message is not a valid {model.__name__}: {exc}\n"
            f"message: {json.dumps(text)[:500]}"
        ) from exc
