"""The decisions an approval handler gives, and each approval method's wire answer to them.

An *approval handler* is a function that receives the typed params of an approval request
(``CommandExecutionRequestApprovalParams``, ``FileChangeRequestApprovalParams``,
``PermissionsRequestApprovalParams``, or the legacy ``ExecCommandApprovalParams`` /
``ApplyPatchApprovalParams``) and returns a decision: ``True``/``False``, one of the strings
``"accept"``, ``"acceptForSession"``, ``"decline"``, ``"cancel"``, or the full response model
(or dict) for full control. :func:`approval_result` turns the simple answers into each
method's wire form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeAlias

__all__ = [
    "APPROVAL_METHODS",
    "DECLINED",
    "ApprovalDecision",
    "ApprovalHandler",
    "AsyncApprovalHandler",
    "accept_all",
    "approval_result",
    "decline_all",
]

#: The simple answers a handler may give.
SimpleDecision: TypeAlias = bool | Literal["accept", "acceptForSession", "decline", "cancel"]
#: What an approval handler returns: a simple answer or the method's full response.
ApprovalDecision: TypeAlias = SimpleDecision | Mapping[str, Any] | Any
#: A function deciding approval requests.
ApprovalHandler: TypeAlias = Callable[[Any], ApprovalDecision]
#: An approval handler for the async client: a plain function or a coroutine function.
AsyncApprovalHandler: TypeAlias = Callable[[Any], ApprovalDecision | Awaitable[ApprovalDecision]]

_DENIED = {"denied": {"rejection": "declined by the client: no approval handler accepted it"}}

#: Each approval method's answer that declines (also the answer when no handler is set).
DECLINED: Mapping[str, Mapping[str, Any]] = {
    "item/commandExecution/requestApproval": {"decision": "decline"},
    "item/fileChange/requestApproval": {"decision": "decline"},
    "item/permissions/requestApproval": {"permissions": {}},
    "applyPatchApproval": {"decision": _DENIED},
    "execCommandApproval": {"decision": _DENIED},
}

#: Server requests that ask the user to approve something.
APPROVAL_METHODS = frozenset(DECLINED)

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
        return dict(DECLINED[method])
    if method in ("item/commandExecution/requestApproval", "item/fileChange/requestApproval"):
        return {"decision": decision}
    if method in ("execCommandApproval", "applyPatchApproval"):
        return {"decision": _LEGACY[decision]}
    if method == "item/permissions/requestApproval":
        if decision == "cancel":
            return dict(DECLINED[method])
        requested = getattr(params, "permissions", None)
        granted = (
            requested.model_dump(mode="json", by_alias=True, exclude_none=True)
            if requested is not None
            else {}
        )
        scope = "session" if decision == "acceptForSession" else "turn"
        return {"permissions": granted, "scope": scope}
    raise ValueError(f"{method!r} is not an approval request")
