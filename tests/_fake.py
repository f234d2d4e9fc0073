"""Launchers for the stand-in app-server, and counts of what a client may leak.

``fake_server`` gives an executable that runs ``fake_app_server.py`` in a mode (see that
module); ``minimal_server`` gives a POSIX shell script that only answers ``initialize``, so
that a thousand start/stop cycles measure the SDK rather than Python's start-up.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from fake_app_server import PINNED_VERSION, initialize_reply

__all__ = ["child_processes", "fake_server", "minimal_server", "open_fds", "resources"]


def fake_server(tmp_path: Path, mode: str) -> Path:
    """An executable that runs tests/fake_app_server.py in ``mode`` with this interpreter."""
    launcher = tmp_path / f"fake-codex-{mode}"
    script = Path(__file__).with_name("fake_app_server.py")
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" {mode}\n')
    launcher.chmod(0o755)
    return launcher


def minimal_server(tmp_path: Path) -> Path:
    """A shell script that answers ``initialize`` (with its request's id), then reads to EOF."""
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
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def child_processes() -> set[int]:
    """Pids of this process's children, running or unreaped (zombies count)."""
    me = os.getpid()
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # The fields after the command name (which may hold spaces) are: state, ppid, ...
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            children.add(int(entry))
    return children


def resources() -> tuple[int, int, set[int]]:
    """Open file descriptors, live threads and child processes, for before/after checks."""
    return open_fds(), threading.active_count(), child_processes()
