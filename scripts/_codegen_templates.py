"""Hand-written source that the generator copies verbatim into ``codex_app_server/generated/``.

These are the pieces datamodel-code-generator has no option for: enums and tagged unions that
stay usable when a newer server sends values this SDK has never seen, the fallback envelopes
for unknown methods, and the lazy-import plumbing that keeps ``import codex_app_server`` cheap.
"""

BASE_PUBLIC: tuple[str, ...] = (
    "CodexModel",
    "OpenEnum",
    "OpenIntEnum",
    "UnknownServerNotification",
    "UnknownServerRequest",
)
"""Names of ``_base`` that the package exports."""

BASE_MODULE: str = '''\
"""Shared base classes of the generated models: tolerant of a newer server by construction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidatorFunctionWrapHandler

UNKNOWN_TAG = "*"
"""The discriminator tag under which every tagged union files a variant it does not know."""

LENIENT: ContextVar[list[tuple[str, ValidationError]] | None] = ContextVar(
    "codex_app_server_lenient", default=None
)
"""Set (to a list) while the SDK decodes a message that did not fit at first: tagged unions then
file a known variant that does not validate under their ``Unrecognized`` fallback and note the
error in the list. Unset, as when users build requests, such a variant is an error."""


class CodexModel(BaseModel):
    """Base of every generated model.

    Fields are snake_case in Python and camelCase on the wire: either spelling constructs a
    model, dumps use the wire spelling, and fields a newer server adds are kept (``extra``).
    Schemas are built on first use rather than at import, so importing a module stays cheap.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        serialize_by_alias=True,
        defer_build=True,
        protected_namespaces=(),
    )


class OpenEnum(str, Enum):
    """A string enum that also accepts values it does not list.

    A value a newer server added becomes a member-like object of the same enum class (its
    ``value`` is the wire string) instead of a validation error, so ``x == "newValue"``,
    ``x.value`` and dumping keep working.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        # Cached so that one unknown value always maps to one identical object.
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


class OpenIntEnum(int, Enum):
    """An integer enum that also accepts values it does not list (``version: 1`` today).

    Members are named ``V_<value>``. A value a newer server added becomes a member-like object
    of the same class named after its value (``"2"``), so comparing with ``2`` and dumping
    keep working, as with :class:`OpenEnum`.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenIntEnum | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = int.__new__(cls, value)
        member._name_ = str(value)
        member._value_ = value
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


def open_tag(wire_key: str, attribute: str, known: frozenset[str]) -> Callable[[Any], str]:
    """Build a union discriminator that sends tags outside ``known`` to the fallback variant.

    ``wire_key`` is the tag's name in JSON input, ``attribute`` its name on a model instance
    (pydantic asks both ways: when validating input and when serializing a model).
    """

    def pick(value: Any) -> str:
        if isinstance(value, Mapping):
            tag = value.get(wire_key)
        else:
            tag = getattr(value, attribute, None)
        if isinstance(tag, Enum):
            tag = tag.value
        return tag if isinstance(tag, str) and tag in known else UNKNOWN_TAG

    return pick


def or_unrecognized(
    fallback: type[BaseModel],
) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    """Build a union's wrap validator that, while ``LENIENT`` is set, falls back to ``fallback``.

    The fallback keeps the whole JSON object (its tag as a ``str``, the rest as extra fields).
    """

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            notes = LENIENT.get()
            if notes is None or not isinstance(value, Mapping):
                raise
            try:
                member = fallback.model_validate(value)
            except ValidationError:
                raise error from None
            notes.append((fallback.__name__, error))
            return member

    return validate


class UnknownServerNotification(CodexModel):
    """A notification whose method this SDK does not know (sent by a newer server)."""

    method: str
    params: dict[str, Any] | None = None


class UnknownServerRequest(CodexModel):
    """A server-to-client request whose method this SDK does not know."""

    id: str | int
    method: str
    params: dict[str, Any] | None = None
'''

INIT_BODY: str = '''\
"""Protocol models generated from the codex app-server JSON Schema.

Every name loads lazily: ``from codex_app_server.generated import Turn`` imports only the
module that defines ``Turn`` and the modules it needs; this package imports no pydantic.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._index import MODULE_OF

GENERATED_FROM_RUNTIME = {runtime}
"""The codex runtime version whose schema these models come from."""

# Type checkers read every name from __init__.pyi; at run time each loads on first access.
__all__ = [*MODULE_OF]


def __getattr__(name: str) -> Any:
    """Import, on first use, only the module that defines ``name`` (and what it depends on)."""
    module = MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    value = getattr(import_module(f"{{__name__}}.{{module}}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({{*globals(), *__all__}})
'''

REGISTRY_BODY: str = '''\
"""Every protocol method and its models, by class name; no pydantic at import.

``load_model`` turns a name into its class, importing only the module that holds it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from ._index import MODULE_OF

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel

    from . import ServerNotification, ServerRequest


class RequestSpec(NamedTuple):
    """The models of one request method, by class name (see ``load_model``)."""

    params_model: str | None
    """Class of ``params``; ``None`` when the method takes no params."""
    response_model: str
    """Class of the ``result`` of a successful response."""
    python_name: str
    """snake_case name of the method in Python (unique, a valid identifier)."""


class NotificationSpec(NamedTuple):
    """The models of one server notification method, by class name."""

    envelope_model: str
    """Class of the whole message: ``method`` plus typed ``params``."""
    params_model: str
    """Class of ``params``."""


class ClientNotificationSpec(NamedTuple):
    """The model of one client-to-server notification method, by class name."""

    params_model: str | None
    """Class of ``params``; ``None`` when the notification carries none."""


CLIENT_REQUESTS: dict[str, RequestSpec] = {{
{client_requests}
}}
"""Every client-to-server request method of the protocol."""

SERVER_NOTIFICATIONS: dict[str, NotificationSpec] = {{
{server_notifications}
}}
"""Every server-to-client notification method of the protocol."""

SERVER_REQUESTS: dict[str, RequestSpec] = {{
{server_requests}
}}
"""Every server-to-client request method of the protocol."""

CLIENT_NOTIFICATIONS: dict[str, ClientNotificationSpec] = {{
{client_notifications}
}}
"""Every client-to-server notification method of the protocol."""


_loaded: dict[str, type[BaseModel]] = {{}}


def load_model(name: str) -> type[BaseModel]:
    """Return the generated model class called ``name``, importing only its module.

    Raises ``KeyError`` for a name that is not a generated model class.
    """
    # Typed requests look two models up per call: a dict hit instead of import_module.
    model = _loaded.get(name)
    if model is None:
        model = getattr(import_module(f"{{__package__}}.{{MODULE_OF[name]}}"), name)
        _loaded[name] = model
    return model


_notification_classes: dict[str, type[BaseModel]] = {{}}
_request_classes: dict[str, type[BaseModel]] = {{}}
_NOTIFICATION_ENVELOPES = {{
    method: spec.envelope_model for method, spec in SERVER_NOTIFICATIONS.items()
}}
_REQUEST_ENVELOPES: dict[str, str] = {{
{request_envelopes}
}}


def _parse(
    message: Mapping[str, Any],
    envelopes: Mapping[str, str],
    resolved: dict[str, type[BaseModel]],
    unknown: str,
) -> BaseModel:
    # Hot path (one call per streamed delta): a dict hit and one validation.
    method = message.get("method")
    model = resolved.get(method) if isinstance(method, str) else None
    if model is None:
        name = envelopes.get(method) if isinstance(method, str) else None
        model = load_model(unknown if name is None else name)
        if name is not None:
            resolved[message["method"]] = model
    return model.model_validate(message)


def parse_server_notification(message: Mapping[str, Any]) -> ServerNotification:
    """Validate a notification message into its method's envelope model.

    A method this SDK does not know gives an ``UnknownServerNotification``.
    """
    return cast(
        "ServerNotification",
        _parse(
            message, _NOTIFICATION_ENVELOPES, _notification_classes, "UnknownServerNotification"
        ),
    )


def parse_server_request(message: Mapping[str, Any]) -> ServerRequest:
    """Validate a server-to-client request message into its method's envelope model.

    A method this SDK does not know gives an ``UnknownServerRequest``.
    """
    return cast(
        "ServerRequest",
        _parse(message, _REQUEST_ENVELOPES, _request_classes, "UnknownServerRequest"),
    )
'''

METHODS_BODY: str = '''\
"""Typed methods for every client request, as mixins over one ``_call`` hook.

Arguments are the params model's fields in snake_case; ``None`` leaves a field out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast, overload

if TYPE_CHECKING:
{type_checking_imports}


def _union_params(
    params: Any, fields: dict[str, Any], tag: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The params of a method whose params are one of several shapes.

    Given positionally: the shape's model or a dict. Given as keywords: the shape's fields by
    their Python names (``None`` leaves one out), the tag under its wire name so the union can
    pick the shape before validating the rest.
    """
    if params is not None:
        if fields:
            raise TypeError("give the params as one model or dict, or as keywords, not both")
        if isinstance(params, dict):
            return params
        return cast("dict[str, Any]", params.model_dump(by_alias=False, exclude_none=True))
    given = {{name: value for name, value in fields.items() if value is not None}}
    if tag is not None and tag[0] in given:
        given[tag[1]] = given.pop(tag[0])
    return given


class SyncRequestMethods:
    """One blocking method per client request; the host class supplies ``_call``."""

    def _call(self, method: str, params: dict[str, Any], /) -> Any:
        """Send ``method`` with ``params`` (snake_case keys) and return the typed result."""
        raise NotImplementedError
{sync_methods}


class AsyncRequestMethods:
    """One coroutine method per client request; the host class supplies ``_call``."""

    async def _call(self, method: str, params: dict[str, Any], /) -> Any:
        """Send ``method`` with ``params`` (snake_case keys) and return the typed result."""
        raise NotImplementedError
{async_methods}
'''
