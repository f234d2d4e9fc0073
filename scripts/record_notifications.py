"""Record what the real ``codex app-server`` sends during a turn, for the benchmarks to replay.

Runs the pinned binary against a scripted model (``codex_app_server.testing``) with a bare
JSON-RPC client (no SDK code on the path of the bytes) and writes the exact lines the server
sent: the replies to ``initialize``, ``thread/start``, ``turn/start`` and the cheap
``thread/loaded/list``, one ``item/agentMessage/delta`` notification and the turn's
``turn/completed``. The benchmark's stand-in server multiplies the delta; the recording stays
small enough to check in.

    python scripts/record_notifications.py --codex-bin PATH [--out benchmarks/recorded.json]

Without ``--codex-bin`` it uses ``$CODEX_BIN``, else the installed ``codex-cli-bin``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "recorded.json"
#: The requests whose replies are kept, in the order the stand-in's clients send them.
RECORDED_REPLIES = ("initialize", "thread/start", "thread/loaded/list", "turn/start")
#: Stands for the temporary folder the recording ran in (paths in replies mention it).
PLACEHOLDER_DIR = "/codex-bench"
#: Generous: the turn takes about 0.2 s.
TIMEOUT = 60.0


def _codex_bin(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("CODEX_BIN"):
        return os.environ["CODEX_BIN"]
    from codex_cli_bin import bin_path

    return os.fspath(bin_path())


class BareClient:
    """Just enough JSON-RPC to drive a turn: write a line, read lines, keep them verbatim."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        self._stdin: IO[bytes] = proc.stdin
        self._stdout: IO[bytes] = proc.stdout
        self._next_id = 1
        self.notifications: list[str] = []

    def send(self, message: dict[str, Any]) -> None:
        self._stdin.write(json.dumps(message).encode() + b"\n")
        self._stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> str:
        """Send a request; return its reply line verbatim, keeping notifications seen meanwhile."""
        request_id = self._next_id
        self._next_id += 1
        self.send({"id": request_id, "method": method, "params": params})
        while True:
            line = self.read_line()
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return line
            if "method" in message and "id" not in message:
                self.notifications.append(line)

    def read_line(self) -> str:
        raw = self._stdout.readline()
        if not raw:
            raise RuntimeError("the app-server closed its output")
        return raw.decode().rstrip("\n")

    def read_until_turn_completed(self) -> None:
        while True:
            line = self.read_line()
            self.notifications.append(line)
            if json.loads(line).get("method") == "turn/completed":
                return


def record(codex_bin: str) -> dict[str, Any]:
    """Run one streamed turn on the real binary; return the recording."""
    from codex_app_server._version import RUNTIME_VERSION
    from codex_app_server.testing import (
        ScriptedModelServer,
        app_server_env,
        message_deltas,
        response,
        write_codex_home,
    )

    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedModelServer(response(message_deltas(["Hello", ", world"]))) as model,
    ):
        home = write_codex_home(Path(tmp, "home"), model)
        workdir = Path(tmp, "work")
        workdir.mkdir()
        proc = subprocess.Popen(
            [codex_bin, "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=app_server_env(home),
            cwd=workdir,
        )
        try:
            client = BareClient(proc)
            replies = {
                "initialize": client.request(
                    "initialize",
                    {"clientInfo": {"name": "codex_app_server_bench", "version": "0"}},
                )
            }
            client.send({"method": "initialized"})
            thread_line = client.request("thread/start", {})
            replies["thread/start"] = thread_line
            replies["thread/loaded/list"] = client.request("thread/loaded/list", {})
            thread_id = json.loads(thread_line)["result"]["thread"]["id"]
            replies["turn/start"] = client.request(
                "turn/start",
                {"threadId": thread_id, "input": [{"type": "text", "text": "say hello"}]},
            )
            client.read_until_turn_completed()
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        by_method = {json.loads(line)["method"]: line for line in client.notifications}
        recording = {
            "runtime_version": RUNTIME_VERSION,
            # Only the result matters: the stand-in answers with the id of the request it got.
            "results": {method: json.loads(line)["result"] for method, line in replies.items()},
            "delta": by_method["item/agentMessage/delta"],
            "turn_completed": by_method["turn/completed"],
        }
        # The temporary folder's name is this machine's business, not the recording's.
        text = json.dumps(recording).replace(tmp, PLACEHOLDER_DIR)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def main(argv: list[str] | None = None) -> int:
    """Record and write the file; print where."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codex-bin", help="the codex binary (default: $CODEX_BIN)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    recording = record(_codex_bin(args.codex_bin))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(recording, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
