"""One place where an approval handler's decision becomes its method's answer.

However a handler was installed (``approval_handler=``, a thread's handler, or a function given
for an approval method in ``handlers=``), the handler table wraps it with :func:`answering`.
Approval rules get, through it, what their connection saw of the turns' file changes.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._decisions import (
    APPROVAL_METHODS,
    ApprovalDecision,
    ApprovalHandler,
    AsyncApprovalHandler,
    approval_result,
)
from ._files import FileChanges
from .rules import ApprovalRules, is_async_handler

if TYPE_CHECKING:
    from .._handlers import HandlerTable

__all__ = ["answering", "approval_handlers", "refuse_async", "set_thread_approval_handler"]

logger = logging.getLogger("codex_app_server")


def answering(
    method: str, handler: ApprovalHandler | AsyncApprovalHandler, files: FileChanges | None
) -> Callable[[Any], Any]:
    """``handler`` made to answer approval ``method``: the one place a decision (simple or full)
    becomes the method's response, whichever way the handler was installed.

    Approval rules decide with ``files`` (their connection's view of file changes) and log
    their own decision; any other handler's is logged here. A coroutine function stays one; a
    handler that returns an awaitable has it awaited by the async client.
    """
    name = getattr(handler, "__name__", type(handler).__name__)
    decide: Callable[[Any], Any] = handler
    logs_here = not isinstance(handler, ApprovalRules)
    if isinstance(handler, ApprovalRules):
        decide = functools.partial(handler._respond, files=files)

    def finish(params: Any, decision: ApprovalDecision) -> Any:
        if logs_here:
            logger.info("approval %s -> %r (handler %s)", method, decision, name)
        return approval_result(method, params, decision)

    async def finish_later(params: Any, pending: Awaitable[ApprovalDecision]) -> Any:
        return finish(params, await pending)

    if inspect.iscoroutinefunction(handler):

        async def answer_async(params: Any) -> Any:
            return await finish_later(params, handler(params))

        return answer_async

    def answer(params: Any) -> Any:
        decision = decide(params)
        if inspect.isawaitable(decision):
            return finish_later(params, decision)
        return finish(params, decision)

    return answer


def refuse_async(handler: Any) -> None:
    """Raise ``TypeError`` if the sync client was given a ``handler`` it would have to await."""
    if handler is not None and is_async_handler(handler):
        raise TypeError(
            f"{handler!r} is asynchronous (a coroutine function, or rules whose ask= is one); "
            "the sync Codex cannot await it: use AsyncCodex, or give a plain function"
        )


def approval_handlers(
    handler: ApprovalHandler | AsyncApprovalHandler,
) -> dict[str, ApprovalHandler | AsyncApprovalHandler]:
    """``handler`` for every approval method (the handler table makes each one answer)."""
    return dict.fromkeys(sorted(APPROVAL_METHODS), handler)


def set_thread_approval_handler(
    table: HandlerTable, thread_id: str, handler: ApprovalHandler | AsyncApprovalHandler | None
) -> None:
    """Route one thread's approval requests to ``handler`` (``None``: back to the client's)."""
    for method in APPROVAL_METHODS:
        table.set(method, handler, thread_id=thread_id)
