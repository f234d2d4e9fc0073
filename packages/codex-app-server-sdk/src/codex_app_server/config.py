"""Options for starting and talking to an app-server, gathered in one place.

:class:`CodexConfig` is accepted by :class:`~codex_app_server.Codex` and
:class:`~codex_app_server.AsyncCodex` (their keyword arguments fill one in), and it is the
only place that turns options into the command line and environment of the server process.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._redact import redact, redact_url
from ._version import __version__
from .errors import CodexNotFoundError

if TYPE_CHECKING:
    import ssl

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "CodexConfig", "resolve_codex_bin"]

#: Seconds a request waits for its reply before :class:`~codex_app_server.RequestTimeoutError`.
DEFAULT_REQUEST_TIMEOUT = 300.0


@dataclass(frozen=True)
class CodexConfig:
    """How to launch ``codex app-server`` and introduce this client to it.

    ``codex_bin``: the executable to run; by default the one from the installed
    ``codex-cli-bin`` package. A relative path is made absolute against this process's
    working directory when the config is created (never against ``cwd``).
    ``config_overrides``: values passed as ``-c key=value`` (dotted keys, values written as
    TOML). ``cwd`` and ``env``: the server's working directory
    and extra environment (merged over this process's environment; values are never logged
    or shown in ``repr``). ``client_name``/``client_title``/``client_version``: the
    ``clientInfo`` sent in ``initialize``. ``experimental_api``: opt in to experimental
    methods and fields. ``opt_out_notification_methods``: notifications the server should not
    send on this connection. ``request_timeout``: seconds to wait for any reply (``None``
    waits forever). ``extra_args``: further command-line arguments for ``codex app-server``.
    ``inherit_env``: start from this process's environment (the default) or from ``env`` alone.
    ``check_version``: refuse a server older than the runtime this SDK was generated for.
    ``require_sign_in``: fail at start with :class:`~codex_app_server.NotSignedInError` when
    the configured model provider needs an OpenAI sign-in and none is stored; pass ``False``
    to start anyway and sign in afterwards (``codex.login_api_key(...)``, ``login_chatgpt()``).
    ``check_overrides``: after start, compare ``config_overrides`` with the configuration the
    server reports and raise :class:`~codex_app_server.ConfigOverrideError` (``"error"``, the
    default), warn (``"warn"``) or do nothing (``"off"``) when one was not taken.
    ``handler_workers``: how many plain-function server-request handlers (approvals, tools)
    run at once; more wait their turn (the SDK's own answers, such as token refresh, have a
    lane of their own). ``handler_timeout``: seconds a server request may wait for its
    handler, from its arrival; then the safe default (decline) is sent (``None``: no limit).

    ``url``: connect to an app-server already listening there (``ws://HOST:PORT`` or
    ``wss://...``, as started by ``codex app-server --listen ws://HOST:PORT``) instead of
    launching one; the launch options (``codex_bin``, ``config_overrides``, ``cwd``, ``env``,
    ``extra_args``) then do not apply and may not be given. Needs the ``websocket`` extra.
    ``ws_token``: the bearer token for a server started with ``--ws-auth`` (a capability token,
    or a JWT from :func:`~codex_app_server.signed_bearer_token`); sent as
    ``Authorization: Bearer ...``, never logged or shown in ``repr``. A token (or credentials
    inside ``url``) is refused over plain ``ws://`` to a host other than this machine;
    ``allow_insecure_token_over_ws=True`` sends it anyway, for a network you trust. ``wss://``
    is TLS, checked against the system's certificate authorities unless ``ws_ssl_context``
    (an :class:`ssl.SSLContext`) says otherwise. ``repr`` hides the credentials in ``url``
    and secret-looking ``config_overrides`` values.

    ``max_concurrent_turns``: the most turns this client runs at once (``None``: no cap); a
    turn started beyond it waits in ``turn()``/``run()`` until a running one ends.
    """

    codex_bin: str | os.PathLike[str] | None = None
    config_overrides: Mapping[str, Any] = field(default_factory=dict)
    cwd: str | os.PathLike[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    client_name: str = "codex_app_server_sdk"
    client_title: str | None = "Codex App Server Python SDK"
    client_version: str = __version__
    experimental_api: bool = False
    opt_out_notification_methods: Sequence[str] = ()
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    extra_args: Sequence[str] = ()
    inherit_env: bool = True
    check_version: bool = True
    require_sign_in: bool = True
    check_overrides: Literal["error", "warn", "off"] = "error"
    url: str | None = None
    ws_token: str | None = field(default=None, repr=False)
    allow_insecure_token_over_ws: bool = False
    ws_ssl_context: ssl.SSLContext | None = None
    max_concurrent_turns: int | None = None
    handler_workers: int = 8
    handler_timeout: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.handler_workers, bool) or not (
            isinstance(self.handler_workers, int) and self.handler_workers >= 1
        ):
            raise ValueError("handler_workers must be a whole number of at least 1")
        if self.handler_timeout is not None and not self.handler_timeout > 0:
            raise ValueError("handler_timeout must be a positive number of seconds or None")
        if self.max_concurrent_turns is not None and (
            isinstance(self.max_concurrent_turns, bool)
            or not isinstance(self.max_concurrent_turns, int)
            or self.max_concurrent_turns < 1
        ):
            raise ValueError(
                "max_concurrent_turns must be a whole number of turns, 1 or more, or None "
                f"(no cap), not {self.max_concurrent_turns!r}"
            )
        if self.url is not None:
            self._check_remote()
        else:
            remote_only = {
                "ws_token": self.ws_token is not None,
                "allow_insecure_token_over_ws": self.allow_insecure_token_over_ws,
                "ws_ssl_context": self.ws_ssl_context is not None,
            }
            for name, is_set in remote_only.items():
                if is_set:
                    raise ValueError(f"{name}= is only used with url= (a websocket app-server)")
        if self.codex_bin is not None:
            # Made absolute now: the server is started in `cwd`, where a relative path would
            # name a different file than the one the caller meant (and the SDK checked).
            absolute = os.path.abspath(self.codex_bin)
            is_path = isinstance(self.codex_bin, os.PathLike)
            object.__setattr__(self, "codex_bin", Path(absolute) if is_path else absolute)
        if self.request_timeout is not None and not self.request_timeout > 0:
            raise ValueError("request_timeout must be a positive number of seconds or None")
        for key in self.config_overrides:
            if not isinstance(key, str) or not key or "=" in key:
                raise ValueError(
                    f"config_overrides key {key!r} must be a dotted name like "
                    "'model' or 'sandbox_workspace_write.network_access'"
                )
        if self.check_overrides not in ("error", "warn", "off"):
            raise ValueError("check_overrides must be 'error', 'warn' or 'off'")
        if isinstance(self.opt_out_notification_methods, str):
            raise TypeError("opt_out_notification_methods must be a list of method names")

    def _check_remote(self) -> None:
        from ._transports.urls import check_url

        check_url(
            str(self.url),
            token=self.ws_token,
            allow_insecure_token=self.allow_insecure_token_over_ws,
        )
        if self.ws_ssl_context is not None and not str(self.url).startswith("wss:"):
            raise ValueError("ws_ssl_context= is only used with a wss:// url")
        launch_options = {
            "codex_bin": self.codex_bin is not None,
            "config_overrides": bool(self.config_overrides),
            "cwd": self.cwd is not None,
            "env": bool(self.env),
            "extra_args": bool(self.extra_args),
        }
        given = sorted(name for name, is_set in launch_options.items() if is_set)
        if given:
            raise ValueError(
                f"{', '.join(given)} configure a launched app-server and do not apply with url=; "
                "set them on the `codex app-server --listen` command instead"
            )

    def __repr__(self) -> str:
        shown = {
            "url": None if self.url is None else redact_url(self.url),
            "config_overrides": redact(dict(self.config_overrides)),
            "extra_args": tuple(redact(list(self.extra_args))),
        }
        items = (
            f"{f.name}={shown.get(f.name, getattr(self, f.name))!r}" for f in fields(self) if f.repr
        )
        return f"CodexConfig({', '.join(items)})"

    def argv(self, codex_bin: Path) -> list[str]:
        """The command line that starts the server (no shell is ever involved)."""
        args = [os.fspath(codex_bin), "app-server"]
        for key, value in self.config_overrides.items():
            args += ["-c", f"{key}={toml_value(value)}"]
        args += list(self.extra_args)
        return args

    def process_env(self) -> dict[str, str]:
        """This process's environment (if ``inherit_env``) with ``env`` laid over it."""
        merged = dict(os.environ) if self.inherit_env else {}
        for key, value in self.env.items():
            if not isinstance(value, str):
                raise TypeError(f"env[{key!r}] must be a str, not {type(value).__name__}")
            merged[key] = value
        return merged

    def initialize_params(self) -> dict[str, Any]:
        """The ``initialize`` request's params, in wire form."""
        client_info: dict[str, Any] = {"name": self.client_name, "version": self.client_version}
        if self.client_title is not None:
            client_info["title"] = self.client_title
        capabilities: dict[str, Any] = {}
        if self.experimental_api:
            capabilities["experimentalApi"] = True
        if self.opt_out_notification_methods:
            capabilities["optOutNotificationMethods"] = list(self.opt_out_notification_methods)
        params: dict[str, Any] = {"clientInfo": client_info}
        if capabilities:
            params["capabilities"] = capabilities
        return params


def resolve_codex_bin(codex_bin: str | os.PathLike[str] | None) -> Path:
    """The executable to launch: ``codex_bin`` if given, else the ``codex-cli-bin`` runtime.

    Raises :class:`~codex_app_server.CodexNotFoundError` with what to do when neither works.
    """
    if codex_bin is not None:
        path = Path(os.path.abspath(codex_bin))
        if os.name == "nt" and not path.is_file() and path.with_name(path.name + ".exe").is_file():
            # Windows runs C:/x/codex as C:/x/codex.exe; the checks here must see that file.
            path = path.with_name(path.name + ".exe")
        if not path.is_file():
            raise CodexNotFoundError(
                f"codex_bin={os.fspath(codex_bin)!r} is not a file; pass the path of a codex "
                "executable, or omit codex_bin to use the installed codex-cli-bin runtime"
            )
        if os.name != "nt" and not os.access(path, os.X_OK):
            raise CodexNotFoundError(
                f"codex_bin={os.fspath(codex_bin)!r} is not executable; fix its mode "
                "(chmod +x) or point codex_bin at a codex executable"
            )
        return path
    try:
        import codex_cli_bin
    except ImportError:
        raise CodexNotFoundError(
            "the Codex runtime is not installed: run `pip install codex-app-server-sdk` (which "
            "installs codex-cli-bin) or pass codex_bin='/path/to/codex'"
        ) from None
    try:
        return Path(codex_cli_bin.bin_path())
    except FileNotFoundError as exc:
        raise CodexNotFoundError(
            f"the installed codex-cli-bin package has no usable binary ({exc}); reinstall it "
            "with `pip install --force-reinstall codex-cli-bin` or pass codex_bin="
        ) from exc


def toml_value(value: Any) -> str:
    """Write ``value`` as a TOML value, for ``-c key=value`` and for a ``config.toml``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot pass {value!r} as a TOML value")
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        # A JSON string is a TOML basic string once DEL is escaped as well. Other characters
        # stay as they are: JSON's escape of a character beyond U+FFFF (a surrogate pair) is
        # not TOML.
        return json.dumps(os.fspath(value), ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot pass a {type(value).__name__} as a config override value")
