# Generated from ../_async/tools.py by scripts/unasync.py: edit that file instead.
"""Answering the model's calls of in-process tools (``item/tool/call``).

The tools themselves, their schemas and the answers' wording are in
:mod:`codex_app_server.tools`; how a function is run differs by face (the backend pair's
``call_tool``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._backend_sync import call_tool
from ..tools import Tool, output_text, tool_failure, tool_result

__all__ = ["tool_call_handler"]


def tool_call_handler(tools: Mapping[str, Tool]) -> Callable[[Any], dict[str, Any]]:
    """The ``item/tool/call`` handler answering with ``tools`` (plain or ``async`` each)."""

    def answer(params: Any) -> dict[str, Any]:
        found = tools.get(params.tool)
        if found is None:
            return tool_result(f"no tool named {params.tool!r} is registered", False)
        try:
            call = found.bind(params.arguments)
            result = call_tool(call, found.is_async)
        except Exception as exc:
            return tool_failure(found.name, exc)
        return tool_result(output_text(result), True)

    return answer
