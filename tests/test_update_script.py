"""The maintainer tool's runtime fetching, its cache, and its command line."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import stat
import sys
import tarfile
from pathlib import Path

import pytest
from _portable import python_program
from _runtime_fixture import ROOT, VERSION, artifacts, make_package, run_tool

FAKE_NPM = """\
#!{python}
import base64, hashlib, json, os, pathlib, shutil, sys, tarfile
command, spec = sys.argv[1:3]
log = pathlib.Path(os.environ["FAKE_NPM_LOG"])
with log.open("a") as stream:
    stream.write(" ".join(sys.argv[1:]) + "\\n")
tarball = os.environ.get("FAKE_NPM_TARBALL")
if not tarball:
    sys.exit("npm ERR! 404 Not Found - " + spec)
if command == "view":  # the registry's dist.integrity: FAKE_NPM_INTEGRITY, else the real one
    digest = hashlib.sha512(pathlib.Path(tarball).read_bytes()).digest()
    real = "sha512-" + base64.b64encode(digest).decode()
    print(json.dumps(os.environ.get("FAKE_NPM_INTEGRITY") or real))
    sys.exit(0)
race = os.environ.get("FAKE_NPM_RACE")
if race:  # another process completes the same fetch (a cache entry) while this one downloads
    root = pathlib.Path(race)
    with tarfile.open(tarball) as archive:
        archive.extractall(root / "unpacked")
    for vendor in (root / "unpacked" / "package" / "vendor").iterdir():
        vendor.rename(root / vendor.name)
    shutil.rmtree(root / "unpacked")
    shutil.copy(tarball, root / "package.tgz")
shutil.copy(tarball, pathlib.Path.cwd() / pathlib.Path(tarball).name)
"""


def _tarball(tmp_path: Path, platform: str, version: str = VERSION) -> Path:
    """An npm-pack-like tarball of a stand-in package (``package/vendor/<target>/...``).

    The test's runtime lock records it as the release of ``VERSION`` for ``platform``.
    """
    vendor = make_package(tmp_path / "src" / "package" / "vendor", platform, version)
    tarball = tmp_path / f"openai-codex-{version}-{platform}.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(vendor.parent.parent, arcname="package")
    _lock(tmp_path, platform, artifacts.sri_sha512(tarball))
    return tarball


def _lock(tmp_path: Path, platform: str, integrity: str, binary_sha256: str | None = None) -> Path:
    """Record ``integrity`` for ``VERSION`` on ``platform`` in the test's lock file."""
    lock = tmp_path / "runtime-lock.json"
    data = json.loads(lock.read_text()) if lock.exists() else {"versions": {}}
    entry = {"integrity": integrity}
    if binary_sha256 is not None:
        entry["binary_sha256"] = binary_sha256
    data["versions"].setdefault(VERSION, {})[platform] = entry
    lock.write_text(json.dumps(data))
    return lock


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a fake ``npm`` first on PATH and an empty cache in place; return the npm call log."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    python_program(bin_dir / "npm", FAKE_NPM.format(python=sys.executable))  # npm.cmd on Windows
    log = tmp_path / "npm.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("CODEX_SDK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(artifacts, "LOCK_FILE", tmp_path / "runtime-lock.json")
    return log


def _cache_leftovers(tmp_path: Path) -> list[str]:
    runtime = tmp_path / "cache" / "runtime"
    return sorted(p.name for p in runtime.iterdir()) if runtime.exists() else []


def test_read_runtime_version_is_the_pin() -> None:
    path = ROOT / "packages/codex-app-server-sdk/src/codex_app_server/_version.py"
    spec = importlib.util.spec_from_file_location("pinned_version", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert artifacts.read_runtime_version() == module.RUNTIME_VERSION


def test_host_platform_is_a_released_platform() -> None:
    assert artifacts.host_platform() in artifacts.PLATFORMS


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_SDK_CACHE_DIR", "/somewhere/else")
    assert artifacts.cache_root() == Path("/somewhere/else")
    monkeypatch.delenv("CODEX_SDK_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
        assert artifacts.cache_root() == Path("/xdg/codex-app-server-sdk")


def test_fetch_runtime_unpacks_once_and_then_uses_the_cache(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "darwin-arm64")))
    vendor = artifacts.fetch_runtime(VERSION, "darwin-arm64")
    assert vendor == tmp_path / "cache" / "runtime" / f"{VERSION}-darwin-arm64" / vendor.name
    assert vendor.name == "aarch64-apple-darwin"
    assert stat.S_IMODE((vendor / "bin" / "codex").stat().st_mode) == 0o755
    assert stat.S_IMODE((vendor / "codex-package.json").stat().st_mode) == 0o644
    spec = f"@openai/codex@{VERSION}-darwin-arm64"
    assert fake_npm.read_text().splitlines() == [
        f"view {spec} dist.integrity --json",
        f"pack {spec}",
    ]

    monkeypatch.delenv("FAKE_NPM_TARBALL")  # a second npm call would now fail
    assert artifacts.fetch_runtime(VERSION, "darwin-arm64") == vendor
    assert len(fake_npm.read_text().splitlines()) == 2
    assert _cache_leftovers(tmp_path) == [f"{VERSION}-darwin-arm64"]


def test_fetch_runtime_accepts_a_concurrent_fetch_that_finished_first(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache" / "runtime" / f"{VERSION}-linux-x64"
    monkeypatch.setenv("FAKE_NPM_RACE", str(root))
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "linux-x64")))
    # The winner's entry is re-checked against the lock and used; this fetch's copy is dropped.
    assert artifacts.fetch_runtime(VERSION, "linux-x64") == root / "x86_64-unknown-linux-musl"
    assert (root / "package.tgz").read_bytes() == Path(os.environ["FAKE_NPM_TARBALL"]).read_bytes()
    assert _cache_leftovers(tmp_path) == [f"{VERSION}-linux-x64"]


def test_fetch_runtime_failure_leaves_no_cache_entry(fake_npm: Path, tmp_path: Path) -> None:
    _lock(tmp_path, "linux-x64", "sha512-notfetchedyet")
    with pytest.raises(artifacts.ArtifactError, match="npm ERR! 404 Not Found"):
        artifacts.fetch_runtime(VERSION, "linux-x64")
    assert _cache_leftovers(tmp_path) == []


def test_fetch_runtime_refuses_a_package_of_another_version(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "linux-x64", "0.1.0")))
    with pytest.raises(artifacts.ArtifactError, match=f"contains Codex 0.1.0, not {VERSION}"):
        artifacts.fetch_runtime(VERSION, "linux-x64")
    assert _cache_leftovers(tmp_path) == []


def test_fetch_runtime_refuses_unsafe_tarball_members(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / "evil.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        member = tarfile.TarInfo("package/vendor/x86_64-unknown-linux-musl/../../../escaped")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    _lock(tmp_path, "linux-x64", artifacts.sri_sha512(tarball))  # a locked package is still checked
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(tarball))
    with pytest.raises(artifacts.ArtifactError, match="unsafe member name"):
        artifacts.fetch_runtime(VERSION, "linux-x64")
    assert _cache_leftovers(tmp_path) == []
    assert not list(tmp_path.rglob("escaped"))


def test_fetch_runtime_cli_copies_into_dest(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "win32-arm64")))
    dest = tmp_path / "dest"
    lock = tmp_path / "runtime-lock.json"
    args = ("fetch-runtime", "--runtime-version", VERSION, "--platform", "win32-arm64", dest)
    args += ("--lock", lock)
    result = run_tool(*args)
    assert result.returncode == 0, result.stderr
    assert (dest / "bin" / "codex.exe").is_file()
    assert (dest / "codex-package.json").is_file()

    again = run_tool(*args)
    assert again.returncode == 2
    assert again.stderr == f"error: {dest} is not an empty directory\n"
    assert len(fake_npm.read_text().splitlines()) == 2


def test_fetch_runtime_without_npm_is_one_clear_line(tmp_path: Path) -> None:
    python_only = tmp_path / "bin"
    python_only.mkdir()
    env = {"PATH": str(python_only), "CODEX_SDK_CACHE_DIR": str(tmp_path / "cache")}
    dest = tmp_path / "dest"
    result = run_tool("fetch-runtime", "--platform", "linux-x64", dest, env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "error: npm is not installed; it is needed to fetch the Codex runtime\n"
    )
    assert not dest.exists()


def test_fetch_runtime_rejects_an_unknown_platform(tmp_path: Path) -> None:
    result = run_tool("fetch-runtime", "--platform", "linux-riscv", tmp_path / "dest")
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown platform 'linux-riscv'; expected one of")


@pytest.mark.parametrize(
    "command", ["fetch-runtime", "stage-runtime", "stage-sdk", "verify", "generate-types"]
)
def test_every_command_has_help(command: str) -> None:
    result = run_tool(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: update_sdk_artifacts.py {command}")


def test_verify_of_a_missing_folder_is_bad_input(tmp_path: Path) -> None:
    result = run_tool("verify", tmp_path / "missing")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'missing'} is not a directory\n"
