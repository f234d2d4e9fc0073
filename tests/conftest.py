"""Shared fixtures: the public test kit's pytest plugin, on the real binary.

``CODEX_BIN`` (set by ``nox -s tests``) names the runtime under test; without it the installed
``codex-cli-bin`` is used.
"""

import os
import signal
import sys
from pathlib import Path

import pytest

pytest_plugins = ["codex_app_server.testing.pytest_plugin"]

# A shell that starts a command in the background sets SIGINT to "ignore", Python keeps that, and
# children inherit it: the Ctrl-C tests would then wait for a signal that is never delivered. Give
# this process Python's own handler, as at a terminal; processes it starts then get the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a ``posix_only`` test on Windows with its reason (docs/releasing.md lists them)."""
    marker = item.get_closest_marker("posix_only")
    if marker is None:
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise TypeError(f"{item.nodeid}: posix_only takes one argument, the reason")
    if sys.platform == "win32":
        pytest.skip(f"POSIX only: {marker.args[0]}")


@pytest.fixture
def schema_codex_bin() -> Path:
    """The pinned runtime's binary, from ``CODEX_BIN``, for the checks of the generated code."""
    path = os.environ.get("CODEX_BIN")
    if not path:
        pytest.fail("set CODEX_BIN to the pinned codex executable to check the generated code")
    return Path(path)
