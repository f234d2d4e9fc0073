"""The Windows and macOS branches, checked here by simulating the platform.

Hosted runners prove them for real (ci.yml, wheels.yml); these tests make sure each branch
does what it says on every run, on any machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import codex_cli_bin.__main__ as cli_bin_main
import pytest
from _runtime_fixture import artifacts
from codex_app_server import CodexNotFoundError
from codex_app_server import config as config_module
from codex_app_server._transport import detached_from_ctrl_c
from codex_app_server.config import resolve_codex_bin
from codex_app_server.doctor import check_sandbox


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        ("win32", "AMD64", "win32-x64"),
        ("win32", "ARM64", "win32-arm64"),
        ("darwin", "x86_64", "darwin-x64"),
        ("darwin", "arm64", "darwin-arm64"),
        ("linux", "aarch64", "linux-arm64"),
        ("linux", "x86_64", "linux-x64"),
    ],
)
def test_each_released_platform_is_recognised(
    monkeypatch: pytest.MonkeyPatch, system: str, machine: str, expected: str
) -> None:
    monkeypatch.setattr(artifacts.sys, "platform", system)
    monkeypatch.setattr(artifacts.platform_module, "machine", lambda: machine)
    assert artifacts.host_platform() == expected
    assert artifacts.platform_named(expected).is_windows == (system == "win32")


def test_an_unreleased_platform_is_refused_with_what_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(artifacts.sys, "platform", "freebsd14")
    monkeypatch.setattr(artifacts.platform_module, "machine", lambda: "amd64")
    with pytest.raises(artifacts.ArtifactError, match="no Codex runtime is released for freebsd14"):
        artifacts.host_platform()


@pytest.mark.parametrize(
    ("system", "variables", "expected"),
    [
        ("win32", {"LOCALAPPDATA": "{tmp}/Local"}, "{tmp}/Local/codex-app-server-sdk"),
        ("darwin", {}, "{home}/Library/Caches/codex-app-server-sdk"),
        ("linux", {"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/codex-app-server-sdk"),
        ("linux", {}, "{home}/.cache/codex-app-server-sdk"),
    ],
)
def test_the_runtime_cache_lives_where_each_platform_keeps_caches(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    system: str,
    variables: dict[str, str],
    expected: str,
) -> None:
    home = tmp_path / "home"
    for name in ("CODEX_SDK_CACHE_DIR", "LOCALAPPDATA", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    monkeypatch.setattr(artifacts.Path, "home", lambda: home)
    monkeypatch.setattr(artifacts.sys, "platform", system)
    assert artifacts.cache_root() == Path(expected.format(tmp=tmp_path, home=home))


def test_the_server_is_kept_from_the_users_ctrl_c_on_each_platform() -> None:
    # CREATE_NEW_PROCESS_GROUP: a new group does not get the console's Ctrl-C.
    assert detached_from_ctrl_c("win32") == {"start_new_session": False, "creationflags": 0x200}
    for system in ("linux", "darwin"):
        assert detached_from_ctrl_c(system) == {"start_new_session": True, "creationflags": 0}


class _Ran(Exception):
    """Stands in for the process being replaced (os.execve never returns)."""


def _fake_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    binary, helpers = tmp_path / "bin" / "codex.exe", tmp_path / "codex-path"
    monkeypatch.setattr(cli_bin_main, "bin_path", lambda: binary)
    monkeypatch.setattr(cli_bin_main, "path_dir", lambda: helpers)
    monkeypatch.setattr(sys, "argv", ["codex_cli_bin", "login", "--with-api-key"])
    monkeypatch.setenv("PATH", "/usr/bin")
    return binary, helpers


def test_python_m_codex_cli_bin_waits_for_the_binary_on_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary, helpers = _fake_runtime(monkeypatch, tmp_path)
    calls: list[tuple[list[str], dict[str, str]]] = []

    def run(argv: list[str], *, env: dict[str, str], check: bool) -> Any:
        calls.append((argv, env))
        return subprocess.CompletedProcess(argv, 3)

    def execve(*args: Any) -> None:
        raise AssertionError("os.execv on Windows returns at once with exit code 0")

    monkeypatch.setattr(cli_bin_main.sys, "platform", "win32")
    monkeypatch.setattr(cli_bin_main.subprocess, "run", run)
    monkeypatch.setattr(cli_bin_main.os, "execve", execve)
    with pytest.raises(SystemExit) as exited:
        cli_bin_main.main()
    assert exited.value.code == 3  # the binary's own status
    ((argv, env),) = calls
    assert argv == [str(binary), "login", "--with-api-key"]
    assert env["PATH"] == os.pathsep.join([str(helpers), "/usr/bin"])


def test_python_m_codex_cli_bin_becomes_the_binary_on_posix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary, helpers = _fake_runtime(monkeypatch, tmp_path)
    seen: list[tuple[str, list[str], dict[str, str]]] = []

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        seen.append((path, argv, env))
        raise _Ran

    monkeypatch.setattr(cli_bin_main.sys, "platform", "darwin")
    monkeypatch.setattr(cli_bin_main.os, "execve", execve)
    with pytest.raises(_Ran):
        cli_bin_main.main()
    ((path, argv, env),) = seen
    assert (path, argv) == (str(binary), [str(binary), "login", "--with-api-key"])
    assert env["PATH"].split(os.pathsep)[0] == str(helpers)


class _OsNamed:
    """The ``os`` module as another platform's code sees it (pathlib keeps the real one)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(os, attribute)


def test_a_codex_bin_without_the_exec_bit_is_refused_on_posix_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / "codex.exe"
    binary.write_bytes(b"MZ")
    binary.chmod(0o644)
    # Windows has no exec bit: a file is runnable by its name.
    monkeypatch.setattr(config_module, "os", _OsNamed("nt"))
    assert resolve_codex_bin(binary) == binary
    monkeypatch.setattr(config_module, "os", _OsNamed("posix"))
    with pytest.raises(CodexNotFoundError, match="is not executable"):
        resolve_codex_bin(binary)


def test_the_doctor_checks_each_platforms_own_sandbox(tmp_path: Path) -> None:
    assert check_sandbox(tmp_path, "darwin").name == "sandbox"
    windows = check_sandbox(tmp_path, "win32")
    assert (windows.status, windows.detail) == ("ok", "no prerequisites are checked on win32")
