"""What the scripted model answers: outputs, whole responses, and the SSE events they become.

Everything here is plain data. A :class:`ModelResponse` turns itself into the Responses API
event stream that the Codex app-server reads; the HTTP server in ``_server.py`` only writes it.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "FunctionCall",
    "HttpError",
    "Message",
    "ModelResponse",
    "Output",
    "Reasoning",
    "ScriptItem",
    "Stall",
    "Usage",
    "apply_patch",
    "exec_command",
    "function_call",
    "http_error",
    "message",
    "message_deltas",
    "reasoning",
    "response",
    "stall",
    "write_file",
]

_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    # Unique across the process so that items of different responses never collide in a thread.
    return f"{prefix}_{next(_ids)}"


SseEvent: TypeAlias = tuple[str, dict[str, Any]]
"""One server-sent event: its ``event:`` type and its JSON ``data``."""


@dataclass(frozen=True)
class Usage:
    """Token usage reported with ``response.completed``; the app-server turns it into
    ``thread/tokenUsage/updated``."""

    input_tokens: int = 10
    output_tokens: int = 5
    cached_input_tokens: int = 0
    reasoning_output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens, as the Responses API reports them."""
        return self.input_tokens + self.output_tokens

    def to_json(self) -> dict[str, Any]:
        """The ``usage`` object of a Responses API ``response.completed`` event."""
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_input_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_output_tokens},
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class Message:
    """An assistant message, sent whole or as text deltas (build it with :func:`message` or
    :func:`message_deltas`)."""

    deltas: tuple[str, ...]
    streamed: bool
    id: str = field(default_factory=lambda: _new_id("msg"))

    @property
    def text(self) -> str:
        """The full text of the message."""
        return "".join(self.deltas)

    def events(self, output_index: int) -> Iterator[SseEvent]:
        """The SSE events for this output item at position ``output_index``."""
        item = {"type": "message", "role": "assistant", "id": self.id}
        yield (
            "response.output_item.added",
            {
                "output_index": output_index,
                "item": {**item, "content": []},
            },
        )
        if self.streamed:
            for delta in self.deltas:
                yield (
                    "response.output_text.delta",
                    {
                        "item_id": self.id,
                        "output_index": output_index,
                        "content_index": 0,
                        "delta": delta,
                    },
                )
        yield (
            "response.output_item.done",
            {
                "output_index": output_index,
                "item": {**item, "content": [{"type": "output_text", "text": self.text}]},
            },
        )


@dataclass(frozen=True)
class Reasoning:
    """A reasoning item with a summary, streamed as summary deltas (build it with
    :func:`reasoning`)."""

    summary: str
    id: str = field(default_factory=lambda: _new_id("rs"))

    def events(self, output_index: int) -> Iterator[SseEvent]:
        """The SSE events for this output item at position ``output_index``."""
        item: dict[str, Any] = {"type": "reasoning", "id": self.id, "encrypted_content": None}
        yield (
            "response.output_item.added",
            {
                "output_index": output_index,
                "item": {**item, "summary": []},
            },
        )
        yield (
            "response.reasoning_summary_part.added",
            {
                "item_id": self.id,
                "output_index": output_index,
                "summary_index": 0,
            },
        )
        yield (
            "response.reasoning_summary_text.delta",
            {
                "item_id": self.id,
                "output_index": output_index,
                "summary_index": 0,
                "delta": self.summary,
            },
        )
        yield (
            "response.output_item.done",
            {
                "output_index": output_index,
                "item": {**item, "summary": [{"type": "summary_text", "text": self.summary}]},
            },
        )


@dataclass(frozen=True)
class FunctionCall:
    """A tool call by the model (build it with :func:`function_call`, :func:`exec_command`,
    :func:`apply_patch` or :func:`write_file`)."""

    name: str
    arguments: str
    call_id: str = field(default_factory=lambda: _new_id("call"))

    def events(self, output_index: int) -> Iterator[SseEvent]:
        """The SSE events for this output item at position ``output_index``."""
        yield (
            "response.output_item.done",
            {
                "output_index": output_index,
                "item": {
                    "type": "function_call",
                    "id": _new_id("fc"),
                    "call_id": self.call_id,
                    "name": self.name,
                    "arguments": self.arguments,
                },
            },
        )


class Stall:
    """A point in a response where the server stops sending and holds the connection open.

    Put it between the outputs of a :func:`response`; the events before it are sent, then the
    stream waits until :meth:`release` is called (or the server closes). :meth:`wait_reached`
    tells a test that the model is now stalled, so interrupt and steer tests need no sleeps.
    """

    def __init__(self) -> None:
        """Create an unreleased stall."""
        self._reached = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        """Let the response continue past this point."""
        self._released.set()

    @property
    def released(self) -> bool:
        """Whether :meth:`release` was called (or the server was closed)."""
        return self._released.is_set()

    def wait_reached(self, timeout: float = 10.0) -> None:
        """Block until the server has sent everything before this stall.

        Raises :class:`TimeoutError` if that does not happen within ``timeout`` seconds.
        """
        if not self._reached.wait(timeout):
            raise TimeoutError(f"the model stream did not reach the stall within {timeout}s")

    def _hold(self) -> None:
        self._reached.set()
        self._released.wait()


Output: TypeAlias = Message | Reasoning | FunctionCall | Stall
"""Anything that can appear in a scripted :class:`ModelResponse`."""


@dataclass(frozen=True)
class ModelResponse:
    """One streamed model answer: its outputs in order, and the token usage it reports."""

    outputs: tuple[Output, ...]
    usage: Usage = Usage()
    id: str = field(default_factory=lambda: _new_id("resp"))

    def events(self) -> Iterator[SseEvent | Stall]:
        """The SSE events of the whole response, with each :class:`Stall` in its place."""
        yield "response.created", {"response": {"id": self.id}}
        output_index = 0
        for output in self.outputs:
            if isinstance(output, Stall):
                yield output
                continue
            yield from output.events(output_index)
            output_index += 1
        yield (
            "response.completed",
            {
                "response": {"id": self.id, "usage": self.usage.to_json()},
            },
        )


@dataclass(frozen=True)
class HttpError:
    """A model request answered with an HTTP error status instead of a stream."""

    status: int
    message: str
    code: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON error body, shaped like the Responses API's errors."""
        return {"error": {"message": self.message, "type": "api_error", "code": self.code}}


ScriptItem: TypeAlias = ModelResponse | HttpError
"""What the server answers to one model request."""


def message(text: str) -> Message:
    """An assistant message sent whole, in a single ``response.output_item.done``."""
    return Message(deltas=(text,), streamed=False)


def message_deltas(deltas: Sequence[str]) -> Message:
    """An assistant message streamed as ``response.output_text.delta`` events, one per string."""
    if isinstance(deltas, str):
        raise TypeError("message_deltas() takes a sequence of strings, not one string")
    return Message(deltas=tuple(deltas), streamed=True)


def reasoning(summary: str) -> Reasoning:
    """A reasoning item whose summary is streamed as one summary delta."""
    return Reasoning(summary=summary)


def function_call(
    name: str, arguments: Mapping[str, Any] | str, *, call_id: str | None = None
) -> FunctionCall:
    """A call of the tool ``name``; ``arguments`` is a mapping (sent as JSON) or a JSON string."""
    encoded = arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
    if call_id is None:
        return FunctionCall(name=name, arguments=encoded)
    return FunctionCall(name=name, arguments=encoded, call_id=call_id)


def exec_command(
    cmd: str,
    *,
    justification: str | None = None,
    escalated: bool = False,
    workdir: str | None = None,
    call_id: str | None = None,
) -> FunctionCall:
    """A call of the app-server's ``exec_command`` tool running the shell command ``cmd``.

    ``escalated=True`` asks to run outside the sandbox, which makes an ``on-request`` approval
    policy send the client ``item/commandExecution/requestApproval``.
    """
    arguments: dict[str, Any] = {"cmd": cmd}
    if workdir is not None:
        arguments["workdir"] = workdir
    if escalated:
        arguments["sandbox_permissions"] = "require_escalated"
    if justification is not None:
        arguments["justification"] = justification
    return function_call("exec_command", arguments, call_id=call_id)


def apply_patch(patch: str, *, call_id: str | None = None) -> FunctionCall:
    """A file edit: ``patch`` in the ``*** Begin Patch`` format, run as ``apply_patch`` through
    ``exec_command``, which the app-server turns into a file change (and, under ``on-request``
    outside the writable roots, ``item/fileChange/requestApproval``)."""
    return exec_command(f"apply_patch <<'PATCH'\n{patch.rstrip()}\nPATCH\n", call_id=call_id)


def write_file(path: str, content: str, *, call_id: str | None = None) -> FunctionCall:
    """A file edit that creates ``path`` (relative to the thread's cwd) with ``content``."""
    lines = "".join(f"+{line}\n" for line in content.splitlines())
    patch = f"*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch"
    return apply_patch(patch, call_id=call_id)


def stall() -> Stall:
    """A new :class:`Stall` to place in a :func:`response`; keep it to release it later."""
    return Stall()


def response(*outputs: Output, usage: Usage | None = None) -> ModelResponse:
    """One model answer streaming ``outputs`` in order, then ``response.completed`` with
    ``usage`` (a small default if omitted)."""
    return ModelResponse(outputs=outputs, usage=usage or Usage())


def http_error(
    status: int, message: str = "scripted model error", *, code: str | None = None
) -> HttpError:
    """A model answer that is an HTTP error, for example 429 (rate limit) or 500."""
    if not 400 <= status <= 599:
        raise ValueError(f"http_error() needs a 4xx or 5xx status, got {status}")
    return HttpError(status=status, message=message, code=code)
