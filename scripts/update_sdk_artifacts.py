#!/usr/bin/env python3
"""Maintainer tool for the two distributions: fetch the runtime, stage, verify, generate types.

``codex-cli-bin`` wheels vendor the released Codex package of one platform; ``codex-app-server-sdk``
pins ``codex-cli-bin==<runtime version>``. The runtime version is read from the one checked-in pin,
``codex_app_server/_version.py``. Run ``update_sdk_artifacts.py COMMAND --help`` for each command.

The module uses the standard library only, so ``noxfile.py`` can import it before any virtual
environment exists.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import hashlib
import importlib.util
import io
import json
import os
import platform as platform_module
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SDK_SOURCE = REPO_ROOT / "packages" / "codex-app-server-sdk"
RUNTIME_SOURCE = REPO_ROOT / "packages" / "codex-cli-bin"
VERSION_FILE = SDK_SOURCE / "src" / "codex_app_server" / "_version.py"
GENERATED_INIT = Path("src", "codex_app_server", "generated", "__init__.py")
GENERATED_DIR = SDK_SOURCE / GENERATED_INIT.parent
RECORDING = REPO_ROOT / "benchmarks" / "recorded.json"
CHANGELOG = REPO_ROOT / "CHANGELOG.md"
#: Docs with a block of figures computed from the generated package (see ``update_figures``).
FIGURE_DOCS = (REPO_ROOT / "docs" / "generated-models.md",)
FIGURES_BEGIN = "<!-- figures:begin (written by update_sdk_artifacts.py bump) -->"
FIGURES_END = "<!-- figures:end -->"

MANIFEST_NAME = "codex-package.json"
# The reviewed digests of every runtime package the tool may fetch: version -> platform ->
# {"integrity": npm's sha512 SRI of the tarball, "binary_sha256": the entrypoint's sha256}.
LOCK_FILE = Path(__file__).resolve().parent / "runtime-lock.json"
# The fetched npm tarball, kept in each cache entry so the unpacked files can be re-checked.
TARBALL_NAME = "package.tgz"
BUILD_INFO_NAME = "build-info.json"
# The voice runtime (a GStreamer bundle) serves the interactive CLI's voice mode only; the
# app-server never loads it, and leaving it out saves a few MB per wheel.
EXCLUDED_VENDOR_DIRS = (PurePosixPath("codex-resources", "voice"),)
# Files that must keep their executable bit on POSIX targets.
EXECUTABLE_DIRS = ("bin", "codex-path")
EXECUTABLE_FILES = ("codex-resources/bwrap",)

# Every wheel's zip timestamps. hatchling builds reproducibly (sorted files, 0644/0755 modes) and
# takes the timestamps from SOURCE_DATE_EPOCH, defaulting to this same instant (2020-02-02);
# build_wheel pins it so that an ambient SOURCE_DATE_EPOCH (some CI systems set the commit time)
# cannot make two builds of one staged tree differ.
SOURCE_DATE_EPOCH = 1580601600

RUNTIME_DIST = "codex_cli_bin"
SDK_DIST = "codex_app_server_sdk"
SDK_PIN = re.compile(r"^codex-cli-bin\s*==\s*(\S+)$")
VERSION_PATTERN = re.compile(r"\d+\.\d+\.\d+")


class ArtifactError(Exception):
    """Bad input or environment; the CLI reports it as one line and exits with code 2."""


@dataclass(frozen=True)
class Platform:
    """One released Codex platform: its npm suffix, Rust target and wheel tag."""

    name: str
    target: str
    wheel_tag: str

    @property
    def is_windows(self) -> bool:
        """Whether the target is Windows (``.exe`` entrypoint, no POSIX mode bits)."""
        return self.target.endswith("-windows-msvc")

    @property
    def entrypoint(self) -> str:
        """The entrypoint's path inside the vendored layout."""
        return "bin/codex.exe" if self.is_windows else "bin/codex"


def _linux_tag(arch: str) -> str:
    # The binaries are static musl builds: one wheel serves glibc and musl systems alike.
    return f"py3-none-manylinux_2_17_{arch}.manylinux2014_{arch}.musllinux_1_2_{arch}"


PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        Platform("linux-x64", "x86_64-unknown-linux-musl", _linux_tag("x86_64")),
        Platform("linux-arm64", "aarch64-unknown-linux-musl", _linux_tag("aarch64")),
        # 10.12 and 11.0 are the minimum macOS versions of Rust's x86_64 and aarch64 targets.
        Platform("darwin-x64", "x86_64-apple-darwin", "py3-none-macosx_10_12_x86_64"),
        Platform("darwin-arm64", "aarch64-apple-darwin", "py3-none-macosx_11_0_arm64"),
        Platform("win32-x64", "x86_64-pc-windows-msvc", "py3-none-win_amd64"),
        Platform("win32-arm64", "aarch64-pc-windows-msvc", "py3-none-win_arm64"),
    )
}


def platform_named(name: str) -> Platform:
    """Return the platform called ``name`` (an npm suffix such as ``linux-x64``)."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ArtifactError(
            f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}"
        ) from None


def _platform_for_target(target: str) -> Platform:
    for candidate in PLATFORMS.values():
        if candidate.target == target:
            return candidate
    raise ArtifactError(f"unknown Codex target {target!r} in {MANIFEST_NAME}")


def host_platform() -> str:
    """Return the platform name of this machine (``linux-x64``, ``darwin-arm64``, ...)."""
    machine = platform_module.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform)
    if arch is None or system is None:
        raise ArtifactError(f"no Codex runtime is released for {sys.platform}/{machine}")
    return f"{system}-{arch}"


def read_runtime_version() -> str:
    """Return the pinned runtime version from ``codex_app_server/_version.py``."""
    match = re.search(
        r'^RUNTIME_VERSION = "([^"]+)"$', VERSION_FILE.read_text(encoding="utf-8"), re.MULTILINE
    )
    if match is None:
        raise ArtifactError(f'{VERSION_FILE} has no RUNTIME_VERSION = "..." line')
    return match.group(1)


def _check_version(version: str) -> str:
    if not VERSION_PATTERN.fullmatch(version):
        raise ArtifactError(f"runtime version {version!r} is not of the form 0.169.0")
    return version


def cache_root() -> Path:
    """Return the cache folder: ``$CODEX_SDK_CACHE_DIR``, else the user's cache directory."""
    override = os.environ.get("CODEX_SDK_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "codex-app-server-sdk"


def _require_empty(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ArtifactError(f"{dest} is not an empty directory")


@contextlib.contextmanager
def _new_dir(dest: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``dest`` that becomes ``dest`` only if the block succeeds.

    A crash or an error leaves no half-written ``dest`` behind.
    """
    _require_empty(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        tmp.chmod(0o755)
        yield tmp
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _safe_member(member: tarfile.TarInfo, prefix: str, dest: Path, tarball: str) -> Path | None:
    """Where ``member`` of an npm tarball may be written inside ``dest``, or ``None`` to skip it.

    Only ``prefix`` (``package/vendor/<target>/``) is unpacked, and only as regular files and
    folders that stay inside ``dest``: an absolute name, a drive letter, a backslash, an empty,
    ``.`` or ``..`` component, a link or a device is refused. (``tarfile``'s own ``data`` filter
    is not in every supported Python.)
    """
    if not member.name.startswith(prefix):
        return None
    relative = member.name[len(prefix) :]
    if member.isdir():
        relative = relative.rstrip("/")
        if not relative:
            return None  # the prefix folder itself
    parts = relative.split("/")
    unsafe = (
        not relative
        or relative.startswith("/")
        or "\\" in relative
        or "\0" in relative
        or any(part in ("", ".", "..") or ":" in part for part in parts)
    )
    if unsafe:
        raise ArtifactError(f"{tarball}: unsafe member name {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise ArtifactError(
            f"{tarball}: {member.name} is not a regular file or folder (links and devices "
            "are refused)"
        )
    out = dest.joinpath(*parts)
    if not out.resolve().is_relative_to(dest.resolve()):
        raise ArtifactError(f"{tarball}: {member.name} would be written outside {dest}")
    return out


def _vendor_members(
    archive: tarfile.TarFile, tarball: Path, target: str, dest: Path
) -> Iterator[tuple[tarfile.TarInfo, Path]]:
    """Each checked member of ``package/vendor/<target>/`` with where it belongs in ``dest``."""
    prefix = f"package/vendor/{target}/"
    found = False
    for member in archive:
        out = _safe_member(member, prefix, dest, tarball.name)
        if out is not None:
            found = found or member.isfile()
            yield member, out
    if not found:
        raise ArtifactError(f"{tarball.name} has no {prefix} folder")


def _extract_vendor(tarball: Path, target: str, dest: Path) -> None:
    """Unpack ``package/vendor/<target>/`` of an npm tarball into ``dest``, keeping exec bits."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as archive:
        for member, out in _vendor_members(archive, tarball, target, dest):
            if member.isdir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with _member_stream(archive, member) as source, out.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            out.chmod(0o755 if member.mode & 0o100 else 0o644)


def read_manifest(vendor: Path) -> dict[str, Any]:
    """Return the parsed ``codex-package.json`` of an unpacked Codex package."""
    path = vendor / MANIFEST_NAME
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"cannot read {path}: {error}") from None
    return data


@dataclass(frozen=True)
class LockEntry:
    """The reviewed digests of one runtime package (one version, one platform)."""

    #: npm's Subresource Integrity string of the tarball: ``sha512-<base64>``.
    integrity: str
    #: The hex sha256 of the package's Codex binary, when it was recorded.
    binary_sha256: str | None = None


def _digest(stream: IO[bytes], algorithm: str) -> Any:
    """The ``hashlib`` digest of everything ``stream`` holds, read in chunks."""
    digest = hashlib.new(algorithm)
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    return digest


def sri_sha512(path: Path) -> str:
    """Return the ``sha512-<base64>`` integrity string of a file, as npm writes it."""
    with path.open("rb") as stream:
        raw = _digest(stream, "sha512").digest()
    return "sha512-" + base64.b64encode(raw).decode("ascii")


def _spec(version: str, plat: Platform) -> str:
    return f"@openai/codex@{version}-{plat.name}"


def _read_lock(lock: Path) -> dict[str, Any]:
    try:
        data = json.loads(lock.read_text(encoding="utf-8")) if lock.exists() else {}
    except (OSError, ValueError) as error:
        raise ArtifactError(f"cannot read the runtime lock {lock}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.setdefault("versions", {}), dict):
        raise ArtifactError(f"{lock} is not a runtime lock (no versions table)")
    return data


def lock_entry(version: str, platform: str, lock: Path | None = None) -> LockEntry:
    """Return the reviewed digests of ``version`` for ``platform`` from the lock file."""
    lock = lock or LOCK_FILE
    plat = platform_named(platform)
    found = _read_lock(lock)["versions"].get(version, {}).get(plat.name)
    if not isinstance(found, dict) or not str(found.get("integrity", "")).startswith("sha512-"):
        raise ArtifactError(
            f"{plat.name}: {lock.name} records no sha512 integrity for {_spec(version, plat)}; "
            f"run `update_sdk_artifacts.py lock --runtime-version {version}` and review the diff"
        )
    binary = found.get("binary_sha256")
    return LockEntry(str(found["integrity"]), str(binary) if binary else None)


def _mismatch(plat: Platform, what: str, expected: str, got: str, remedy: str) -> ArtifactError:
    return ArtifactError(
        f"{plat.name}: {what} does not match the runtime lock: expected {expected}, got {got}; "
        f"{remedy}"
    )


def _check_binary(vendor: Path, plat: Platform, entry: LockEntry, remedy: str) -> None:
    if entry.binary_sha256 is not None:
        got = sha256_file(vendor / plat.entrypoint)
        if got != entry.binary_sha256:
            what = f"the Codex binary {vendor / plat.entrypoint} (sha256)"
            raise _mismatch(plat, what, entry.binary_sha256, got, remedy)


def _verify_cached(root: Path, plat: Platform, entry: LockEntry) -> Path:
    """Check a cache entry against the lock: its tarball, then every unpacked file against it.

    Files added, removed or changed after unpacking are found (each is compared with its
    member of the locked tarball); the binary is also compared with the lock's sha256.
    """
    remedy = f"the cache was changed after it was verified: delete {root} and fetch again"
    tarball = root / TARBALL_NAME
    vendor = root / plat.target
    got = sri_sha512(tarball)
    if got != entry.integrity:
        raise _mismatch(plat, f"the cached {tarball}", entry.integrity, got, remedy)
    present = {
        path.relative_to(vendor).as_posix(): path
        for path in vendor.rglob("*")
        if path.is_file() or path.is_symlink()
    }
    with tarfile.open(tarball, "r:gz") as archive:
        for member, out in _vendor_members(archive, tarball, plat.target, vendor):
            if member.isfile() and not _same_content(archive, member, out):
                expected = _digest(_member_stream(archive, member), "sha256").hexdigest()
                got = "nothing" if out.is_symlink() or not out.is_file() else sha256_file(out)
                got = got if got == "nothing" else f"sha256 {got}"
                raise _mismatch(plat, f"the cached file {out}", f"sha256 {expected}", got, remedy)
            present.pop(out.relative_to(vendor).as_posix(), None)
    if present:
        extra = min(present.values())
        raise _mismatch(
            plat, f"the cache folder {vendor}", "the package's files", f"{extra} too", remedy
        )
    _check_binary(vendor, plat, entry, remedy)
    return vendor


def _member_stream(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    stream = archive.extractfile(member)
    assert stream is not None  # a regular file, checked by _safe_member
    return stream


def _same_content(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> bool:
    """Whether ``path`` is a regular file holding exactly ``member``'s bytes."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size != member.size:
        return False
    with _member_stream(archive, member) as source, path.open("rb") as disk:
        while chunk := source.read(1 << 20):
            if disk.read(len(chunk)) != chunk:
                return False
    return True


def fetch_runtime(version: str, platform: str, lock: Path | None = None) -> Path:
    """Return the cached, unpacked ``vendor/<target>/`` of ``@openai/codex@<version>-<platform>``.

    The package is fetched once with ``npm pack`` (npm's own configuration chooses the registry)
    and kept, with its tarball, under ``cache_root()/runtime/``. Whatever serves it, the tarball
    must match the registry's ``dist.integrity`` and the reviewed lock (``lock``, default
    :data:`LOCK_FILE`); a cached entry is re-checked against the lock on every call.
    """
    plat = platform_named(platform)
    entry = lock_entry(_check_version(version), plat.name, lock)
    root = cache_root() / "runtime" / f"{version}-{plat.name}"
    if (root / TARBALL_NAME).is_file():
        return _verify_cached(root, plat, entry)
    npm = shutil.which("npm")
    if npm is None:
        raise ArtifactError("npm is not installed; it is needed to fetch the Codex runtime")
    if root.exists():  # incomplete, or unpacked without its tarball: cannot be re-checked
        shutil.rmtree(root)
    try:
        _download_runtime(npm, version, plat, root, entry)
    except (OSError, ArtifactError):
        if (root / TARBALL_NAME).is_file():  # a concurrent fetch finished first
            return _verify_cached(root, plat, entry)
        raise
    return root / plat.target


def _npm(npm: str, args: Sequence[str], cwd: Path) -> str:
    result = subprocess.run([npm, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise ArtifactError(f"npm {' '.join(args)} failed: {lines[-1]}")
    return result.stdout


def registry_integrity(npm: str, version: str, plat: Platform, cwd: Path) -> str:
    """The ``dist.integrity`` npm's configured registry gives for the package (no download)."""
    spec = _spec(version, plat)
    output = _npm(npm, ["view", spec, "dist.integrity", "--json"], cwd)
    try:
        integrity = json.loads(output)
    except ValueError:
        integrity = None
    if not isinstance(integrity, str) or not integrity.startswith("sha512-"):
        raise ArtifactError(f"npm view {spec} gave no sha512 dist.integrity: {output.strip()!r}")
    return integrity


def _download_runtime(npm: str, version: str, plat: Platform, root: Path, entry: LockEntry) -> None:
    """npm-pack the release, check it, and unpack its ``vendor/<target>/`` as ``root``'s."""
    spec = _spec(version, plat)
    remedy = (
        "the package served is not the reviewed release: check npm's registry "
        "(`npm config get registry`); if the lock is what is wrong, re-run "
        f"`update_sdk_artifacts.py lock --runtime-version {version}` and review the diff"
    )
    with _new_dir(root) as tmp:
        download = tmp / "download"
        download.mkdir()
        registry = registry_integrity(npm, version, plat, download)
        if registry != entry.integrity:
            raise _mismatch(
                plat, f"the registry's dist.integrity of {spec}", entry.integrity, registry, remedy
            )
        _npm(npm, ["pack", spec], download)
        tarballs = list(download.glob("*.tgz"))
        if len(tarballs) != 1:
            raise ArtifactError(f"npm pack {spec} failed: it wrote {len(tarballs)} tarballs")
        got = sri_sha512(tarballs[0])
        if got != entry.integrity:
            raise _mismatch(plat, f"the downloaded {spec}", entry.integrity, got, remedy)
        tarballs[0].rename(tmp / TARBALL_NAME)
        shutil.rmtree(download)
        _extract_vendor(tmp / TARBALL_NAME, plat.target, tmp / plat.target)
        found = read_manifest(tmp / plat.target).get("version")
        if found != version:
            raise ArtifactError(f"{spec} contains Codex {found}, not {version}")
        _check_binary(tmp / plat.target, plat, entry, remedy)


def write_lock(
    version: str, platforms: Sequence[str] = tuple(PLATFORMS), lock: Path | None = None
) -> Path:
    """Record the registry's integrity of ``version`` for ``platforms`` in the lock; return it.

    Only package metadata is read (``npm view``), nothing is downloaded. The binary's sha256
    is recorded for each platform whose package is in the cache and matches. A recorded
    integrity that the registry now contradicts is an error: a published npm version never
    changes, so the registry is not the one the lock was made from (remove the entry by hand
    to replace it). The result is meant to be reviewed in the diff and committed.
    """
    lock = lock or LOCK_FILE
    npm = shutil.which("npm")
    if npm is None:
        raise ArtifactError("npm is not installed; it is needed to read the registry's digests")
    data = _read_lock(lock)
    data.setdefault(
        "about",
        "Reviewed digests of the Codex runtime packages (version -> platform): npm's sha512 "
        "integrity of each tarball and the sha256 of its binary. Written by "
        "`scripts/update_sdk_artifacts.py lock --runtime-version V`; fetch-runtime refuses "
        "anything else.",
    )
    entries: dict[str, Any] = data["versions"].setdefault(_check_version(version), {})
    for plat in map(platform_named, platforms):
        integrity = registry_integrity(npm, version, plat, REPO_ROOT)
        known = entries.get(plat.name) or {}
        if known.get("integrity", integrity) != integrity:
            raise _mismatch(
                plat,
                f"the registry's dist.integrity of {_spec(version, plat)}",
                str(known["integrity"]),
                integrity,
                "a published version never changes: check npm's registry "
                f"(`npm config get registry`), or delete the entry from {lock.name} to replace it",
            )
        record: dict[str, str] = {"integrity": integrity}
        root = cache_root() / "runtime" / f"{version}-{plat.name}"
        if (root / TARBALL_NAME).is_file():
            vendor = _verify_cached(root, plat, LockEntry(integrity))
            record["binary_sha256"] = sha256_file(vendor / plat.entrypoint)
        elif known.get("binary_sha256"):
            record["binary_sha256"] = str(known["binary_sha256"])
        entries[plat.name] = record
    ordered = sorted(data["versions"].items(), key=lambda item: tuple(map(int, item[0].split("."))))
    data["versions"] = {v: dict(sorted(by_platform.items())) for v, by_platform in ordered}
    about_first = {"about": data.pop("about"), **data}
    lock.write_text(json.dumps(about_first, indent=2) + "\n", encoding="utf-8")
    return lock


@dataclass(frozen=True)
class _RuntimeSource:
    """The files to vendor: layout-relative POSIX path to source file, plus the manifest."""

    platform: Platform
    files: dict[str, Path]
    manifest: dict[str, Any]

    @property
    def entrypoint(self) -> Path:
        """The source file of the Codex binary."""
        return self.files[str(self.manifest["entrypoint"])]


def _is_executable_path(relative: str) -> bool:
    return relative.split("/", 1)[0] in EXECUTABLE_DIRS or relative in EXECUTABLE_FILES


def _collect_runtime(source: Path, version: str, platform: str | None) -> _RuntimeSource:
    """Resolve PATH (a binary or an unpacked package dir) into the files to vendor."""
    if source.is_file() and (source.parent.parent / MANIFEST_NAME).is_file():
        source = source.parent.parent  # bin/codex inside an unpacked package
    if source.is_dir():
        manifest = read_manifest(source)
        plat = _platform_for_target(str(manifest.get("target")))
        if platform is not None and platform_named(platform) != plat:
            raise ArtifactError(f"{source} holds the {plat.name} runtime, not {platform}")
        files = {
            path.relative_to(source).as_posix(): path
            for path in sorted(source.rglob("*"))
            if path.is_file()
            and not any(
                PurePosixPath(path.relative_to(source).as_posix()).is_relative_to(excluded)
                for excluded in EXCLUDED_VENDOR_DIRS
            )
        }
        if manifest.get("version") != version:
            raise ArtifactError(f"{source} holds Codex {manifest.get('version')}, not {version}")
        manifest.setdefault("entrypoint", plat.entrypoint)
        entry = source / str(manifest["entrypoint"])
    elif source.is_file():
        plat = platform_named(platform or host_platform())
        manifest = {
            "layoutVersion": 1,
            "version": version,
            "target": plat.target,
            "variant": "codex",
            "entrypoint": plat.entrypoint,
            "resourcesDir": "codex-resources",
            "pathDir": "codex-path",
        }
        files = {plat.entrypoint: source}
        entry = source
    else:
        raise ArtifactError(f"no codex binary or unpacked Codex package at {source}")
    if not entry.is_file():
        raise ArtifactError(f"the Codex binary {entry} is missing")
    if not plat.is_windows and os.name == "posix" and not os.access(entry, os.X_OK):
        raise ArtifactError(f"the Codex binary {entry} is not executable")
    return _RuntimeSource(plat, files, manifest)


def _check_binary_version(binary: Path, version: str) -> None:
    try:
        result = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ArtifactError(f"cannot run {binary} --version: {error}") from None
    reported = result.stdout.strip()
    if result.returncode != 0 or reported.split()[-1:] != [version]:
        raise ArtifactError(f"{binary} --version reports {reported!r}, not codex-cli {version}")


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file."""
    with path.open("rb") as stream:
        return str(_digest(stream, "sha256").hexdigest())


def _copy_template(source: Path, dest: Path, names: Sequence[str]) -> None:
    for name in names:
        path = source / name
        if path.is_dir():
            shutil.copytree(
                path, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        elif path.is_file():
            shutil.copy2(path, dest / name)


def stage_runtime(dest: Path, source: Path, version: str, platform: str | None = None) -> Path:
    """Write a buildable ``codex-cli-bin`` project for one platform into ``dest``.

    ``source`` is a codex binary or an unpacked package dir (with ``codex-package.json``). The
    version is stamped, the files are vendored under ``vendor/`` (executables made 0755) and
    their sha256 recorded in ``src/codex_cli_bin/build-info.json``. When the binary can run here
    its ``--version`` must report ``version``.
    """
    runtime = _collect_runtime(source, _check_version(version), platform)
    _require_empty(dest)
    try:
        runs_here = runtime.platform.name == host_platform()
    except ArtifactError:  # an unreleased host can still stage every released platform
        runs_here = False
    if runs_here:
        _check_binary_version(runtime.entrypoint, version)
    with _new_dir(dest) as tmp:
        _copy_template(
            RUNTIME_SOURCE, tmp, ("pyproject.toml", "hatch_build.py", "README.md", "src")
        )
        package = tmp / "src" / "codex_cli_bin"
        (package / "_version.py").write_text(
            f'"""Version of the vendored Codex runtime (stamped by stage-runtime)."""\n\n'
            f'__version__ = "{version}"\n',
            encoding="utf-8",
        )
        vendor = tmp / "vendor"
        hashes: dict[str, str] = {}
        for relative, path in runtime.files.items():
            out = vendor / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
            executable = _is_executable_path(relative) or path.stat().st_mode & 0o100
            out.chmod(0o755 if executable else 0o644)
            hashes[relative] = sha256_file(out)
        if MANIFEST_NAME not in runtime.files:
            manifest_path = vendor / MANIFEST_NAME
            manifest_path.write_text(json.dumps(runtime.manifest, indent=2) + "\n", "utf-8")
            manifest_path.chmod(0o644)
            hashes[MANIFEST_NAME] = sha256_file(manifest_path)
        build_info = {
            "version": version,
            "platform": runtime.platform.name,
            "target": runtime.platform.target,
            "wheel_tag": runtime.platform.wheel_tag,
            "sha256": dict(sorted(hashes.items())),
        }
        (package / BUILD_INFO_NAME).write_text(json.dumps(build_info, indent=2) + "\n", "utf-8")
    return dest


def _generated_runtime(sdk_source: Path) -> str | None:
    path = sdk_source / GENERATED_INIT
    if not path.is_file():
        return None
    match = re.search(
        r'^GENERATED_FROM_RUNTIME = "([^"]+)"$', path.read_text(encoding="utf-8"), re.MULTILINE
    )
    return match.group(1) if match else None


def _stamp(text: str, name: str, value: str, path: Path) -> str:
    stamped, count = re.subn(
        rf"^{name} = .*$", f'{name} = "{value}"', text, count=1, flags=re.MULTILINE
    )
    if count != 1:
        raise ArtifactError(f"cannot stamp {name}: {path} has no `{name} = ...` line")
    return stamped


def stage_sdk(
    dest: Path,
    runtime_version: str,
    sdk_version: str | None = None,
    sdk_source: Path = SDK_SOURCE,
) -> Path:
    """Write a buildable ``codex-app-server-sdk`` project into ``dest``.

    The copy pins ``codex-cli-bin==runtime_version`` and has version ``sdk_version`` (default:
    the runtime version; otherwise a post-release of it, e.g. ``0.169.0.post1``). Refused when
    the generated code was made from another runtime version.
    """
    version = _check_version(runtime_version)
    release = sdk_version or version
    if not re.fullmatch(rf"{re.escape(version)}(\.post\d+)?", release):
        raise ArtifactError(
            f"SDK version {release!r} must be {version} or a post-release such as {version}.post1"
        )
    generated = _generated_runtime(sdk_source)
    if generated is None:
        raise ArtifactError("generated code missing; run generate-types")
    if generated != version:
        raise ArtifactError(
            f"generated code is from runtime {generated}, not {version}; run generate-types"
        )
    _require_empty(dest)
    with _new_dir(dest) as tmp:
        _copy_template(
            sdk_source, tmp, ("pyproject.toml", "hatch_build.py", "README.md", "LICENSE", "src")
        )
        version_file = tmp / VERSION_FILE.relative_to(SDK_SOURCE)
        text = version_file.read_text(encoding="utf-8")
        text = _stamp(text, "RUNTIME_VERSION", version, version_file)
        text = _stamp(text, "__version__", release, version_file)
        version_file.write_text(text, encoding="utf-8")
    return dest


def build_wheel(project: Path, outdir: Path, *, isolation: bool = True) -> Path:
    """Build a staged ``project`` with ``python -m build --wheel`` into ``outdir``; return it.

    ``SOURCE_DATE_EPOCH`` is pinned, so two builds of the same staged tree are byte-identical.
    ``isolation=False`` builds with this Python's hatchling instead of a fresh build venv.
    """
    if importlib.util.find_spec("build") is None:
        raise ArtifactError("build is not installed in this Python; `pip install build`")
    if not (project / "pyproject.toml").is_file():
        raise ArtifactError(f"{project} is not a staged project (no pyproject.toml)")
    before = set(outdir.glob("*.whl")) if outdir.is_dir() else set()
    command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(project)]
    if not isolation:
        command.insert(-1, "--no-isolation")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    new = sorted(set(outdir.glob("*.whl")) - before)
    if result.returncode != 0 or len(new) != 1:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise ArtifactError(f"building {project} failed: {lines[-1]}")
    return new[0]


@dataclass(frozen=True)
class _Wheel:
    """A wheel's name parts and its entries (name to bytes-free facts)."""

    path: Path
    distribution: str
    version: str
    tag: str


def _parse_wheel_name(path: Path) -> _Wheel | None:
    parts = path.name[: -len(".whl")].split("-")
    if len(parts) != 5:
        return None
    distribution, version, python, abi, plat = parts
    return _Wheel(path, distribution, version, f"{python}-{abi}-{plat}")


def _zip_hash(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_record(
    archive: zipfile.ZipFile, hashes: dict[str, str], sizes: dict[str, int]
) -> list[str]:
    """Compare RECORD with the archive's contents (the index rejects a mismatch)."""
    records = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        return ["no single .dist-info/RECORD"]
    problems: list[str] = []
    listed: set[str] = set()
    for row in csv.reader(io.TextIOWrapper(archive.open(records[0]), encoding="utf-8")):
        if not row:
            continue
        name, hash_field, size = row[0], row[1], row[2]
        listed.add(name)
        if name == records[0]:
            continue
        if name not in hashes:
            problems.append(f"RECORD lists {name}, which is not in the wheel")
            continue
        expected = base64.urlsafe_b64encode(bytes.fromhex(hashes[name])).rstrip(b"=").decode()
        if hash_field != f"sha256={expected}" or size != str(sizes[name]):
            problems.append(f"RECORD does not match the contents of {name}")
    problems.extend(f"{name} is not listed in RECORD" for name in sorted(set(hashes) - listed))
    return problems


def _metadata_lines(archive: zipfile.ZipFile, suffix: str) -> list[str]:
    names = [n for n in archive.namelist() if n.endswith(f".dist-info/{suffix}")]
    if len(names) != 1:
        return []
    return archive.read(names[0]).decode("utf-8").splitlines()


def _header(lines: list[str], key: str) -> list[str]:
    prefix = f"{key}: "
    values = []
    for line in lines:
        if not line:
            break  # the body (long description) starts after the first blank line
        if line.startswith(prefix):
            values.append(line[len(prefix) :])
    return values


def _verify_runtime_wheel(wheel: _Wheel, archive: zipfile.ZipFile) -> tuple[list[str], str | None]:
    """Check one runtime wheel; return its problems and its platform name."""
    problems: list[str] = []
    plat = next((p for p in PLATFORMS.values() if p.wheel_tag == wheel.tag), None)
    if plat is None:
        return [f"tag {wheel.tag} is not one of the runtime wheel tags"], None
    hashes: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name in archive.namelist():
        if not name.endswith("/"):
            hashes[name], sizes[name] = _zip_hash(archive, name)
    problems.extend(_check_record(archive, hashes, sizes))
    wheel_meta = _metadata_lines(archive, "WHEEL")
    if _header(wheel_meta, "Root-Is-Purelib") != ["false"]:
        problems.append("WHEEL must say Root-Is-Purelib: false")
    python, abi, platforms = wheel.tag.split("-")
    expected_tags = {f"{python}-{abi}-{p}" for p in platforms.split(".")}
    if set(_header(wheel_meta, "Tag")) != expected_tags:
        problems.append(f"WHEEL tags {_header(wheel_meta, 'Tag')} do not match the file name")
    package = "codex_cli_bin/"
    try:
        info = json.loads(archive.read(package + BUILD_INFO_NAME))
        manifest = json.loads(archive.read(package + MANIFEST_NAME))
    except (KeyError, ValueError) as error:
        return [*problems, f"cannot read {BUILD_INFO_NAME} or {MANIFEST_NAME}: {error}"], plat.name
    if info.get("version") != wheel.version or manifest.get("version") != wheel.version:
        problems.append(
            f"version {wheel.version} differs from build-info {info.get('version')} "
            f"or {MANIFEST_NAME} {manifest.get('version')}"
        )
    if info.get("wheel_tag") != wheel.tag or manifest.get("target") != plat.target:
        problems.append(f"build-info or {MANIFEST_NAME} does not describe {plat.name}")
    recorded: dict[str, str] = info.get("sha256", {})
    entrypoint = str(manifest.get("entrypoint"))
    if entrypoint != plat.entrypoint:
        problems.append(f"the entrypoint is {entrypoint}, not {plat.entrypoint}")
    if entrypoint not in recorded:
        problems.append(f"the entrypoint {entrypoint} has no recorded sha256")
    # A Windows program without .exe cannot be started by name; an .exe elsewhere means the
    # wrong platform's files were staged under this tag.
    problems.extend(
        f"{package}{relative} is {'not ' if plat.is_windows else ''}a Windows .exe"
        for relative in recorded
        if _is_executable_path(relative) and relative.endswith(".exe") != plat.is_windows
    )
    for relative, digest in recorded.items():
        name = package + relative
        if name not in hashes:
            problems.append(f"{name} is recorded in build-info but missing")
        elif hashes[name] != digest:
            problems.append(f"{name} does not match its recorded sha256")
        elif not plat.is_windows and _is_executable_path(relative):
            mode = (archive.getinfo(name).external_attr >> 16) & 0o777
            if mode & 0o111 != 0o111:
                problems.append(f"{name} is not executable (mode {mode:o})")
    for name in hashes:
        inner = name.removeprefix(package)
        own_file = inner.endswith(".py") or inner in ("py.typed", BUILD_INFO_NAME)
        if name.startswith(package) and inner not in recorded and not own_file:
            problems.append(f"{name} is neither vendored (recorded) nor part of codex_cli_bin")
    return problems, plat.name


def _verify_sdk_wheel(wheel: _Wheel, archive: zipfile.ZipFile) -> tuple[list[str], str | None]:
    """Check the SDK wheel; return its problems and the runtime version it pins."""
    problems = [] if wheel.tag == "py3-none-any" else [f"tag {wheel.tag} is not py3-none-any"]
    pins = [
        match.group(1)
        for line in _header(_metadata_lines(archive, "METADATA"), "Requires-Dist")
        if (match := SDK_PIN.match(line))
    ]
    if len(pins) != 1:
        return [*problems, f"expected one codex-cli-bin==V requirement, found {pins}"], None
    if not re.fullmatch(rf"{re.escape(pins[0])}(\.post\d+)?", wheel.version):
        problems.append(f"version {wheel.version} is not {pins[0]} or a post-release of it")
    return problems, pins[0]


def verify(dist: Path, require_all_platforms: bool = False) -> list[str]:
    """Check every file in ``dist``; return the problems found (empty when all is well).

    Checks names, tags, one consistent version, the SDK's pin against the runtime's version,
    executable bits, recorded sha256 against the vendored files, RECORD, no runtime sdist, and
    ``twine check --strict``.
    """
    if not dist.is_dir():
        raise ArtifactError(f"{dist} is not a directory")
    files = sorted(path for path in dist.iterdir() if path.is_file())
    if not any(path.suffix == ".whl" for path in files):
        raise ArtifactError(f"{dist} holds no wheels")
    problems: list[str] = []
    runtime_versions: dict[str, set[str]] = {}
    pins: set[str] = set()
    for path in files:
        wheel = _parse_wheel_name(path) if path.suffix == ".whl" else None
        if path.name.startswith(f"{RUNTIME_DIST}-") and path.name.endswith(".tar.gz"):
            problems.append(f"{path.name}: codex-cli-bin must not ship an sdist")
            continue
        if path.name.startswith(f"{SDK_DIST}-") and path.name.endswith(".tar.gz"):
            continue
        if wheel is None or wheel.distribution not in (RUNTIME_DIST, SDK_DIST):
            problems.append(f"{path.name}: not a wheel of codex-cli-bin or codex-app-server-sdk")
            continue
        found: list[str]
        with zipfile.ZipFile(path) as archive:
            if wheel.distribution == RUNTIME_DIST:
                found, plat_name = _verify_runtime_wheel(wheel, archive)
                if plat_name is not None:
                    runtime_versions.setdefault(plat_name, set()).add(wheel.version)
            else:
                found, pin = _verify_sdk_wheel(wheel, archive)
                pins.update([pin] if pin else [])
        problems.extend(f"{path.name}: {problem}" for problem in found)
    problems.extend(
        f"{name}: {len(versions)} runtime wheels ({', '.join(sorted(versions))})"
        for name, versions in runtime_versions.items()
        if len(versions) > 1
    )
    versions = set().union(*runtime_versions.values()) | pins
    if len(versions) > 1:
        problems.append(f"runtime versions and SDK pin disagree: {', '.join(sorted(versions))}")
    if require_all_platforms:
        missing = sorted(set(PLATFORMS) - set(runtime_versions))
        problems.extend(f"no runtime wheel for {name}" for name in missing)
        if not pins:
            problems.append("no codex-app-server-sdk wheel")
    problems.extend(_twine_check(files))
    return problems


def _twine_check(files: list[Path]) -> list[str]:
    if importlib.util.find_spec("twine") is None:
        raise ArtifactError("twine is not installed in this Python; `pip install twine`")
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    return [f"twine check --strict: {line}" for line in result.stdout.splitlines() if line]


def copy_runtime(version: str, platform: str, dest: Path, lock: Path | None = None) -> Path:
    """Fetch (or reuse the cached) runtime and copy its ``vendor/<target>/`` into ``dest``."""
    _require_empty(dest)
    vendor = fetch_runtime(version, platform, lock)
    with _new_dir(dest) as tmp:
        shutil.copytree(vendor, tmp, dirs_exist_ok=True)
    return dest


def runtime_wheel(version: str, platform: str) -> Path:
    """Return one platform's runtime wheel, built once per binary and staging code, cached.

    Building deflates a few hundred MB, so the wheel is kept under ``cache_root()/wheels``,
    keyed by the version, the platform, the entrypoint's sha256 and the content of the runtime
    template and this script: a change to any of them builds afresh. It is built with this
    Python's hatchling (``build --no-isolation``), next to its final place and renamed, so an
    interrupted build leaves no wheel.
    """
    vendor = fetch_runtime(version, platform)
    key = hashlib.sha256(f"{version}\n{platform}\n".encode())
    key.update(sha256_file(vendor / str(read_manifest(vendor)["entrypoint"])).encode())
    template = sorted(
        path
        for path in RUNTIME_SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    for path in [*template, Path(__file__).resolve()]:
        key.update(path.name.encode())
        key.update(sha256_file(path).encode())
    wheels = cache_root() / "wheels"
    out = wheels / f"codex-cli-bin-{version}-{platform}-{key.hexdigest()[:20]}"
    built = sorted(out.glob("*.whl"))
    if built:
        return built[0]
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        stage = stage_runtime(Path(tmp, "stage"), vendor, version, platform)
        build_wheel(stage, Path(tmp, "dist"), isolation=False)
        Path(tmp, "dist").rename(out)
    return next(out.glob("*.whl"))


def generate_types(codex_bin: Path | None) -> None:
    """Regenerate the SDK's models from ``codex_bin`` (default: the pinned, fetched runtime)."""
    version = read_runtime_version()
    if codex_bin is None:
        codex_bin = (
            fetch_runtime(version, host_platform()) / platform_named(host_platform()).entrypoint
        )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sdk_codegen import SchemaError
    from sdk_codegen import generate_types as generate

    try:
        generate(codex_bin, version)
    except SchemaError as error:
        # One line naming the schema path; the generator says what to extend.
        raise ArtifactError(f"cannot generate the models: {error}") from None


def generated_figures(generated: Path = GENERATED_DIR) -> str:
    """The Markdown block of figures computed from a generated package (files, size, names).

    Docs quote these between ``FIGURES_BEGIN`` and ``FIGURES_END``; the bump rewrites them and
    ``tests/test_versions.py`` fails when they are stale.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from protocol_diff import TABLES, snapshot

    files = sorted(
        path for path in generated.rglob("*") if path.is_file() and path.suffix != ".pyc"
    )
    files = [path for path in files if "__pycache__" not in path.parts]
    size = sum(path.stat().st_size for path in files)
    found = snapshot(generated)
    counts = ", ".join(f"{len(found.methods[table])} {label}" for table, label in TABLES.items())
    return (
        f"- {len(files)} files, {size / 1e6:.2f} MB of source, {len(found.public):,} public names"
        " (classes, enums and union aliases).\n"
        f"- {counts}."
    )


def update_figures(docs: Sequence[Path] = FIGURE_DOCS) -> list[Path]:
    """Rewrite the figures block of each doc from the generated package; return those changed."""
    block = f"{FIGURES_BEGIN}\n{generated_figures()}\n{FIGURES_END}"
    changed = []
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        start, end = text.find(FIGURES_BEGIN), text.find(FIGURES_END)
        if start < 0 or end < start:
            raise ArtifactError(f"{doc} has no figures block ({FIGURES_BEGIN} ... {FIGURES_END})")
        new = text[:start] + block + text[end + len(FIGURES_END) :]
        if new != text:
            doc.write_text(new, encoding="utf-8")
            changed.append(doc)
    return changed


def add_changelog_entry(summary: str, changelog: Path = CHANGELOG) -> None:
    """Add the protocol summary to the ``[Unreleased]`` section of the changelog.

    The next release (tagged with the pinned version) turns ``[Unreleased]`` into its entry,
    together with the SDK's own changes listed there.
    """
    text = changelog.read_text(encoding="utf-8")
    heading = "## [Unreleased]\n"
    at = text.find(heading)
    if at < 0:
        raise ArtifactError(f"{changelog} has no '## [Unreleased]' section")
    first_line, _, rest = summary.partition("\n")
    entry = f"\n### Codex runtime\n\n{first_line}\n\n{rest}\n"
    at += len(heading)
    changelog.write_text(text[:at] + entry + text[at:], encoding="utf-8")


@contextlib.contextmanager
def _step(name: str, times: list[tuple[str, float]]) -> Iterator[None]:
    """Time one step of the bump, print it, and keep it for the summary."""
    print(f"bump: {name} ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    yield
    times.append((name, time.monotonic() - start))
    print(f"bump: {name}: {times[-1][1]:.1f} s", file=sys.stderr, flush=True)


def bump(version: str, *, record: bool = True) -> str:
    """Move the pin to ``version``: fetch, regenerate, re-record, update figures and changelog.

    Nothing is written until the new runtime's models generated cleanly, so a schema the
    generator cannot map (one ``error:`` line) leaves the tree as it was. Returns the
    protocol summary (also added to CHANGELOG.md), followed by the time each step took.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import protocol_diff
    from sdk_codegen import SchemaError
    from sdk_codegen import generate_types as generate

    _check_version(version)
    old_version = read_runtime_version()
    times: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="codex-bump-") as tmp:
        # Nothing is fetched that the lock does not list: the registry's digests of every
        # platform go into the lock first, for review in the bump's diff.
        with _step(f"lock the {version} packages' digests", times):
            write_lock(version, list(PLATFORMS))
        with _step(f"fetch the {version} runtime", times):
            binary = (
                fetch_runtime(version, host_platform()) / platform_named(host_platform()).entrypoint
            )
            _check_binary_version(binary, version)
        with _step("generate the models", times):
            old_src = Path(tmp, "old")
            shutil.copytree(SDK_SOURCE / "src", old_src)
            fresh = Path(tmp, "generated")
            try:
                generate(binary, version, fresh)
            except SchemaError as error:
                raise ArtifactError(f"cannot generate the models: {error}") from None
            VERSION_FILE.write_text(
                _stamp(VERSION_FILE.read_text("utf-8"), "RUNTIME_VERSION", version, VERSION_FILE),
                encoding="utf-8",
            )
            shutil.rmtree(GENERATED_DIR)
            shutil.copytree(fresh, GENERATED_DIR)
        if record:
            with _step("re-record benchmarks/recorded.json", times):
                env = {**os.environ, "PYTHONPATH": str(SDK_SOURCE / "src")}
                script = Path(__file__).resolve().parent / "record_notifications.py"
                command = [sys.executable, str(script), "--codex-bin", str(binary)]
                result = subprocess.run(
                    [*command, "--out", str(RECORDING)], capture_output=True, text=True, env=env
                )
                if result.returncode != 0:
                    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                    raise ArtifactError(f"recording the notifications failed: {last}")
        with _step("update the figures in the docs", times):
            update_figures()
        with _step("compare the protocol and the public API (griffe)", times):
            try:
                breaks = protocol_diff.api_breaks(old_src, SDK_SOURCE / "src")
            except RuntimeError as error:
                raise ArtifactError(str(error)) from None
            summary = protocol_diff.summarize(
                protocol_diff.snapshot(old_src / "codex_app_server" / "generated"),
                protocol_diff.snapshot(GENERATED_DIR),
                breaks,
            )
            if old_version != version:
                add_changelog_entry(summary)
    took = "\n".join(f"- {name}: {seconds:.1f} s" for name, seconds in times)
    return f"{summary}\n\nSteps:\n{took}"


def _cmd_bump(args: argparse.Namespace) -> int:
    report = bump(args.version, record=not args.no_record)
    if args.summary is not None:
        args.summary.write_text(report + "\n", encoding="utf-8")
    print(report)
    return 0


def _cmd_runtime_version(args: argparse.Namespace) -> int:
    print(read_runtime_version())
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    version = args.runtime_version or read_runtime_version()
    print(copy_runtime(version, args.platform or host_platform(), args.dest, args.lock))
    return 0


def _cmd_lock(args: argparse.Namespace) -> int:
    version = args.runtime_version or read_runtime_version()
    print(write_lock(version, args.platform or tuple(PLATFORMS), args.lock))
    return 0


def _cmd_stage_runtime(args: argparse.Namespace) -> int:
    print(stage_runtime(args.dir, args.path, args.runtime_version, args.platform))
    return 0


def _cmd_stage_sdk(args: argparse.Namespace) -> int:
    print(stage_sdk(args.dir, args.runtime_version, args.sdk_version))
    return 0


def _cmd_build_wheel(args: argparse.Namespace) -> int:
    print(build_wheel(args.dir, args.outdir, isolation=not args.no_isolation))
    return 0


def _cmd_runtime_wheel(args: argparse.Namespace) -> int:
    version = args.runtime_version or read_runtime_version()
    print(runtime_wheel(version, args.platform or host_platform()))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    problems = verify(args.dist, args.all_platforms)
    if problems:
        # Like any bad input: one `error:` line (main prints it) and exit code 2.
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ArtifactError(f"{args.dist} does not check out, {count}: {'; '.join(problems)}")
    print(f"{args.dist}: all artifacts check out")
    return 0


def _cmd_generate_types(args: argparse.Namespace) -> int:
    generate_types(args.codex_bin)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="update_sdk_artifacts.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(handler=handler)
        return sub

    command(
        "runtime-version",
        "Print the pinned runtime version (RUNTIME_VERSION in codex_app_server/_version.py).",
        _cmd_runtime_version,
    )

    fetch = command(
        "fetch-runtime",
        "Fetch @openai/codex@V-P with npm pack (cached) and unpack its vendor/<target>/ into DEST.",
        _cmd_fetch,
    )
    fetch.add_argument("--runtime-version", metavar="V", help="default: the pinned version")
    fetch.add_argument("--platform", metavar="P", help=f"one of {', '.join(PLATFORMS)}")
    fetch.add_argument("dest", type=Path, metavar="DEST", help="new or empty directory")
    fetch.add_argument(
        "--lock",
        type=Path,
        metavar="FILE",
        help=f"digests to check against (default: {LOCK_FILE.name})",
    )

    lock = command(
        "lock",
        "Record the registry's sha512 of @openai/codex@V-P (and the binary's sha256, when the "
        "package is cached) in the runtime lock, for review in the diff.",
        _cmd_lock,
    )
    lock.add_argument("--runtime-version", metavar="V", help="default: the pinned version")
    lock.add_argument(
        "--platform",
        metavar="P",
        action="append",
        help="repeatable; default: all six platforms",
    )
    lock.add_argument(
        "--lock", type=Path, metavar="FILE", help=f"the lock to update (default: {LOCK_FILE.name})"
    )

    runtime = command(
        "stage-runtime",
        "Write a buildable codex-cli-bin project for one platform.",
        _cmd_stage_runtime,
    )
    runtime.add_argument("dir", type=Path, metavar="DIR", help="new or empty directory")
    runtime.add_argument(
        "path", type=Path, metavar="PATH", help="a codex binary or an unpacked package dir"
    )
    runtime.add_argument("--runtime-version", metavar="V", required=True)
    runtime.add_argument(
        "--platform", metavar="P", help="default: from codex-package.json, else this machine"
    )

    sdk = command("stage-sdk", "Write a buildable codex-app-server-sdk project.", _cmd_stage_sdk)
    sdk.add_argument("dir", type=Path, metavar="DIR", help="new or empty directory")
    sdk.add_argument("--runtime-version", metavar="V", required=True)
    sdk.add_argument("--sdk-version", metavar="S", help="V (default) or a post-release of V")

    wheel = command(
        "build-wheel",
        "Build a staged project's wheel into OUTDIR, reproducibly (SOURCE_DATE_EPOCH pinned).",
        _cmd_build_wheel,
    )
    wheel.add_argument("dir", type=Path, metavar="DIR", help="a tree written by stage-*")
    wheel.add_argument("--outdir", type=Path, metavar="OUTDIR", required=True)
    wheel.add_argument(
        "--no-isolation",
        action="store_true",
        help="build with this Python's hatchling instead of a fresh build environment",
    )

    cached = command(
        "runtime-wheel",
        "Print the path of one platform's runtime wheel, fetched, staged and built once (cached).",
        _cmd_runtime_wheel,
    )
    cached.add_argument("--runtime-version", metavar="V", help="default: the pinned version")
    cached.add_argument("--platform", metavar="P", help="default: this machine's")

    check = command("verify", "Check the wheels in DIST before publishing.", _cmd_verify)
    check.add_argument("dist", type=Path, metavar="DIST")
    check.add_argument(
        "--all-platforms",
        action="store_true",
        help="also require a runtime wheel for every platform and the SDK wheel (a release)",
    )

    bump_cmd = command(
        "bump",
        "Move the pin to V: fetch, regenerate, re-record, update figures and CHANGELOG.md, and "
        "print what changed in the protocol.",
        _cmd_bump,
    )
    bump_cmd.add_argument("version", metavar="V", help="the new Codex runtime version")
    bump_cmd.add_argument(
        "--no-record", action="store_true", help="keep benchmarks/recorded.json as it is"
    )
    bump_cmd.add_argument(
        "--summary", type=Path, metavar="FILE", help="also write the summary to FILE (Markdown)"
    )

    types = command(
        "generate-types",
        "Regenerate the SDK's generated models from the runtime's JSON schema.",
        _cmd_generate_types,
    )
    types.add_argument(
        "--codex-bin", type=Path, metavar="PATH", help="default: the pinned runtime, fetched"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad input ends with one ``error:`` line and exit code 2."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ArtifactError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
