"""``python -m codex_app_server doctor``: check that this machine can run the SDK, and say why not.

It reports which ``codex`` binary the SDK would start and why (and that it is one: its
``--version`` must read ``codex-cli X.Y.Z``), that binary's version against the runtime this SDK
pins, whether the protocol it prints (``app-server generate-json-schema``) has the methods the
generated models were made from, the ``CODEX_HOME`` in use, the sign-in state the app-server
reports (``account/read``), and the sandbox's prerequisites (bubblewrap and user namespaces on
Linux, ``sandbox-exec`` on macOS). Each check prints one line; the exit status is 1 when any
check failed. What the binary and the server print is escaped before it is shown.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from ._client import server_version
from ._escape import printable
from ._version import RUNTIME_VERSION
from .config import CodexConfig, resolve_codex_bin
from .errors import CodexError

__all__ = ["Check", "diagnose", "render", "report"]

Status = Literal["ok", "warn", "fail"]

#: Seconds any one probe (``--version``, a sandbox trial, the app-server) may take.
PROBE_TIMEOUT = 30.0
#: Keys whose presence lets a provider authenticate without a stored sign-in.
API_KEY_VARIABLES = ("OPENAI_API_KEY", "CODEX_API_KEY")
#: What ``codex --version`` prints: the program's name, then its release.
CODEX_VERSION = re.compile(r"codex(-cli)? \d+\.\d+\.\d+")
#: The message lists of the protocol, as ``generate-json-schema`` names their files.
#: Each list's file, its table in ``generated.registry`` and what the report calls it.
PROTOCOL_LISTS = {
    "ClientRequest.json": ("CLIENT_REQUESTS", "client requests"),
    "ServerNotification.json": ("SERVER_NOTIFICATIONS", "server notifications"),
    "ServerRequest.json": ("SERVER_REQUESTS", "server requests"),
    "ClientNotification.json": ("CLIENT_NOTIFICATIONS", "client notifications"),
}


@dataclass(frozen=True)
class Check:
    """One finding: ``name`` of the check, ``status`` (``ok``, ``warn``, ``fail``), ``detail``."""

    name: str
    status: Status
    detail: str


def compare_versions(found: str, expected: str, what: str) -> tuple[Status, str]:
    """How a binary's version ``found`` relates to ``expected`` (the SDK's ``what``)."""
    have, want = server_version(found), server_version(expected)
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


def check_binary(codex_bin: str | os.PathLike[str] | None) -> tuple[Check, Path | None, str]:
    """Which binary would run and why, and whether it is a codex binary at all.

    Returns the check, the binary's path (``None`` when it cannot be used) and what its
    ``--version`` printed.
    """
    try:
        path = resolve_codex_bin(codex_bin)
    except CodexError as exc:
        return Check("binary", "fail", str(exc)), None, ""
    try:
        done = subprocess.run(
            [os.fspath(path), "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("binary", "fail", f"`{path} --version` did not run: {exc}"), None, ""
    lines = done.stdout.strip().splitlines()
    output = lines[0] if lines else ""
    if done.returncode != 0 or CODEX_VERSION.match(output) is None:
        said = f"printed {output[:80]!r}" if output else "printed nothing"
        if done.returncode != 0:
            said += f" and exited with status {done.returncode}"
            if done.stderr.strip():
                said += f": {done.stderr.strip()}"
        return (
            Check(
                "binary",
                "fail",
                f"{path} is not a codex executable: `--version` {said}, not `codex-cli X.Y.Z`",
            ),
            None,
            output,
        )
    if codex_bin is not None:
        return Check("binary", "ok", f"{path} (given explicitly)"), path, output
    import codex_cli_bin

    version = getattr(codex_cli_bin, "__version__", "?")
    return (
        Check("binary", "ok", f"{path} (from the installed codex-cli-bin {version})"),
        path,
        output,
    )


def check_version(output: str) -> Check:
    """The binary's ``--version`` output against the SDK's pinned runtime."""
    status, detail = compare_versions(output, RUNTIME_VERSION, "SDK's pinned runtime")
    return Check("version", status, detail)


def protocol_methods(path: Path) -> dict[str, set[str]]:
    """The methods of each message list in the protocol schema the binary prints."""
    with tempfile.TemporaryDirectory(prefix="codex-doctor-") as out:
        subprocess.run(
            [os.fspath(path), "app-server", "generate-json-schema", "--out", out],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=True,
        )
        methods = {}
        for name in PROTOCOL_LISTS:
            schema = json.loads(Path(out, name).read_text(encoding="utf-8"))
            methods[name] = {
                method
                for variant in schema["oneOf"]
                for method in variant["properties"]["method"]["enum"]
            }
    return methods


def check_schema(path: Path | None) -> Check:
    """Whether the binary's protocol has the methods the generated models were made from."""
    from .generated import GENERATED_FROM_RUNTIME, registry

    if GENERATED_FROM_RUNTIME != RUNTIME_VERSION:
        return Check(
            "schema",
            "fail",
            f"the models were generated from codex {GENERATED_FROM_RUNTIME} but the SDK pins "
            f"{RUNTIME_VERSION}: this SDK build is inconsistent; reinstall it",
        )
    if path is None:
        return Check("schema", "warn", "not compared: there is no codex binary to ask")
    try:
        found = protocol_methods(path)
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError) as exc:
        return Check(
            "schema", "warn", f"`{path} app-server generate-json-schema` gave no schema: {exc}"
        )
    missing: set[str] = set()
    extra: set[str] = set()
    for name, (table, _) in PROTOCOL_LISTS.items():
        known = set(getattr(registry, table))
        missing |= known - found[name]
        extra |= found[name] - known
    models = f"the models (generated from codex {GENERATED_FROM_RUNTIME})"
    if missing:
        return Check(
            "schema",
            "fail",
            f"the binary lacks {len(missing)} method(s) of {models}: {_some(missing)}; "
            f"install codex-cli-bin=={RUNTIME_VERSION}",
        )
    if extra:
        return Check(
            "schema",
            "warn",
            f"the binary has {len(extra)} method(s) {models} do not know: {_some(extra)}; "
            "the SDK has no typed models for them",
        )
    counts = ", ".join(
        f"{label}: {len(found[name])}" for name, (_, label) in PROTOCOL_LISTS.items()
    )
    return Check("schema", "ok", f"the binary's protocol has the methods of {models}: {counts}")


def _some(methods: set[str], shown: int = 5) -> str:
    names = sorted(methods)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def login_hint(codex_bin: str | os.PathLike[str] | None) -> str:
    """How to sign in, naming commands that exist here.

    ``codex`` is rarely on PATH for a pip user; the installed runtime runs as
    ``python -m codex_cli_bin``, and an explicitly given binary by its own path.
    """
    if codex_bin is None:
        program = f"{_python_command()} -m codex_cli_bin"
    else:
        program = shlex.quote(os.fspath(codex_bin))
    return (
        f"run `{program} login` (a ChatGPT account) or "
        f"`printenv OPENAI_API_KEY | {program} login --with-api-key` (an API key)"
    )


def _python_command() -> str:
    """This interpreter as the user can type it: its PATH name if that finds it, else its path."""
    here = Path(sys.executable)
    for name in ("python", "python3"):
        found = shutil.which(name)
        if found and Path(found).resolve() == here.resolve():
            return name
    return shlex.quote(sys.executable)


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


def check_server(
    path: Path, environ: Mapping[str, str], codex_bin: str | os.PathLike[str] | None = None
) -> list[Check]:
    """Start the app-server; report the sign-in state it sees (``account/read``).

    ``codex_bin`` is the binary as the user named it (``None``: the installed runtime), for
    the sign-in hint.
    """
    from ._sync.api import Codex

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
        checks.append(Check("auth", "fail", f"not signed in: {login_hint(codex_bin)}"))
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

    binary, path, version = check_binary(codex_bin)
    record(binary)
    if path is not None:
        record(check_version(version))
    record(check_schema(path))
    record(check_codex_home(env))
    if path is not None:
        for check in check_server(path, env, codex_bin):
            record(check)
        record(check_sandbox(path))
    return checks


_MARKS: dict[Status, str] = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def render(check: Check) -> str:
    """One check as a line of the report."""
    detail = printable(check.detail.rstrip(), lines=True).replace("\n", "\n" + " " * 20)
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
