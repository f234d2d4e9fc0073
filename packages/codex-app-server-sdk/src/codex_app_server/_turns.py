"""Turn bookkeeping shared by the sync and async APIs: no I/O here.

Building ``turn/start`` params, recognising the end of a turn among its events, typing
notifications, and reading results (final text, structured output) out of a ``Turn``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._lenient import fit
from ._protocol import Notification
from .errors import TurnFailedError
from .generated import registry
from .inputs import Input, to_wire_input

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import Turn

__all__ = [
    "OutputSchema",
    "decode_notification",
    "final_text",
    "parse_output",
    "schema_to_wire",
    "turn_params",
    "typed",
]

ModelT = TypeVar("ModelT", bound="BaseModel")

_UNSEEN: Any = object()

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


#: The JSON validator of each notification method's envelope, once looked up.
_validators: dict[str, Callable[[bytes], Any]] = {}


def _json_validator(method: str) -> Callable[[bytes], Any]:
    """``model_validate_json`` of ``method``'s envelope, minus the wrapper (0.7 us a call)."""
    envelope = registry.load_model(registry.SERVER_NOTIFICATIONS[method].envelope_model)
    # The models defer building their validators to first use: build it now.
    envelope.model_rebuild()
    validate: Callable[[bytes], Any] = envelope.__pydantic_validator__.validate_json
    return validate


def typed(event: Notification) -> Any:
    """The generated envelope model of a notification (``method`` plus typed ``params``).

    A message the models do not fit (a newer server's) is typed as far as it fits (see
    ``_lenient.fit``); only a line that is not JSON raises (``ValueError``).
    """
    if event.model is None:
        try:
            if event.raw:
                # Routed by its sniffed ids: typed here, in one pass from its bytes, by the
                # consumer (a model nobody keeps dies at once instead of aging into the GC).
                validate = _validators.get(event.method)
                if validate is None:
                    validate = _validators[event.method] = _json_validator(event.method)
                event.model = validate(event.raw)
            else:
                event.model = registry.parse_server_notification(
                    {"method": event.method, "params": event.params}
                )
        except ValueError:  # pydantic's ValidationError: not JSON, or a shape not known
            event.model = _fit_notification(event)
    return event.model


def _fit_notification(event: Notification) -> Any:
    """Type a notification that did not fit its envelope, as far as it fits."""
    # Not JSON at all raises here, as before: that is line noise, not a newer shape.
    message = (
        json.loads(event.raw) if event.raw else {"method": event.method, "params": event.params}
    )
    spec = registry.SERVER_NOTIFICATIONS.get(event.method)
    envelope = spec.envelope_model if spec is not None else "UnknownServerNotification"
    return fit(registry.load_model(envelope), message, event.method)


LineDecoder = Callable[[bytes], "Notification | None"]


def _line_decoder(method: bytes) -> LineDecoder | None:
    """The decoder of one notification method's lines, or ``None`` for the generic path."""
    try:
        name = method.decode("ascii")
    except UnicodeDecodeError:
        return None
    spec = registry.SERVER_NOTIFICATIONS.get(name)
    if spec is None:
        return None
    params_model = registry.load_model(spec.params_model)
    attribute = {field.alias or key: key for key, field in params_model.model_fields.items()}
    if "conversationId" in attribute:
        return None  # legacy scoping: left to the generic path
    # The ids are those the generic path (``_protocol._scope``) reads from the params dict.
    thread_field = attribute.get("threadId")
    turn_field = attribute.get("turnId")
    turn_object_field = attribute.get("turn")
    validate = _json_validator(name)

    def typed_now(line: bytes) -> Notification | None:
        try:
            model: Any = validate(line)
        except ValueError:
            return None
        params = model.params
        # Members these models do not declare (an "id": a request; fields of a newer server)
        # go to the generic path, which knows what to make of them.
        if model.__pydantic_extra__ or params.__pydantic_extra__:
            return None
        thread_id = getattr(params, thread_field) if thread_field else None
        turn_id = getattr(params, turn_field) if turn_field else None
        if turn_id is None and turn_object_field:
            turn_id = getattr(getattr(params, turn_object_field), "id", None)
        return Notification(
            name,
            None,
            thread_id if isinstance(thread_id, str) else None,
            turn_id if isinstance(turn_id, str) else None,
            model,
            line,
        )

    if not (thread_field and turn_field):
        return typed_now
    # Deltas carry both ids as the first members of params, in that order: read them off the
    # bytes, route, and leave typing to the consumer (``typed``). Any other layout, or an
    # escaped id, goes the way of the other notifications.
    head = b'{"method":"' + method + b'","params":{"threadId":"'
    start = len(head)
    between = b'","turnId":"'
    # The last line's whole prefix up to the end of its turn id, with both ids: a turn's
    # deltas share it, so one startswith() gives the ids of all but the first.
    last: tuple[bytes, str, str] = (head, "", "")

    # A closure, not a class: this runs once per streamed delta.
    def sniff(line: bytes) -> Notification | None:
        nonlocal last
        prefix, thread_id, turn_id = last
        if line.startswith(prefix) and thread_id:
            return Notification(name, None, thread_id, turn_id, None, line)
        if line.startswith(head):
            thread_end = line.find(b'"', start)
            turn_start = thread_end + len(between)
            if line[thread_end:turn_start] == between:
                turn_end = line.find(b'"', turn_start)
                thread_bytes = line[start:thread_end]
                turn_bytes = line[turn_start:turn_end]
                if turn_end > 0 and b"\\" not in thread_bytes and b"\\" not in turn_bytes:
                    try:
                        thread_id, turn_id = thread_bytes.decode(), turn_bytes.decode()
                    except UnicodeDecodeError:
                        return typed_now(line)
                    last = (line[: turn_end + 1], thread_id, turn_id)
                    return Notification(name, None, thread_id, turn_id, None, line)
        return typed_now(line)

    return sniff


#: One decoder per method seen (``None``: a method the generic path handles), process-wide.
_decoders: dict[bytes, LineDecoder | None] = {}


def decode_notification(method: bytes, line: bytes) -> Notification | None:
    """Type a notification line in one pass from its bytes (the core's ``NotificationDecoder``).

    Returns the notification with its generated envelope ``model``, or ``None`` when the line
    is better handled by the generic path (see ``JsonRpcCore.receive_line``).
    """
    decoder = _decoders.get(method, _UNSEEN)
    if decoder is _UNSEEN:
        decoder = _decoders[method] = _line_decoder(method)
    return None if decoder is None else decoder(line)


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
