"""Pytest fixtures for testing code that uses the SDK, offline, on the real app-server.

Enable them in a ``conftest.py``::

    pytest_plugins = ["codex_app_server.testing.pytest_plugin"]

Fixtures: ``model_server`` (a :class:`ScriptedModelServer`, checked at teardown for requests
the script could not answer), ``codex_home`` (a private ``CODEX_HOME`` pointing at it),
``codex_config`` (a :class:`~codex_app_server.CodexConfig` using both, with a fresh working
directory ``codex_workdir``), ``codex`` (a started :class:`~codex_app_server.Codex`) and
``async_codex`` (an :class:`~codex_app_server.AsyncCodex`, with pytest-asyncio). The binary
is the installed ``codex-cli-bin`` unless the ``CODEX_BIN`` environment variable names one;
override the ``codex_bin`` fixture to choose otherwise.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from .. import AsyncCodex, Codex, CodexConfig
from ._home import app_server_env, write_codex_home
from ._server import ScriptedModelServer

__all__ = [
    "async_codex",
    "codex",
    "codex_bin",
    "codex_config",
    "codex_home",
    "codex_workdir",
    "model_server",
]


@pytest.fixture
def codex_bin() -> str | None:
    """The codex executable to test with: ``$CODEX_BIN``, else the installed runtime."""
    return os.environ.get("CODEX_BIN") or None


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    """A scripted model server; fails the test if a model request found the script empty."""
    with ScriptedModelServer() as server:
        yield server
        server.raise_for_failures()


@pytest.fixture
def codex_home(tmp_path: Path, model_server: ScriptedModelServer) -> Path:
    """A private ``CODEX_HOME`` whose config points the app-server at ``model_server``."""
    return write_codex_home(tmp_path / "codex-home", model_server)


@pytest.fixture
def codex_workdir(tmp_path: Path) -> Path:
    """The app-server's working directory: where scripted commands run and write files."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    return workdir


@pytest.fixture
def codex_config(codex_bin: str | None, codex_home: Path, codex_workdir: Path) -> CodexConfig:
    """Options that start the real app-server against the scripted model, offline."""
    return CodexConfig(
        codex_bin=codex_bin,
        cwd=codex_workdir,
        env=app_server_env(codex_home),
        inherit_env=False,
    )


@pytest.fixture
def codex(codex_config: CodexConfig) -> Iterator[Codex]:
    """A started :class:`~codex_app_server.Codex` on the scripted model; closed afterwards."""
    with Codex(codex_config) as client:
        yield client


F = TypeVar("F", bound=Callable[..., Any])


def _async_fixture(function: F) -> F:
    # pytest-asyncio runs async fixtures; without it pytest itself reports them unsupported.
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover
        return cast(F, pytest.fixture(function))
    return cast(F, pytest_asyncio.fixture(function))


@_async_fixture
async def async_codex(codex_config: CodexConfig) -> AsyncIterator[AsyncCodex]:
    """A started :class:`~codex_app_server.AsyncCodex` on the scripted model (pytest-asyncio)."""
    async with AsyncCodex(codex_config) as client:
        yield client
