"""The Windows and macOS branches, checked here by simulating the platform.

Hosted runners prove them for real (ci.yml, wheels.yml); these tests make sure each branch
does what it says on every run, on any machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PureWindowsPath
from typing import Any

import _portable as portable
import codex_cli_bin.__main__ as cli_bin_main
import pytest
from _runtime_fixture import artifacts
from codex_app_server import CodexNotFoundError
from codex_app_server import config as config_module
from codex_app_server._transports import stdio as transport_module
from codex_app_server._transports.stdio import detached_from_ctrl_c, stop_steps
from codex_app_server.config import resolve_codex_bin
from codex_app_server.doctor import check_sandbox
from codex_app_server.testing import write_codex_home


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


#: POSIX's numbers, written out: this module runs on Windows too, where signal has no SIGKILL.
SIGTERM, SIGKILL = 15, 9


def _record_stops(
    monkeypatch: pytest.MonkeyPatch, system: str, killpg_error: OSError | None = None
) -> tuple[list[tuple[Any, ...]], tuple[Any, Any]]:
    """stop_steps for a server of pid 4242 on ``system``, with every effect recorded."""
    calls: list[tuple[Any, ...]] = []

    def killpg(pid: int, number: int) -> None:
        calls.append(("killpg", pid, number))
        if killpg_error is not None:
            raise killpg_error

    def run(argv: list[str], **options: Any) -> Any:
        calls.append(("run", argv, options["timeout"]))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(transport_module.os, "kill", lambda *a: calls.append(("kill", *a)))
    monkeypatch.setattr(transport_module.os, "killpg", killpg, raising=False)
    monkeypatch.setattr(transport_module.subprocess, "run", run)
    monkeypatch.setenv("SYSTEMROOT", "D:\\Win")
    steps = stop_steps(
        4242, lambda: calls.append(("terminate",)), lambda: calls.append(("kill()",)), system
    )
    return calls, steps


def test_closing_on_windows_breaks_the_group_then_kills_the_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, (first, second) = _record_stops(monkeypatch, "win32")
    first()
    # Ctrl-Break (1) to the server's own group, whose id is its pid; TerminateProcess would
    # end the server alone and leave what it started running.
    assert calls == [("kill", 4242, 1)]
    calls.clear()
    second()
    taskkill = os.path.join("D:\\Win", "System32", "taskkill.exe")
    assert calls == [("run", [taskkill, "/PID", "4242", "/T", "/F"], 2.0), ("kill()",)]


def test_closing_on_posix_signals_the_servers_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for system in ("linux", "darwin"):
        calls, (first, second) = _record_stops(monkeypatch, system)
        first()
        second()
        assert calls == [("killpg", 4242, SIGTERM), ("killpg", 4242, SIGKILL)]
    # A group that is gone already: the server alone is signalled.
    calls, (first, second) = _record_stops(monkeypatch, "linux", ProcessLookupError())
    first()
    second()
    assert calls == [
        ("killpg", 4242, SIGTERM),
        ("terminate",),
        ("killpg", 4242, SIGKILL),
        ("kill()",),
    ]


def test_codex_bin_without_exe_finds_the_exe_on_windows_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / "codex.exe"
    binary.write_bytes(b"MZ")
    # As a user writes it on Windows, where "C:/x/codex" runs C:/x/codex.exe.
    monkeypatch.setattr(config_module, "os", _OsNamed("nt"))
    assert resolve_codex_bin(tmp_path / "codex") == binary
    assert resolve_codex_bin(str(tmp_path / "codex")) == binary
    assert resolve_codex_bin(binary) == binary
    monkeypatch.setattr(config_module, "os", _OsNamed("posix"))
    with pytest.raises(CodexNotFoundError, match="is not a file"):
        resolve_codex_bin(tmp_path / "codex")


def test_the_private_codex_home_takes_windows_paths(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib reads TOML from Python 3.11")
    project = "C:\\Users\\me\\work \u00e9t\u00e9"
    roots = ["D:\\out", PureWindowsPath("\\\\server\\share\\x y")]
    home = write_codex_home(
        tmp_path,
        "http://127.0.0.1:9/v1",
        extra={
            "projects": {project: {"trust_level": "trusted"}},
            "sandbox_workspace_write": {"writable_roots": roots},
        },
    )
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["projects"] == {project: {"trust_level": "trusted"}}
    assert config["sandbox_workspace_write"]["writable_roots"] == ["D:\\out", str(roots[1])]


def test_a_windows_stand_in_is_pips_launcher_running_the_script(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = tmp_path / "echo.py"
    script.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(7)\n", encoding="utf-8")
    monkeypatch.setattr(portable.sys, "platform", "win32")
    exe = portable.launcher(tmp_path / "codex", script, "app-server")
    monkeypatch.undo()
    program = exe.read_bytes()
    assert exe.name == "codex.exe"
    assert program.startswith(b"MZ")  # a Windows executable: pip's console-script launcher
    assert f'#!"{sys.executable}"\n'.encode() in program
    # The launcher runs `python <itself> ARGS`; Python runs the zip at the end of the file.
    ran = subprocess.run(
        [sys.executable, exe, "--listen", "stdio://"], capture_output=True, text=True, check=False
    )
    assert (ran.returncode, ran.stdout) == (7, "['app-server', '--listen', 'stdio://']\n")
    arm = portable.windows_exe("", machine="ARM64")
    assert arm != portable.windows_exe("", machine="AMD64")
