"""In-process tools: typed Python functions the model can call during a turn.

:func:`tool` turns a function into a :class:`Tool`; its JSON Schema comes from the signature's
type hints (or from the pydantic model it takes as its only argument). Pass tools to
``thread_start(tools=[...])``: the SDK declares them to the app-server as *dynamic tools*
(``dynamicTools`` on ``thread/start``, an experimental field, so the client needs
``experimental_api=True``) and answers the server's ``item/tool/call`` requests by running the
function. A function's return value becomes the tool's output text; an exception, or arguments
that do not match the schema, become a tool error (``success: false``) that the model reads.
Plain and ``async`` functions both work, with the sync and the async client.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .errors import CodexError

__all__ = ["TOOL_CALL_METHOD", "Tool", "ToolFunction", "tool"]

logger = logging.getLogger("codex_app_server")

#: The server request that asks the client to run one of its tools.
TOOL_CALL_METHOD = "item/tool/call"

#: A function that can become a tool: plain or ``async``, any keyword-callable signature.
ToolFunction: TypeAlias = Callable[..., Any]


class _Arguments(BaseModel):
    # Unknown arguments are refused so a model's typo is reported instead of ignored.
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Tool:
    """A function the model may call: ``name``, ``description`` and ``input_schema`` are what
    the model is shown; ``function`` runs when it calls the tool.

    Build one with :func:`tool`. Calling the ``Tool`` calls the function unchanged.
    """

    name: str
    description: str
    input_schema: Mapping[str, Any]
    function: ToolFunction
    arguments_model: type[BaseModel]
    #: Whether the function takes one pydantic model (``True``) or keyword arguments.
    takes_model: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function."""
        return inspect.iscoroutinefunction(self.function)

    def spec(self) -> dict[str, Any]:
        """The wire ``DynamicToolSpec`` declaring this tool on ``thread/start``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "inputSchema": dict(self.input_schema),
        }

    def bind(self, arguments: Any) -> Callable[[], Any]:
        """Validate the model's ``arguments``; return a call of the function with them.

        Raises :class:`pydantic.ValidationError` when they do not fit the schema.
        """
        validated = self.arguments_model.model_validate(arguments if arguments else {})
        if self.takes_model:
            return functools.partial(self.function, validated)
        values = {name: getattr(validated, name) for name in type(validated).model_fields}
        return functools.partial(self.function, **values)


@overload
def tool(function: ToolFunction, /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[ToolFunction], Tool]: ...


def tool(
    function: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[ToolFunction], Tool]:
    """Make ``function`` a :class:`Tool`: ``@tool`` or ``@tool(name=..., description=...)``.

    The name defaults to the function's name and the description to its docstring. Every
    parameter needs a type hint; a function taking a single pydantic model gets that model's
    schema and is called with a validated instance.
    """

    def make(function: ToolFunction) -> Tool:
        return _build(function, name, description)

    return make if function is None else make(function)


def _build(function: ToolFunction, name: str | None, description: str | None) -> Tool:
    tool_name = name or getattr(function, "__name__", "")
    if not tool_name or tool_name == "<lambda>":
        raise ValueError("a tool needs a name: use a def function or pass name=")
    text = description if description is not None else inspect.getdoc(function)
    if not text:
        raise ValueError(
            f"tool {tool_name!r} needs a description: write a docstring or pass description="
        )
    try:
        hints = get_type_hints(function)
    except NameError as exc:
        raise TypeError(
            f"tool {tool_name!r}: cannot resolve its type hints ({exc}); define the types it "
            "uses at module level"
        ) from None
    parameters = list(inspect.signature(function).parameters.values())
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"tool {tool_name!r}: *args and **kwargs cannot be described")
        if parameter.name not in hints:
            raise TypeError(f"tool {tool_name!r}: parameter {parameter.name!r} needs a type hint")
    single = hints.get(parameters[0].name) if len(parameters) == 1 else None
    if isinstance(single, type) and issubclass(single, BaseModel):
        model: type[BaseModel] = single
        takes_model = True
    else:
        fields: dict[str, Any] = {
            p.name: (hints[p.name], ... if p.default is p.empty else p.default) for p in parameters
        }
        model = create_model(f"{tool_name}_arguments", __base__=_Arguments, **fields)
        takes_model = False
    schema = model.model_json_schema()
    schema.pop("title", None)
    return Tool(tool_name, text, schema, function, model, takes_model)


def as_tools(tools: Iterable[Tool | ToolFunction]) -> dict[str, Tool]:
    """The tools by name; plain functions are wrapped with :func:`tool`."""
    by_name: dict[str, Tool] = {}
    for item in tools:
        built = item if isinstance(item, Tool) else tool(item)
        if built.name in by_name:
            raise ValueError(f"two tools are named {built.name!r}")
        by_name[built.name] = built
    return by_name


def start_params(
    params: Mapping[str, Any], tools: Mapping[str, Tool], *, experimental_api: bool
) -> dict[str, Any]:
    """``thread/start`` params with the tools declared as ``dynamicTools``."""
    if not experimental_api:
        raise CodexError(
            "in-process tools use the app-server's experimental dynamic tools: create the "
            "client with experimental_api=True"
        )
    return {**params, "dynamicTools": [t.spec() for t in tools.values()]}


def output_text(value: Any) -> str:
    """What the model reads for a tool's return value: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, default=str)


def tool_result(text: str, success: bool) -> dict[str, Any]:
    """The ``item/tool/call`` answer carrying ``text``."""
    return {"contentItems": [{"type": "inputText", "text": text}], "success": success}


def tool_failure(name: str, exc: BaseException) -> dict[str, Any]:
    """The answer for a call that raised ``exc`` (logged): the model reads what went wrong."""
    logger.warning("tool %s failed: %s: %s", name, type(exc).__name__, exc)
    if isinstance(exc, ValidationError):
        return tool_result(f"invalid arguments for {name}: {exc}", False)
    return tool_result(f"{type(exc).__name__}: {exc}", False)
