"""``python -m codex_app_server doctor``: check that this machine can run the SDK, and say why not.

It reports which ``codex`` binary the SDK would start and why, that binary's version against the
runtime this SDK pins, whether the generated models match it, the ``CODEX_HOME`` in use, the
sign-in state the app-server reports (``account/read``), and the sandbox's prerequisites
(bubblewrap and user namespaces on Linux, ``sandbox-exec`` on macOS). Each check prints one
line; the exit status is 1 when any check failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from ._version import RUNTIME_VERSION
from .config import CodexConfig, resolve_codex_bin
from .errors import CodexError

__all__ = ["Check", "diagnose", "render", "report"]

Status = Literal["ok", "warn", "fail"]

#: Seconds any one probe (``--version``, a sandbox trial, the app-server) may take.
PROBE_TIMEOUT = 30.0
#: Keys whose presence lets a provider authenticate without a stored sign-in.
API_KEY_VARIABLES = ("OPENAI_API_KEY", "CODEX_API_KEY")


@dataclass(frozen=True)
class Check:
    """One finding: ``name`` of the check, ``status`` (``ok``, ``warn``, ``fail``), ``detail``."""

    name: str
    status: Status
    detail: str


def version_tuple(text: str) -> tuple[int, int, int] | None:
    """The first ``X.Y.Z`` in ``text`` as numbers."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def compare_versions(found: str, expected: str, what: str) -> tuple[Status, str]:
    """How a binary's version ``found`` relates to ``expected`` (the SDK's ``what``)."""
    have, want = version_tuple(found), version_tuple(expected)
    if have is None or want is None:
        return "warn", f"cannot read a version from {found!r}"
    if have == want:
        return "ok", f"{found} matches the {what} {expected}"
    if have[:2] < want[:2]:
        return "fail", (
            f"{found} is older than the {what} {expected}; the SDK refuses it: install "
            f"codex-cli-bin=={RUNTIME_VERSION}"
        )
    if have < want:
        return "warn", f"{found} is an older patch release than the {what} {expected}"
    return "warn", (
        f"{found} is newer than the {what} {expected}; fields the SDK does not know are kept "
        "as extras"
    )


def check_binary(codex_bin: str | os.PathLike[str] | None) -> tuple[Check, Path | None]:
    """Which binary would run and why."""
    try:
        path = resolve_codex_bin(codex_bin)
    except CodexError as exc:
        return Check("binary", "fail", str(exc)), None
    if codex_bin is not None:
        return Check("binary", "ok", f"{path} (given explicitly)"), path
    import codex_cli_bin

    version = getattr(codex_cli_bin, "__version__", "?")
    return Check("binary", "ok", f"{path} (from the installed codex-cli-bin {version})"), path


def check_version(path: Path) -> tuple[Check, str | None]:
    """The binary's ``--version`` against the SDK's pinned runtime."""
    try:
        done = subprocess.run(
            [os.fspath(path), "--version"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("version", "fail", f"`codex --version` did not run: {exc}"), None
    output = done.stdout.strip()
    if done.returncode != 0 or not output:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        return Check("version", "fail", f"`codex --version` failed: {reason}"), None
    status, detail = compare_versions(output, RUNTIME_VERSION, "SDK's pinned runtime")
    return Check("version", status, detail), output


def check_schema(binary_version: str | None) -> Check:
    """Whether the generated models come from the pinned runtime and match the binary."""
    from .generated import GENERATED_FROM_RUNTIME

    if GENERATED_FROM_RUNTIME != RUNTIME_VERSION:
        return Check(
            "schema",
            "fail",
            f"the models were generated from codex {GENERATED_FROM_RUNTIME} but the SDK pins "
            f"{RUNTIME_VERSION}: this SDK build is inconsistent; reinstall it",
        )
    if binary_version is None:
        return Check("schema", "warn", "the binary's version is unknown, so is its schema")
    status, detail = compare_versions(binary_version, GENERATED_FROM_RUNTIME, "models' schema")
    return Check("schema", status, detail)


def check_codex_home(environ: Mapping[str, str]) -> Check:
    """The ``CODEX_HOME`` the app-server will use."""
    given = environ.get("CODEX_HOME")
    home = Path(given).expanduser() if given else Path.home() / ".codex"
    source = "from $CODEX_HOME" if given else "the default; $CODEX_HOME is not set"
    if home.exists() and not home.is_dir():
        return Check("codex_home", "fail", f"{home} ({source}) is not a folder")
    if not home.exists():
        if given:
            return Check("codex_home", "fail", f"{home} ({source}) does not exist")
        return Check("codex_home", "warn", f"{home} ({source}) does not exist yet")
    config = home / "config.toml"
    has_config = "with config.toml" if config.is_file() else "no config.toml"
    return Check("codex_home", "ok", f"{home} ({source}; {has_config})")


def check_server(path: Path, environ: Mapping[str, str]) -> list[Check]:
    """Start the app-server; report the sign-in state it sees (``account/read``)."""
    from .api import Codex

    config = CodexConfig(
        codex_bin=path,
        env=dict(environ),
        inherit_env=False,
        request_timeout=PROBE_TIMEOUT,
        require_sign_in=False,  # the sign-in state is reported below, not an error here
    )
    try:
        with Codex(config) as codex:
            home = codex.metadata.codex_home
            account = codex.client.account_read()
    except CodexError as exc:
        return [Check("app_server", "fail", f"the app-server did not start: {exc}")]
    checks = [Check("app_server", "ok", f"started and initialized; it uses {home}")]
    if account.account is not None:
        kind = getattr(account.account, "type", "unknown")
        email = getattr(account.account, "email", None)
        who = f" as {email}" if email else ""
        checks.append(Check("auth", "ok", f"signed in with {kind}{who}"))
    elif not account.requires_openai_auth:
        checks.append(Check("auth", "ok", "the configured model provider needs no OpenAI sign-in"))
    elif any(environ.get(name) for name in API_KEY_VARIABLES):
        checks.append(Check("auth", "warn", "not signed in; an API key is set in the environment"))
    else:
        checks.append(
            Check("auth", "fail", "not signed in: run `codex login` or set OPENAI_API_KEY")
        )
    return checks


def bubblewrap(path: Path) -> Path | None:
    """The bubblewrap Codex would use: the one shipped beside the binary, else ``bwrap``."""
    shipped = path.resolve().parent.parent / "codex-resources" / "bwrap"
    if shipped.is_file():
        return shipped
    found = shutil.which("bwrap")
    return Path(found) if found else None


def check_linux_sandbox(bwrap: Path | None) -> Check:
    """Whether bubblewrap can create the namespaces Codex's Linux sandbox needs."""
    if bwrap is None:
        return Check(
            "sandbox",
            "fail",
            "no bubblewrap: neither shipped beside the binary nor `bwrap` on PATH; install "
            "bubblewrap or use sandbox_mode='danger-full-access'",
        )
    trial = [os.fspath(bwrap), "--unshare-user", "--unshare-net", "--ro-bind", "/", "/", "true"]
    try:
        done = subprocess.run(
            trial, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("sandbox", "fail", f"{bwrap} did not run: {exc}")
    if done.returncode != 0:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        return Check(
            "sandbox",
            "fail",
            f"{bwrap} cannot create a sandbox here ({reason}); unprivileged user namespaces "
            "may be disabled (see /proc/sys/user/max_user_namespaces)",
        )
    return Check("sandbox", "ok", f"{bwrap} creates user and network namespaces")


def check_sandbox(path: Path, platform: str = sys.platform) -> Check:
    """The sandbox prerequisites of this platform."""
    if platform.startswith("linux"):
        return check_linux_sandbox(bubblewrap(path))
    if platform == "darwin":
        if Path("/usr/bin/sandbox-exec").is_file():
            return Check("sandbox", "ok", "/usr/bin/sandbox-exec is present")
        return Check("sandbox", "fail", "/usr/bin/sandbox-exec is missing")
    return Check("sandbox", "ok", f"no prerequisites are checked on {platform}")


def diagnose(
    codex_bin: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[Check], None] | None = None,
) -> list[Check]:
    """Run every check and return the findings; ``progress`` sees each as it is made."""
    env = dict(os.environ if environ is None else environ)
    checks: list[Check] = []

    def record(check: Check) -> None:
        checks.append(check)
        if progress is not None:
            progress(check)

    binary, path = check_binary(codex_bin)
    record(binary)
    version = None
    if path is not None:
        version_check, version = check_version(path)
        record(version_check)
    record(check_schema(version))
    record(check_codex_home(env))
    if path is not None:
        for check in check_server(path, env):
            record(check)
        record(check_sandbox(path))
    return checks


_MARKS: dict[Status, str] = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def render(check: Check) -> str:
    """One check as a line of the report."""
    detail = check.detail.rstrip().replace("\n", "\n" + " " * 20)
    return f"  {_MARKS[check.status]}  {check.name:<11} {detail}"


def report(codex_bin: str | os.PathLike[str] | None = None, out: TextIO | None = None) -> int:
    """Print the report to ``out`` (stdout); return 1 if any check failed, else 0."""
    stream = sys.stdout if out is None else out
    stream.write(f"Codex app-server SDK doctor (runtime {RUNTIME_VERSION})\n")

    def show(check: Check) -> None:
        stream.write(render(check) + "\n")
        stream.flush()

    checks = diagnose(codex_bin, progress=show)
    failed = sum(check.status == "fail" for check in checks)
    warned = sum(check.status == "warn" for check in checks)
    if failed:
        stream.write(f"{failed} problem(s) found, {warned} warning(s)\n")
        return 1
    stream.write(f"no problems found, {warned} warning(s)\n")
    return 0
