"""Launchers for the stand-in app-server, and counts of what a client may leak.

``fake_server`` gives an executable that runs ``fake_app_server.py`` in a mode (see that
module); ``minimal_server`` gives a POSIX shell script that only answers ``initialize``, so
that a thousand start/stop cycles measure the SDK rather than Python's start-up.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import psutil
from _portable import launcher
from fake_app_server import PINNED_VERSION, initialize_reply

__all__ = ["child_processes", "fake_server", "minimal_server", "open_fds", "resources"]


def fake_server(tmp_path: Path, mode: str) -> Path:
    """An executable that runs tests/fake_app_server.py in ``mode`` with this interpreter."""
    script = Path(__file__).with_name("fake_app_server.py")
    return launcher(tmp_path / f"fake-codex-{mode}", script, mode)


def minimal_server(tmp_path: Path) -> Path:
    """A shell script that answers ``initialize`` (with its request's id), then reads to EOF."""
    if sys.platform == "win32":
        return fake_server(tmp_path, "ok")  # the same answers, from Python: no POSIX shell there
    reply = json.dumps(initialize_reply("ID", PINNED_VERSION)).replace('"ID"', "$id")
    quoted = reply.replace('"', '\\"')
    launcher = tmp_path / "fake-codex-minimal"
    launcher.write_text(
        "#!/bin/sh\n"
        "read -r line\n"
        # The request starts {"id":N,...}: keep what lies between "id": and the next comma.
        'id=${line#*\\"id\\":}\n'
        "id=${id%%,*}\n"
        f"printf '%s\\n' \"{quoted}\"\n"
        # Read on until EOF, keeping stdout open: a closed stdout means a dead server.
        "while read -r line; do :; done\n"
    )
    launcher.chmod(0o755)
    return launcher


def open_fds() -> int:
    """How many file descriptors (Windows: handles) this process has open."""
    me = psutil.Process()
    return me.num_handles() if sys.platform == "win32" else me.num_fds()


def child_processes() -> set[int]:
    """Pids of this process's children, running or unreaped (zombies count)."""
    return {child.pid for child in psutil.Process().children()}


def resources() -> tuple[int, int, set[int]]:
    """Open file descriptors, live threads and child processes, for before/after checks."""
    return open_fds(), threading.active_count(), child_processes()
