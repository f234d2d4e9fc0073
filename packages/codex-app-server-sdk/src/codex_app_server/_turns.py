"""Turn bookkeeping shared by the sync and async APIs: no I/O here.

Building ``turn/start`` params, recognising the end of a turn among its events, typing
notifications, recording what a turn handle saw (:class:`TurnRecord`: the turn's items and
token usage), and reading results (final text, summary, structured output) out of a ``Turn``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ._decode import json_validator
from ._lenient import fit
from ._protocol import Notification
from .errors import CodexError, TurnFailedError
from .generated import registry
from .inputs import Input, to_wire_turn

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import ThreadItem, ThreadTokenUsage, TokenUsageBreakdown, Turn, TurnError

__all__ = [
    "OutputSchema",
    "StructuredOutputError",
    "TurnRecord",
    "TurnSummary",
    "final_text",
    "parse_output",
    "schema_to_wire",
    "strict_schema",
    "turn_params",
    "typed",
]

ModelT = TypeVar("ModelT", bound="BaseModel")

#: What ``output_schema=`` accepts: a JSON Schema dict or a pydantic model class.
OutputSchema = Mapping[str, Any] | type["BaseModel"]


def schema_to_wire(schema: OutputSchema) -> dict[str, Any]:
    """The ``outputSchema`` to send: a dict as given, a pydantic model as :func:`strict_schema`."""
    if isinstance(schema, Mapping):
        return dict(schema)
    return strict_schema(schema)


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema made strict, as structured outputs require.

    Every object lists all its properties as ``required`` and has ``"additionalProperties":
    false``; ``default`` values are dropped (a field with a default must then be given by the
    model, and the model class still validates it). A field that is a free-form mapping
    (``dict[str, X]``) cannot be expressed strictly and raises :class:`TypeError`: give it a
    model of its own, or pass a JSON Schema dict as ``output_schema`` to send it as it is.
    """
    model_json_schema = getattr(model, "model_json_schema", None)
    if model_json_schema is None:
        raise TypeError(
            f"output_schema is a {type(model).__name__}; give a JSON Schema dict or a "
            "pydantic model class"
        )
    schema: dict[str, Any] = model_json_schema()
    _make_strict(schema, getattr(model, "__name__", "the model"))
    return schema


#: Keywords whose value is one schema, and those whose value is a list or a map of schemas.
_SUBSCHEMA = ("items", "not", "additionalProperties")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


def _make_strict(schema: Any, where: str) -> None:
    """Close every object schema in ``schema`` in place (see :func:`strict_schema`)."""
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema["required"] = list(properties)
        schema["additionalProperties"] = False
        for prop in properties.values():
            if isinstance(prop, dict):
                prop.pop("default", None)
    elif schema.get("type") == "object" and schema.get("additionalProperties", True) is not False:
        raise TypeError(
            f"{where} is a free-form mapping, which strict structured output cannot express; "
            "give it a pydantic model with named fields, or pass output_schema as a JSON "
            "Schema dict to send it unchanged"
        )
    for key in _SUBSCHEMA:
        _make_strict(schema.get(key), where)
    for key in _SUBSCHEMA_LISTS:
        for sub in schema.get(key) or ():
            _make_strict(sub, where)
    for key in _SUBSCHEMA_MAPS:
        sub_map = schema.get(key)
        if isinstance(sub_map, dict):
            for name, sub in sub_map.items():
                _make_strict(sub, f"{name!r}" if key == "properties" else name)


def turn_params(
    thread_id: str, input: Input, output_schema: OutputSchema | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The snake_case params of ``turn/start`` (the typed client maps them to the wire)."""
    merged: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    merged["thread_id"] = thread_id
    merged["input"], tool_output = to_wire_turn(input)
    if tool_output is not None:
        merged["tool_output"] = tool_output
    if output_schema is not None:
        merged["output_schema"] = schema_to_wire(output_schema)
    return merged


def is_turn_start(event: Notification, turn_id: str) -> bool:
    """Whether ``event`` is the ``turn/started`` of ``turn_id``."""
    return event.method == "turn/started" and event.turn_id == turn_id


def is_turn_end(event: Notification, turn_id: str | None) -> bool:
    """Whether ``event`` is the ``turn/completed`` of ``turn_id``."""
    return event.method == "turn/completed" and event.turn_id == turn_id


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
                event.model = json_validator(event.method)(event.raw)
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


class StructuredOutputError(CodexError, ValueError):
    """A turn's final message did not validate into the structured output model.

    ``turn`` is the finished ``Turn``, ``model`` the class asked for, ``text`` the final
    message (``None`` if the turn sent none) and ``errors`` pydantic's list of validation
    errors (empty when there was no message). It is also a ``ValueError``.
    """

    def __init__(
        self,
        message: str,
        *,
        turn: Turn,
        model: type[BaseModel],
        text: str | None,
        errors: list[dict[str, Any]],
    ) -> None:
        self.turn = turn
        self.model = model
        self.text = text
        self.errors = errors
        super().__init__(message)


def parse_output(turn: Turn, model: type[ModelT]) -> ModelT:
    """The final agent message validated into ``model`` (for ``output_schema=`` turns).

    Raises :class:`StructuredOutputError` when there is no message or it does not validate.
    """
    from pydantic import ValidationError

    text = final_text(turn)
    if text is None:
        raise StructuredOutputError(
            f"turn {turn.id} ({status_of(turn)}) sent no agent message to parse as "
            f"{model.__name__}",
            turn=turn,
            model=model,
            text=None,
            errors=[],
        )
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [dict(error) for error in exc.errors(include_url=False)]
        where = "; ".join(f"{_path(error['loc'])}: {error['msg']}" for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise StructuredOutputError(
            f"turn {turn.id}'s final message is not a valid {model.__name__}: {where}{more}\n"
            f"message: {json.dumps(text)[:500]}",
            turn=turn,
            model=model,
            text=text,
            errors=errors,
        ) from exc


def _path(loc: Any) -> str:
    """A validation error's location as ``a.0.b``; keys that came from the model's text and are
    not plain names are quoted as JSON, so no control character reaches a terminal."""
    parts = [
        str(part) if isinstance(part, int) or str(part).isidentifier() else json.dumps(str(part))
        for part in loc
    ]
    return ".".join(parts) or "(root)"


@dataclass(frozen=True)
class TurnSummary:
    """A finished turn at a glance, from :meth:`TurnHandle.summary`.

    ``turn``: the final ``Turn`` (as ``run()`` returns it). ``final_text``: its last agent
    message. ``status``: ``"completed"``, ``"interrupted"`` or ``"failed"``. ``error``: the
    turn's ``TurnError``, if any. ``usage``: the tokens this turn used (a
    ``TokenUsageBreakdown``; ``None`` if the server reported none), ``thread_usage`` the
    thread's totals after it. ``started_at``/``completed_at``: Unix times in seconds, and
    ``duration_ms``, as the server reported them.
    """

    turn: Turn
    final_text: str | None
    status: str
    error: TurnError | None
    usage: TokenUsageBreakdown | None
    thread_usage: TokenUsageBreakdown | None
    started_at: int | None
    completed_at: int | None
    duration_ms: int | None


class TurnRecord:
    """What a turn handle saw of its turn: completed items, in order, and token usage.

    The handle feeds it the typed ``item/completed`` and ``thread/tokenUsage/updated``
    notifications of its turn (:data:`RECORDED`); the server's ``turn/completed`` carries only a
    summary of the items, so :meth:`complete` puts the recorded ones in the ``Turn``.
    """

    __slots__ = ("_first_usage", "_last_usage", "items")

    def __init__(self) -> None:
        self.items: list[ThreadItem] = []
        self._first_usage: ThreadTokenUsage | None = None
        self._last_usage: ThreadTokenUsage | None = None

    def observe(self, notification: Any) -> None:
        """Record a typed notification whose method is in :data:`RECORDED`."""
        params = notification.params
        if notification.method == "item/completed":
            self.items.append(params.item)
        else:
            if self._first_usage is None:
                self._first_usage = params.token_usage
            self._last_usage = params.token_usage

    def complete(self, turn: Turn) -> Turn:
        """``turn`` (from ``turn/completed``) with every item the turn's events completed."""
        if not self.items:
            return turn  # nothing seen (a server that sends no item events): keep its list
        from .generated import TurnItemsView

        return turn.model_copy(update={"items": list(self.items), "items_view": TurnItemsView.FULL})

    def summary(self, turn: Turn) -> TurnSummary:
        """The :class:`TurnSummary` of ``turn``, finished, with the usage recorded."""
        usage = None
        thread_usage = None
        if self._first_usage is not None and self._last_usage is not None:
            thread_usage = self._last_usage.total
            usage = _turn_usage(self._first_usage, self._last_usage)
        return TurnSummary(
            turn=turn,
            final_text=final_text(turn),
            status=status_of(turn),
            error=turn.error,
            usage=usage,
            thread_usage=thread_usage,
            started_at=turn.started_at,
            completed_at=turn.completed_at,
            duration_ms=turn.duration_ms,
        )


#: The notification methods a :class:`TurnRecord` wants.
RECORDED = frozenset({"item/completed", "thread/tokenUsage/updated"})


def _turn_usage(first: ThreadTokenUsage, last: ThreadTokenUsage) -> TokenUsageBreakdown:
    """The tokens used between the thread's total before ``first`` and its total at ``last``.

    A difference of totals rather than a sum of ``last`` breakdowns: a repeated report of the
    same usage would be counted twice by a sum.
    """
    from .generated import TokenUsageBreakdown

    before = first.total.model_dump(by_alias=False)
    for key, value in first.last.model_dump(by_alias=False).items():
        before[key] = (before.get(key) or 0) - (value or 0)
    after = last.total.model_dump(by_alias=False)
    return TokenUsageBreakdown.model_validate(
        {key: (value or 0) - (before.get(key) or 0) for key, value in after.items()}
    )
