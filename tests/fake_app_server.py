"""A stand-in app-server for what the real one cannot be made to do on purpose.

Run as ``python fake_app_server.py MODE``. It speaks just enough of the protocol on stdio:
``initialize`` is answered, ``thread/start`` and ``turn/start`` get replies shaped like the
real server's, ``fake/never`` is never answered, and any other request gets a -32601 error.
The mode decides what happens around that:

``ok``         a well-behaved server; a turn sends ``turn/started`` and ``turn/completed``.
``old``        says it is codex 0.100.0.
``crash``      a turn starts, then the server writes to stderr and exits with status 3.
``garbage``    the first turn's events are mixed with a non-JSON line, a JSON array, a reply
               to an unknown id, a 10 MB non-JSON line, an object nested 100,000 deep, a
               line that starts like a delta of the turn and one like its token usage but
               neither is JSON, a 10 MB
               agent-message delta, and the ``turn/start`` reply split across two writes.
``newer``      a turn carries what a newer server would send: an unknown notification method,
               an unknown item type, a new enum value, new fields, and an unknown server
               request, whose answer is then reported back in a ``fake/clientReplied``
               notification.
``reshaped``   known methods in shapes the models do not know (a newer server's): the
               ``thread/start`` reply's ``serviceTier`` is an object, an agent message's
               ``text`` is an object (in ``item/completed`` and in the completed turn), and
               the completed turn's ``durationMs`` is a string.
``approval``   a turn asks for a command approval and reports the answer the same way.
``silent``     never answers ``initialize``.
``stubborn``   ignores SIGTERM and keeps running after its stdin closes.
``deaf``       stops reading its stdin after the handshake.
``wedged``     a turn starts and never ends, and ``turn/interrupt`` is never answered.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The runtime version the SDK pins (it refuses older servers), read from the one pin.
PINNED_VERSION: str = runpy.run_path(
    str(
        Path(__file__).resolve().parent.parent
        / "packages/codex-app-server-sdk/src/codex_app_server/_version.py"
    )
)["RUNTIME_VERSION"]

THREAD_ID = "thread-fake-1"
TEN_MB = 10 * 1024 * 1024
#: Nesting deeper than any recursive JSON decoder goes.
DEEP = 100_000


def write(data: str) -> None:
    sys.stdout.write(data)
    sys.stdout.flush()


def send(message: dict[str, Any]) -> None:
    write(json.dumps(message) + "\n")


def notify(method: str, params: dict[str, Any]) -> None:
    send({"method": method, "params": params, "emittedAtMs": int(time.time() * 1000)})


def initialize_reply(request_id: object, version: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "result": {
            "userAgent": f"codex_app_server_sdk/{version} (Test; x86_64) fake",
            "codexHome": "/nonexistent",
            "platformFamily": "unix",
            "platformOs": "linux",
        },
    }


def thread(thread_id: str) -> dict[str, Any]:
    return {
        "id": thread_id,
        "sessionId": thread_id,
        "preview": "",
        "projectId": None,
        "ephemeral": True,
        "modelProvider": "fake",
        "model": "fake-model",
        "createdAt": 1,
        "updatedAt": 1,
        "status": {"type": "idle"},
        "path": None,
        "cwd": os.getcwd(),
        "cliVersion": PINNED_VERSION,
        "source": "vscode",
        "turns": [],
    }


def thread_start_reply(request_id: object, thread_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "result": {
            "thread": thread(thread_id),
            "model": "fake-model",
            "modelProvider": "fake",
            "cwd": os.getcwd(),
            "approvalPolicy": "on-request",
            "approvalsReviewer": "user",
            "sandbox": {"type": "readOnly", "networkAccess": False},
        },
    }


def turn(turn_id: str, status: str, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": turn_id, "items": items or [], "status": status, "error": None}


def agent_message(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "agentMessage", "id": "msg-1", "text": text, **extra}


class Server:
    """The request loop: one line of stdin at a time."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.turns = 0
        self.lines: Iterator[str] = iter(sys.stdin)

    def run(self) -> None:
        if self.mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for line in self.lines:
            message = json.loads(line)
            method = message.get("method")
            if "id" not in message or method is None:
                continue  # a notification ("initialized") or a stray reply
            self.answer(message["id"], method, message.get("params") or {})
        if self.mode == "stubborn":
            while True:
                time.sleep(60)

    def answer(self, request_id: object, method: str, params: dict[str, Any]) -> None:
        if method == "initialize":
            if self.mode != "silent":
                send(
                    initialize_reply(
                        request_id, "0.100.0" if self.mode == "old" else PINNED_VERSION
                    )
                )
            if self.mode == "deaf":
                time.sleep(3600)
        elif method == "thread/start":
            reply = thread_start_reply(request_id, THREAD_ID)
            if self.mode == "reshaped":
                reply["result"]["serviceTier"] = {"name": "flex", "discount": 0.5}
            send(reply)
        elif method == "turn/start":
            self.turns += 1
            self.play_turn(request_id, params["threadId"], f"turn-{self.turns}")
        elif method == "fake/never" or (self.mode == "wedged" and method == "turn/interrupt"):
            pass
        else:
            send({"id": request_id, "error": {"code": -32601, "message": f"fake: no {method}"}})

    def wait_for_reply(self, request_id: str) -> dict[str, Any]:
        """Read stdin until the client answers our request ``request_id``."""
        for line in self.lines:
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                reply: dict[str, Any] = message
                return reply
        raise SystemExit("stdin closed before the client replied")

    def ask(self, thread_id: str, turn_id: str, method: str, params: dict[str, Any]) -> None:
        """Send a server request and report the client's answer as a notification."""
        request_id = f"srv-{turn_id}"
        send({"id": request_id, "method": method, "params": params})
        reply = self.wait_for_reply(request_id)
        notify("fake/clientReplied", {"threadId": thread_id, "turnId": turn_id, "reply": reply})

    def play_turn(self, request_id: object, thread_id: str, turn_id: str) -> None:
        reply = json.dumps({"id": request_id, "result": {"turn": turn(turn_id, "inProgress")}})
        scope = {"threadId": thread_id, "turnId": turn_id}
        if self.mode == "garbage" and self.turns == 1:
            write("this is not JSON\n")
            write('[{"method": "turn/started"}]\n')
            send({"id": 987654, "result": {}})
            write(reply[:10])
            time.sleep(0.05)  # the client reads the first half on its own
            write(reply[10:] + "\n")
            write("x" * TEN_MB + "\n")
            write('{"a":' * DEEP + "1" + "}" * DEEP + "\n")
            delta_head = (
                '{"method":"item/agentMessage/delta","params":{"threadId":"%s","turnId":"%s"'
            )
            write(delta_head % (thread_id, turn_id) + ", and then no JSON at all\n")
            usage_head = (
                '{"method":"thread/tokenUsage/updated","params":{"threadId":"%s","turnId":"%s"'
            )
            write(usage_head % (thread_id, turn_id) + ", tokens galore\n")
            notify("item/agentMessage/delta", {**scope, "itemId": "msg-1", "delta": "y" * TEN_MB})
        else:
            write(reply + "\n")
        notify("turn/started", {"threadId": thread_id, "turn": turn(turn_id, "inProgress")})
        if self.mode == "wedged":
            return
        if self.mode == "crash":
            sys.stderr.write("fake: fatal: lost the model connection\n")
            sys.stderr.flush()
            os._exit(3)
        if self.mode == "newer":
            notify("thread/mood/changed", {**scope, "mood": "curious"})
            hologram = {"type": "hologram", "id": "h-1", "depth": 3}
            notify("item/started", {**scope, "item": hologram, "startedAtMs": 1})
            item = agent_message("hello", phase="afterthought", sparkle=True)
            notify("item/completed", {**scope, "item": item, "completedAtMs": 2, "shininess": 0.5})
            self.ask(thread_id, turn_id, "item/hologram/requestApproval", {**scope, "depth": 3})
        if self.mode == "approval":
            approval = {**scope, "itemId": "cmd-1", "startedAtMs": 1, "command": "rm -rf /"}
            self.ask(thread_id, turn_id, "item/commandExecution/requestApproval", approval)
        final = turn(turn_id, "completed", [agent_message("done")])
        if self.mode == "reshaped":
            # Each item completes on its own first, as with the real server (run() returns these).
            notify("item/completed", {**scope, "item": final["items"][0], "completedAtMs": 1})
            parted = {"type": "agentMessage", "id": "msg-2", "text": {"parts": ["hi", "!"]}}
            notify("item/completed", {**scope, "item": parted, "completedAtMs": 2})
            final["items"].append(parted)
            final["durationMs"] = "slow"
        notify("turn/completed", {"threadId": thread_id, "turn": final})


if __name__ == "__main__":
    Server(sys.argv[1]).run()
