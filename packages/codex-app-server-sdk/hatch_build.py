"""Metadata hook: the SDK version and its exact ``codex-cli-bin`` pin come from _version.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

VERSION_FILE = Path("src", "codex_app_server", "_version.py")


def _literal(text: str, name: str) -> str | None:
    match = re.search(rf'^{name} = "([^"]+)"$', text, re.MULTILINE)
    return match.group(1) if match else None


class SdkMetadataHook(MetadataHookInterface):
    """Set ``version`` and ``dependencies`` (configured ones plus ``codex-cli-bin==V``)."""

    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        """Read ``RUNTIME_VERSION`` (and a stamped ``__version__``) and fill in the metadata."""
        path = Path(self.root) / VERSION_FILE
        text = path.read_text(encoding="utf-8")
        runtime = _literal(text, "RUNTIME_VERSION")
        if runtime is None:
            raise ValueError(f'{path} has no RUNTIME_VERSION = "..." line')
        # In the repository __version__ is RUNTIME_VERSION itself; stage-sdk stamps a literal
        # there for an SDK-only post-release.
        metadata["version"] = _literal(text, "__version__") or runtime
        configured: list[str] = list(self.config.get("dependencies", []))
        metadata["dependencies"] = [*configured, f"codex-cli-bin=={runtime}"]
