"""The baseline: a bare JSON-RPC client that reads lines and calls ``json.loads``, nothing more.

No validation, no routing, no threads: the least a client can do with the same bytes. The
SDK's figures are printed beside this one's.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any

#: Large enough for a ``turn/completed`` carrying a long message.
_ASYNC_LINE_LIMIT = 1 << 26


def _line(request_id: int, method: str, params: Mapping[str, Any]) -> bytes:
    return json.dumps({"id": request_id, "method": method, "params": params}).encode() + b"\n"


class BareClient:
    """Blocking: ``readline`` on the pipe, ``json.loads`` per line."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self._proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._stdin: IO[bytes] = self._proc.stdin
        self._stdout: IO[bytes] = self._proc.stdout
        self._next_id = 0
        self.request("initialize", {"clientInfo": {"name": "bare", "version": "0"}})
        self._stdin.write(b'{"method":"initialized"}\n')
        self._stdin.flush()

    def send(self, method: str, params: Mapping[str, Any]) -> int:
        """Send a request; return its id."""
        self._next_id += 1
        self._stdin.write(_line(self._next_id, method, params))
        self._stdin.flush()
        return self._next_id

    def request(self, method: str, params: Mapping[str, Any]) -> Any:
        """Send a request and return its result, skipping notifications meanwhile."""
        request_id = self.send(method, params)
        while True:
            message = json.loads(self._stdout.readline())
            if message.get("id") == request_id and "method" not in message:
                return message["result"]

    def read_turn(self) -> int:
        """Read notifications up to ``turn/completed``; return how many there were."""
        count = 0
        readline = self._stdout.readline
        while True:
            message = json.loads(readline())
            count += 1
            if message.get("method") == "turn/completed":
                return count

    def close(self) -> None:
        """Close stdin and reap the server."""
        self._stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stdout.close()


class AsyncBareClient:
    """asyncio: ``await readline()`` on the pipe, ``json.loads`` per line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        self._proc = proc
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._next_id = 0

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> AsyncBareClient:
        """Launch the server and perform the handshake."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=None if env is None else dict(env),
            cwd=cwd,
            limit=_ASYNC_LINE_LIMIT,
        )
        client = cls(proc)
        await client.request("initialize", {"clientInfo": {"name": "bare", "version": "0"}})
        client._stdin.write(b'{"method":"initialized"}\n')
        return client

    async def send(self, method: str, params: Mapping[str, Any]) -> int:
        """Send a request; return its id."""
        self._next_id += 1
        self._stdin.write(_line(self._next_id, method, params))
        await self._stdin.drain()
        return self._next_id

    async def request(self, method: str, params: Mapping[str, Any]) -> Any:
        """Send a request and return its result, skipping notifications meanwhile."""
        request_id = await self.send(method, params)
        while True:
            message = json.loads(await self._stdout.readline())
            if message.get("id") == request_id and "method" not in message:
                return message["result"]

    async def read_turn(self) -> int:
        """Read notifications up to ``turn/completed``; return how many there were."""
        count = 0
        readline = self._stdout.readline
        while True:
            message = json.loads(await readline())
            count += 1
            if message.get("method") == "turn/completed":
                return count

    async def close(self) -> None:
        """Close stdin and reap the server."""
        self._stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 10)
        except asyncio.TimeoutError:
            self._proc.kill()
            await self._proc.wait()
