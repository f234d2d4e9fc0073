"""Python SDK for the Codex app-server.

``Codex`` (sync) and ``AsyncCodex`` (asyncio) start ``codex app-server`` and drive threads and
turns over it; the protocol's models are generated into :mod:`codex_app_server.generated`.

Public names are imported lazily: ``import codex_app_server`` stays fast, and the pydantic
models are loaded only when first used.

The SDK logs under the ``codex_app_server`` logger (one DEBUG line per message in and out,
credentials redacted) and prints nothing unless the application configures logging.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import RUNTIME_VERSION, __version__

# A library never prints on its own: without this, Python's last-resort handler would show
# the SDK's warnings on stderr. Applications opt in with their own logging configuration.
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from ._async.account import (
        AsyncChatgptLoginHandle as AsyncChatgptLoginHandle,
    )
    from ._async.account import (
        AsyncDeviceCodeLoginHandle as AsyncDeviceCodeLoginHandle,
    )
    from ._async.api import (
        AsyncCodex as AsyncCodex,
    )
    from ._async.api import (
        AsyncThread as AsyncThread,
    )
    from ._async.api import (
        AsyncTurnHandle as AsyncTurnHandle,
    )
    from ._async.client import (
        AsyncCodexClient as AsyncCodexClient,
    )
    from ._async.pool import (
        AsyncCodexPool as AsyncCodexPool,
    )
    from ._async.retry import (
        retry_on_overload_async as retry_on_overload_async,
    )
    from ._connection import (
        DEFAULT_TIMEOUT as DEFAULT_TIMEOUT,
    )
    from ._hooks import (
        ConnectionHooks as ConnectionHooks,
    )
    from ._hooks import (
        SentRequest as SentRequest,
    )
    from ._lenient import (
        unfit_parts as unfit_parts,
    )
    from ._sync.account import (
        ChatgptLoginHandle as ChatgptLoginHandle,
    )
    from ._sync.account import (
        DeviceCodeLoginHandle as DeviceCodeLoginHandle,
    )
    from ._sync.api import (
        Codex as Codex,
    )
    from ._sync.api import (
        Thread as Thread,
    )
    from ._sync.api import (
        TurnHandle as TurnHandle,
    )
    from ._sync.client import (
        CodexClient as CodexClient,
    )
    from ._sync.pool import (
        CodexPool as CodexPool,
    )
    from ._sync.retry import (
        retry_on_overload as retry_on_overload,
    )
    from ._transports.websocket import (
        signed_bearer_token as signed_bearer_token,
    )
    from ._transports.websocket import (
        wait_until_ready as wait_until_ready,
    )
    from ._turns import (
        StructuredOutputError as StructuredOutputError,
    )
    from ._turns import (
        TurnSummary as TurnSummary,
    )
    from ._turns import (
        final_text as final_text,
    )
    from ._turns import (
        parse_output as parse_output,
    )
    from ._turns import (
        strict_schema as strict_schema,
    )
    from .approvals import (
        ApprovalHandler as ApprovalHandler,
    )
    from .approvals import (
        AsyncApprovalHandler as AsyncApprovalHandler,
    )
    from .approvals import (
        accept_all as accept_all,
    )
    from .approvals import (
        decline_all as decline_all,
    )
    from .bounds import (
        BoundExceededError as BoundExceededError,
    )
    from .bounds import (
        TokenBudgetExceededError as TokenBudgetExceededError,
    )
    from .bounds import (
        TurnBounds as TurnBounds,
    )
    from .bounds import (
        TurnInactivityError as TurnInactivityError,
    )
    from .bounds import (
        TurnTimeLimitError as TurnTimeLimitError,
    )
    from .config import (
        CodexConfig as CodexConfig,
    )
    from .errors import (
        AppServerStartError as AppServerStartError,
    )
    from .errors import (
        CodexError as CodexError,
    )
    from .errors import (
        CodexNotFoundError as CodexNotFoundError,
    )
    from .errors import (
        CodexRpcError as CodexRpcError,
    )
    from .errors import (
        ConfigOverrideError as ConfigOverrideError,
    )
    from .errors import (
        IncompatibleServerError as IncompatibleServerError,
    )
    from .errors import (
        InternalError as InternalError,
    )
    from .errors import (
        InternalRpcError as InternalRpcError,
    )
    from .errors import (
        InvalidParamsError as InvalidParamsError,
    )
    from .errors import (
        InvalidRequestError as InvalidRequestError,
    )
    from .errors import (
        JsonRpcError as JsonRpcError,
    )
    from .errors import (
        LoginFailedError as LoginFailedError,
    )
    from .errors import (
        MethodNotFoundError as MethodNotFoundError,
    )
    from .errors import (
        NotSignedInError as NotSignedInError,
    )
    from .errors import (
        ParseError as ParseError,
    )
    from .errors import (
        ProtocolViolationError as ProtocolViolationError,
    )
    from .errors import (
        RequestTimeoutError as RequestTimeoutError,
    )
    from .errors import (
        RetryLimitExceededError as RetryLimitExceededError,
    )
    from .errors import (
        ServerBusyError as ServerBusyError,
    )
    from .errors import (
        ThreadNotFoundError as ThreadNotFoundError,
    )
    from .errors import (
        TransportClosedError as TransportClosedError,
    )
    from .errors import (
        TurnFailedError as TurnFailedError,
    )
    from .inputs import (
        ExternalMessage as ExternalMessage,
    )
    from .inputs import (
        ImageInput as ImageInput,
    )
    from .inputs import (
        Input as Input,
    )
    from .inputs import (
        InputItem as InputItem,
    )
    from .inputs import (
        LocalImageInput as LocalImageInput,
    )
    from .inputs import (
        MentionInput as MentionInput,
    )
    from .inputs import (
        SkillInput as SkillInput,
    )
    from .inputs import (
        TextInput as TextInput,
    )
    from .pool import (
        MemberHealth as MemberHealth,
    )
    from .presets import (
        ApprovalMode as ApprovalMode,
    )
    from .presets import (
        Sandbox as Sandbox,
    )
    from .retry import (
        is_retryable_error as is_retryable_error,
    )
    from .rules import (
        ApprovalRules as ApprovalRules,
    )
    from .rules import (
        CommandNotUnderstood as CommandNotUnderstood,
    )
    from .rules import (
        RuleDecision as RuleDecision,
    )
    from .rules import (
        parse_command as parse_command,
    )
    from .telemetry import (
        Telemetry as Telemetry,
    )
    from .tools import (
        Tool as Tool,
    )
    from .tools import (
        tool as tool,
    )

#: Where each public name lives; resolved on first access by ``__getattr__``.
_EXPORTS: dict[str, str] = {
    "AsyncCodexClient": "._async.client",
    "CodexClient": "._sync.client",
    "Codex": "._sync.api",
    "Thread": "._sync.api",
    "TurnHandle": "._sync.api",
    "AsyncCodex": "._async.api",
    "AsyncThread": "._async.api",
    "AsyncTurnHandle": "._async.api",
    "DEFAULT_TIMEOUT": "._connection",
    "ConnectionHooks": "._hooks",
    "SentRequest": "._hooks",
    "CodexConfig": ".config",
    "AsyncChatgptLoginHandle": "._async.account",
    "AsyncDeviceCodeLoginHandle": "._async.account",
    "ChatgptLoginHandle": "._sync.account",
    "DeviceCodeLoginHandle": "._sync.account",
    "ApprovalMode": ".presets",
    "Sandbox": ".presets",
    "ExternalMessage": ".inputs",
    "CodexRpcError": ".errors",
    "InternalRpcError": ".errors",
    "LoginFailedError": ".errors",
    "NotSignedInError": ".errors",
    "ImageInput": ".inputs",
    "Input": ".inputs",
    "InputItem": ".inputs",
    "LocalImageInput": ".inputs",
    "MentionInput": ".inputs",
    "SkillInput": ".inputs",
    "TextInput": ".inputs",
    "is_retryable_error": ".retry",
    "retry_on_overload": "._sync.retry",
    "retry_on_overload_async": "._async.retry",
    "ApprovalHandler": ".approvals",
    "AsyncApprovalHandler": ".approvals",
    "accept_all": ".approvals",
    "decline_all": ".approvals",
    "final_text": "._turns",
    "AsyncCodexPool": "._async.pool",
    "CodexPool": "._sync.pool",
    "MemberHealth": ".pool",
    "signed_bearer_token": "._transports.websocket",
    "wait_until_ready": "._transports.websocket",
    "parse_output": "._turns",
    "unfit_parts": "._lenient",
    "AppServerStartError": ".errors",
    "CodexError": ".errors",
    "CodexNotFoundError": ".errors",
    "ConfigOverrideError": ".errors",
    "IncompatibleServerError": ".errors",
    "InternalError": ".errors",
    "InvalidParamsError": ".errors",
    "InvalidRequestError": ".errors",
    "JsonRpcError": ".errors",
    "MethodNotFoundError": ".errors",
    "ParseError": ".errors",
    "ProtocolViolationError": ".errors",
    "RequestTimeoutError": ".errors",
    "RetryLimitExceededError": ".errors",
    "ServerBusyError": ".errors",
    "TransportClosedError": ".errors",
    "TurnFailedError": ".errors",
    "Tool": ".tools",
    "tool": ".tools",
    "ApprovalRules": ".rules",
    "RuleDecision": ".rules",
    "CommandNotUnderstood": ".rules",
    "parse_command": ".rules",
    "BoundExceededError": ".bounds",
    "TokenBudgetExceededError": ".bounds",
    "TurnBounds": ".bounds",
    "TurnInactivityError": ".bounds",
    "TurnTimeLimitError": ".bounds",
    "Telemetry": ".telemetry",
    "StructuredOutputError": "._turns",
    "TurnSummary": "._turns",
    "strict_schema": "._turns",
    "ThreadNotFoundError": ".errors",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "RUNTIME_VERSION",
    "AppServerStartError",
    "ApprovalHandler",
    "ApprovalMode",
    "ApprovalRules",
    "AsyncApprovalHandler",
    "AsyncChatgptLoginHandle",
    "AsyncCodex",
    "AsyncCodexClient",
    "AsyncCodexPool",
    "AsyncDeviceCodeLoginHandle",
    "AsyncThread",
    "AsyncTurnHandle",
    "BoundExceededError",
    "ChatgptLoginHandle",
    "Codex",
    "CodexClient",
    "CodexConfig",
    "CodexError",
    "CodexNotFoundError",
    "CodexPool",
    "CodexRpcError",
    "CommandNotUnderstood",
    "ConfigOverrideError",
    "ConnectionHooks",
    "DeviceCodeLoginHandle",
    "ExternalMessage",
    "ImageInput",
    "IncompatibleServerError",
    "Input",
    "InputItem",
    "InternalError",
    "InternalRpcError",
    "InvalidParamsError",
    "InvalidRequestError",
    "JsonRpcError",
    "LocalImageInput",
    "LoginFailedError",
    "MemberHealth",
    "MentionInput",
    "MethodNotFoundError",
    "NotSignedInError",
    "ParseError",
    "ProtocolViolationError",
    "RequestTimeoutError",
    "RetryLimitExceededError",
    "RuleDecision",
    "Sandbox",
    "SentRequest",
    "ServerBusyError",
    "SkillInput",
    "StructuredOutputError",
    "Telemetry",
    "TextInput",
    "Thread",
    "ThreadNotFoundError",
    "TokenBudgetExceededError",
    "Tool",
    "TransportClosedError",
    "TurnBounds",
    "TurnFailedError",
    "TurnHandle",
    "TurnInactivityError",
    "TurnSummary",
    "TurnTimeLimitError",
    "__version__",
    "accept_all",
    "decline_all",
    "final_text",
    "is_retryable_error",
    "parse_command",
    "parse_output",
    "retry_on_overload",
    "retry_on_overload_async",
    "signed_bearer_token",
    "strict_schema",
    "tool",
    "unfit_parts",
    "wait_until_ready",
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
