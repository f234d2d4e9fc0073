"""The typed client: one method per app-server request, over one connection.

The request methods themselves are generated (``generated/methods.py``); this class supplies
the one hook they call, ``_call`` (the codecs are in :mod:`codex_app_server._client`), the
``initialize`` handshake and ``request()`` for raw calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._backend_async import Lifecycle, open_connection
from .._client import CODECS, check_server
from .._connection import DEFAULT_TIMEOUT, AsyncConnection, DefaultTimeout
from .._handlers import HandlerTable, ServerRequestHandler
from .._startup import check_overrides, override_queries, start_error
from .._transports import async_transport_for
from ..config import CodexConfig
from ..errors import CodexError, TransportClosedError
from ..generated.methods import AsyncRequestMethods

if TYPE_CHECKING:
    from ..generated import InitializeResponse

__all__ = ["AsyncCodexClient"]


class AsyncCodexClient(AsyncRequestMethods, Lifecycle):
    """A typed client for one ``codex app-server`` process.

    Starting it launches the server and performs the ``initialize`` handshake; it is
    started on first use. Every request of the protocol is a method
    (``await client.thread_start(model=...)``) returning its generated response model.
    ``request()`` sends anything else untyped.
    """

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
        self._begin()

    @property
    def initialize_response(self) -> InitializeResponse:
        """The server's answer to ``initialize``."""
        if self._initialize_response is None:
            raise CodexError("the client has not started: its start() must complete first")
        return self._initialize_response

    def _is_started(self) -> bool:
        return self._initialize_response is not None

    @property
    def handlers(self) -> HandlerTable:
        """The table of server-request handlers of this connection."""
        return self.connection.handlers

    async def _start(self) -> None:
        await open_connection(self.connection)
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

        ``timeout``: seconds to wait for the reply; ``None`` waits forever, like
        ``request_timeout=None``; by default (``DEFAULT_TIMEOUT``) the config's
        ``request_timeout``.
        """
        return await self.connection.request(method, params, timeout=timeout)

    async def _call(self, method: str, params: dict[str, Any], /) -> Any:
        typed = CODECS[method]
        return typed.result(await self.connection.exchange(method, typed.params(params)))

    async def close(self) -> None:
        """Stop the server; safe to call more than once."""
        await self.connection.close()
