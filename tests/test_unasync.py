"""The sync modules are generated from their asyncio sources, and the check catches drift.

``scripts/unasync.py --check`` (run by ``nox -s lint``) fails when a generated sync file differs
from what the script writes, has no source, or when a substitution is never used. These tests
run the script as the lint session does, on the real tree and on a copy with one defect each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
import unasync  # noqa: E402  (needs the sys.path entry above)

SYNC_API = f"{unasync.PACKAGE}/_sync/api.py"


def _env() -> dict[str, str]:
    # ruff comes with the dev extra, next to this interpreter (the tests session installs it).
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def _run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A tree with what the script reads: itself, the ruff settings, every pair's folders."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPTS / "unasync.py", tmp_path / "scripts" / "unasync.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for source, target in unasync.PAIRS:
        for folder in (source, target):
            shutil.copytree(ROOT / folder, tmp_path / folder, ignore=_no_cache)
    return tmp_path


def _no_cache(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


def test_the_checked_in_sync_modules_are_what_the_script_writes() -> None:
    done = _run(SCRIPTS / "unasync.py", "--check")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_hand_edit_to_a_generated_file_fails_the_check_naming_it(copy: Path) -> None:
    generated = copy / SYNC_API
    text = generated.read_text(encoding="utf-8")
    generated.write_text(text.replace("def close(self)", "def close(self, force=False)"), "utf-8")
    assert generated.read_text(encoding="utf-8") != text

    done = _run(copy / "scripts" / "unasync.py", "--check", "--root", str(copy))

    assert done.returncode == 1
    assert f"error: {SYNC_API} differs from its source" in done.stderr
    assert "edit the async source" in done.stdout
    # Writing puts the generated text back, and the check passes again.
    assert _run(copy / "scripts" / "unasync.py", "--root", str(copy)).returncode == 0
    assert generated.read_text(encoding="utf-8") == text
    assert _run(copy / "scripts" / "unasync.py", "--check", "--root", str(copy)).returncode == 0


def test_a_sync_file_without_a_source_fails_the_check(copy: Path) -> None:
    orphan = copy / unasync.PACKAGE / "_sync" / "stray.py"
    orphan.write_text('"""Written by hand where only generated files belong."""\n', "utf-8")

    done = _run(copy / "scripts" / "unasync.py", "--check", "--root", str(copy))

    assert done.returncode == 1
    assert f"{unasync.PACKAGE}/_sync/stray.py has no async source" in done.stderr


def test_an_unused_substitution_fails_the_check(copy: Path) -> None:
    script = copy / "scripts" / "unasync.py"
    text = script.read_text(encoding="utf-8")
    anchor = "SUBSTITUTIONS: dict[str, str] = {\n"
    assert anchor in text
    script.write_text(text.replace(anchor, anchor + '    "AsyncNowhere": "Nowhere",\n'), "utf-8")

    done = _run(script, "--check", "--root", str(copy))

    assert done.returncode == 1
    assert "error: substitution 'AsyncNowhere' is never used" in done.stderr


def test_a_name_is_replaced_as_a_whole_identifier_and_phrases_as_text() -> None:
    used: Counter[str] = Counter()
    text = unasync.unasync_text(
        "async def f(x: AsyncCodex) -> AsyncCodexPool:\n"
        "    async with lock:\n"
        "        return await x.MyAsyncCodex  # stops cancelling the task\n",
        used,
    )
    assert text == (
        "def f(x: Codex) -> CodexPool:\n"
        "    with lock:\n"
        "        return x.MyAsyncCodex  # stops Ctrl-C\n"
    )
    assert used["AsyncCodex"] == 1
    assert used["cancelling the task"] == 1


def test_a_phrase_broken_across_lines_in_a_source_fails_the_check(copy: Path) -> None:
    # Left unreplaced, it would tell the sync face to cancel a task it does not have.
    source = copy / unasync.PACKAGE / "_async" / "api.py"
    text = source.read_text(encoding="utf-8")
    assert "cancelling the task" in text
    source.write_text(text.replace("cancelling the task", "cancelling the\n    task", 1), "utf-8")

    done = _run(copy / "scripts" / "unasync.py", "--check", "--root", str(copy))

    assert done.returncode == 1
    assert f"{unasync.PACKAGE}/_async/api.py breaks 'cancelling the task' across lines" in (
        done.stderr
    )
