"""Named approval modes and sandbox presets, mapped onto the protocol's fields.

``thread_start(approval_mode=..., sandbox=...)`` (and ``thread_resume``, ``thread_fork``,
``thread.turn``, ``thread.run``) take these instead of wire values: an
:class:`ApprovalMode` sets ``approvalPolicy`` and ``approvalsReviewer``; a :class:`Sandbox`
sets a thread's ``sandbox`` mode or a turn's ``sandboxPolicy``. Each accepts the enum member
or its string value (``"deny_all"``, ``"workspace-write"``). The wire fields stay available
for what the presets do not cover; giving both a preset and its wire field is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal, TypeAlias

__all__ = [
    "ApprovalMode",
    "ApprovalModeLike",
    "Sandbox",
    "SandboxLike",
    "thread_presets",
    "turn_presets",
]


class ApprovalMode(str, Enum):
    """Who answers the agent's requests to act beyond its sandbox.

    ``DENY_ALL``: nobody is asked and every such request is refused (``approvalPolicy``
    ``never``); the agent works within its sandbox. ``AUTO_REVIEW``: requests go to the
    server's reviewer agent, which judges each one by its risk (``approvalPolicy``
    ``on-request`` with ``approvalsReviewer`` ``auto_review``); your approval handler is not
    asked. Without a mode, the configured policy applies and requests reach your handler.
    """

    DENY_ALL = "deny_all"
    AUTO_REVIEW = "auto_review"


class Sandbox(str, Enum):
    """How much of the machine commands the agent runs may touch.

    ``READ_ONLY``: read files, write nothing, no network. ``WORKSPACE_WRITE``: also write in
    the working directory and the configured writable roots. ``FULL_ACCESS``: no limits (the
    protocol's ``danger-full-access``, also accepted under that name).
    """

    READ_ONLY = "read-only"
    WORKSPACE_WRITE = "workspace-write"
    FULL_ACCESS = "full-access"

    @classmethod
    def _missing_(cls, value: object) -> Sandbox | None:
        # The protocol's own name of the full-access mode, which thread_start always took.
        return cls.FULL_ACCESS if value == "danger-full-access" else None


#: An :class:`ApprovalMode` or its value.
ApprovalModeLike: TypeAlias = ApprovalMode | Literal["deny_all", "auto_review"]
#: A :class:`Sandbox` or its value.
SandboxLike: TypeAlias = (
    Sandbox | Literal["read-only", "workspace-write", "full-access", "danger-full-access"]
)

_THREAD_SANDBOX = {
    Sandbox.READ_ONLY: "read-only",
    Sandbox.WORKSPACE_WRITE: "workspace-write",
    Sandbox.FULL_ACCESS: "danger-full-access",
}
_TURN_SANDBOX = {
    Sandbox.READ_ONLY: {"type": "readOnly"},
    Sandbox.WORKSPACE_WRITE: {"type": "workspaceWrite"},
    Sandbox.FULL_ACCESS: {"type": "dangerFullAccess"},
}


def _member(kind: type[Enum], value: object, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise ValueError(
            f"{name}={value!r} is not one of {choices} (or {kind.__name__}.NAME)"
        ) from None


def _approval(params: dict[str, Any], approval_mode: ApprovalModeLike | None) -> dict[str, Any]:
    if approval_mode is None:
        return params
    mode = _member(ApprovalMode, approval_mode, "approval_mode")
    clash = sorted({"approval_policy", "approvals_reviewer"} & params.keys())
    if clash:
        raise TypeError(f"give approval_mode= or {' and '.join(clash)}=, not both")
    if mode is ApprovalMode.DENY_ALL:
        params["approval_policy"] = "never"
    else:
        params["approval_policy"] = "on-request"
        params["approvals_reviewer"] = "auto_review"
    return params


def thread_presets(
    params: Mapping[str, Any], approval_mode: ApprovalModeLike | None, sandbox: SandboxLike | None
) -> dict[str, Any]:
    """``thread/start`` (``resume``, ``fork``) params with the presets written in."""
    merged = _approval({k: v for k, v in params.items() if v is not None}, approval_mode)
    if sandbox is not None:
        merged["sandbox"] = _THREAD_SANDBOX[_member(Sandbox, sandbox, "sandbox")]
    return merged


def turn_presets(
    params: Mapping[str, Any], approval_mode: ApprovalModeLike | None, sandbox: SandboxLike | None
) -> dict[str, Any]:
    """``turn/start`` params with the presets written in."""
    merged = _approval(dict(params), approval_mode)
    if sandbox is not None:
        preset = _member(Sandbox, sandbox, "sandbox")
        if "sandbox_policy" in merged:
            raise TypeError("give sandbox= or sandbox_policy=, not both")
        merged["sandbox_policy"] = dict(_TURN_SANDBOX[preset])
    return merged
