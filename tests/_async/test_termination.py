"""Closing a client ends the server and everything it started, on every platform.

The server runs in a process group of its own (``_transports.stdio.detached_from_ctrl_c``). When EOF
on its stdin does not stop it, ``close()`` ends that group: SIGTERM then SIGKILL on POSIX;
Ctrl-Break, then the whole process tree, on Windows, where terminating the server alone would
leave its children running. The stand-in here starts a child, answers ``initialize`` and then
ignores EOF, so only the later steps can end the pair.
"""

from __future__ import annotations

from pathlib import Path

import psutil
from _portable import python_program
from codex_app_server import RUNTIME_VERSION, AsyncCodexClient, CodexConfig

#: Bound on each wait; far beyond the two shutdown steps of 2 s each.
TIMEOUT = 30.0

SERVER = """\
import json, subprocess, sys, time
sys.path.insert(0, {tests!r})
from fake_app_server import initialize_reply
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open({pid_file!r}, "w") as out:
    out.write(str(child.pid))
request = json.loads(sys.stdin.readline())
print(json.dumps(initialize_reply(request["id"], {version!r})), flush=True)
while True:  # EOF on stdin changes nothing: the server must be stopped
    time.sleep(1)
"""


def parent_with_child(tmp_path: Path) -> tuple[CodexConfig, Path]:
    """A stand-in server that starts a child of its own; and the file that gets its pid."""
    pid_file = tmp_path / "child.pid"
    source = SERVER.format(
        tests=str(Path(__file__).parent.parent), pid_file=str(pid_file), version=RUNTIME_VERSION
    )
    program = python_program(tmp_path / "codex-with-child", source)
    return CodexConfig(codex_bin=program), pid_file


def ended(pid: int) -> bool:
    """Whether process ``pid`` has ended, waiting for it up to TIMEOUT."""
    try:
        process = psutil.Process(pid)
        process.wait(TIMEOUT)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        # An ended process nobody has reaped yet (a container's init may never reap it).
        return process.status() == psutil.STATUS_ZOMBIE
    return True


async def test_close_ends_what_the_server_started(tmp_path: Path) -> None:
    config, pid_file = parent_with_child(tmp_path)
    async with AsyncCodexClient(config) as client:
        child = int(pid_file.read_text())  # written before the server answered
        server = client.connection.pid
        assert psutil.pid_exists(child)
    assert ended(server)
    assert ended(child)
