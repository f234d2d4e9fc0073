"""Decoding a server message whose shape the generated models do not fit (a newer server).

The fast path validates strictly; only a message that fails comes here. It is validated again
with tagged unions allowed to fall back (a known variant whose shape changed becomes the
union's ``Unrecognized…`` model, holding its JSON), and what still does not fit is cut out, kept
as raw JSON under its JSON pointer (:func:`unfit_parts`), and the rest validated. A warning with
the validation error is logged once per method. See docs/generated-models.md.
"""

from __future__ import annotations

import copy
import logging
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from .generated._base import LENIENT

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["fit", "unfit_parts"]

logger = logging.getLogger("codex_app_server")

ModelT = TypeVar("ModelT", bound="BaseModel")

#: Parts cut out of a message: the top model's id -> (a weak reference to it, the parts).
_UNFIT: dict[int, tuple[weakref.ref[Any], dict[str, Any]]] = {}
_warned: set[str] = set()
_lock = threading.Lock()
#: Enough for any real message; a shape so far off that more are needed is not worth typing.
_MAX_CUTS = 64


def unfit_parts(model: BaseModel) -> dict[str, Any]:
    """The parts of a server message that did not fit its model, as raw JSON.

    Keys are JSON pointers into the message as the server sent it (``/params/turn/status``),
    values the JSON found there; empty when everything fit. A tagged-union member that did not
    fit is not listed here: it arrives as the union's ``Unrecognized…`` model, whose extra
    fields hold its JSON.
    """
    entry = _UNFIT.get(id(model))
    if entry is None or entry[0]() is not model:
        return {}
    return dict(entry[1])


def fit(model: type[ModelT], data: Any, method: str) -> ModelT:
    """Validate ``data`` (a message already found not to fit) into ``model`` as far as it fits.

    Never raises for a shape mismatch: what does not fit is kept (see :func:`unfit_parts`) and
    logged once per ``method``. Raises ``ValidationError`` only when not even the top level is
    an object the model can hold, which no server message is.
    """
    notes: list[tuple[str, ValidationError]] = []
    cut: dict[str, Any] = {}
    token = LENIENT.set(notes)
    try:
        try:
            result = model.model_validate(data)
        except ValidationError as error:
            notes.append(("", error))
            result = _validate_cutting(model, data, error, cut)
    finally:
        LENIENT.reset(token)
    if cut:
        key = id(result)
        with _lock:
            _UNFIT[key] = (weakref.ref(result, _forget(key)), cut)
    _warn(method, notes, cut)
    return result


def _forget(key: int) -> Any:
    def forget(_: object) -> None:
        with _lock:
            _UNFIT.pop(key, None)

    return forget


def _validate_cutting(
    model: type[ModelT], data: Any, first: ValidationError, cut: dict[str, Any]
) -> ModelT:
    """Cut what each error points at (the deepest part present in ``data``) into ``cut``,
    until the rest fits.

    A required member that does not fit takes its object with it, up to the message itself:
    then the model is built without validation from the message as it came (its members hold
    raw JSON) and ``cut`` holds the whole message under ``""``.
    """
    if not isinstance(data, Mapping):
        raise first
    original = data
    data = copy.deepcopy(data)
    error = first
    for _ in range(_MAX_CUTS):
        progressed = False
        for detail in error.errors():
            found = _locate(data, detail["loc"])
            if found is None:
                continue
            parent, key, pointer = found
            if isinstance(parent, list):
                # Marked, removed below: removing now would shift the indices of other errors.
                cut[pointer] = parent[key]
                parent[key] = _REMOVED
            elif key in parent:
                cut[pointer] = parent.pop(key)
            progressed = True
        _drop_removed(data)
        if not progressed:
            break
        try:
            return model.model_validate(data)
        except ValidationError as again:
            error = again
    cut.clear()
    cut[""] = original
    return model.model_construct(**original)


_REMOVED: Any = object()


def _drop_removed(node: Any) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _drop_removed(value)
    elif isinstance(node, list):
        node[:] = [item for item in node if item is not _REMOVED]
        for item in node:
            _drop_removed(item)


def _locate(data: Any, loc: tuple[int | str, ...]) -> tuple[Any, Any, str] | None:
    """The container, key and JSON pointer of the deepest part of ``data`` on the error's path.

    Steps that are not keys of the data (a union's tag or member name) are skipped. ``None``
    when the error is about the message itself.
    """
    node: Any = data
    parent: Any = None
    key: Any = None
    pointer = ""
    for step in loc:
        in_object = isinstance(node, dict) and isinstance(step, str) and step in node
        in_array = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if not (in_object or in_array):
            continue
        parent, key, node = node, step, node[step]
        pointer += "/" + str(key).replace("~", "~0").replace("/", "~1")
    return None if parent is None else (parent, key, pointer)


def _warn(method: str, notes: list[tuple[str, ValidationError]], cut: dict[str, Any]) -> None:
    with _lock:
        if method in _warned:
            return
        _warned.add(method)
    kept = sorted({name for name, _ in notes if name})
    parts = [f"kept as {name}" for name in kept]
    if cut:
        parts.append("kept as raw JSON (see unfit_parts()): " + ", ".join(sorted(cut)))
    logger.warning(
        "%s: a message from the app-server does not fit this SDK's models (is the server "
        "newer?); %s\n%s",
        method,
        "; ".join(parts) or "kept as it came",
        notes[0][1] if notes else "",
    )
