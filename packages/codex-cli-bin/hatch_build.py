"""Build hook for codex-cli-bin: platform tag and vendored files come from the staged tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STAGE_COMMAND = "scripts/update_sdk_artifacts.py stage-runtime"


class RuntimeBuildHook(BuildHookInterface[BuilderConfig]):
    """Tag the wheel for its target and add the vendored Codex files to ``codex_cli_bin/``."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Refuse sdists and unstaged trees; set the wheel tag and the vendored files."""
        if self.target_name != "wheel":
            raise RuntimeError(
                "codex-cli-bin is published as platform wheels only (an sdist would carry no "
                "binary); build with `python -m build --wheel DIR` on a tree written by "
                f"`{STAGE_COMMAND}`"
            )
        root = Path(self.root)
        info_path = root / "src" / "codex_cli_bin" / "build-info.json"
        if not info_path.is_file():
            raise RuntimeError(
                f"{root} is the unstaged codex-cli-bin template (no build-info.json); "
                f"write a buildable tree with `{STAGE_COMMAND}` and build that"
            )
        info = json.loads(info_path.read_text(encoding="utf-8"))
        build_data["tag"] = info["wheel_tag"]
        build_data["pure_python"] = False
        # force_include bypasses every ignore rule, so no vendored file can be dropped.
        vendor = root / "vendor"
        for relative in info["sha256"]:
            build_data["force_include"][str(vendor / relative)] = f"codex_cli_bin/{relative}"
