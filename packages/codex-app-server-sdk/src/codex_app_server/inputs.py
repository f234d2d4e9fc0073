"""What a turn can be given: text, images, skills and mentions.

``thread.turn(...)`` accepts a plain ``str``, one of the small input classes below, a dict
already in wire form (``{"type": "text", "text": "..."}``), or a list mixing them. Everything
is normalised here, in one place, into the list the ``turn/start`` request carries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "ImageInput",
    "Input",
    "InputItem",
    "LocalImageInput",
    "MentionInput",
    "SkillInput",
    "TextInput",
    "to_wire_input",
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


#: One input element.
InputItem: TypeAlias = (
    str | TextInput | ImageInput | LocalImageInput | SkillInput | MentionInput | Mapping[str, Any]
)
#: What ``thread.turn()`` and ``steer()`` accept: one element or a sequence of them.
Input: TypeAlias = InputItem | Sequence[InputItem]

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
    if isinstance(value, (str, Mapping, *_HELPERS)):
        return [_item_to_wire(value, "input")]
    if isinstance(value, Sequence):
        if not value:
            raise ValueError("input is empty; give at least one text or image")
        return [_item_to_wire(item, f"input[{i}]") for i, item in enumerate(value)]
    raise TypeError(
        f"input is a {type(value).__name__}; give a str, an input helper, a wire-form dict "
        "or a list of them"
    )
