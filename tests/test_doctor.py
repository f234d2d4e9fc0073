"""``python -m codex_app_server doctor`` on the real binary, and each check alone."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import pytest
from _portable import python_program
from codex_app_server import RUNTIME_VERSION, doctor
from codex_app_server.doctor import Check, compare_versions, diagnose, login_hint
from codex_app_server.generated import registry
from codex_app_server.testing import app_server_env

DOCS = Path(__file__).resolve().parent.parent / "docs" / "doctor.md"


@pytest.fixture
def real_bin(codex_bin: str | None) -> Path:
    """The codex binary the suite tests with, as a path."""
    from codex_app_server.config import resolve_codex_bin

    return resolve_codex_bin(codex_bin)


def fake_codex(tmp_path: Path, version_line: str, schema: Path | None = None) -> Path:
    """An executable that answers ``--version`` like codex and fails anything else.

    With ``schema``, ``app-server generate-json-schema --out DIR`` copies that folder's files.
    """
    schema_answer = (
        "if sys.argv[1:3] == ['app-server', 'generate-json-schema']:\n"
        f"    for name in glob.glob(os.path.join({str(schema)!r}, '*.json')):\n"
        "        shutil.copy(name, sys.argv[4])\n"
        "    sys.exit(0)\n"
        if schema is not None
        else ""
    )
    return python_program(
        tmp_path / "codex",
        "import glob, os, shutil, sys\n"
        f"if sys.argv[1:] == ['--version']:\n    print({version_line!r})\n    sys.exit(0)\n"
        f"{schema_answer}sys.exit('not a real codex')\n",
    )


def real_schema(real_bin: Path, out: Path) -> Path:
    """The real binary's protocol schema, written to ``out``."""
    out.mkdir()
    command = [os.fspath(real_bin), "app-server", "generate-json-schema", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return out


def edit_methods(schema: Path, drop: str | None = None, add: str | None = None) -> None:
    """Remove the client request ``drop`` from a schema folder, or add one named ``add``."""
    path = schema / "ClientRequest.json"
    data = json.loads(path.read_text())
    variants = data["oneOf"]
    if drop is not None:
        variants[:] = [v for v in variants if v["properties"]["method"]["enum"] != [drop]]
    if add is not None:
        copy = json.loads(json.dumps(variants[0]))
        copy["properties"]["method"]["enum"] = [add]
        variants.append(copy)
    path.write_text(json.dumps(data))


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_healthy_setup_passes_every_check(real_bin: Path, codex_home: Path) -> None:
    checks = by_name(diagnose(real_bin, environ=app_server_env(codex_home)))

    # Whether this machine can sandbox is its own business (tested with fakes below).
    assert checks.pop("sandbox") == doctor.check_sandbox(real_bin)
    assert [c.status for c in checks.values()] == ["ok"] * 6, checks
    assert checks["binary"].detail == f"{real_bin} (given explicitly)"
    assert checks["version"].detail.startswith(f"codex-cli {RUNTIME_VERSION} matches")
    # The counts are the generated models' own (they change with each bump).
    counts = ", ".join(
        f"{label}: {len(getattr(registry, table))}"
        for table, label in doctor.PROTOCOL_LISTS.values()
    )
    assert checks["schema"].detail == (
        f"the binary's protocol has the methods of the models (generated from codex "
        f"{RUNTIME_VERSION}): {counts}"
    )
    assert checks["codex_home"].detail == f"{codex_home} (from $CODEX_HOME; with config.toml)"
    assert checks["app_server"].detail.endswith(f"it uses {codex_home}")
    assert checks["auth"].detail == "the configured model provider needs no OpenAI sign-in"


def run_hint(command: str, env: dict[str, str]) -> None:
    """Run a command the doctor told the user to run, as their shell would."""
    done = subprocess.run(
        ["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("named", ["given", "installed"])
def test_not_signed_in_is_a_problem_whose_remedy_works(
    real_bin: Path, tmp_path: Path, named: str
) -> None:
    # "installed": the runtime codex-cli-bin put in this environment, as a pip user has it.
    codex_bin = real_bin if named == "given" else None
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = app_server_env(home)
    auth = by_name(diagnose(codex_bin, environ=env))["auth"]
    assert (auth.status, auth.detail) == ("fail", f"not signed in: {login_hint(codex_bin)}")
    # Every command the hint names exists here: no bare `codex`, which pip puts on no PATH.
    login, with_key = re.findall(r"`([^`]+)`", auth.detail)
    program = shlex.quote(str(real_bin)) if named == "given" else login.split(" login")[0]
    if named == "installed":
        assert program.endswith(" -m codex_cli_bin"), program
    assert login == f"{program} login"
    assert with_key == f"printenv OPENAI_API_KEY | {program} login --with-api-key"
    run_hint(f"{login} --help", env)
    run_hint(with_key, {**env, "OPENAI_API_KEY": "sk-test"})
    signed_in = by_name(diagnose(codex_bin, environ=env))["auth"]
    assert (signed_in.status, signed_in.detail) == ("ok", "signed in with apiKey")


def test_an_api_key_in_the_environment_is_a_warning(real_bin: Path, tmp_path: Path) -> None:
    env = {**app_server_env(tmp_path), "OPENAI_API_KEY": "sk-test"}
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


def test_an_old_binary_fails_the_version_check(tmp_path: Path, codex_home: Path) -> None:
    old = fake_codex(tmp_path, "codex-cli 0.100.0")
    out = io.StringIO()
    checks = by_name(diagnose(old, environ=app_server_env(codex_home)))

    assert checks["binary"].status == "ok"
    assert checks["version"].status == "fail"
    assert f"install codex-cli-bin=={RUNTIME_VERSION}" in checks["version"].detail
    assert checks["schema"].status == "warn"
    assert checks["schema"].detail.startswith(f"`{old} app-server generate-json-schema` gave no")
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


@pytest.mark.parametrize(
    ("script", "printed"),
    [
        ("exit 0", "printed nothing"),
        (
            "echo 'no such option' >&2; exit 2",
            "printed nothing and exited with status 2: no such option",
        ),
        ("echo 'mytool 1.2.3'", "printed 'mytool 1.2.3'"),
    ],
)
def test_a_program_that_is_not_codex_fails(tmp_path: Path, script: str, printed: str) -> None:
    program = tmp_path / "codex"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    checks = diagnose(program, environ={"CODEX_HOME": str(tmp_path)})
    assert (checks[0].name, checks[0].status, checks[0].detail) == (
        "binary",
        "fail",
        f"{program} is not a codex executable: `--version` {printed}, not `codex-cli X.Y.Z`",
    )
    # Nothing is started or compared with a program that is not codex.
    assert [c.name for c in checks] == ["binary", "schema", "codex_home"]


def test_true_is_not_codex(tmp_path: Path) -> None:
    checks = diagnose("/bin/true", environ={"CODEX_HOME": str(tmp_path)})
    assert (checks[0].name, checks[0].status) == ("binary", "fail")
    assert checks[0].detail.startswith("/bin/true is not a codex executable: `--version` ")


def test_the_schema_check_compares_the_binary_s_protocol_with_the_models(
    real_bin: Path, tmp_path: Path
) -> None:
    lacking = real_schema(real_bin, tmp_path / "lacking")
    edit_methods(lacking, drop="thread/start")
    (tmp_path / "old").mkdir()
    older = doctor.check_schema(
        fake_codex(tmp_path / "old", f"codex-cli {RUNTIME_VERSION}", lacking)
    )
    assert (older.status, older.detail) == (
        "fail",
        f"the binary lacks 1 method(s) of the models (generated from codex {RUNTIME_VERSION}): "
        f"thread/start; install codex-cli-bin=={RUNTIME_VERSION}",
    )
    richer = real_schema(real_bin, tmp_path / "richer")
    edit_methods(richer, add="thread/teleport")
    (tmp_path / "new").mkdir()
    newer = doctor.check_schema(
        fake_codex(tmp_path / "new", f"codex-cli {RUNTIME_VERSION}", richer)
    )
    assert (newer.status, newer.detail) == (
        "warn",
        f"the binary has 1 method(s) the models (generated from codex {RUNTIME_VERSION}) do not "
        "know: thread/teleport; the SDK has no typed models for them",
    )


def test_the_schema_check_fails_an_inconsistent_build(
    real_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codex_app_server import generated

    monkeypatch.setattr(generated, "GENERATED_FROM_RUNTIME", "0.1.0")
    check = doctor.check_schema(real_bin)
    assert check.status == "fail"
    assert "this SDK build is inconsistent; reinstall it" in check.detail


def test_what_the_binary_prints_is_escaped(tmp_path: Path) -> None:
    hostile = tmp_path / "codex"
    hostile.write_text(
        "#!/bin/sh\nprintf 'codex-cli 99.0.0 \\033]0;owned\\007\\033[2K\\342\\200\\256\\n'\n"
    )
    hostile.chmod(0o755)
    out = io.StringIO()
    doctor.report(hostile, out=out)
    text = out.getvalue()
    assert "WARN  version     codex-cli 99.0.0 \\x1b]0;owned\\x07\\x1b[2K\\u202e is newer" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", text), text


def test_the_docs_list_every_check_in_order(real_bin: Path, codex_home: Path) -> None:
    checks = diagnose(real_bin, environ=app_server_env(codex_home))
    text = DOCS.read_text()
    rows = re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)
    assert rows == [c.name for c in checks]
    example = re.findall(r"^  (?:ok  |WARN|FAIL)  (\w+) ", text, re.MULTILINE)
    assert example == rows
    # The example's lines that depend on no machine are what the real binary gives, with the
    # pinned version written `V` and the method counts `N` (figures that change with a bump).
    for check in checks:
        if check.name in ("version", "schema"):
            line = doctor.render(check).replace(RUNTIME_VERSION, "V")
            assert re.sub(r"(?<=: )\d+", "N", line) in text.splitlines()


def test_the_installed_runtime_is_named_as_the_reason(
    real_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = types.ModuleType("codex_cli_bin")
    runtime.__version__ = RUNTIME_VERSION  # type: ignore[attr-defined]
    runtime.bin_path = lambda: real_bin  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "codex_cli_bin", runtime)
    check, path, version = doctor.check_binary(None)
    assert path == real_bin
    assert version == f"codex-cli {RUNTIME_VERSION}"
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
