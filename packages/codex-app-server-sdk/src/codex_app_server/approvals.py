"""Approving (or not) what the agent wants to do.

An *approval handler* is a function that receives the typed params of an approval request
(``CommandExecutionRequestApprovalParams``, ``FileChangeRequestApprovalParams``,
``PermissionsRequestApprovalParams``, or the legacy ``ExecCommandApprovalParams`` /
``ApplyPatchApprovalParams``) and returns a decision: ``True``/``False``, one of the strings
``"accept"``, ``"acceptForSession"``, ``"decline"``, ``"cancel"``, or the full response model
(or dict) for full control. The SDK turns the simple answers into each method's wire form.

Nothing is approved unless a handler says so: with no handler every request is declined.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeAlias

from ._handlers import APPROVAL_METHODS, DECLINE_DEFAULTS, HandlerTable, ServerRequestHandler

__all__ = [
    "ApprovalDecision",
    "ApprovalHandler",
    "AsyncApprovalHandler",
    "accept_all",
    "approval_result",
    "decline_all",
]

logger = logging.getLogger("codex_app_server")

#: The simple answers a handler may give.
SimpleDecision: TypeAlias = bool | Literal["accept", "acceptForSession", "decline", "cancel"]
#: What an approval handler returns: a simple answer or the method's full response.
ApprovalDecision: TypeAlias = SimpleDecision | Mapping[str, Any] | Any
#: A function deciding approval requests.
ApprovalHandler: TypeAlias = Callable[[Any], ApprovalDecision]
#: An approval handler for the async client: a plain function or a coroutine function.
AsyncApprovalHandler: TypeAlias = Callable[[Any], ApprovalDecision | Awaitable[ApprovalDecision]]

_LEGACY = {
    "accept": "approved",
    "acceptForSession": "approved_for_session",
    "cancel": "abort",
}


def accept_all(request: Any) -> ApprovalDecision:
    """A policy that approves every request. Opt in explicitly; it runs whatever is asked."""
    return "accept"


def decline_all(request: Any) -> ApprovalDecision:
    """The default policy: decline every request and let the agent carry on without it."""
    return "decline"


def approval_result(method: str, params: Any, decision: ApprovalDecision) -> Any:
    """Turn a handler's ``decision`` into the response of approval ``method``."""
    if isinstance(decision, bool):
        decision = "accept" if decision else "decline"
    if not isinstance(decision, str):
        return decision  # a full response model or dict: validated by the caller
    if decision not in ("accept", "acceptForSession", "decline", "cancel"):
        raise ValueError(
            f"unknown approval decision {decision!r}; use True/False, 'accept', "
            "'acceptForSession', 'decline' or 'cancel'"
        )
    if decision == "decline":
        return dict(DECLINE_DEFAULTS[method])
    if method in ("item/commandExecution/requestApproval", "item/fileChange/requestApproval"):
        return {"decision": decision}
    if method in ("execCommandApproval", "applyPatchApproval"):
        return {"decision": _LEGACY[decision]}
    if method == "item/permissions/requestApproval":
        if decision == "cancel":
            return dict(DECLINE_DEFAULTS[method])
        requested = getattr(params, "permissions", None)
        granted = (
            requested.model_dump(mode="json", by_alias=True, exclude_none=True)
            if requested is not None
            else {}
        )
        scope = "session" if decision == "acceptForSession" else "turn"
        return {"permissions": granted, "scope": scope}
    raise ValueError(f"{method!r} is not an approval request")


def approval_handlers(
    handler: ApprovalHandler | AsyncApprovalHandler,
) -> dict[str, ServerRequestHandler]:
    """One server-request handler per approval method, all deciding through ``handler``."""
    name = getattr(handler, "__name__", type(handler).__name__)

    def bind(method: str) -> ServerRequestHandler:
        if inspect.iscoroutinefunction(handler):

            async def decide_async(params: Any) -> Any:
                decision = await handler(params)
                logger.info("approval %s -> %r (handler %s)", method, decision, name)
                return approval_result(method, params, decision)

            return decide_async

        def decide(params: Any) -> Any:
            decision = handler(params)
            logger.info("approval %s -> %r (handler %s)", method, decision, name)
            return approval_result(method, params, decision)

        return decide

    return {method: bind(method) for method in sorted(APPROVAL_METHODS)}


def set_thread_approval_handler(
    table: HandlerTable, thread_id: str, handler: ApprovalHandler | AsyncApprovalHandler | None
) -> None:
    """Route one thread's approval requests to ``handler`` (``None``: back to the client's)."""
    bound = approval_handlers(handler) if handler is not None else {}
    for method in APPROVAL_METHODS:
        table.set(method, bound.get(method), thread_id=thread_id)
