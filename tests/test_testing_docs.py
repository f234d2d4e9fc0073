"""The copyable example test in docs/testing.md runs, with the plugin, in a user's own suite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def fixture_example() -> str:
    section = DOC.read_text().split("## Pytest fixtures", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return str(blocks[1])  # blocks[0] is the conftest line


def passes_as_a_users_suite(tmp_path: Path, example: str) -> None:
    """Run ``example`` as a user's own pytest suite with the plugin enabled; it must pass."""
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["codex_app_server.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_user_suite.py").write_text(example)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_documented_example_test_passes(tmp_path: Path) -> None:
    passes_as_a_users_suite(tmp_path, fixture_example())
