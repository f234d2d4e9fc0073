"""Hiding secrets from logs, ``repr`` and error messages: one place that decides what is secret.

Two tests, applied together. By key: a value under a key that names a credential (compared
case-insensitively with ``-``, ``_`` and ``.`` ignored, so ``apiKey``, ``api_key`` and
``X-Api-Key`` are one name) is hidden, as is every value of an ``env`` or ``headers`` mapping
and the ``value`` of a config write whose ``keyPath`` names one. By shape: inside any text,
bearer tokens, well-known key formats (``sk-...``, GitHub and Slack tokens, AWS key ids), JWTs,
long random base64 or hex strings and credentials inside URLs are replaced, whatever their key.
Numbers and booleans are never hidden (``inputTokens`` is a count, not a token).
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "hides_values", "is_secret_key", "redact", "redact_text", "redact_url"]

#: What a hidden value is replaced with.
REDACTED = "<redacted>"

#: Parts of a normalised key that name a credential wherever they appear in it.
_SECRET_PARTS = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "privatekey",
    "accesskey",
    "signingkey",
    "sessionkey",
    "encryptionkey",
    "authorization",
    "cookie",
    "credential",
    "jwt",
    "bearer",
)
#: Normalised keys that are credentials only as a whole word (``auth``, not ``authUrl``).
_SECRET_NAMES = frozenset({"auth", "pat", "pwd", "otp"})
#: Mappings whose keys are kept and whose values are all hidden.
_VALUE_MAPS = frozenset({"env", "headers", "httpheaders", "requestheaders", "envvars"})

_SHAPES = r"""
    (?P<scheme>\b(?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}              # Authorization values
    | (?P<basic>\b(?i:basic)\s+)(?=[a-z]*[A-Z0-9+/=])[A-Za-z0-9+/]{6,}={0,2}
    | \bsk-[A-Za-z0-9_-]{16,}                                        # OpenAI-style API keys
    | \b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}                  # GitHub tokens
    | \bxox[abprs]-[A-Za-z0-9-]{10,}                                 # Slack tokens
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b                                  # AWS access key ids
    | \beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*      # JWTs
    | (?P<userinfo>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@          # user:password@ in a URL
    | (?P<param>[?&][^=&\s]*(?i:token|key|secret|password|auth|sig)[^=&\s]*=)[^&\s#]+
    | (?<![A-Za-z0-9+/=_-])[0-9a-fA-F]{32,}(?![A-Za-z0-9+/=_-])      # long hex
    | (?P<random>(?<![A-Za-z0-9+=_-])[A-Za-z0-9+_-]{32,}={0,2}(?![A-Za-z0-9+=_-]))
    """
_MIXED = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"))


@functools.cache
def _secret_shapes() -> re.Pattern[str]:
    # Compiled on first use: it costs tens of milliseconds, which an import should not pay.
    return re.compile(_SHAPES, re.VERBOSE)


def _normalise(key: object) -> str:
    return re.sub(r"[-_.\s]", "", str(key)).lower()


def is_secret_key(key: object) -> bool:
    """Whether the value under ``key`` (a JSON key, header or variable name) is a credential."""
    name = _normalise(key)
    return (
        name.endswith(("token", "tokens"))
        or name in _SECRET_NAMES
        or any(part in name for part in _SECRET_PARTS)
    )


def hides_values(key: object) -> bool:
    """Whether every value of the mapping under ``key`` is hidden (``env``, ``headers``)."""
    return _normalise(key) in _VALUE_MAPS


def _secret_path(key_path: str) -> bool:
    """Whether a dotted config key (``mcp_servers.x.env.API_KEY``) names a credential."""
    segments = key_path.split(".")
    return any(is_secret_key(s) or hides_values(s) for s in segments)


def _replace(match: re.Match[str]) -> str:
    for kept in ("scheme", "basic", "userinfo", "param"):
        if match.group(kept):
            return match.group(kept) + REDACTED + ("@" if kept == "userinfo" else "")
    if match.group("random") and not all(p.search(match.group()) for p in _MIXED):
        return match.group()  # a long word or identifier, not random key material
    return REDACTED


def redact_text(text: str) -> str:
    """``text`` with every secret-shaped part replaced by ``<redacted>``."""
    return _secret_shapes().sub(_replace, text)


def _hide(value: Any) -> Any:
    # Counts and flags under a credential's key ("inputTokens": 12) carry nothing secret.
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return REDACTED


def redact(value: Any) -> Any:
    """A copy of a JSON-like ``value`` with its secrets replaced by ``<redacted>``."""
    if isinstance(value, Mapping):
        key_path = value.get("keyPath")
        secret_write = isinstance(key_path, str) and _secret_path(key_path)
        hidden: dict[str, Any] = {}
        for key, item in value.items():
            if hides_values(key) and isinstance(item, Mapping):
                hidden[key] = {name: _hide(v) for name, v in item.items()}
            elif _secret_path(str(key)) or (secret_write and key == "value"):
                # A dotted key is a config path (config_overrides): any segment may name it.
                hidden[key] = _hide(item)
            else:
                hidden[key] = redact(item)
        return hidden
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_url(url: str) -> str:
    """``url`` with its user information and every query value hidden, for messages and ``repr``."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{REDACTED}@{host}" if "@" in parts.netloc else host
        query = "&".join(
            f"{name}={REDACTED}" if sep else name
            for name, sep, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
        )
        return urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path, query, redact_text(parts.fragment))
        )
    except ValueError:  # not even parseable: show nothing of it that could be a credential
        return redact_text(url)
