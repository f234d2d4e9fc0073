"""Processes and bytes: start ``codex app-server``, move bytes over its pipes, stop it.

Nothing here knows JSON-RPC. :class:`StdioProcess` serves the synchronous connection with two
daemon threads (stdout to a callback, stderr into a bounded tail); :class:`AsyncStdioProcess`
does the same with asyncio tasks. Both stop the server the same way: close its stdin, then
terminate, then kill, each with a bounded wait, and always reap it.
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


class AsyncStdioProcess:
    """The asyncio twin of :class:`StdioProcess`: stdout is pushed to ``on_data`` from a task."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
    ) -> None:
        self.stderr = StderrTail()
        self._proc = proc
        self._on_data = on_data
        self._on_eof = on_eof
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())
        self._reader_task = asyncio.ensure_future(self._read_stdout())

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
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=Path(cwd) if cwd is not None else None,
            close_fds=True,
            start_new_session=_NEW_SESSION,
            creationflags=_NEW_GROUP_FLAGS,
        )
        return cls(proc, on_data, on_eof)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended, else ``None``."""
        return self._proc.returncode

    def write(self, data: bytes) -> None:
        """Queue bytes for the server's stdin (the loop flushes them)."""
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("the app-server's stdin is closed")
        stdin.write(data)

    async def drain(self) -> None:
        """Wait until queued stdin bytes are handed to the OS (back-pressure)."""
        stdin = self._proc.stdin
        if stdin is not None:
            await stdin.drain()

    async def _read_stdout(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            while chunk := await stdout.read(READ_SIZE):
                self._on_data(chunk)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 1.0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
            self._on_eof()

    async def _drain_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        try:
            while chunk := await stderr.read(READ_SIZE):
                self.stderr.feed(chunk)
        except OSError:
            pass

    async def close(self) -> int | None:
        """Stop the server (EOF, then terminate, then kill) and reap it; idempotent."""
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        for step in (None, proc.terminate, proc.kill):
            if step is not None and proc.returncode is None:
                with contextlib.suppress(OSError, ProcessLookupError):
                    step()
            try:
                await asyncio.wait_for(proc.wait(), SHUTDOWN_STEP)
                break
            except asyncio.TimeoutError:
                continue
        current = asyncio.current_task()
        for task in (self._reader_task, self._stderr_task):
            if task is not current:
                try:
                    await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_STEP)
                except asyncio.TimeoutError:
                    task.cancel()
        return proc.returncode
