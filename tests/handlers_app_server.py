"""A stand-in app-server for the server-request cases the real one cannot be made to produce.

Run as ``python handlers_app_server.py MODE``; it shares the message shapes of
``fake_app_server.py``. ``initialize`` and ``thread/start`` (a new ``thread-N`` each time) are
answered; what each turn does depends on the mode, and every reply the client gives to one of
the server's requests is reported back as a ``fake/clientReplied`` notification of the turn:

``utf8``     the turn sends a command approval whose line is not valid UTF-8.
``deep``     the request ``fake/deep`` is answered with a result nested 100,000 levels deep.
``orphan``   the turn sends a command approval naming a thread the client never saw, and one
             of a sub-agent thread spawned on behalf of a turn the client never saw.
``lanes``    the turn sends ``LANES_APPROVALS`` command approvals, a user-input request and an
             ``account/chatgptAuthTokens/refresh`` at once, then waits for all their replies.
``release``  ``thread/archive``, ``thread/delete`` and ``thread/unsubscribe`` are answered, each
             followed by its notification (``thread/archived``, ``thread/deleted``,
             ``thread/closed``); a turn sends a ``collabAgentToolCall`` spawn item naming a
             child thread and a ``turn/started`` of that child, so the client learns a lineage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from fake_app_server import (
    DEEP,
    PINNED_VERSION,
    agent_message,
    initialize_reply,
    notify,
    send,
    thread_start_reply,
    turn,
    write,
)

#: How many approvals the ``lanes`` turn sends at once.
LANES_APPROVALS = 10


class Server:
    """The request loop: one line of stdin at a time."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.threads = 0
        self.turns = 0
        self.lines: Iterator[bytes] = iter(sys.stdin.buffer)

    def run(self) -> None:
        for line in self.lines:
            message = json.loads(line)
            method = message.get("method")
            if "id" not in message or method is None:
                continue
            self.answer(message["id"], method, message.get("params") or {})

    def answer(self, request_id: object, method: str, params: dict[str, Any]) -> None:
        if method == "initialize":
            send(initialize_reply(request_id, PINNED_VERSION))
        elif method == "thread/start":
            self.threads += 1
            send(thread_start_reply(request_id, f"thread-{self.threads}"))
        elif method == "turn/start":
            self.turns += 1
            self.play_turn(request_id, params["threadId"], f"turn-{self.turns}")
        elif method == "fake/deep" and self.mode == "deep":
            head = '{"id":' + json.dumps(request_id) + ',"result":'
            write(head + "[" * DEEP + "]" * DEEP + "}\n")
        elif method in GONE and self.mode == "release":
            send({"id": request_id, "result": {"status": "unsubscribed"}})
            notify(GONE[method], {"threadId": params["threadId"]})
        else:
            send({"id": request_id, "error": {"code": -32601, "message": f"fake: no {method}"}})

    def wait_for_replies(self, request_ids: list[str]) -> list[dict[str, Any]]:
        """Read stdin until the client answered every one of ``request_ids``; the replies in
        the order they came."""
        pending = set(request_ids)
        arrived: list[dict[str, Any]] = []
        if not pending:
            return arrived
        for line in self.lines:
            message = json.loads(line)
            if "method" not in message and message.get("id") in pending:
                pending.discard(message["id"])
                arrived.append(message)
                if not pending:
                    break
        return arrived

    def play_turn(self, request_id: object, thread_id: str, turn_id: str) -> None:
        send({"id": request_id, "result": {"turn": turn(turn_id, "inProgress")}})
        scope = {"threadId": thread_id, "turnId": turn_id}
        notify("turn/started", {"threadId": thread_id, "turn": turn(turn_id, "inProgress")})
        asked: list[str] = []
        approval = {**scope, "startedAtMs": 1, "command": "rm -rf ~"}
        if self.mode == "utf8":
            line = json.dumps(
                {
                    "id": "srv-utf8",
                    "method": "item/commandExecution/requestApproval",
                    "params": {**approval, "itemId": "cmd-1", "reason": "MARK"},
                }
            )
            write_bytes(line.encode().replace(b"MARK", b"\xff\xfe broken \xc3"))
            asked.append("srv-utf8")
        elif self.mode == "orphan":
            stranger = {**approval, "threadId": "thread-never-seen", "itemId": "cmd-1"}
            send(
                {
                    "id": "srv-orphan",
                    "method": "item/commandExecution/requestApproval",
                    "params": stranger,
                }
            )
            # A sub-agent's turn on behalf of a turn the client never saw: spawned, by whom
            # is not known.
            adrift = {**turn("turn-adrift", "inProgress"), "rootTurnId": "turn-unknown"}
            notify("turn/started", {"threadId": "thread-adrift", "turn": adrift})
            send(
                {
                    "id": "srv-adrift",
                    "method": "item/commandExecution/requestApproval",
                    "params": {**approval, "threadId": "thread-adrift", "itemId": "cmd-2"},
                }
            )
            asked += ["srv-orphan", "srv-adrift"]
        elif self.mode == "lanes":
            for n in range(LANES_APPROVALS):
                send(
                    {
                        "id": f"srv-approval-{n}",
                        "method": "item/commandExecution/requestApproval",
                        "params": {**approval, "itemId": f"cmd-{n}"},
                    }
                )
                asked.append(f"srv-approval-{n}")
            send(
                {
                    "id": "srv-input",
                    "method": "item/tool/requestUserInput",
                    "params": {**scope, "itemId": "ask-1", "questions": []},
                }
            )
            send(
                {
                    "id": "srv-refresh",
                    "method": "account/chatgptAuthTokens/refresh",
                    "params": {"reason": "unauthorized"},
                }
            )
            asked += ["srv-input", "srv-refresh"]
        elif self.mode == "release":
            child = f"{thread_id}-child"
            spawn = {
                "type": "collabAgentToolCall",
                "id": "call-1",
                "tool": "spawnAgent",
                "status": "completed",
                "senderThreadId": thread_id,
                "receiverThreadIds": [child],
                "agentsStates": {},
            }
            notify("item/completed", {**scope, "item": spawn, "completedAtMs": 1})
            child_turn = {**turn(f"{turn_id}-child", "inProgress"), "rootTurnId": turn_id}
            notify("turn/started", {"threadId": child, "turn": child_turn})
        for reply in self.wait_for_replies(asked):
            notify("fake/clientReplied", {**scope, "reply": reply})
        final = turn(turn_id, "completed", [agent_message("done")])
        notify("turn/completed", {"threadId": thread_id, "turn": final})


#: The requests that end a client's use of a thread, and the notification each one brings.
GONE = {
    "thread/archive": "thread/archived",
    "thread/delete": "thread/deleted",
    "thread/unsubscribe": "thread/closed",
}


def write_bytes(line: bytes) -> None:
    sys.stdout.buffer.write(line + b"\n")
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    Server(sys.argv[1]).run()
