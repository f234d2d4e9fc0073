"""cibuildwheel's two hooks for a runtime wheel on its own platform's runner (see wheels.yml).

``adopt WHEEL DEST_DIR --release DIR`` (the repair step): the natively built ``WHEEL`` must
carry exactly the files of the release wheel of the same name in ``DIR``, which is then put in
``DEST_DIR`` in its place, so the test that follows installs the very bytes to be published.
Nothing is compiled, so there is nothing for auditwheel or delocate to repair; and delocate
would rewrite the signed macOS binary.

``smoke --sdk-dist DIR`` (the test command, run once per Python): the installed runtime's binary
starts and reports the wheel's version; then the SDK wheel from ``DIR`` is installed and a real
turn with an approved command runs against the scripted model (``run_demo.py``).

Standard library only: the repair step runs in the build image's own Python.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

RUN_DEMO = Path(__file__).resolve().parent / "run_demo.py"


class NativeWheelError(Exception):
    """A check failed; the message says what and what to do."""


def payload(wheel: Path) -> dict[str, str]:
    """The wheel's files outside ``.dist-info`` (whose generator line may differ), by digest."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: base64.urlsafe_b64encode(hashlib.sha256(archive.read(name)).digest()).decode()
            for name in archive.namelist()
            if not name.split("/", 1)[0].endswith(".dist-info")
        }


def adopt(built: Path, dest_dir: Path, release_dir: Path) -> Path:
    """Check ``built`` against the release wheel of its name; copy the release one into dest."""
    release = release_dir / built.name
    if not release.is_file():
        names = sorted(path.name for path in release_dir.glob("*.whl")) or ["none"]
        raise NativeWheelError(
            f"the native build made {built.name}, which the release lacks (it has: "
            f"{', '.join(names)}); the wheel tag table and this runner disagree"
        )
    ours, theirs = payload(built), payload(release)
    if ours != theirs:
        differ = sorted(
            name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name)
        )
        raise NativeWheelError(
            f"{built.name}: the release wheel's files differ from the native build's: "
            f"{', '.join(differ[:5])}{' ...' if len(differ) > 5 else ''}"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(release, dest_dir / release.name))


def _installed_version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def smoke(sdk_dist: Path) -> None:
    """The installed runtime starts; the SDK drives a real turn through it (see module doc)."""
    import codex_cli_bin

    binary = Path(codex_cli_bin.bin_path())
    expected = _installed_version("codex-cli-bin")
    result = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    reported = result.stdout.strip()
    if result.returncode != 0 or reported != f"codex-cli {expected}":
        raise NativeWheelError(
            f"{binary} --version gave exit {result.returncode} and {reported!r}; "
            f"expected codex-cli {expected}"
        )
    print(f"native_wheel: {binary} reports {reported}", flush=True)
    sdk = sorted(sdk_dist.glob("codex_app_server_sdk-*.whl"))
    if len(sdk) != 1:
        raise NativeWheelError(f"expected one SDK wheel in {sdk_dist}, found {len(sdk)}")
    # codex-cli-bin is satisfied by the wheel under test; pydantic comes from the index.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", str(sdk[0])], check=True)
    demo = subprocess.run([sys.executable, str(RUN_DEMO)], timeout=300, check=False)
    if demo.returncode != 0:
        raise NativeWheelError(f"the demo turn failed (exit {demo.returncode}); see above")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one hook; print one ``error:`` line and return 2 when a check fails."""
    parser = argparse.ArgumentParser(prog="native_wheel.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    adopt_cmd = commands.add_parser("adopt", help="the repair step: swap in the release wheel")
    adopt_cmd.add_argument("wheel", type=Path)
    adopt_cmd.add_argument("dest_dir", type=Path)
    adopt_cmd.add_argument("--release", type=Path, required=True, metavar="DIR")
    smoke_cmd = commands.add_parser("smoke", help="the test command: version, then a real turn")
    smoke_cmd.add_argument("--sdk-dist", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        if args.command == "adopt":
            print(f"native_wheel: adopted {adopt(args.wheel, args.dest_dir, args.release)}")
        else:
            smoke(args.sdk_dist)
    except NativeWheelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
