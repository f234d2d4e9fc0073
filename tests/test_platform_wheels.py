"""The Linux aarch64 runtime wheel, proven on this machine: installed, then a real turn under qemu.

The released Linux binaries are static, so Debian's ``qemu-aarch64-static`` runs the aarch64
one on an x86_64 host. The wheel is staged and built exactly as a release builds it, installed
with pip for its own platform, and its binary drives a whole turn (an approved command) against
the scripted model, through the SDK. On an aarch64 Linux host the binary runs natively.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _runtime_fixture import VERSION, artifacts
from codex_app_server import Codex, final_text
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    exec_command,
    message,
    response,
    write_codex_home,
)

pytestmark = pytest.mark.slow

QEMU = "qemu-aarch64-static"
NATIVE = sys.platform == "linux" and platform.machine().lower() in ("aarch64", "arm64")


def _runner() -> list[str]:
    """What to put before the aarch64 binary to run it here, or skip saying why it cannot run."""
    if NATIVE:
        return []
    if sys.platform != "linux":
        pytest.skip("the linux-arm64 binary runs only on Linux (natively or under qemu-user)")
    qemu = shutil.which(QEMU)
    if qemu is None:
        pytest.skip(f"{QEMU} is not installed (Debian: apt-get install qemu-user-static)")
    return [qemu]


@pytest.fixture(scope="module")
def aarch64_codex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The linux-arm64 wheel's binary, installed by pip, behind a wrapper that runs it here."""
    runner = _runner()
    wheel = artifacts.runtime_wheel(VERSION, "linux-arm64")
    target = tmp_path_factory.mktemp("aarch64-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_17_aarch64",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    binary = target / "codex_cli_bin" / "bin" / "codex"
    assert os.access(binary, os.X_OK), "pip installed the binary without its exec bit"
    wrapper = target / "codex-aarch64"
    wrapper.write_text(
        "#!/bin/sh\nexec " + " ".join([*runner, f'"{binary}"']) + ' "$@"\n', encoding="utf-8"
    )
    wrapper.chmod(0o755)
    return wrapper


def test_the_aarch64_wheel_is_tagged_for_glibc_and_musl() -> None:
    tags = artifacts.platform_named("linux-arm64").wheel_tag
    assert "manylinux_2_17_aarch64" in tags
    assert "musllinux_1_2_aarch64" in tags


def test_the_aarch64_binary_reports_the_pinned_version(aarch64_codex: Path) -> None:
    result = subprocess.run(
        [str(aarch64_codex), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"codex-cli {VERSION}"


def test_the_aarch64_binary_runs_a_turn_with_an_approved_command(
    aarch64_codex: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    asked: list[str] = []

    def approve(request: object) -> bool:
        asked.append(str(getattr(request, "command", "")))
        return True

    script = (
        response(exec_command("echo arm64 > proof.txt", escalated=True)),
        response(message("done on arm64")),
    )
    with ScriptedModelServer(*script) as model:
        home = write_codex_home(tmp_path / "home", model)
        with Codex(
            codex_bin=aarch64_codex,
            env=app_server_env(home),
            cwd=work,
            approval_handler=approve,
        ) as codex:
            assert codex.metadata.platform_os == "linux"
            turn = codex.thread_start().run("write the proof", timeout=120)
        model.raise_for_failures()
    assert final_text(turn) == "done on arm64"
    assert len(asked) == 1
    assert "echo arm64" in asked[0]
    assert (work / "proof.txt").read_text(encoding="utf-8").strip() == "arm64"
