"""A stand-in ``codex app-server`` that replays messages recorded from the real one, fast.

Run as ``python standin_server.py app-server --deltas N``. It answers ``initialize``,
``thread/start``, ``thread/loaded/list`` and ``turn/start`` with the recorded results (and any
other request with a -32601 error), and after each ``turn/start`` reply writes the recorded
``item/agentMessage/delta`` N times and then the recorded ``turn/completed``, as fast as the
pipe takes them. Each turn gets its own turn id (of the recorded id's length), so a client's
per-turn bookkeeping is exercised as it is by the real server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

RECORDING = Path(__file__).with_name("recorded.json")
#: Bytes handed to the pipe per write: large, so the stand-in is never the bottleneck.
WRITE_SIZE = 1 << 20


def load_recording() -> dict[str, Any]:
    """The recorded messages (see ``scripts/record_notifications.py``)."""
    recording: dict[str, Any] = json.loads(RECORDING.read_text(encoding="utf-8"))
    return recording


class Turns:
    """The bytes of each turn: the ``turn/start`` result and the notifications that follow."""

    def __init__(self, recording: dict[str, Any], deltas: int) -> None:
        self._result = recording["results"]["turn/start"]
        self._turn_id: str = self._result["turn"]["id"]
        self._stream = (
            (recording["delta"] + "\n") * deltas + recording["turn_completed"] + "\n"
        ).encode()
        self._count = 0

    def next(self) -> tuple[dict[str, Any], bytes]:
        """A fresh turn id's ``turn/start`` result and notification bytes."""
        self._count += 1
        suffix = f"{self._count:012x}"
        turn_id = self._turn_id[: -len(suffix)] + suffix
        result = json.loads(json.dumps(self._result).replace(self._turn_id, turn_id))
        return result, self._stream.replace(self._turn_id.encode(), turn_id.encode())


def write_all(data: bytes) -> None:
    """Write to stdout without Python-level buffering, in large slices."""
    view = memoryview(data)
    while view:
        written = os.write(1, view[:WRITE_SIZE])
        view = view[written:]


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(value: Any) -> bytes:
    """JSON as the real server writes it: compact, members in the order given."""
    return _ENCODER.encode(value).encode()


def reply(request_id: Any, result: bytes) -> bytes:
    """A reply line, ``result`` already encoded."""
    return b'{"id":%b,"result":%b}\n' % (encode(request_id), result)


def serve(deltas: int) -> None:
    """Answer requests from stdin until it closes."""
    recording = load_recording()
    # Encoded once: the server should cost as little as it can beside the clients it serves.
    results = {method: encode(result) for method, result in recording["results"].items()}
    turns = Turns(recording, deltas)
    for line in sys.stdin.buffer:
        message = json.loads(line)
        if "id" not in message:
            continue  # a client notification ("initialized")
        method = message.get("method")
        if method == "turn/start":
            result, stream = turns.next()
            write_all(reply(message["id"], encode(result)))
            write_all(stream)
        elif method in results:
            write_all(reply(message["id"], results[method]))
        else:
            error = {"code": -32601, "message": f"the stand-in does not serve {method}"}
            write_all(encode({"id": message["id"], "error": error}) + b"\n")


def main() -> None:
    """Parse ``app-server --deltas N`` and serve."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["app-server"])
    parser.add_argument("--deltas", type=int, default=1)
    args = parser.parse_args()
    # A client that goes away mid-stream leaves nobody to tell.
    with contextlib.suppress(BrokenPipeError):
        serve(args.deltas)


if __name__ == "__main__":
    main()
