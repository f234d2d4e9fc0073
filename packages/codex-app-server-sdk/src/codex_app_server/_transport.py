"""Processes and bytes: start ``codex app-server``, move bytes over its pipes, stop it.

Nothing here knows JSON-RPC. :class:`StdioProcess` serves the synchronous connection with two
daemon threads (stdout to a callback, stderr into a bounded tail); :class:`AsyncStdioProcess`
does the same as the event loop's subprocess protocol, with no task of its own. Both stop the
server the same way: close its stdin, then terminate, then kill, each with a bounded wait, and
always reap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["AsyncStdioProcess", "StderrTail", "StdioProcess"]

#: Bytes asked for per read; larger lines simply take several reads.
READ_SIZE = 1 << 16
#: Seconds allowed for each step of shutdown: EOF on stdin, then SIGTERM, then SIGKILL.
SHUTDOWN_STEP = 2.0


class StderrTail:
    """The last lines the server wrote to stderr, bounded in lines and characters."""

    def __init__(self, max_lines: int = 200, max_chars: int = 16_000) -> None:
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._partial = ""
        self._max_chars = max_chars
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        """Add bytes read from stderr."""
        text = self._partial + chunk.decode("utf-8", "replace")
        *lines, self._partial = text.split("\n")
        with self._lock:
            self._lines.extend(line[: self._max_chars] for line in lines)
        if len(self._partial) > self._max_chars:
            self._partial = self._partial[-self._max_chars :]

    def text(self) -> str:
        """The tail as one string, at most ``max_chars`` long."""
        with self._lock:
            text = "\n".join([*self._lines, self._partial]).strip("\n")
        return text[-self._max_chars :]


# The server gets its own session (POSIX) or process group (Windows) so a Ctrl-C in the
# user's terminal reaches only Python: the SDK then interrupts the turn instead of losing the
# server.
_NEW_SESSION = sys.platform != "win32"
_NEW_GROUP_FLAGS: int = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)


class StdioProcess:
    """A running ``codex app-server`` whose stdout is pushed to ``on_data`` from a thread.

    ``on_eof`` is called once, from the reader thread, after stdout closes and the process
    has been given a moment to exit (so its exit code and stderr are known). Bytes for stdin
    are queued and written by a thread of their own, so a server that stops reading its input
    blocks that thread only: callers still time out, and :meth:`close` still stops it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str | os.PathLike[str] | None,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
    ) -> None:
        self.stderr = StderrTail()
        self._on_data = on_data
        self._on_eof = on_eof
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._stdin_open = True
        self._proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            env=env,
            cwd=cwd,
            close_fds=True,
            start_new_session=_NEW_SESSION,
            creationflags=_NEW_GROUP_FLAGS,
        )
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name="codex-app-server-stderr", daemon=True
        )
        self._reader_thread = threading.Thread(
            target=self._read_stdout, name="codex-app-server-reader", daemon=True
        )
        self._writer_thread = threading.Thread(
            target=self._write_stdin, name="codex-app-server-writer", daemon=True
        )
        self._stderr_thread.start()
        self._reader_thread.start()
        self._writer_thread.start()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended, else ``None``."""
        return self._proc.poll()

    def write(self, data: bytes) -> None:
        """Queue bytes for the server's stdin; raises ``OSError`` once stdin is closed."""
        if not self._stdin_open:
            raise BrokenPipeError("the app-server's stdin is closed")
        self._outbox.put(data)

    def _write_stdin(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (data := self._outbox.get()) is not None:
                # A signal can cut a pipe write short; the rest must follow, or the line breaks.
                view = memoryview(data)
                while view:
                    view = view[stdin.write(view) :]
        except (OSError, ValueError):
            pass  # the server is gone: the reader reports it with the exit code and stderr
        finally:
            self._stdin_open = False
            with contextlib.suppress(OSError):
                stdin.close()

    def _stop_writer(self) -> None:
        """Close stdin (EOF for the server) once everything queued before it is written."""
        self._stdin_open = False
        self._outbox.put(None)

    def _read_stdout(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            while chunk := stdout.read(READ_SIZE):
                self._on_data(chunk)
        except (OSError, ValueError):
            pass  # the pipe was closed under us by close(); EOF handling follows
        finally:
            self._stop_writer()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1.0)
            self._stderr_thread.join(timeout=1.0)
            self._on_eof()

    def _drain_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        try:
            while chunk := stderr.read(READ_SIZE):
                self.stderr.feed(chunk)
        except (OSError, ValueError):
            pass

    def close(self) -> int | None:
        """Stop the server (EOF, then terminate, then kill) and reap it; idempotent."""
        proc = self._proc
        self._stop_writer()
        for step in (None, proc.terminate, proc.kill):
            if step is not None:
                with contextlib.suppress(OSError):
                    step()
            try:
                proc.wait(timeout=SHUTDOWN_STEP)
                break
            except subprocess.TimeoutExpired:
                continue
        # Once the process is gone a blocked write fails at once, so the writer ends too.
        for thread in (self._writer_thread, self._reader_thread):
            if thread is not threading.current_thread():
                thread.join(timeout=SHUTDOWN_STEP)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        return proc.returncode


class _StdoutProtocol(asyncio.Protocol):
    """Put on the server's stdout pipe in place of the subprocess transport's own protocol.

    That one posts every read to the process protocol through ``call_soon``, one more turn of
    the loop per read; this one hands the bytes to ``on_data`` at once and passes the end of
    the pipe on, so the subprocess transport still learns that stdout closed.
    """

    def __init__(self, inner: asyncio.Protocol, on_data: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_data = on_data

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)


class AsyncStdioProcess(asyncio.SubprocessProtocol):
    """The asyncio twin of :class:`StdioProcess`: the loop pushes stdout to ``on_data``.

    No task sits between the pipe and the caller: the process is the transport's protocol, so
    each read reaches ``on_data`` from the loop's own read callback, and the caller a reply
    resolves runs on the loop's next turn (a reader task awaiting a ``StreamReader`` took two
    turns more). Writes go straight to the pipe transport, which buffers
    what the pipe does not take; :meth:`drain` waits only while that buffer is over its
    high-water mark. ``on_eof`` is called once, after stdout closes and the process has been
    given a moment to exit (so its exit code and stderr are known).
    """

    def __init__(self, on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self.stderr = StderrTail()
        self._on_data = on_data
        self._on_eof = on_eof
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._exited = self._loop.create_future()
        self._stderr_closed = self._loop.create_future()
        self._eof_task: asyncio.Task[None] | None = None
        #: Whether stdin's buffer is over its high-water mark (set by the transport).
        self.writing_paused = False
        self._drainers: list[asyncio.Future[None]] = []
        self._closed = False

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str | os.PathLike[str] | None,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
    ) -> AsyncStdioProcess:
        """Launch the server and start pumping its output."""
        process = cls(on_data, on_eof)
        program, *args = argv
        await process._loop.subprocess_exec(
            lambda: process,
            program,
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=Path(cwd) if cwd is not None else None,
            close_fds=True,
            start_new_session=_NEW_SESSION,
            creationflags=_NEW_GROUP_FLAGS,
        )
        # Reads that came before this point were posted to pipe_data_received already, and
        # run before any read that comes after it: the order of the bytes holds.
        transport = process._transport
        stdout = transport.get_pipe_transport(1) if transport is not None else None
        inner = stdout.get_protocol() if stdout is not None else None
        if stdout is not None and isinstance(inner, asyncio.Protocol):
            stdout.set_protocol(_StdoutProtocol(inner, on_data))
        return process

    # -- the transport's callbacks ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        assert isinstance(data, bytes)
        if fd == 1:
            self._on_data(data)
        else:
            self.stderr.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 0:
            self._wake_drainers(BrokenPipeError("the app-server's stdin is closed"))
        elif fd == 1:
            if not self._closed and self._eof_task is None:
                self._eof_task = self._loop.create_task(self._report_eof())
        elif not self._stderr_closed.done():
            self._stderr_closed.set_result(None)

    def process_exited(self) -> None:
        if not self._exited.done():
            self._exited.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drainers(None)

    # -- what the connection uses ----------------------------------------------------------
    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._transport is not None
        return self._transport.get_pid()

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended, else ``None``."""
        assert self._transport is not None
        return self._transport.get_returncode()

    def write(self, data: bytes) -> None:
        """Queue bytes for the server's stdin (the loop flushes them)."""
        stdin = self._stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("the app-server's stdin is closed")
        stdin.write(data)

    async def drain(self) -> None:
        """Wait until stdin's buffer is below its high-water mark again (back-pressure)."""
        if not self.writing_paused:
            return
        stdin = self._stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("the app-server's stdin is closed")
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drainers.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._drainers.remove(waiter)

    def _wake_drainers(self, error: BaseException | None) -> None:
        if error is not None:
            self.writing_paused = False
        for waiter in self._drainers:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
        self._drainers.clear()

    async def _report_eof(self) -> None:
        # Give the process a moment to exit and stderr to close: the error then carries both.
        for event in (self._exited, self._stderr_closed):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(event), 1.0)
        self._on_eof()
        transport = self._transport
        if transport is not None and transport.get_returncode() is not None:
            transport.close()  # the process is reaped: release the pipes now, not at close()

    async def close(self) -> int | None:
        """Stop the server (EOF, then terminate, then kill) and reap it; idempotent."""
        transport = self._transport
        assert transport is not None
        stdin = self._stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()  # EOF once what is buffered is written
        for step in (None, transport.terminate, transport.kill):
            if step is not None and transport.get_returncode() is None:
                with contextlib.suppress(OSError, ProcessLookupError):
                    step()
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), SHUTDOWN_STEP)
                break
            except asyncio.TimeoutError:
                continue
        eof_task = self._eof_task
        if eof_task is not None and eof_task is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(eof_task), SHUTDOWN_STEP)
            except asyncio.TimeoutError:
                eof_task.cancel()
        self._closed = True
        transport.close()  # closes the pipes; the process is reaped already
        return transport.get_returncode()
