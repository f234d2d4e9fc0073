"""``python -m codex_app_server doctor`` on the real binary, and each check alone."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from _portable import python_program
from codex_app_server import RUNTIME_VERSION, doctor
from codex_app_server.doctor import Check, compare_versions, diagnose
from codex_app_server.testing import app_server_env


@pytest.fixture
def real_bin(codex_bin: str | None) -> Path:
    """The codex binary the suite tests with, as a path."""
    from codex_app_server.config import resolve_codex_bin

    return resolve_codex_bin(codex_bin)


def fake_codex(tmp_path: Path, version_line: str) -> Path:
    """An executable that answers ``--version`` like codex and fails anything else."""
    return python_program(
        tmp_path / "codex",
        f"import sys\nif sys.argv[1:] == ['--version']:\n    print({version_line!r})\n"
        "    sys.exit(0)\nsys.exit('not a real codex')\n",
    )


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_healthy_setup_passes_every_check(real_bin: Path, codex_home: Path) -> None:
    checks = by_name(diagnose(real_bin, environ=app_server_env(codex_home)))

    # Whether this machine can sandbox is its own business (tested with fakes below).
    assert checks.pop("sandbox") == doctor.check_sandbox(real_bin)
    assert [c.status for c in checks.values()] == ["ok"] * 6, checks
    assert checks["binary"].detail == f"{real_bin} (given explicitly)"
    assert checks["version"].detail.startswith(f"codex-cli {RUNTIME_VERSION} matches")
    assert checks["codex_home"].detail == f"{codex_home} (from $CODEX_HOME; with config.toml)"
    assert checks["app_server"].detail.endswith(f"it uses {codex_home}")
    assert checks["auth"].detail == "the configured model provider needs no OpenAI sign-in"


def test_not_signed_in_is_a_problem_with_a_remedy(real_bin: Path, tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = app_server_env(home)
    auth = by_name(diagnose(real_bin, environ=env))["auth"]
    assert (auth.status, auth.detail) == (
        "fail",
        "not signed in: run `codex login` or set OPENAI_API_KEY",
    )
    env["OPENAI_API_KEY"] = "sk-test"
    assert by_name(diagnose(real_bin, environ=env))["auth"].status == "warn"


def test_the_command_prints_a_report_and_exits_non_zero_on_problems(
    real_bin: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "CODEX_HOME": str(tmp_path / "missing")}
    done = subprocess.run(
        [sys.executable, "-m", "codex_app_server", "doctor", "--codex-bin", str(real_bin)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Codex app-server SDK doctor (runtime {RUNTIME_VERSION})"
    assert f"  FAIL  codex_home  {tmp_path / 'missing'} (from $CODEX_HOME) does not exist" in lines
    assert any(line.startswith("  FAIL  app_server") for line in lines)
    assert lines[-1] == "2 problem(s) found, 0 warning(s)"


def test_an_old_binary_fails_the_version_and_schema_checks(
    tmp_path: Path, codex_home: Path
) -> None:
    old = fake_codex(tmp_path, "codex-cli 0.100.0")
    out = io.StringIO()
    checks = by_name(diagnose(old, environ=app_server_env(codex_home)))

    assert checks["version"].status == "fail"
    assert f"install codex-cli-bin=={RUNTIME_VERSION}" in checks["version"].detail
    assert checks["schema"].status == "fail"
    assert checks["app_server"].status == "fail"
    assert "not a real codex" in checks["app_server"].detail
    assert doctor.report(old, out=out) == 1
    assert "  FAIL  version     codex-cli 0.100.0 is older than" in out.getvalue()


def test_a_missing_binary_is_reported_without_running_anything(tmp_path: Path) -> None:
    checks = diagnose(tmp_path / "nope", environ={"CODEX_HOME": str(tmp_path)})
    assert [(c.name, c.status) for c in checks] == [
        ("binary", "fail"),
        ("schema", "warn"),
        ("codex_home", "ok"),
    ]


def test_the_installed_runtime_is_named_as_the_reason(
    real_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = types.ModuleType("codex_cli_bin")
    runtime.__version__ = RUNTIME_VERSION  # type: ignore[attr-defined]
    runtime.bin_path = lambda: real_bin  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "codex_cli_bin", runtime)
    check, path = doctor.check_binary(None)
    assert path == real_bin
    assert check.detail == f"{real_bin} (from the installed codex-cli-bin {RUNTIME_VERSION})"


@pytest.mark.parametrize(
    ("found", "status"),
    [
        (f"codex-cli {RUNTIME_VERSION}", "ok"),
        ("codex-cli 99.0.0", "warn"),
        ("codex-cli 0.1.0", "fail"),
        ("codex-cli dev", "warn"),
    ],
)
def test_versions_compare_by_release(found: str, status: str) -> None:
    assert compare_versions(found, RUNTIME_VERSION, "pin")[0] == status


def test_the_linux_sandbox_check_runs_bubblewrap(tmp_path: Path) -> None:
    working = python_program(tmp_path / "bwrap-ok", "")
    refusal = "exit('No permissions to create new namespace')"
    broken = python_program(tmp_path / "bwrap-broken", refusal)

    assert doctor.check_linux_sandbox(working).status == "ok"
    failed = doctor.check_linux_sandbox(broken)
    assert failed.status == "fail"
    assert "No permissions to create new namespace" in failed.detail
    assert doctor.check_linux_sandbox(None).detail.startswith("no bubblewrap")


def test_multi_line_details_stay_indented() -> None:
    line = doctor.render(Check("app_server", "fail", "first\nsecond\n"))
    assert line == "  FAIL  app_server  first\n" + " " * 20 + "second"
