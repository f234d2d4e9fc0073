"""scripts/native_wheel.py: cibuildwheel's repair step adopts only a release wheel it matches."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import native_wheel

NAME = "codex_cli_bin-1.2.3-py3-none-manylinux_2_17_x86_64.whl"


def make_wheel(path: Path, binary: bytes, generator: str = "hatchling 1.0") -> Path:
    """A small wheel: a payload file and a dist-info whose generator line may differ."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("codex_cli_bin/bin/codex", binary)
        archive.writestr("codex_cli_bin-1.2.3.dist-info/WHEEL", f"Generator: {generator}\n")
    return path


def test_a_matching_release_wheel_replaces_the_native_build(tmp_path: Path) -> None:
    built = make_wheel(tmp_path / "built" / NAME, b"binary", generator="hatchling 9.9")
    release = make_wheel(tmp_path / "release" / NAME, b"binary")
    status = native_wheel.main(
        ["adopt", str(built), str(tmp_path / "dest"), "--release", str(release.parent)]
    )
    assert status == 0
    assert (tmp_path / "dest" / NAME).read_bytes() == release.read_bytes()


def test_a_release_wheel_with_other_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = make_wheel(tmp_path / "built" / NAME, b"binary")
    release = make_wheel(tmp_path / "release" / NAME, b"tampered")
    status = native_wheel.main(
        ["adopt", str(built), str(tmp_path / "dest"), "--release", str(release.parent)]
    )
    assert status == 2
    assert capsys.readouterr().err == (
        f"error: {NAME}: the release wheel's files differ from the native build's: "
        "codex_cli_bin/bin/codex\n"
    )
    assert not (tmp_path / "dest").exists()


def test_a_native_build_the_release_lacks_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = make_wheel(tmp_path / "built" / NAME, b"binary")
    other = NAME.replace("manylinux_2_17_x86_64", "musllinux_1_2_x86_64")
    make_wheel(tmp_path / "release" / other, b"binary")
    status = native_wheel.main(
        ["adopt", str(built), str(tmp_path / "dest"), "--release", str(tmp_path / "release")]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the native build made {NAME}, which the release lacks")
    assert other in err
