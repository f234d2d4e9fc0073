"""An offline test kit: run real turns on the real ``codex app-server`` against a scripted model.

:class:`ScriptedModelServer` is a Responses API server on 127.0.0.1 that answers each model
request with the next scripted :func:`response` (or :func:`http_error`), or with what a
:data:`Responder` makes of the request, and records every request.
:func:`write_codex_home` points a private ``CODEX_HOME`` at it and :func:`app_server_env` gives
the environment to start the app-server with. No account, network or API key is needed.

This package uses the standard library only.
"""

from ._home import app_server_env, write_codex_home
from ._script import (
    FunctionCall,
    HttpError,
    Message,
    ModelResponse,
    Output,
    Reasoning,
    ScriptItem,
    Stall,
    Usage,
    apply_patch,
    exec_command,
    function_call,
    http_error,
    message,
    message_deltas,
    reasoning,
    response,
    stall,
    write_file,
)
from ._server import ModelServerError, RecordedRequest, Responder, ScriptedModelServer

__all__ = [
    "FunctionCall",
    "HttpError",
    "Message",
    "ModelResponse",
    "ModelServerError",
    "Output",
    "Reasoning",
    "RecordedRequest",
    "Responder",
    "ScriptItem",
    "ScriptedModelServer",
    "Stall",
    "Usage",
    "app_server_env",
    "apply_patch",
    "exec_command",
    "function_call",
    "http_error",
    "message",
    "message_deltas",
    "reasoning",
    "response",
    "stall",
    "write_codex_home",
    "write_file",
]
