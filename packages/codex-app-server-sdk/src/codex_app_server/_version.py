"""The one checked-in place that pins the Codex runtime version.

Everything else (the SDK's version, its ``codex-cli-bin==`` pin, the staged runtime wheel, the
generated models' header) is derived from ``RUNTIME_VERSION`` by
``scripts/update_sdk_artifacts.py``.
"""

RUNTIME_VERSION = "0.171.0"
__version__ = RUNTIME_VERSION
