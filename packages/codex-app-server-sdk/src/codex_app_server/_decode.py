"""The fast notification decoder: a notification line typed, or routed unparsed, from its bytes.

The JSON-RPC core (``_protocol``) calls :func:`decode_notification` with each line that starts
``{"method":"``. A streamed delta is routed on the thread and turn ids read off its first bytes
and typed later by its consumer (``_turns.typed``, through :func:`json_validator`); any other
notification is typed in one pass from its bytes; a line these models cannot vouch for goes the
generic way (``None``). No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._protocol import Notification
from .generated import registry

__all__ = ["decode_notification", "json_validator"]

_UNSEEN: Any = object()

#: The JSON validator of each notification method's envelope, once looked up.
_VALIDATORS: dict[str, Callable[[bytes], Any]] = {}


def _load_validator(method: str) -> Callable[[bytes], Any]:
    """``model_validate_json`` of ``method``'s envelope, minus the wrapper (0.7 us a call)."""
    envelope = registry.load_model(registry.SERVER_NOTIFICATIONS[method].envelope_model)
    # The models defer building their validators to first use: build it now.
    envelope.model_rebuild()
    validate: Callable[[bytes], Any] = envelope.__pydantic_validator__.validate_json
    return validate


def json_validator(method: str) -> Callable[[bytes], Any]:
    """The JSON validator of ``method``'s envelope model, built once per method."""
    validate = _VALIDATORS.get(method)
    if validate is None:
        validate = _VALIDATORS[method] = _load_validator(method)
    return validate


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
    if "loginId" in attribute and "threadId" not in attribute:
        return None  # scoped by its login (``_protocol.LOGIN_SCOPE``): the generic path
    # The ids are those the generic path (``_protocol._scope``) reads from the params dict.
    thread_field = attribute.get("threadId")
    turn_field = attribute.get("turnId")
    turn_object_field = attribute.get("turn")
    validate = json_validator(name)

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
