"""Declarative approval rules: :class:`ApprovalRules` and how it reads commands.

This path stays for code that imports it; the rules live in :mod:`codex_app_server.approvals`.
"""

from __future__ import annotations

from .approvals import (
    ApprovalRules,
    CommandNotUnderstood,
    ExactCommand,
    RuleDecision,
    command_words,
    parse_command,
)

__all__ = [
    "ApprovalRules",
    "CommandNotUnderstood",
    "ExactCommand",
    "RuleDecision",
    "command_words",
    "parse_command",
]
