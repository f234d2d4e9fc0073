"""What went wrong at start, said in terms of the options the user gave.

Both clients start through :mod:`._client`, which calls these helpers: :func:`start_error`
turns a server that exited during start-up into an error naming the option behind the cause
(``config_overrides``, ``CODEX_HOME``, ``extra_args``), and :func:`override_queries` with
:func:`check_overrides` compare ``config_overrides`` with the effective configuration the
started server reports (``config/read``), so an override it ignored does not pass silently.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ._escape import quoted
from .config import CodexConfig
from .errors import AppServerStartError, ConfigOverrideError, TransportClosedError

__all__ = ["check_overrides", "override_queries", "start_error"]

#: The effort settings checked against the reasoning efforts the model advertises.
_EFFORT_KEYS = ("model_reasoning_effort",)


def start_error(config: CodexConfig, exc: TransportClosedError) -> AppServerStartError:
    """The error for a server that exited before the handshake, naming the cause's source."""
    source = _cause_source(config, exc.stderr_tail)
    reason = "the app-server exited during start-up"
    if source:
        reason += f"; the cause is {source}"
    return AppServerStartError(reason, exit_code=exc.exit_code, stderr_tail=exc.stderr_tail)


def _cause_source(config: CodexConfig, stderr: str) -> str:
    # serde names the setting it failed on in backquotes ("in `model_verbosity`").
    named = set(re.findall(r"`([A-Za-z0-9_.\-]+)`", stderr))
    for key in config.config_overrides:
        if any(name == key or key.startswith(f"{name}.") for name in named):
            return f"config_overrides[{key!r}]"
    home = config.env.get("CODEX_HOME") or (
        os.environ.get("CODEX_HOME") if config.inherit_env else None
    )
    if "CODEX_HOME" in stderr or (home and home in stderr):
        where = "env=" if "CODEX_HOME" in config.env else "the environment"
        return f"CODEX_HOME ({quoted(home)!r}, from {where})" if home else "CODEX_HOME"
    for arg in config.extra_args:
        if f"'{arg}'" in stderr or f"`{arg}`" in stderr:
            return f"extra_args ({arg!r})"
    return ""


def override_queries(config: CodexConfig) -> list[tuple[str, dict[str, Any]]]:
    """The requests whose answers :func:`check_overrides` needs (none when nothing to check)."""
    if not config.config_overrides or config.check_overrides == "off":
        return []
    queries: list[tuple[str, dict[str, Any]]] = [("config/read", {})]
    if any(key in config.config_overrides for key in _EFFORT_KEYS):
        queries.append(("model/list", {"includeHidden": True}))
    return queries


def check_overrides(config: CodexConfig, answers: Sequence[Any]) -> None:
    """Raise ``ConfigOverrideError`` (or warn) for overrides the server did not take.

    ``answers`` are the raw results of :func:`override_queries`, in order.
    """
    if not answers:
        return
    effective = answers[0].get("config") if isinstance(answers[0], Mapping) else None
    models = answers[1].get("data") if len(answers) > 1 and isinstance(answers[1], Mapping) else []
    if not isinstance(effective, Mapping):
        return  # a server that reports no configuration cannot be checked
    problems = [
        problem
        for key, value in config.config_overrides.items()
        if (problem := _problem(key, _wire(value), effective, models or []))
    ]
    if not problems:
        return
    message = (
        "the app-server did not take these config_overrides:\n  "
        + "\n  ".join(problems)
        + "\nfix or remove them (check_overrides='warn' starts anyway with a warning, "
        "'off' skips this check)"
    )
    if config.check_overrides == "warn":
        warnings.warn(message, RuntimeWarning, stacklevel=4)
    else:
        raise ConfigOverrideError(message, problems=problems)


def _problem(key: str, value: Any, effective: Mapping[str, Any], models: list[Any]) -> str:
    """Why the override ``key=value`` did not take effect, or ``""`` if it did."""
    node: Any = effective
    for depth, part in enumerate(parts := key.split(".")):
        if not isinstance(node, Mapping):
            where = ".".join(parts[:depth])
            return f"{key!r}: not taken (the server's {where!r} is {_show(node)})"
        if part not in node:
            return f"{key!r}: unknown setting (this Codex version ignores it)"
        node = node[part]
    if not _same(node, value):
        return f"{key!r}: not taken (the server's effective value is {_show(node)})"
    if key in _EFFORT_KEYS and isinstance(value, str):
        return _effort_problem(key, value, effective.get("model"), models)
    return ""


def _effort_problem(key: str, effort: str, model: Any, models: list[Any]) -> str:
    def efforts(entry: Any) -> set[str]:
        options = entry.get("supportedReasoningEfforts") if isinstance(entry, Mapping) else None
        return {
            str(option.get("reasoningEffort"))
            for option in options or []
            if isinstance(option, Mapping)
        }

    for entry in models:
        if isinstance(entry, Mapping) and model in (entry.get("model"), entry.get("id")):
            supported = efforts(entry)
            if supported and effort not in supported:
                return (
                    f"{key!r}: model {model!r} does not support {effort!r} (it supports "
                    f"{', '.join(sorted(supported))}); Codex uses its default effort instead"
                )
            return ""
    # A model the catalogue does not list runs on fallback metadata. Observed with codex
    # 0.169.0: it takes any effort except those only multi-agent v2 models advertise
    # ("ultra", which delegates to sub-agents), which it replaces by its default.
    basic = set().union(
        *(efforts(entry) for entry in models if _multi_agent(entry) != "v2"),
    )
    advanced = set().union(*(efforts(entry) for entry in models)) - basic
    if effort in advanced:
        return (
            f"{key!r}: {effort!r} needs a model that advertises it (model/list), and "
            f"{model!r} is not listed; Codex uses its default effort instead"
        )
    return ""


def _multi_agent(entry: Any) -> Any:
    return entry.get("multiAgentVersion") if isinstance(entry, Mapping) else None


def _wire(value: Any) -> Any:
    """An override value as the server's JSON shows it (the TOML written by ``toml_value``)."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(key): _wire(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_wire(item) for item in value]
    return value


def _same(effective: Any, wanted: Any) -> bool:
    """Whether the effective value is the override (a table only needs the keys it gave)."""
    if isinstance(wanted, Mapping):
        return isinstance(effective, Mapping) and all(
            key in effective and _same(effective[key], item) for key, item in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(effective, list)
            and len(effective) == len(wanted)
            and all(_same(have, want) for have, want in zip(effective, wanted, strict=True))
        )
    if isinstance(wanted, bool) or isinstance(effective, bool):
        return effective is wanted
    return bool(effective == wanted)


def _show(value: Any) -> str:
    return quoted(repr(value), 120)
