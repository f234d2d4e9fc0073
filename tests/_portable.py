"""Stand-in programs and process control that work the same on POSIX and on Windows.

A stand-in for ``codex`` must be an executable file (``CodexConfig`` puts ``codex_bin`` first on
the command line, and no shell is involved). On POSIX that is a ``#!/bin/sh`` script that
``exec``s the real command, so the stand-in *is* the process the SDK started. On Windows it is
a ``.cmd`` file, which ``CreateProcess`` runs through ``cmd.exe`` when given by its full path:
``cmd.exe`` stays the parent of the real command, which is why the SDK ends the whole process
tree there (``_transport.stop_steps``). Arguments pass through ``%*``, which ``cmd.exe`` parses
again: the stand-ins get plain words only.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["kill_hard", "launcher", "python_program"]


def launcher(path: Path, argv: Sequence[str | os.PathLike[str]]) -> Path:
    """Write an executable at ``path`` (``path.cmd`` on Windows) that runs ``argv`` plus its own
    arguments, and return the file written."""
    words = [os.fspath(word) for word in argv]
    if sys.platform == "win32":
        script = path.with_name(path.name + ".cmd")
        quoted = " ".join(f'"{word}"' for word in words)
        script.write_text(f"@{quoted} %*\r\n", encoding="utf-8")
        return script
    path.write_text(f'#!/bin/sh\nexec {shlex.join(words)} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


def python_program(path: Path, source: str) -> Path:
    """Write ``source`` as a Python script next to ``path`` and an executable at ``path`` that
    runs it with this interpreter; return the executable."""
    script = path.with_name(path.name + "-main.py")
    script.write_text(source, encoding="utf-8")
    return launcher(path, [sys.executable, script])


def kill_hard(pid: int) -> int:
    """End process ``pid`` at once, as a crash would; return the exit code its parent sees.

    POSIX: SIGKILL, seen as ``-9``. Windows: ``os.kill`` with any other number is
    TerminateProcess, and that number becomes the exit code.
    """
    if sys.platform == "win32":
        os.kill(pid, signal.SIGTERM)
        return int(signal.SIGTERM)
    os.kill(pid, signal.SIGKILL)
    return -int(signal.SIGKILL)
