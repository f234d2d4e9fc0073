"""A private ``CODEX_HOME`` pointing the real app-server at a scripted model; its environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import toml_value
from ._server import ScriptedModelServer

__all__ = ["app_server_env", "write_codex_home"]

MODEL = "mock-model"
"""The model name written to the config; unknown to Codex, so no model-specific behaviour."""

_PROVIDER = "mock"

# Credentials the app-server would otherwise pick up from the parent environment.
_SECRET_VARIABLES = ("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID")


def write_codex_home(
    path: str | os.PathLike[str],
    model_server: ScriptedModelServer | str,
    *,
    approval_policy: str = "on-request",
    sandbox_mode: str = "read-only",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``path/config.toml`` so that the app-server talks only to ``model_server``.

    ``model_server`` is a :class:`ScriptedModelServer` or a base URL. Retries are off
    (``request_max_retries = 0``, ``stream_max_retries = 0``) so that a scripted HTTP error fails
    the turn at once, and the ``plugins`` feature is off because it would try to sync plugins over
    the network. ``extra`` is merged over these settings (nested mappings become tables, merged
    key by key), so it can add settings or override any of them. Creates ``path`` if needed and
    returns it.
    """
    base_url = model_server if isinstance(model_server, str) else model_server.base_url
    settings: dict[str, Any] = {
        "model": MODEL,
        "model_provider": _PROVIDER,
        "approval_policy": approval_policy,
        "sandbox_mode": sandbox_mode,
        "features": {"plugins": False},
        "model_providers": {
            _PROVIDER: {
                "name": _PROVIDER,
                "base_url": base_url,
                "wire_api": "responses",
                "request_max_retries": 0,
                "stream_max_retries": 0,
            },
        },
    }
    home = Path(path)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(_toml(_merged(settings, extra or {})), encoding="utf-8")
    return home


def _merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merged(current, value)
        else:
            merged[key] = value
    return merged


def app_server_env(
    codex_home: str | os.PathLike[str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment to start ``codex app-server`` with, for a test.

    A copy of ``base`` (default: ``os.environ``) without API keys, with ``CODEX_HOME`` set to
    ``codex_home``, ``CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG=1`` (no machine-managed config
    leaks in) and ``RUST_LOG=warn`` (quiet stderr).
    """
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if name not in _SECRET_VARIABLES
    }
    env["CODEX_HOME"] = os.fspath(codex_home)
    env["CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG"] = "1"
    env["RUST_LOG"] = "warn"
    return env


def _toml(table: Mapping[str, Any], name: str = "") -> str:
    scalars = "".join(
        f"{_key(k)} = {toml_value(v)}\n" for k, v in table.items() if not isinstance(v, Mapping)
    )
    # A table holding only sub-tables needs no header of its own; an empty one does.
    text = f"\n[{name}]\n{scalars}" if name and (scalars or not table) else scalars
    for key, value in table.items():
        if isinstance(value, Mapping):
            text += _toml(value, f"{name}.{_key(key)}" if name else _key(key))
    return text


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else toml_value(key)
