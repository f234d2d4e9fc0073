"""What a turn can be given: text, images, skills and mentions, or an external message.

``thread.turn(...)`` accepts a plain ``str``, one of the small input classes below, a dict
already in wire form (``{"type": "text", "text": "..."}``), or a list mixing them. Everything
is normalised here, in one place, into the list the ``turn/start`` request carries.

An :class:`ExternalMessage` (another agent's or tool's output) is a turn's whole input: it
travels as the request's ``toolOutput``, so the model reads it as a tool's output, not as
the user's words.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .errors import CodexError

__all__ = [
    "ExternalMessage",
    "ImageInput",
    "Input",
    "InputItem",
    "LocalImageInput",
    "MentionInput",
    "SkillInput",
    "TextInput",
    "external_join_params",
    "not_joined",
    "to_wire_input",
    "to_wire_turn",
]

ImageDetail = Literal["auto", "low", "high", "original"]


@dataclass(frozen=True, slots=True)
class TextInput:
    """Plain text from the user."""

    text: str

    def to_wire(self) -> dict[str, Any]:
        """This input as the app-server's ``UserInput`` JSON."""
        return {"type": "text", "text": self.text}


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An image given by URL. codex 0.169 accepts ``data:`` URLs and refuses remote ones."""

    url: str
    detail: ImageDetail | None = None

    def to_wire(self) -> dict[str, Any]:
        """This input as the app-server's ``UserInput`` JSON."""
        return _with_detail({"type": "image", "url": self.url}, self.detail)


@dataclass(frozen=True, slots=True)
class LocalImageInput:
    """An image file on the machine running the app-server; the server reads and sends it."""

    path: str | os.PathLike[str]
    detail: ImageDetail | None = None

    def to_wire(self) -> dict[str, Any]:
        """This input as the app-server's ``UserInput`` JSON (the path made absolute)."""
        path = os.path.abspath(os.fspath(self.path))
        return _with_detail({"type": "localImage", "path": path}, self.detail)


@dataclass(frozen=True, slots=True)
class SkillInput:
    """Invoke a skill by name, from its ``SKILL.md`` path."""

    name: str
    path: str | os.PathLike[str]

    def to_wire(self) -> dict[str, Any]:
        """This input as the app-server's ``UserInput`` JSON."""
        return {"type": "skill", "name": self.name, "path": os.fspath(self.path)}


@dataclass(frozen=True, slots=True)
class MentionInput:
    """Mention a file or resource by name and path, as an ``@`` mention would."""

    name: str
    path: str | os.PathLike[str]

    def to_wire(self) -> dict[str, Any]:
        """This input as the app-server's ``UserInput`` JSON."""
        return {"type": "mention", "name": self.name, "path": os.fspath(self.path)}


@dataclass(frozen=True, slots=True)
class ExternalMessage:
    """Untrusted content from another agent, tool or application, with a tool's authority.

    The model reads it as the output of a tool named ``tool_name`` (in ``namespace``, if
    given): below user and developer instructions, so instructions inside it do not command
    the agent, and it never approves anything. Use it to pass one agent's output to another.
    Give it as a turn's whole input (``thread.run(ExternalMessage(...))``), or to
    ``handle.steer()`` to add it to a running turn.

    ``content`` is text, or a list of Responses-API function-output items in wire form
    (``{"type": "input_text", "text": "..."}``, ``{"type": "input_image", "image_url": "..."}``).
    """

    tool_name: str
    content: str | Sequence[Mapping[str, Any]]
    namespace: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tool_name, str) or not self.tool_name.strip():
            raise ValueError("ExternalMessage.tool_name must be a non-empty string")
        if self.namespace is not None and not isinstance(self.namespace, str):
            raise TypeError("ExternalMessage.namespace must be a str or None")
        if isinstance(self.content, str):
            return
        if not isinstance(self.content, Sequence) or not self.content:
            raise ValueError(
                "ExternalMessage.content must be a str or a non-empty list of content items "
                "such as {'type': 'input_text', 'text': '...'}"
            )
        for index, item in enumerate(self.content):
            if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
                raise ValueError(
                    f"ExternalMessage.content[{index}] must be a dict with a string 'type', "
                    "such as {'type': 'input_text', 'text': '...'}"
                )

    def __repr__(self) -> str:
        # The content is another party's text: its size is shown, not the text itself.
        size = len(self.content)
        unit = "characters" if isinstance(self.content, str) else "items"
        return f"ExternalMessage(tool_name={self.tool_name!r}, content=<{size} {unit}>)"

    def to_wire(self) -> dict[str, Any]:
        """This message as the ``toolOutput`` of ``turn/start``."""
        output = self.content if isinstance(self.content, str) else [dict(i) for i in self.content]
        wire: dict[str, Any] = {"name": self.tool_name, "output": output}
        if self.namespace is not None:
            wire["namespace"] = self.namespace
        return wire


#: One input element.
InputItem: TypeAlias = (
    str | TextInput | ImageInput | LocalImageInput | SkillInput | MentionInput | Mapping[str, Any]
)
#: What ``thread.turn()`` and ``steer()`` accept: one element, a sequence of them, or an
#: :class:`ExternalMessage` on its own.
Input: TypeAlias = InputItem | Sequence[InputItem] | ExternalMessage

_HELPERS = (TextInput, ImageInput, LocalImageInput, SkillInput, MentionInput)


def _with_detail(wire: dict[str, Any], detail: str | None) -> dict[str, Any]:
    if detail is not None:
        wire["detail"] = detail
    return wire


def _item_to_wire(item: object, where: str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"type": "text", "text": item}
    if isinstance(item, _HELPERS):
        return item.to_wire()
    if isinstance(item, ExternalMessage):
        raise TypeError(
            f"{where} is an ExternalMessage; give it as the whole input (it travels as the "
            "turn's tool output), and user text in a turn or steer of its own"
        )
    if isinstance(item, Mapping):
        kind = item.get("type")
        if not isinstance(kind, str):
            raise ValueError(
                f"{where} is a dict without a string 'type'; wire-form inputs look like "
                "{'type': 'text', 'text': '...'}"
            )
        return dict(item)
    raise TypeError(
        f"{where} is a {type(item).__name__}; use a str, TextInput, ImageInput, "
        "LocalImageInput, SkillInput, MentionInput or a wire-form dict"
    )


def to_wire_input(value: Input) -> list[dict[str, Any]]:
    """Normalise any accepted input into the ``input`` list of ``turn/start``.

    Raises ``TypeError``/``ValueError`` naming the offending element.
    """
    if isinstance(value, (str, Mapping, ExternalMessage, *_HELPERS)):
        return [_item_to_wire(value, "input")]
    if isinstance(value, Sequence):
        if not value:
            raise ValueError("input is empty; give at least one text or image")
        return [_item_to_wire(item, f"input[{i}]") for i, item in enumerate(value)]
    raise TypeError(
        f"input is a {type(value).__name__}; give a str, an input helper, a wire-form dict "
        "or a list of them"
    )


def to_wire_turn(value: Input) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The ``input`` list and the ``toolOutput`` (or ``None``) of a ``turn/start``."""
    if isinstance(value, ExternalMessage):
        return [], value.to_wire()
    return to_wire_input(value), None


def external_join_params(thread_id: str, message: ExternalMessage) -> dict[str, Any]:
    """The ``turn/start`` params that add ``message`` to the thread's running turn.

    ``turn/steer`` takes user input only; a ``turn/start`` on a thread whose turn is running
    joins that turn instead of starting one, and it is how a tool's output is added.
    """
    return {"thread_id": thread_id, "input": [], "tool_output": message.to_wire()}


def not_joined(turn_id: str, started_id: str | None = None) -> CodexError:
    """The error when an external message finds ``turn_id`` ended: seen so here, or found so
    by the server, which then started the turn ``started_id`` (the caller interrupts it:
    nobody reads it)."""
    instead = "" if started_id is None else f"; the turn {started_id} it started was interrupted"
    return CodexError(
        f"turn {turn_id} had ended before the external message could join it{instead}. Give "
        "the message to a new turn instead: thread.run(message)"
    )
