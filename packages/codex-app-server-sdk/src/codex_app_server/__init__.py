"""Python SDK for the Codex app-server.

Public names are imported lazily: ``import codex_app_server`` stays fast, and the pydantic
models are loaded only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import RUNTIME_VERSION, __version__

if TYPE_CHECKING:
    from ._client import AsyncCodexClient, CodexClient
    from .config import CodexConfig
    from .errors import (
        AppServerStartError,
        CodexError,
        CodexNotFoundError,
        InternalError,
        InvalidParamsError,
        InvalidRequestError,
        JsonRpcError,
        MethodNotFoundError,
        ParseError,
        RequestTimeoutError,
        RetryLimitExceededError,
        ServerBusyError,
        TransportClosedError,
        TurnFailedError,
    )

#: Where each public name lives; resolved on first access by ``__getattr__``.
_EXPORTS: dict[str, str] = {
    "AsyncCodexClient": "._client",
    "CodexClient": "._client",
    "CodexConfig": ".config",
    **dict.fromkeys(
        (
            "AppServerStartError",
            "CodexError",
            "CodexNotFoundError",
            "InternalError",
            "InvalidParamsError",
            "InvalidRequestError",
            "JsonRpcError",
            "MethodNotFoundError",
            "ParseError",
            "RequestTimeoutError",
            "RetryLimitExceededError",
            "ServerBusyError",
            "TransportClosedError",
            "TurnFailedError",
        ),
        ".errors",
    ),
}

__all__ = [
    "RUNTIME_VERSION",
    "AppServerStartError",
    "AsyncCodexClient",
    "CodexClient",
    "CodexConfig",
    "CodexError",
    "CodexNotFoundError",
    "InternalError",
    "InvalidParamsError",
    "InvalidRequestError",
    "JsonRpcError",
    "MethodNotFoundError",
    "ParseError",
    "RequestTimeoutError",
    "RetryLimitExceededError",
    "ServerBusyError",
    "TransportClosedError",
    "TurnFailedError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
