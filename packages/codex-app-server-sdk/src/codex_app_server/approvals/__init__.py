"""Approving (or not) what the agent wants to do: the one home of approvals.

An *approval handler* receives the typed params of an approval request and returns a
decision: ``True``/``False``, ``"accept"``, ``"acceptForSession"``, ``"decline"``,
``"cancel"``, or the method's full response (see :func:`approval_result`).
:class:`ApprovalRules` is such a handler, made of declarative rules. With the async client a
handler may be a coroutine function (or return an awaitable); the sync client refuses such a
handler when it is installed. Nothing is approved unless a handler says so: with no handler
every request is declined.

The modules, one concern each: ``_decisions`` (the decision values and each method's wire
answer), ``_answering`` (how any installed handler answers, through the connection's handler
table), ``rules`` (:class:`ApprovalRules`), ``_commands`` (reading a command as the shell
would) and ``_files`` (what a connection saw of its turns' file changes, which the rules read).
"""

from __future__ import annotations

# What the rest of the SDK installs handlers with ("as": re-exported, not part of __all__).
from ._answering import approval_handlers as approval_handlers
from ._answering import refuse_async as refuse_async
from ._answering import set_thread_approval_handler as set_thread_approval_handler
from ._commands import CommandNotUnderstood, command_words, parse_command
from ._decisions import (
    ApprovalDecision,
    ApprovalHandler,
    AsyncApprovalHandler,
    accept_all,
    approval_result,
    decline_all,
)
from .rules import ApprovalRules, ExactCommand, RuleDecision

__all__ = [
    "ApprovalDecision",
    "ApprovalHandler",
    "ApprovalRules",
    "AsyncApprovalHandler",
    "CommandNotUnderstood",
    "ExactCommand",
    "RuleDecision",
    "accept_all",
    "approval_result",
    "command_words",
    "decline_all",
    "parse_command",
]
