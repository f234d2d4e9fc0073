"""Developer sessions. CI runs ``nox -s lint typecheck tests``; ``nox -s build`` fills ``dist/``.

``nox -s stage_all`` builds a whole release (six runtime wheels and the SDK) into ``dist/``.

The runtime is the released Codex package for this machine, fetched once with npm into the cache
(``$CODEX_SDK_CACHE_DIR`` or the user cache directory) by ``scripts/update_sdk_artifacts.py``.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT / "scripts" / "update_sdk_artifacts.py"
sys.path.insert(0, str(SCRIPT.parent))
import update_sdk_artifacts as artifacts  # noqa: E402  (needs the sys.path entry above)

nox.options.sessions = ["lint", "typecheck", "tests"]

LINT_PATHS = ("packages", "scripts", "tests", "noxfile.py")
SOURCE_DIRS = ("packages/codex-app-server-sdk/src", "packages/codex-cli-bin/src", "scripts")
# Each package has its own hatch_build.py; one mypy run each keeps the module names apart.
HATCH_HOOKS = (
    "packages/codex-app-server-sdk/hatch_build.py",
    "packages/codex-cli-bin/hatch_build.py",
)
TYPECHECK_PLATFORMS = ("linux", "win32", "darwin")


def _dev(*names: str) -> list[str]:
    """Return the dev requirements of pyproject.toml, only those named if names are given."""
    dev: list[str] = nox.project.load_toml(ROOT / "pyproject.toml")["project"][
        "optional-dependencies"
    ]["dev"]
    if not names:
        return dev
    return [req for req in dev if re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0] in names]


# The package index's default per-file limit; larger wheels need a limit increase first.
INDEX_FILE_LIMIT = 100 * 10**6


def _fetch_runtime(session: nox.Session, platform: str | None = None) -> tuple[str, Path]:
    """Return the pinned runtime version and its unpacked package (default: this machine's)."""
    try:
        version = artifacts.read_runtime_version()
        return version, artifacts.fetch_runtime(version, platform or artifacts.host_platform())
    except artifacts.ArtifactError as error:
        session.error(str(error))


def _build_wheel(session: nox.Session, project: Path, outdir: Path) -> None:
    """Build a staged project reproducibly (``build-wheel`` pins SOURCE_DATE_EPOCH)."""
    session.run(
        "python",
        str(SCRIPT),
        "build-wheel",
        "--no-isolation",
        "--outdir",
        str(outdir),
        str(project),
    )


def _runtime_wheel(session: nox.Session) -> Path:
    """Return this machine's runtime wheel (``runtime-wheel``: built once per binary, cached).

    It is built in the session's Python, which has hatchling and build; nox's own may not.
    """
    wheel = session.run("python", str(SCRIPT), "runtime-wheel", silent=True)
    assert isinstance(wheel, str)
    return Path(wheel.strip().splitlines()[-1])


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check over packages, scripts, tests and this file, and a check
    that every generated sync file is what ``scripts/unasync.py`` writes from its source."""
    session.install(*_dev("ruff"))
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)
    session.run("python", "scripts/unasync.py", "--check")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict (settings in pyproject.toml) on both packages and the scripts, per platform."""
    session.install(*_dev())
    # Windows and macOS runners are not here: checking each platform's branches (process groups,
    # pipes that cannot be polled, .exe names) with mypy's view of it is what can be done here.
    for platform in TYPECHECK_PLATFORMS:
        # The scripts import each other as top-level modules, as they do when run.
        session.run("mypy", "--platform", platform, *SOURCE_DIRS, env={"MYPYPATH": "scripts"})
        for hook in HATCH_HOOKS:
            session.run("mypy", "--platform", platform, hook)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built strictly into build/site (``-- serve`` to preview it)."""
    session.install(*_dev("pydantic", "mkdocs", "mkdocs-material", "mkdocstrings"))
    command = session.posargs or ["build"]
    session.run("mkdocs", *command, "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def tests(session: nox.Session) -> None:
    """pytest against this machine's real runtime wheel and the editable SDK.

    Extra arguments go to pytest: ``nox -s tests -- -k staging``.
    """
    session.install(*_dev())
    wheel = _runtime_wheel(session)
    session.install(str(wheel), "-e", "packages/codex-app-server-sdk")
    codex_bin = session.run(
        "python", "-c", "import codex_cli_bin; print(codex_cli_bin.bin_path())", silent=True
    )
    assert isinstance(codex_bin, str)
    # CODEX_RUNTIME_WHEEL lets tests/test_runtime_wheel.py install this wheel instead of
    # building its own copy of the ~150 MB runtime wheel.
    env = {"CODEX_BIN": codex_bin.strip(), "CODEX_RUNTIME_WHEEL": str(wheel)}
    session.run("pytest", *session.posargs, env=env)


def _build_dist(session: nox.Session, platforms: list[str] | None = None) -> Path:
    """Stage and build runtime wheels and the SDK wheel into dist/, then verify them.

    ``platforms`` defaults to this machine's; naming every platform makes a release, verified
    with ``--all-platforms``. Other platforms' binaries cannot run here, so ``verify`` checks
    their contents: tags, ``.exe`` names, exec bits and sha256 against the vendored files.
    """
    session.install(*_dev("build", "hatchling", "twine"))
    stage, dist = ROOT / "build" / "stage", ROOT / "dist"
    for folder in (stage, dist):
        shutil.rmtree(folder, ignore_errors=True)
    version = artifacts.read_runtime_version()
    for platform in platforms or [artifacts.host_platform()]:
        _, vendor = _fetch_runtime(session, platform)
        project = stage / f"codex-cli-bin-{platform}"
        session.run(
            "python",
            str(SCRIPT),
            "stage-runtime",
            str(project),
            str(vendor),
            "--runtime-version",
            version,
            "--platform",
            platform,
        )
        _build_wheel(session, project, dist)
    session.run(
        "python",
        str(SCRIPT),
        "stage-sdk",
        str(stage / "codex-app-server-sdk"),
        "--runtime-version",
        version,
    )
    _build_wheel(session, stage / "codex-app-server-sdk", dist)
    release = ["--all-platforms"] if platforms == list(artifacts.PLATFORMS) else []
    session.run("python", str(SCRIPT), "verify", *release, str(dist))
    for wheel in sorted(dist.glob("*.whl")):
        size = wheel.stat().st_size
        over = "  (over the index's 100 MB default file limit)" if size > INDEX_FILE_LIMIT else ""
        session.log(f"{wheel.name}: {size / 1e6:.1f} MB{over}")
    return dist


@nox.session
def build(session: nox.Session) -> None:
    """Stage and build the SDK wheel and this machine's runtime wheel into dist/, then verify."""
    _build_dist(session)


@nox.session
def stage_all(session: nox.Session) -> None:
    """A whole release into dist/: all six runtime wheels and the SDK, verify --all-platforms.

    Fetches every platform's released package (about 170 MB each, cached), so it is kept out
    of the default sessions.
    """
    _build_dist(session, list(artifacts.PLATFORMS))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: build both wheels, pip install them into a fresh venv, run the demo.

    The demo (examples/demo.py, driven by scripts/run_demo.py through scripts/native_wheel.py
    smoke) streams an answer from a scripted model on 127.0.0.1 and runs a command its
    approval handler accepts; no account or network is needed.
    """
    dist = _build_dist(session)
    user_env = Path(session.create_tmp()) / "user-venv"
    shutil.rmtree(user_env, ignore_errors=True)
    session.log(f"creating a fresh virtual environment at {user_env}")
    session.run("python", "-m", "venv", str(user_env))
    python = user_env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    session.log("pip install codex-app-server-sdk, as a user would (runtime from dist/)")
    session.run(
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--find-links",
        str(dist),
        "codex-app-server-sdk",
        external=True,
    )
    session.run(
        str(python),
        "-c",
        "import codex_app_server, codex_cli_bin; "
        "print('installed codex-app-server-sdk', codex_app_server.__version__, "
        "'with runtime', codex_cli_bin.bin_path())",
        external=True,
    )
    # The same check cibuildwheel runs on every platform's runner (wheels.yml): the binary
    # reports its version, then examples/demo.py runs against the scripted model.
    session.log("running the installed-wheel smoke test: version, then examples/demo.py")
    smoke = [str(ROOT / "scripts" / "native_wheel.py"), "smoke", "--sdk-dist", str(dist)]
    session.run(str(python), *smoke, external=True)


@nox.session
def benchmark(session: nox.Session) -> None:
    """The SDK against a bare client (benchmarks/run.py); fails when a ratio passes its bound.

    Uses this machine's real runtime for the real-binary figure. Extra arguments go to the
    script: ``nox -s benchmark -- --quick`` or ``-- --only streaming round-trip``.
    """
    session.install(*_dev("pydantic", "build", "hatchling"))
    wheel = _runtime_wheel(session)
    session.install(str(wheel), "-e", "packages/codex-app-server-sdk")
    codex_bin = session.run(
        "python", "-c", "import codex_cli_bin; print(codex_cli_bin.bin_path())", silent=True
    )
    assert isinstance(codex_bin, str)
    session.run("python", "benchmarks/run.py", "--codex-bin", codex_bin.strip(), *session.posargs)


@nox.session
def bump(session: nox.Session) -> None:
    """Move the pin to a new Codex release: ``nox -s bump -- V`` (see docs/releasing.md).

    Fetches the runtime, regenerates the models, re-records the benchmark recording, rewrites
    the generated figures in the docs, and prints (and adds to CHANGELOG.md) what changed.
    """
    if not session.posargs:
        session.error("give the new version: nox -s bump -- V [--summary FILE]")
    session.install(*_dev())
    session.run("python", str(SCRIPT), "bump", *session.posargs)
