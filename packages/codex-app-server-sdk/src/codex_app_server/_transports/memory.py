"""An in-memory transport: the app-server is a peer in this process (tests of the connection).

It has the interface of the other transports, so the connection and the typed client run on it
unchanged, without spawning anything. Every line the client writes is handed to ``peer`` (a
callable that plays the server: it may answer at once or later) and the peer talks back with
:meth:`MemoryTransport.send` and hangs up with :meth:`MemoryTransport.hang_up`.

The sync transport delivers what is sent in the sending thread (with the connection's lock,
as a reader thread would); the async one on the loop's next turn, as a pipe's read would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from ..errors import CodexError
from .room import WaitRoom
from .stderr import StderrTail

__all__ = ["AsyncMemoryTransport", "MemoryTransport", "Peer"]

#: Plays the server: called with each line the client writes (a JSON object and ``\n``).
Peer = Callable[[bytes], object]

#: The reason the connection reports when the peer hangs up.
HUNG_UP = "the in-memory peer hung up"


class _MemoryBase:
    def __init__(self, peer: Peer, *, exit_code: int = 0) -> None:
        #: What a real server would have written to stderr: whatever the test puts here.
        self.stderr = StderrTail()
        self._peer = peer
        self._exit_code = exit_code
        self._ended = False
        self._opened = False
        #: Every line the client wrote, in order.
        self.written: list[bytes] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._peer!r})"

    @property
    def pid(self) -> int:
        """Not available: the peer is not a process."""
        raise CodexError("the in-memory app-server is not a process; it has no pid")

    @property
    def exit_code(self) -> int | None:
        """The exit status given at construction, once the peer hung up."""
        return self._exit_code if self._ended else None

    def write(self, data: bytes) -> None:
        """Hand one line to the peer; raises ``OSError`` once the peer hung up."""
        if self._ended or not self._opened:
            raise BrokenPipeError("the in-memory peer is not listening")
        self.written.append(data)
        self._peer(data)


class MemoryTransport(_MemoryBase):
    """The sync in-memory transport (see the module's docstring)."""

    def open(
        self,
        lock: threading.Lock,
        on_data: Callable[[bytes], None],
        on_message: Callable[[str | bytes], None],
        on_eof: Callable[[str], None],
    ) -> None:
        """Start; what the peer sends goes to ``on_data`` as a byte stream."""
        #: Where threads wait; nobody reads: the peer pushes.
        self.room = WaitRoom(lock)
        self._on_data = on_data
        self._on_eof = on_eof
        self._opened = True

    def send(self, data: bytes) -> None:
        """The peer writes ``data`` (any split of lines) to the client."""
        if self._ended:
            raise BrokenPipeError(HUNG_UP)
        with self.room.lock:
            self._on_data(data)
            self.room.notify()

    def hang_up(self, reason: str = HUNG_UP) -> None:
        """The peer closes its output; the connection reports ``reason``."""
        if not self._ended and self._opened:
            self._ended = True
            self._on_eof(reason)

    def close(self) -> int | None:
        """Hang up (the owner closes); idempotent."""
        self.hang_up()
        return self.exit_code


class AsyncMemoryTransport(_MemoryBase):
    """The async in-memory transport (see the module's docstring)."""

    #: Nothing to wait for: the peer takes every line at once.
    writing_paused = False

    async def open(
        self,
        on_data: Callable[[bytes], None],
        on_message: Callable[[str | bytes], None],
        on_eof: Callable[[str], None],
    ) -> None:
        """Start; what the peer sends goes to ``on_data`` on the loop."""
        self._loop = asyncio.get_running_loop()
        self._on_data = on_data
        self._on_eof = on_eof
        self._eof_given = False
        self._opened = True

    def send(self, data: bytes) -> None:
        """The peer writes ``data`` to the client; delivered on the loop's next turn."""
        if self._ended:
            raise BrokenPipeError(HUNG_UP)
        self._loop.call_soon_threadsafe(self._deliver, data)

    def _deliver(self, data: bytes) -> None:
        # Sent before the hang-up: delivered, as a pipe's last reads are before its end.
        if not self._eof_given:
            self._on_data(data)

    def _give_eof(self, reason: str) -> None:
        if not self._eof_given:
            self._eof_given = True
            self._on_eof(reason)

    def hang_up(self, reason: str = HUNG_UP) -> None:
        """The peer closes its output; the connection learns it after what was sent before."""
        if not self._ended and self._opened:
            self._ended = True
            self._loop.call_soon_threadsafe(self._give_eof, reason)

    async def drain(self) -> None:
        """Nothing is ever buffered."""
        if self._ended:
            raise BrokenPipeError(HUNG_UP)

    async def close(self) -> int | None:
        """Hang up (the owner closes) and let the connection see it; idempotent."""
        if self._opened:
            self._ended = True
            self._give_eof(HUNG_UP)
        return self.exit_code
