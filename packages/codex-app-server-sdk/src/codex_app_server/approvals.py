"""Approving (or not) what the agent wants to do.

An *approval handler* is a function that receives the typed params of an approval request
(``CommandExecutionRequestApprovalParams``, ``FileChangeRequestApprovalParams``,
``PermissionsRequestApprovalParams``, or the legacy ``ExecCommandApprovalParams`` /
``ApplyPatchApprovalParams``) and returns a decision: ``True``/``False``, one of the strings
``"accept"``, ``"acceptForSession"``, ``"decline"``, ``"cancel"``, or the full response model
(or dict) for full control. The SDK turns the simple answers into each method's wire form,
in one place (:func:`answering`), however the handler was installed: ``approval_handler=``,
a thread's handler, or a function given for an approval method in ``handlers=``.

With the async client a handler may be a coroutine function (or return an awaitable); the
sync client refuses such a handler when it is installed (:func:`refuse_async`).

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


def answering(method: str, handler: ApprovalHandler | AsyncApprovalHandler) -> ServerRequestHandler:
    """``handler`` made to answer approval ``method``: the one place a decision (simple or full)
    becomes the method's response, whichever way the handler was installed.

    The decision is logged once: here, or by the handler itself when it logs its own
    (:class:`~codex_app_server.ApprovalRules`). A coroutine function stays one; a handler that
    returns an awaitable has it awaited by the async client.
    """
    name = getattr(handler, "__name__", type(handler).__name__)
    logs_itself = _logs_itself(handler)

    def finish(params: Any, decision: ApprovalDecision) -> Any:
        if not logs_itself:
            logger.info("approval %s -> %r (handler %s)", method, decision, name)
        return approval_result(method, params, decision)

    async def finish_later(params: Any, pending: Awaitable[ApprovalDecision]) -> Any:
        return finish(params, await pending)

    if inspect.iscoroutinefunction(handler):

        async def answer_async(params: Any) -> Any:
            return await finish_later(params, handler(params))

        return answer_async

    def answer(params: Any) -> Any:
        decision = handler(params)
        if inspect.isawaitable(decision):
            return finish_later(params, decision)
        return finish(params, decision)

    return answer


def is_async_handler(handler: Any) -> bool:
    """Whether ``handler`` answers with something to await: a coroutine function, an object
    whose ``__call__`` is one, or approval rules whose ``ask`` is."""
    from .rules import ApprovalRules  # rules imports this module

    if isinstance(handler, ApprovalRules):
        return handler.asynchronous
    # An object whose __call__ is a coroutine function counts too.
    call = type(handler).__call__ if callable(handler) else None
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def refuse_async(handler: Any) -> None:
    """Raise ``TypeError`` if the sync client was given a ``handler`` it would have to await."""
    if handler is not None and is_async_handler(handler):
        raise TypeError(
            f"{handler!r} is asynchronous (a coroutine function, or rules whose ask= is one); "
            "the sync Codex cannot await it: use AsyncCodex, or give a plain function"
        )


def _logs_itself(handler: Any) -> bool:
    from .rules import ApprovalRules  # rules imports this module

    return isinstance(handler, ApprovalRules)


def approval_handlers(
    handler: ApprovalHandler | AsyncApprovalHandler,
) -> dict[str, ServerRequestHandler]:
    """``handler`` for every approval method (the handler table makes each one answer)."""
    return dict.fromkeys(sorted(APPROVAL_METHODS), handler)


def set_thread_approval_handler(
    table: HandlerTable, thread_id: str, handler: ApprovalHandler | AsyncApprovalHandler | None
) -> None:
    """Route one thread's approval requests to ``handler`` (``None``: back to the client's)."""
    for method in APPROVAL_METHODS:
        table.set(method, handler, thread_id=thread_id)
