"""Nothing runs that nobody allowed: the hand-written part (the twins are in ``_async/``).

A ``codex_bin`` that is not an executable file is refused before anything is launched; the one
test checks both faces, each refusing in the call that starts the server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _fake import child_processes
from codex_app_server import AsyncCodex, Codex, CodexNotFoundError

NO_EXEC = "Windows has no exec bit: any file is runnable by its name"


@pytest.mark.parametrize(
    "kind",
    ["missing", "directory", pytest.param("not executable", marks=pytest.mark.posix_only(NO_EXEC))],
)
def test_codex_bin_that_is_not_an_executable_file_is_refused_before_launch(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "codex"
    if kind == "directory":
        path.mkdir()
    elif kind == "not executable":
        path.write_text(f"#!/bin/sh\ntouch {tmp_path / 'ran'}\n")
    before = child_processes()
    with pytest.raises(CodexNotFoundError, match="codex_bin="):
        Codex(codex_bin=path)
    with pytest.raises(CodexNotFoundError, match="codex_bin="):
        asyncio.run(AsyncCodex(codex_bin=path).start())
    assert child_processes() <= before
    assert not (tmp_path / "ran").exists()
