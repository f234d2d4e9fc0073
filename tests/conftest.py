"""Shared fixtures: the public test kit's pytest plugin, on the real binary.

``CODEX_BIN`` (set by ``nox -s tests``) names the runtime under test; without it the installed
``codex-cli-bin`` is used.
"""

pytest_plugins = ["codex_app_server.testing.pytest_plugin"]
