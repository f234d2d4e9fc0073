"""Typed clients: one method per app-server request, over a sync or async connection.

The request methods themselves are generated (``generated/methods.py``) from the pinned
binary's schema; this module supplies the one hook they call, ``_call``, which validates the
keyword arguments into the params model, sends them in wire form (camelCase) and validates the
reply into the response model. The ``initialize`` handshake lives here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._connection import DEFAULT_TIMEOUT, AsyncConnection, Connection, DefaultTimeout
from ._handlers import HandlerTable, ServerRequestHandler
from ._lenient import fit
from ._protocol import Response
from ._startup import check_overrides, override_queries, start_error
from ._transports import async_transport_for, transport_for
from ._version import RUNTIME_VERSION
from .config import CodexConfig
from .errors import CodexError, IncompatibleServerError, TransportClosedError
from .generated import registry
from .generated.methods import AsyncRequestMethods, SyncRequestMethods

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import InitializeResponse

__all__ = ["AsyncCodexClient", "CodexClient"]


class _Codec:
    """One method's models: its keyword arguments to wire JSON, its reply to a model."""

    __slots__ = ("_no_params", "method", "params_model", "response_model")

    def __init__(
        self,
        params_model: type[BaseModel] | None,
        response_model: type[BaseModel],
        method: str = "",
    ):
        self.params_model = params_model
        self.response_model = response_model
        self.method = method
        #: The wire form of a call with no arguments, once it validated: it never changes.
        self._no_params: bytes | None = None

    def params(self, params: Mapping[str, Any]) -> bytes | None:
        """Validate snake_case (or camelCase) ``params``; return their wire JSON."""
        model = self.params_model
        if model is None:
            return None
        if not params:
            if self._no_params is None:
                self._no_params = _params_json(model, {})
            return self._no_params
        return _params_json(model, params if type(params) is dict else dict(params))

    def result(self, reply: Response) -> Any:
        """Validate a reply's result into the response model."""
        model = self.response_model
        if reply.raw is not None:
            # One pass from the JSON text; anything it cannot take (another layout, or a
            # result that does not fit) goes the general way, which gives the usual error.
            try:
                return model.__pydantic_validator__.validate_json(reply.raw)
            except ValueError:  # pydantic's ValidationError
                pass
        try:
            return model.model_validate(reply.result)
        except ValueError:  # a newer server's shape: typed as far as it fits, never lost
            return fit(model, reply.result, self.method)


def _params_json(model: type[BaseModel], params: dict[str, Any]) -> bytes:
    # The server rejects null where its schema does not allow it, so None is left off the
    # wire. Defaults stay: a nested model's tag (``type``) is one, and the server needs it.
    # Straight to JSON text, which the core splices into the line: no dict, no json.dumps.
    wire: bytes = model.__pydantic_serializer__.to_json(
        model.__pydantic_validator__.validate_python(params), by_alias=True, exclude_none=True
    )
    return wire


class _Codecs(dict[str, _Codec]):
    """Each method's codec, built on its first call; later calls cost one dict lookup."""

    def __missing__(self, method: str) -> _Codec:
        spec = registry.CLIENT_REQUESTS.get(method)
        if spec is None:
            raise CodexError(f"unknown request method {method!r}; use request() for raw calls")
        params_model = None if spec.params_model is None else registry.load_model(spec.params_model)
        response_model = registry.load_model(spec.response_model)
        found = self[method] = _Codec(params_model, response_model, method)
        return found


#: The codecs of the methods called so far.
CODECS = _Codecs()


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
        self.connection = Connection(self.config, transport_for(self.config), table)
        try:
            result = self.connection.exchange("initialize", self.config.initialize_params())
            self.connection.notify("initialized")
        except TransportClosedError as exc:
            self.connection.close()
            raise start_error(self.config, exc) from None
        except BaseException:
            self.connection.close()
            raise
        try:
            self.initialize_response: InitializeResponse = check_server(
                self.config, CODECS["initialize"].result(result)
            )
            queries = override_queries(self.config)
            check_overrides(self.config, [self.connection.request(*query) for query in queries])
        except BaseException:
            self.connection.close()
            raise

    @property
    def handlers(self) -> HandlerTable:
        """The table of server-request handlers of this connection."""
        return self.connection.handlers

    def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | DefaultTimeout | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Send any request with raw wire-form params and return the raw result.

        ``timeout``: seconds to wait for the reply; ``None`` waits forever, like
        ``request_timeout=None``; by default (``DEFAULT_TIMEOUT``) the config's
        ``request_timeout``.
        """
        return self.connection.request(method, params, timeout=timeout)

    def _call(self, method: str, params: dict[str, Any], /) -> Any:
        typed = CODECS[method]
        return typed.result(self.connection.exchange(method, typed.params(params)))

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
        self.connection = AsyncConnection(self.config, async_transport_for(self.config), table)
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
            raise start_error(self.config, exc) from None
        except BaseException:
            await self.connection.close()
            raise
        try:
            response = check_server(self.config, CODECS["initialize"].result(result))
            queries = override_queries(self.config)
            check_overrides(self.config, [await self.connection.request(*q) for q in queries])
            self._initialize_response = response
        except BaseException:
            await self.connection.close()
            raise

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | DefaultTimeout | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Send any request with raw wire-form params and return the raw result.

        ``timeout``: as for :meth:`CodexClient.request` (``None`` waits forever).
        """
        return await self.connection.request(method, params, timeout=timeout)

    async def _call(self, method: str, params: dict[str, Any], /) -> Any:
        typed = CODECS[method]
        return typed.result(await self.connection.exchange(method, typed.params(params)))

    async def close(self) -> None:
        """Stop the server; safe to call more than once."""
        await self.connection.close()

    async def __aenter__(self) -> AsyncCodexClient:
        if not self.started:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
