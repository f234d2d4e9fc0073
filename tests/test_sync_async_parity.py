"""The sync and async faces match name for name: same members, parameters, defaults and types.

Every pair in ``codex_app_server.__all__`` is found by its name (``AsyncX`` beside ``X``,
``f_async`` beside ``f``), so a new pair is covered once it is exported. Annotations are compared
once the async spellings are mapped to the sync ones (``AsyncX`` to ``X``, ``Awaitable[T]`` to
``T``, ``__aenter__`` to ``__enter__``); the few differences that are meant are listed below with
their reason, and a listed difference that no longer exists fails too.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Awaitable
from typing import Any, get_args

import codex_app_server
import pytest

#: Members only one face has, on purpose.
ONE_FACE_ONLY = {
    "AsyncCodex.start": "AsyncCodex starts lazily (on first use, on entering or with start()); "
    "Codex starts in its constructor, so there is nothing left to start",
    "AsyncCodexClient.start": "the same lazy start, for the typed client",
    "AsyncCodexClient.started": "whether the lazy start has happened; a CodexClient that exists "
    "has started",
    "AsyncCodexPool.start": "the same lazy start, for every member of the pool",
    "AsyncCodex.started": "whether the lazy start has happened; a Codex that exists has started",
    "AsyncCodexPool.started": "whether the lazy start has happened, for the whole pool",
}

#: Protocol methods each face spells its own way, by their sync name.
PROTOCOL = {
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
}

#: Special methods that are part of a public surface when a class defines them.
DUNDERS = {"__init__", "__repr__", "__call__", "__len__", "__contains__", *PROTOCOL.values()}


def pairs() -> list[tuple[str, str]]:
    """Every (sync, async) pair of exported names."""
    exported = set(codex_app_server.__all__)
    found = []
    for name in sorted(exported):
        if name.startswith("Async") and name.removeprefix("Async") in exported:
            found.append((name.removeprefix("Async"), name))
        elif name.endswith("_async") and name.removesuffix("_async") in exported:
            found.append((name.removesuffix("_async"), name))
    return found


def _without_awaitable(text: str) -> str:
    """``text`` with every ``Awaitable[X]`` replaced by ``X``."""
    while match := re.search(r"\bAwaitable\[", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"[": 1, "]": -1}.get(text[end], 0)
            end += 1
        text = text[: match.start()] + text[match.end() : end - 1] + text[end:]
    return text


def normalized(annotation: Any) -> str:
    """An annotation as the sync face spells it."""
    if annotation is inspect.Parameter.empty:
        return ""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return re.sub(r"\bAsync(?=[A-Z])", "", _without_awaitable(text))


def shape(function: Any) -> list[tuple[str, str, Any, str]]:
    """Each parameter's name, kind, default and annotation, then the return annotation."""
    signature = inspect.signature(function)
    parameters = [
        (p.name, p.kind.name, p.default, normalized(p.annotation))
        for p in signature.parameters.values()
    ]
    return [*parameters, ("return", "", None, normalized(signature.return_annotation))]


def _instance_attributes(cls: type) -> set[str]:
    """The public attributes each ``__init__`` sets (``self.name = ...``), unseen by ``dir``."""
    inits = [vars(klass)["__init__"] for klass in cls.__mro__[:-1] if "__init__" in vars(klass)]
    trees = [ast.parse(textwrap.dedent(inspect.getsource(init))) for init in inits]
    return {
        node.attr
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and not node.attr.startswith("_")
    }


def members(cls: type) -> dict[str, Any]:
    """A class's public surface by sync name: methods, properties and instance attributes."""
    defined = {name for klass in cls.__mro__ if klass is not object for name in vars(klass)}
    found: dict[str, Any] = {
        PROTOCOL.get(name, name): inspect.getattr_static(cls, name)
        for name in dir(cls)
        if not name.startswith("_") or (PROTOCOL.get(name, name) in DUNDERS and name in defined)
    }
    for name in _instance_attributes(cls):
        found.setdefault(name, None)
    return found


def differences(sync: Any, async_: Any) -> str | None:
    """How two members of the same name differ, or None."""
    kinds: list[tuple[str, Any]] = []
    for member in (sync, async_):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property) or member is None:
            kinds.append(("attribute", member))
        elif callable(member):
            kinds.append(("method", member))
        else:
            kinds.append(("value", member))
    (sync_kind, sync_member), (async_kind, async_member) = kinds
    if sync_kind != async_kind:
        return f"a {sync_kind} in the sync face, a {async_kind} in the async one"
    if sync_kind == "method" and shape(sync_member) != shape(async_member):
        return f"{inspect.signature(sync_member)} versus {inspect.signature(async_member)}"
    if isinstance(sync_member, property) and isinstance(async_member, property):
        sync_type, async_type = (shape(m.fget)[-1] for m in (sync_member, async_member))
        if sync_type != async_type:
            return f"a property of type {sync_type[3]} versus {async_type[3]}"
    return None


def compare(sync_name: str, async_name: str) -> dict[str, str]:
    """Every difference between the two faces that is not listed in ONE_FACE_ONLY."""
    sync = getattr(codex_app_server, sync_name)
    async_ = getattr(codex_app_server, async_name)
    if inspect.isclass(sync):
        sync_members, async_members = members(sync), members(async_)
        found = {
            f"{async_name}.{name}": "only in the async face"
            for name in async_members.keys() - sync_members.keys()
        }
        found |= {
            f"{sync_name}.{name}": "only in the sync face"
            for name in sync_members.keys() - async_members.keys()
        }
        for name in sync_members.keys() & async_members.keys():
            difference = differences(sync_members[name], async_members[name])
            if difference:
                found[f"{sync_name}.{name}"] = difference
        return {name: why for name, why in found.items() if name not in ONE_FACE_ONLY}
    if inspect.isfunction(sync):
        difference = differences(sync, async_)
        return {sync_name: difference} if difference else {}
    # A type alias of a callable: the async one also accepts an awaitable of each result.
    (sync_parameters, sync_result), (async_parameters, async_result) = (
        get_args(sync),
        get_args(async_),
    )
    allowed = {*get_args(sync_result), Awaitable[sync_result]}
    if sync_parameters != async_parameters or set(get_args(async_result)) != allowed:
        return {sync_name: f"{sync} versus {async_}"}
    return {}


def test_every_pair_is_found() -> None:
    found = pairs()
    assert {
        ("Codex", "AsyncCodex"),
        ("Thread", "AsyncThread"),
        ("TurnHandle", "AsyncTurnHandle"),
        ("CodexClient", "AsyncCodexClient"),
        ("CodexPool", "AsyncCodexPool"),
        ("ChatgptLoginHandle", "AsyncChatgptLoginHandle"),
        ("DeviceCodeLoginHandle", "AsyncDeviceCodeLoginHandle"),
        ("ApprovalHandler", "AsyncApprovalHandler"),
        ("retry_on_overload", "retry_on_overload_async"),
    } <= set(found)
    # Nothing exported with an async spelling lacks its sync twin.
    paired = {async_name for _, async_name in found}
    unpaired = {
        name
        for name in codex_app_server.__all__
        if (name.startswith("Async") or name.endswith("_async")) and name not in paired
    }
    assert unpaired == set()


@pytest.mark.parametrize(("sync_name", "async_name"), pairs(), ids=[s for s, _ in pairs()])
def test_the_faces_match_name_for_name(sync_name: str, async_name: str) -> None:
    assert compare(sync_name, async_name) == {}


def test_every_listed_difference_still_exists() -> None:
    for qualified in ONE_FACE_ONLY:
        async_name, member = qualified.split(".")
        sync_name = async_name.removeprefix("Async")
        assert member in members(getattr(codex_app_server, async_name)), qualified
        assert member not in members(getattr(codex_app_server, sync_name)), qualified
