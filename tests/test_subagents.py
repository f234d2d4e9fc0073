"""Sub-agents on the real app-server: a thread's approval policy covers the threads it spawns,
a turn handle can stream their events, and a thread lists them. Cited in docs/reliability.md.

The scripted model spawns a sub-agent through the ``spawn_agent`` tool the server offers (in its
``multi_agent_v1`` namespace). The server runs the tool as soon as the call is streamed, so a
stall after the call holds the parent while the child takes the next scripted responses: which
response goes to which thread is then fixed, not a race.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codex_app_server import AsyncCodex, Codex, CodexConfig, accept_all, final_text
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    message,
    response,
    stall,
)
from codex_app_server.testing._script import FunctionCall

PATIENCE = 20.0


class SpawnAgent(FunctionCall):
    """The model calling ``multi_agent_v1.spawn_agent`` (the kit has no namespaced call)."""

    def events(self, output_index: int) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, event in super().events(output_index):
            event["item"]["namespace"] = "multi_agent_v1"
            yield name, event


def spawn_agent(task: str) -> SpawnAgent:
    return SpawnAgent(name="spawn_agent", arguments=json.dumps({"message": task}))


class Strict:
    """A per-thread policy that declines everything and records who asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, request: Any) -> Any:
        self.asked.append(request.thread_id)
        return "decline"


class Permissive:
    """The client-level policy a sub-agent must not fall through to."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, request: Any) -> Any:
        self.asked.append(request.thread_id)
        return accept_all(request)


def script_child(model_server: ScriptedModelServer) -> tuple[Any, ...]:
    """Parent spawns a child and waits; the child asks to run a command; both finish."""
    hold_parent = stall()
    model_server.enqueue(
        response(spawn_agent("write the file"), hold_parent),  # parent
        response(exec_command("touch escaped.txt", escalated=True)),  # child
        response(message("child done")),  # child, after the decline
        response(message("parent done")),  # parent, once released
    )
    return (hold_parent,)


def ended(event: Any, thread_id: str | None = None) -> str | None:
    """The thread whose turn ``event`` completes, if it does (and is not ``thread_id``'s)."""
    if event.method != "turn/completed" or event.params.thread_id == thread_id:
        return None
    return str(event.params.thread_id)


def thread_ids(events: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for event in events:
        owner = getattr(event.params, "thread_id", None)
        if owner is not None:
            seen.setdefault(owner, None)
    return list(seen)


def test_subagent_requests_follow_the_parent_thread_policy(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    (hold_parent,) = script_child(model_server)
    strict, permissive = Strict(), Permissive()
    with Codex(codex_config, approval_handler=permissive) as codex:
        thread = codex.thread_start(approval_handler=strict)
        handle = thread.turn("delegate the work", include_subagents=True)
        events = []
        for event in handle.stream(timeout=PATIENCE):
            events.append(event)
            if ended(event, thread.id):
                hold_parent.release()  # the child is done: let the parent go on
        (child,) = thread.subagents()
    assert strict.asked == [child]  # the child's request met the parent's policy
    assert permissive.asked == []  # ... and never the client's
    assert not (codex_workdir / "escaped.txt").exists()
    assert thread_ids(events) == [thread.id, child]  # each event names its thread
    assert events[-1].method == "turn/completed"
    assert events[-1].params.turn.id == handle.id
    assert final_text(events[-1].params.turn) == "parent done"


async def test_subagent_requests_follow_the_parent_thread_policy_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    (hold_parent,) = script_child(model_server)
    strict, permissive = Strict(), Permissive()
    async with AsyncCodex(codex_config, approval_handler=permissive) as codex:
        thread = await codex.thread_start(approval_handler=strict)
        handle = await thread.turn("delegate the work", include_subagents=True)
        events = []
        async for event in handle.stream(timeout=PATIENCE):
            events.append(event)
            if ended(event, thread.id):
                hold_parent.release()
        (child,) = thread.subagents()
    assert strict.asked == [child]
    assert permissive.asked == []
    assert not (codex_workdir / "escaped.txt").exists()
    assert thread_ids(events) == [thread.id, child]


def script_grandchild(model_server: ScriptedModelServer) -> tuple[Any, Any]:
    """Parent spawns a child, which spawns a grandchild that asks to run a command."""
    hold_parent, hold_child = stall(), stall()
    model_server.enqueue(
        response(spawn_agent("delegate again"), hold_parent),  # parent
        response(spawn_agent("write the file"), hold_child),  # child
        response(exec_command("touch escaped.txt", escalated=True)),  # grandchild
        response(message("grandchild done")),  # grandchild
        response(message("child done")),  # child, once released
        response(message("parent done")),  # parent, once released
    )
    return hold_parent, hold_child


def deep_config(codex_config: CodexConfig) -> CodexConfig:
    # The server lets only the first level of sub-agents spawn unless told otherwise.
    return dataclasses.replace(codex_config, config_overrides={"agents.max_depth": 2})


def release_above(finished: str, direct_children: list[str], holds: tuple[Any, Any]) -> None:
    """The grandchild ends first, then the child: release the thread above the one that ended."""
    hold_parent, hold_child = holds
    (hold_parent if finished in direct_children else hold_child).release()


def check_grandchild(
    thread_id: str, nested: list[str], strict: Strict, permissive: Permissive, events: list[Any]
) -> None:
    child, grandchild = nested
    assert strict.asked == [grandchild]  # two levels down, still the root thread's policy
    assert permissive.asked == []
    assert thread_ids(events) == [thread_id, child, grandchild]
    assert final_text(events[-1].params.turn) == "parent done"


def test_grandchild_requests_follow_the_root_thread_policy(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    holds = script_grandchild(model_server)
    strict, permissive = Strict(), Permissive()
    with Codex(deep_config(codex_config), approval_handler=permissive) as codex:
        thread = codex.thread_start(approval_handler=strict)
        events = []
        for event in thread.turn("go", include_subagents=True).stream(timeout=PATIENCE):
            events.append(event)
            if (finished := ended(event, thread.id)) is not None:
                release_above(finished, thread.subagents(), holds)
        check_grandchild(thread.id, thread.subagents(nested=True), strict, permissive, events)
        assert thread.subagents() == thread.subagents(nested=True)[:1]
    assert not (codex_workdir / "escaped.txt").exists()


async def test_grandchild_requests_follow_the_root_thread_policy_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    holds = script_grandchild(model_server)
    strict, permissive = Strict(), Permissive()
    async with AsyncCodex(deep_config(codex_config), approval_handler=permissive) as codex:
        thread = await codex.thread_start(approval_handler=strict)
        events = []
        handle = await thread.turn("go", include_subagents=True)
        async for event in handle.stream(timeout=PATIENCE):
            events.append(event)
            if (finished := ended(event, thread.id)) is not None:
                release_above(finished, thread.subagents(), holds)
        check_grandchild(thread.id, thread.subagents(nested=True), strict, permissive, events)
    assert not (codex_workdir / "escaped.txt").exists()


def test_a_turn_streams_only_its_own_thread_unless_asked(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    (hold_parent,) = script_child(model_server)
    with Codex(codex_config) as codex:
        thread = codex.thread_start()
        # Released before the child ends, the parent finishes first; the child's end then
        # reaches the idle parent, which asks the model once more.
        model_server.enqueue(response(message("noted")))
        handle = thread.turn("delegate the work")
        # The child took its two responses: the parent may go on.
        model_server.wait_for_requests(3, timeout=PATIENCE)
        hold_parent.release()
        events = list(handle.stream(timeout=PATIENCE))
        assert thread_ids(events) == [thread.id]
        assert len(thread.subagents()) == 1
        assert codex.client.connection.subscriber_count() == 0


def test_every_test_here_is_cited_in_reliability_md() -> None:
    document = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
    cited = set(re.findall(r"test_subagents\.py::(test_\w+)", document.read_text("utf-8")))
    here = {name for name in globals() if name.startswith("test_")}
    assert cited - here == set()
    uncited = {n for n in here if n not in cited and n.removesuffix("_async") not in cited}
    assert uncited == {"test_every_test_here_is_cited_in_reliability_md"}
