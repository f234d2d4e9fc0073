"""Checks of an app-server's websocket URL, made when a config is built, before any transport.

:func:`check_url` refuses a token (or credentials inside the URL) over plain ``ws://`` to a
host that is not loopback unless the caller opts in.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from .._redact import redact_url

__all__ = ["check_url", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's host name) is this machine: ``localhost`` or a loopback IP."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, token: str | None = None, allow_insecure_token: bool = False) -> str:
    """Return ``url`` if it is a usable websocket URL, else raise ``ValueError``.

    It must be ``ws://`` or ``wss://`` with a host. A ``token``, or credentials inside the URL
    (``user:password@`` or a query string), must not travel over plain ``ws://`` to a host
    that is not loopback (anyone on the path could read and replay them) unless
    ``allow_insecure_token`` says the caller accepts that.
    """
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("ws", "wss") or not host:
        raise ValueError(
            f"url={shown!r} is not a websocket URL; give one like 'ws://127.0.0.1:4500' (the "
            "address passed to `codex app-server --listen`)"
        )
    if token is not None and "@" in parts.netloc:
        raise ValueError(
            f"url={shown!r} carries user:password credentials and ws_token= is given too; the "
            "server gets only one Authorization header: keep the token in ws_token= alone"
        )
    credentials = token is not None or "@" in parts.netloc or bool(parts.query)
    if credentials and parts.scheme == "ws" and not is_loopback(host) and not allow_insecure_token:
        raise ValueError(
            f"refusing to send credentials in clear text over {shown}: {host} is not this "
            "machine. Use wss:// (TLS), reach the server through an SSH tunnel to "
            "127.0.0.1, or pass allow_insecure_token_over_ws=True if the network is trusted"
        )
    return url
