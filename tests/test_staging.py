"""Staging and building every platform's runtime wheel, and the SDK, from stand-in files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _runtime_fixture import (
    ROOT,
    VERSION,
    artifacts,
    build_wheel,
    make_package,
    run_tool,
    zip_mode,
)
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = pytest.mark.slow

OTHER_VERSION = "0.1.0"


@pytest.fixture(scope="module")
def runtime_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One stand-in runtime wheel per platform, staged with the CLI and built with build."""
    root = tmp_path_factory.mktemp("runtime")
    wheels = {}
    for name in artifacts.PLATFORMS:
        package = make_package(root / "packages" / name, name)
        staged = root / "staged" / name
        result = run_tool("stage-runtime", staged, package, "--runtime-version", VERSION)
        assert result.returncode == 0, result.stderr
        wheels[name] = build_wheel(staged, root / "dist" / name)
    return wheels


@pytest.fixture
def sdk_source(tmp_path: Path) -> Path:
    """A copy of the SDK project whose generated code claims the pinned runtime version."""
    source = tmp_path / "sdk-source"
    shutil.copytree(
        ROOT / "packages" / "codex-app-server-sdk",
        source,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    generated = source / artifacts.GENERATED_INIT
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(f'GENERATED_FROM_RUNTIME = "{VERSION}"\n', encoding="utf-8")
    return source


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _read(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name).decode()


@pytest.mark.parametrize("name", list(artifacts.PLATFORMS))
def test_each_platform_wheel_has_its_tag_layout_and_stamps(
    runtime_wheels: dict[str, Path], name: str
) -> None:
    plat = artifacts.platform_named(name)
    wheel = runtime_wheels[name]
    assert wheel.name == f"codex_cli_bin-{VERSION}-{plat.wheel_tag}.whl"
    names = _names(wheel)
    exe = ".exe" if plat.is_windows else ""
    vendored = {
        "codex_cli_bin/codex-package.json",
        f"codex_cli_bin/{plat.entrypoint}",
        f"codex_cli_bin/bin/codex-code-mode-host{exe}",
        f"codex_cli_bin/codex-path/rg{exe}",
    }
    if name.startswith("linux"):
        vendored.add("codex_cli_bin/codex-resources/bwrap")
    assert vendored <= names
    assert not [n for n in names if "voice" in n]
    assert f'__version__ = "{VERSION}"' in _read(wheel, "codex_cli_bin/_version.py")
    assert f"Version: {VERSION}\n" in _read(wheel, f"codex_cli_bin-{VERSION}.dist-info/METADATA")
    assert "Root-Is-Purelib: false" in _read(wheel, f"codex_cli_bin-{VERSION}.dist-info/WHEEL")
    info = json.loads(_read(wheel, "codex_cli_bin/build-info.json"))
    with zipfile.ZipFile(wheel) as archive:
        binary = archive.read(f"codex_cli_bin/{plat.entrypoint}")
    assert info["sha256"][plat.entrypoint] == hashlib.sha256(binary).hexdigest()
    assert (info["target"], info["version"]) == (plat.target, VERSION)
    if not plat.is_windows:
        for member in vendored - {"codex_cli_bin/codex-package.json"}:
            assert zip_mode(wheel, member) == 0o755, member
        assert zip_mode(wheel, "codex_cli_bin/codex-package.json") == 0o644


def test_verify_accepts_every_platform_with_the_sdk(
    runtime_wheels: dict[str, Path], sdk_source: Path, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for wheel in runtime_wheels.values():
        shutil.copy(wheel, dist)
    staged = artifacts.stage_sdk(tmp_path / "sdk", VERSION, sdk_source=sdk_source)
    build_wheel(staged, dist)
    result = run_tool("verify", dist, "--all-platforms")
    assert result.returncode == 0, result.stderr
    assert "check out" in result.stdout


def test_verify_requires_every_platform_for_a_release(
    runtime_wheels: dict[str, Path], tmp_path: Path
) -> None:
    shutil.copy(runtime_wheels["linux-x64"], tmp_path)
    problems = artifacts.verify(tmp_path, require_all_platforms=True)
    assert "no runtime wheel for darwin-arm64" in problems
    assert "no codex-app-server-sdk wheel" in problems
    assert artifacts.verify(tmp_path) == []


def test_verify_of_an_incomplete_release_is_one_error_line(
    runtime_wheels: dict[str, Path], tmp_path: Path
) -> None:
    # docs/runtime-package.md: "Bad input ends with one `error:` line and exit code 2".
    shutil.copy(runtime_wheels["linux-x64"], tmp_path)
    result = run_tool("verify", "--all-platforms", tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    missing = len(artifacts.PLATFORMS) - 1 + 1  # the other platforms and the SDK wheel
    assert line.startswith(f"error: {tmp_path} does not check out, {missing} problems: ")
    assert "no runtime wheel for darwin-arm64" in line
    assert "no codex-app-server-sdk wheel" in line


def _rewrite(wheel: Path, out: Path, change: dict[str, tuple[bytes | None, int | None]]) -> Path:
    """Copy a wheel member by member, replacing content and/or mode, without fixing RECORD."""
    target = out / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w") as sink:
        for info in source.infolist():
            data = source.read(info)
            content, mode = change.get(info.filename, (None, None))
            if mode is not None:
                info.external_attr = (0o100000 | mode) << 16
            sink.writestr(info, data if content is None else content)
    return target


def test_verify_reports_a_tampered_binary(runtime_wheels: dict[str, Path], tmp_path: Path) -> None:
    _rewrite(runtime_wheels["linux-x64"], tmp_path, {"codex_cli_bin/bin/codex": (b"evil", None)})
    result = run_tool("verify", tmp_path)
    assert result.returncode == 2
    assert "codex_cli_bin/bin/codex does not match its recorded sha256" in result.stderr
    assert "RECORD does not match the contents of codex_cli_bin/bin/codex" in result.stderr


def test_verify_reports_a_lost_exec_bit(runtime_wheels: dict[str, Path], tmp_path: Path) -> None:
    _rewrite(
        runtime_wheels["darwin-arm64"], tmp_path, {"codex_cli_bin/codex-path/rg": (None, 0o644)}
    )
    problems = artifacts.verify(tmp_path)
    assert any("codex_cli_bin/codex-path/rg is not executable" in p for p in problems), problems


def test_verify_reports_a_runtime_sdist_and_mixed_versions(
    runtime_wheels: dict[str, Path], sdk_source: Path, tmp_path: Path
) -> None:
    shutil.copy(runtime_wheels["linux-x64"], tmp_path)
    (tmp_path / f"codex_cli_bin-{VERSION}.tar.gz").write_bytes(b"")
    generated = sdk_source / artifacts.GENERATED_INIT
    generated.write_text(f'GENERATED_FROM_RUNTIME = "{OTHER_VERSION}"\n', encoding="utf-8")
    staged = artifacts.stage_sdk(tmp_path / "sdk", OTHER_VERSION, sdk_source=sdk_source)
    build_wheel(staged, tmp_path)
    problems = artifacts.verify(tmp_path)
    assert f"codex_cli_bin-{VERSION}.tar.gz: codex-cli-bin must not ship an sdist" in problems
    assert f"runtime versions and SDK pin disagree: {OTHER_VERSION}, {VERSION}" in problems


def test_stage_from_a_bare_binary_synthesizes_the_manifest(tmp_path: Path) -> None:
    package = make_package(tmp_path / "pkg", "linux-arm64")
    staged = tmp_path / "staged"
    result = run_tool(
        "stage-runtime", staged, package / "bin" / "codex", "--runtime-version", VERSION
    )
    assert result.returncode == 0, result.stderr
    # bin/codex inside an unpacked package stages the whole package
    assert (staged / "vendor" / "codex-path" / "rg").is_file()

    bare = tmp_path / "codex"
    shutil.copy2(package / "bin" / "codex", bare)
    staged = tmp_path / "staged-bare"
    result = run_tool(
        "stage-runtime", staged, bare, "--runtime-version", VERSION, "--platform", "linux-arm64"
    )
    assert result.returncode == 0, result.stderr
    wheel = build_wheel(staged, tmp_path / "dist")
    assert wheel.name.endswith("musllinux_1_2_aarch64.whl")
    manifest = json.loads(_read(wheel, "codex_cli_bin/codex-package.json"))
    assert manifest["target"] == "aarch64-unknown-linux-musl"
    assert manifest["version"] == VERSION
    assert zip_mode(wheel, "codex_cli_bin/bin/codex") == 0o755


def test_building_an_sdist_is_refused(tmp_path: Path) -> None:
    package = make_package(tmp_path / "pkg", "win32-x64")
    staged = tmp_path / "staged"
    assert run_tool("stage-runtime", staged, package, "--runtime-version", VERSION).returncode == 0
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(staged),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "platform wheels only" in result.stdout + result.stderr
    assert not list((tmp_path / "dist").glob("*.tar.gz"))


def test_building_the_unstaged_template_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT / "packages" / "codex-cli-bin"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "unstaged codex-cli-bin template" in result.stdout + result.stderr


def _refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


def _nothing_written(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".staged")]
    assert not (parent / "staged").exists()


def test_stage_runtime_refusals_leave_nothing_behind(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    good = make_package(tmp_path / "good", "linux-x64")

    _refused(
        run_tool("stage-runtime", staged, tmp_path / "nowhere", "--runtime-version", VERSION),
        "no codex binary or unpacked Codex package",
    )
    _refused(
        run_tool(
            "stage-runtime", staged, good, "--runtime-version", VERSION, "--platform", "solaris-x64"
        ),
        "unknown platform 'solaris-x64'",
    )
    _refused(
        run_tool(
            "stage-runtime",
            staged,
            good,
            "--runtime-version",
            VERSION,
            "--platform",
            "darwin-arm64",
        ),
        "holds the linux-x64 runtime, not darwin-arm64",
    )
    _refused(
        run_tool("stage-runtime", staged, good, "--runtime-version", "latest"),
        "'latest' is not of the form",
    )
    _refused(
        run_tool("stage-runtime", staged, good, "--runtime-version", OTHER_VERSION),
        f"holds Codex {VERSION}, not {OTHER_VERSION}",
    )

    no_binary = make_package(tmp_path / "no-binary", "linux-arm64")
    (no_binary / "bin" / "codex").unlink()
    _refused(
        run_tool("stage-runtime", staged, no_binary, "--runtime-version", VERSION), "is missing"
    )

    not_executable = make_package(tmp_path / "not-executable", "darwin-x64")
    (not_executable / "bin" / "codex").chmod(0o644)
    if os.name == "posix":  # Windows files have no exec bit to check
        _refused(
            run_tool("stage-runtime", staged, not_executable, "--runtime-version", VERSION),
            "is not executable",
        )

    # The host's binary runs, so a binary reporting another version is refused.
    host = artifacts.host_platform()
    lying = make_package(tmp_path / "lying", host, reported_version=OTHER_VERSION)
    _refused(
        run_tool("stage-runtime", staged, lying, "--runtime-version", VERSION),
        f"reports 'codex-cli {OTHER_VERSION}', not codex-cli {VERSION}",
    )
    _nothing_written(tmp_path)

    staged.mkdir()
    (staged / "keep.txt").write_text("user data", encoding="utf-8")
    _refused(
        run_tool("stage-runtime", staged, good, "--runtime-version", VERSION),
        "is not an empty directory",
    )
    assert [p.name for p in staged.iterdir()] == ["keep.txt"]


def test_stage_runtime_into_an_empty_directory(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    package = make_package(tmp_path / "pkg", "linux-x64")
    result = run_tool("stage-runtime", staged, package, "--runtime-version", VERSION)
    assert result.returncode == 0, result.stderr
    assert os.access(staged / "vendor" / "bin" / "codex", os.X_OK)
    assert not (staged / "vendor" / "codex-resources" / "voice").exists()


def test_stage_sdk_stamps_a_post_release(sdk_source: Path, tmp_path: Path) -> None:
    post = f"{VERSION}.post1"
    staged = artifacts.stage_sdk(tmp_path / "sdk", VERSION, post, sdk_source=sdk_source)
    version_file = (staged / "src" / "codex_app_server" / "_version.py").read_text("utf-8")
    assert f'__version__ = "{post}"' in version_file
    wheel = build_wheel(staged, tmp_path / "dist")
    assert wheel.name == f"codex_app_server_sdk-{post}-py3-none-any.whl"
    metadata = _read(wheel, f"codex_app_server_sdk-{post}.dist-info/METADATA")
    assert f"Version: {post}\n" in metadata
    assert f"Requires-Dist: codex-cli-bin=={VERSION}\n" in metadata
    hook = tomllib.loads((staged / "pyproject.toml").read_text("utf-8"))["tool"]["hatch"]
    configured = hook["metadata"]["hooks"]["custom"]["dependencies"]
    assert configured
    for requirement in configured:
        assert f"Requires-Dist: {Requirement(requirement)}\n" in metadata


@pytest.mark.parametrize(
    ("runtime", "sdk", "generated", "message"),
    [
        (VERSION, None, None, "generated code missing; run generate-types"),
        (VERSION, None, OTHER_VERSION, f"generated code is from runtime {OTHER_VERSION}"),
        (VERSION, f"{VERSION}1", VERSION, "must be"),  # another version, not a post-release
        (VERSION, f"{VERSION}.dev1", VERSION, "must be"),
        ("1", None, VERSION, "is not of the form"),
    ],
)
def test_stage_sdk_refusals(
    sdk_source: Path,
    tmp_path: Path,
    runtime: str,
    sdk: str | None,
    generated: str | None,
    message: str,
) -> None:
    init = sdk_source / artifacts.GENERATED_INIT
    if generated is None:
        init.unlink()
    else:
        init.write_text(f'GENERATED_FROM_RUNTIME = "{generated}"\n', encoding="utf-8")
    with pytest.raises(artifacts.ArtifactError, match=message):
        artifacts.stage_sdk(tmp_path / "staged", runtime, sdk, sdk_source=sdk_source)
    _nothing_written(tmp_path)


def test_stage_sdk_cli_refuses_a_bad_sdk_version(tmp_path: Path) -> None:
    result = run_tool(
        "stage-sdk", tmp_path / "staged", "--runtime-version", VERSION, "--sdk-version", "2.0"
    )
    _refused(result, "SDK version '2.0' must be")
    _nothing_written(tmp_path)


def test_the_repository_sdk_builds_with_the_pin(tmp_path: Path) -> None:
    wheel = build_wheel(ROOT / "packages" / "codex-app-server-sdk", tmp_path)
    assert wheel.name == f"codex_app_server_sdk-{VERSION}-py3-none-any.whl"
    metadata = _read(wheel, f"codex_app_server_sdk-{VERSION}.dist-info/METADATA")
    assert f"Requires-Dist: codex-cli-bin=={VERSION}\n" in metadata
