"""What typed user code sees: mypy --strict accepts documented calls and rejects bad ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ACCEPTED = """\
from codex_app_server import CodexClient


def start(client: CodexClient) -> str:
    # Enum-valued arguments take their wire strings, as the docs show.
    response = client.thread_start(approval_policy="never", sandbox="read-only")
    return response.thread.id
"""

REJECTED = """\
from codex_app_server import CodexClient


def start(client: CodexClient) -> None:
    client.thread_start(approval_policy=3)
"""


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "user_code.py"
    module.write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(module),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )


def test_enum_arguments_accept_their_wire_strings(tmp_path: Path) -> None:
    result = mypy(tmp_path, ACCEPTED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_wrongly_typed_arguments_are_reported(tmp_path: Path) -> None:
    result = mypy(tmp_path, REJECTED)
    assert result.returncode == 1
    assert 'Argument "approval_policy" to "thread_start"' in result.stdout
