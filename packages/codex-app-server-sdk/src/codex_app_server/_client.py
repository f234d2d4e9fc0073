"""What the typed clients share, without I/O: each method's codec, and the server check.

The request methods themselves are generated (``generated/methods.py``) from the pinned
binary's schema; they call the client's ``_call`` (written once, in ``_async/client.py``),
which validates the keyword arguments into the params model with a codec from here, sends them
in wire form (camelCase) and validates the reply into the response model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._lenient import fit
from ._protocol import Response
from ._version import RUNTIME_VERSION
from .config import CodexConfig
from .errors import CodexError, IncompatibleServerError
from .generated import registry

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import InitializeResponse

__all__ = ["CODECS", "check_server", "server_version"]


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


def server_version(text: str) -> tuple[int, ...] | None:
    """The codex version in an ``initialize`` user agent (``originator/X.Y.Z (...)``), in what
    ``codex --version`` prints (``codex-cli X.Y.Z``) or in a bare ``X.Y.Z``."""
    match = re.match(r"(?:[^/\s]+[/ ])?(\d+)\.(\d+)\.(\d+)", text.strip())
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
