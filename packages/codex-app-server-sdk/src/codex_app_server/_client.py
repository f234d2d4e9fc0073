"""Typed clients: one method per app-server request, over a sync or async connection.

The 109 request methods themselves are generated (``generated/methods.py``) from the pinned
binary's schema; this module supplies the one hook they call, ``_call``, which validates the
keyword arguments into the params model, sends them in wire form (camelCase) and validates the
reply into the response model. The ``initialize`` handshake lives here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._connection import AsyncConnection, Connection
from ._handlers import HandlerTable, ServerRequestHandler
from ._protocol import Response
from ._version import RUNTIME_VERSION
from .config import CodexConfig
from .errors import (
    AppServerStartError,
    CodexError,
    IncompatibleServerError,
    TransportClosedError,
)
from .generated import registry
from .generated.methods import AsyncRequestMethods, SyncRequestMethods

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import InitializeResponse

__all__ = ["AsyncCodexClient", "CodexClient"]


#: Per method: its params model (``None`` when it takes none) and its response model.
_CODECS: dict[str, tuple[type[BaseModel] | None, type[BaseModel]]] = {}


def _codec(method: str) -> tuple[type[BaseModel] | None, type[BaseModel]]:
    """Look ``method``'s models up once; typed calls then cost one dict lookup for both."""
    codec = _CODECS.get(method)
    if codec is None:
        spec = registry.CLIENT_REQUESTS.get(method)
        if spec is None:
            raise CodexError(f"unknown request method {method!r}; use request() for raw calls")
        params_model = None if spec.params_model is None else registry.load_model(spec.params_model)
        codec = _CODECS[method] = (params_model, registry.load_model(spec.response_model))
    return codec


def params_to_wire(method: str, params: Mapping[str, Any]) -> bytes | None:
    """Validate snake_case (or camelCase) ``params`` for ``method``; return their wire JSON."""
    model = _codec(method)[0]
    if model is None:
        return None
    # The server rejects null where its schema does not allow it, so None is left off the
    # wire. Defaults stay: a nested model's tag (``type``) is one, and the server needs it.
    # Straight to JSON text, which the core splices into the line: no dict, no json.dumps.
    wire: bytes = model.__pydantic_serializer__.to_json(
        model.__pydantic_validator__.validate_python(
            params if type(params) is dict else dict(params)
        ),
        by_alias=True,
        exclude_none=True,
    )
    return wire


def result_from_wire(method: str, reply: Response) -> Any:
    """Validate a reply's result into ``method``'s response model."""
    model = _codec(method)[1]
    if reply.raw is not None:
        # One pass from the JSON text; anything it cannot take (another layout, or a result
        # that does not fit) goes the general way, which gives the usual error.
        try:
            return model.__pydantic_validator__.validate_json(reply.raw)
        except ValueError:  # pydantic's ValidationError
            pass
    return model.model_validate(reply.result)


def server_version(user_agent: str) -> tuple[int, ...] | None:
    """The codex version in an ``initialize`` user agent (``originator/X.Y.Z (...)``)."""
    match = re.match(r"[^/\s]+/(\d+)\.(\d+)\.(\d+)", user_agent)
    return tuple(int(part) for part in match.groups()) if match else None


def check_server(config: CodexConfig, response: InitializeResponse) -> InitializeResponse:
    """Refuse a server from an older minor release than the one the models came from."""
    if not config.check_version:
        return response
    found = server_version(response.user_agent)
    pinned = tuple(int(part) for part in RUNTIME_VERSION.split(".")[:3])
    if found is not None and found[:2] < pinned[:2]:
        raise IncompatibleServerError(
            f"the app-server is codex {'.'.join(map(str, found))}, older than the "
            f"{RUNTIME_VERSION} this SDK speaks; install codex-cli-bin=={RUNTIME_VERSION} "
            "(or pass check_version=False to try anyway)"
        )
    return response


def _start_error(exc: TransportClosedError) -> AppServerStartError:
    return AppServerStartError(
        "the app-server exited during start-up",
        exit_code=exc.exit_code,
        stderr_tail=exc.stderr_tail,
    )


class CodexClient(SyncRequestMethods):
    """A blocking, typed client for one ``codex app-server`` process.

    Starting it launches the server and performs the ``initialize`` handshake; every request
    of the protocol is a method (``client.thread_start(model=...)``) returning its generated
    response model. ``request()`` sends anything else untyped.
    """

    def __init__(
        self,
        config: CodexConfig | None = None,
        *,
        handlers: Mapping[str, ServerRequestHandler] | HandlerTable | None = None,
    ) -> None:
        self.config = config if config is not None else CodexConfig()
        table = handlers if isinstance(handlers, HandlerTable) else HandlerTable(handlers)
        self.connection = Connection(self.config, table)
        try:
            result = self.connection.exchange("initialize", self.config.initialize_params())
            self.connection.notify("initialized")
        except TransportClosedError as exc:
            self.connection.close()
            raise _start_error(exc) from None
        except BaseException:
            self.connection.close()
            raise
        try:
            self.initialize_response: InitializeResponse = check_server(
                self.config, result_from_wire("initialize", result)
            )
        except BaseException:
            self.connection.close()
            raise

    @property
    def handlers(self) -> HandlerTable:
        """The table of server-request handlers of this connection."""
        return self.connection.handlers

    def request(
        self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send any request with raw wire-form params and return the raw result."""
        if timeout is None:
            return self.connection.request(method, params)
        return self.connection.request(method, params, timeout=timeout)

    def _call(self, method: str, params: dict[str, Any], /) -> Any:
        reply = self.connection.exchange(method, params_to_wire(method, params))
        return result_from_wire(method, reply)

    def close(self) -> None:
        """Stop the server; safe to call more than once."""
        self.connection.close()

    def __enter__(self) -> CodexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncCodexClient(AsyncRequestMethods):
    """The asyncio twin of :class:`CodexClient`; call :meth:`start` (or ``async with``)."""

    def __init__(
        self,
        config: CodexConfig | None = None,
        *,
        handlers: Mapping[str, ServerRequestHandler] | HandlerTable | None = None,
    ) -> None:
        self.config = config if config is not None else CodexConfig()
        table = handlers if isinstance(handlers, HandlerTable) else HandlerTable(handlers)
        self.connection = AsyncConnection(self.config, table)
        self._initialize_response: InitializeResponse | None = None

    @property
    def initialize_response(self) -> InitializeResponse:
        """The server's answer to ``initialize``."""
        if self._initialize_response is None:
            raise CodexError("the client is not started: await client.start() first")
        return self._initialize_response

    @property
    def started(self) -> bool:
        """Whether the handshake has completed."""
        return self._initialize_response is not None

    @property
    def handlers(self) -> HandlerTable:
        """The table of server-request handlers of this connection."""
        return self.connection.handlers

    async def start(self) -> None:
        """Launch the server and perform the handshake."""
        await self.connection.start()
        try:
            result = await self.connection.exchange("initialize", self.config.initialize_params())
            await self.connection.notify("initialized")
        except TransportClosedError as exc:
            await self.connection.close()
            raise _start_error(exc) from None
        except BaseException:
            await self.connection.close()
            raise
        try:
            self._initialize_response = check_server(
                self.config, result_from_wire("initialize", result)
            )
        except BaseException:
            await self.connection.close()
            raise

    async def request(
        self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send any request with raw wire-form params and return the raw result."""
        if timeout is None:
            return await self.connection.request(method, params)
        return await self.connection.request(method, params, timeout=timeout)

    async def _call(self, method: str, params: dict[str, Any], /) -> Any:
        reply = await self.connection.exchange(method, params_to_wire(method, params))
        return result_from_wire(method, reply)

    async def close(self) -> None:
        """Stop the server; safe to call more than once."""
        await self.connection.close()

    async def __aenter__(self) -> AsyncCodexClient:
        if not self.started:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
