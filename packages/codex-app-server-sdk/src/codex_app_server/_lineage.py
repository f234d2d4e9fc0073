"""Which thread spawned which: the one map behind sub-agent approvals and sub-agent events.

A model can ask the server to spawn a sub-agent (the ``spawn_agent`` tool); the sub-agent is a
thread of its own, and its server requests carry its own thread id. The map is learnt from the
protocol's own fields, read off the connection in arrival order (so a link is known before any
request of the child that follows it):

- the reply to ``thread/start``, ``thread/resume`` and ``thread/fork``, and ``thread/started``:
  a thread this client started is a *root*; a thread whose ``parentThreadId`` is set, or whose
  ``source`` is a thread spawn naming ``parent_thread_id``, is that parent's child;
- a ``collabAgentToolCall`` item of tool ``spawnAgent`` (``senderThreadId`` spawned each of its
  ``receiverThreadIds``) and a ``subAgentActivity`` item of kind ``started`` (its thread spawned
  ``agentThreadId``);
- ``turn/started``: a turn whose ``rootTurnId`` is a turn of another thread was started on that
  thread's behalf (an approximate link, to the root; an exact one above replaces it).

A link never re-parents a root or a thread whose parent came from an exact field. A thread
that was never seen, or that is known to be spawned but not by whom, has no known lineage:
its requests get the safe default, never a more permissive handler.

Not thread-safe by itself: :class:`~codex_app_server._handlers.HandlerTable` guards it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ThreadTree"]

#: A lineage longer than this is treated as broken (the server allows a few levels).
_MAX_DEPTH = 64


class ThreadTree:
    """Threads this connection knows, each with its parent (``None``: started by the client)."""

    def __init__(self) -> None:
        #: thread id -> parent id; ``None`` for a root. Absent: never seen.
        self._parents: dict[str, str | None] = {}
        #: Threads known to be spawned whose parent is not known (yet).
        self._orphans: set[str] = set()
        #: Children whose parent came from an exact field (never replaced).
        self._exact: set[str] = set()
        self._children: dict[str, dict[str, None]] = {}
        #: Turns in progress: turn id -> thread id (to place a child by its ``rootTurnId``).
        self._turns: dict[str, str] = {}

    def ids(self) -> set[str]:
        """Every thread the tree holds anything for."""
        return self._parents.keys() | self._orphans | set(self._turns.values())

    def add_root(self, thread_id: str) -> None:
        """``thread_id`` was started (or resumed, forked) by this client."""
        if thread_id not in self._parents:
            self._orphans.discard(thread_id)
            self._parents[thread_id] = None

    def add_orphan(self, thread_id: str) -> None:
        """``thread_id`` is a sub-agent whose parent is not known."""
        if thread_id not in self._parents:
            self._orphans.add(thread_id)

    def link(self, child: str, parent: str, *, exact: bool = True) -> bool:
        """Record that ``parent`` spawned ``child``; ``True`` if this is a new link."""
        if child == parent or child in self._exact:
            return False
        known = child in self._parents
        if known and (self._parents[child] is None or not exact):
            return False  # a root stays a root; an approximate link never replaces one
        if child in self.lineage(parent, broken_ok=True):
            return False  # would make a cycle
        old = self._parents.get(child)
        if old is not None:
            self._children.get(old, {}).pop(child, None)
        self._parents[child] = parent
        self._orphans.discard(child)
        if exact:
            self._exact.add(child)
        self._children.setdefault(parent, {})[child] = None
        return old != parent

    def turn_started(self, thread_id: str, turn_id: str, root_turn_id: str | None) -> str | None:
        """Note a turn; returns the thread it was linked to by ``rootTurnId``, if newly linked."""
        self._turns[turn_id] = thread_id
        if root_turn_id is None or root_turn_id == turn_id:
            return None
        parent = self._turns.get(root_turn_id)
        if parent is None or parent == thread_id:
            self.add_orphan(thread_id)
            return None
        return parent if self.link(thread_id, parent, exact=False) else None

    def turn_ended(self, turn_id: str) -> None:
        """A turn completed: it can no longer be anybody's root turn."""
        self._turns.pop(turn_id, None)

    def lineage(self, thread_id: str, *, broken_ok: bool = False) -> list[str]:
        """``thread_id`` and its ancestors up to its root.

        Empty when the lineage is not fully known (a thread never seen, a sub-agent of
        unknown parent, an ancestor forgotten), unless ``broken_ok``: then as far as known.
        """
        chain: list[str] = []
        current: str | None = thread_id
        while current is not None:
            if current not in self._parents or len(chain) > _MAX_DEPTH:
                return chain if broken_ok else []
            chain.append(current)
            current = self._parents[current]
        return chain

    def children(self, thread_id: str, *, nested: bool = False) -> list[str]:
        """The sub-agents ``thread_id`` spawned, oldest first; with ``nested``, theirs too."""
        if nested:
            return list(self._descendants(thread_id))
        return list(self._children.get(thread_id, {}))

    def _descendants(self, thread_id: str) -> Iterator[str]:
        for child in list(self._children.get(thread_id, {})):
            yield child
            yield from self._descendants(child)

    def forget(self, thread_id: str) -> list[str]:
        """Drop ``thread_id`` and its sub-agents; returns every id dropped."""
        dropped = [thread_id, *self._descendants(thread_id)]
        for gone in dropped:
            parent = self._parents.pop(gone, None)
            if parent is not None:
                self._children.get(parent, {}).pop(gone, None)
                if not self._children.get(parent, True):
                    del self._children[parent]
            self._children.pop(gone, None)
            self._orphans.discard(gone)
            self._exact.discard(gone)
        if self._turns:
            gone_set = set(dropped)
            for turn_id in [t for t, owner in self._turns.items() if owner in gone_set]:
                del self._turns[turn_id]
        return dropped


def thread_links(thread: Mapping[str, Any]) -> tuple[str | None, bool]:
    """``(parent, spawned)`` of a wire ``Thread``: its parent if named, and whether it is a
    sub-agent at all (a sub-agent of unknown parent has no known lineage)."""
    parent = thread.get("parentThreadId")
    source = thread.get("source")
    spawned = parent is not None
    if isinstance(source, Mapping) and "subAgent" in source:
        spawned = True
        sub_agent = source["subAgent"]
        if parent is None and isinstance(sub_agent, Mapping):
            spawn = sub_agent.get("thread_spawn")
            if isinstance(spawn, Mapping):
                parent = spawn.get("parent_thread_id")
    return (parent if isinstance(parent, str) else None), spawned
