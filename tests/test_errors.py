"""What a user reads when something fails: start-up, overrides, closed clients, failed turns.

Each test drives the real app-server (the scripted model stands in for the provider) and asserts
on the exception a program would catch and the text it would print.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import pytest
from _portable import kill_hard, python_program
from codex_app_server import (
    AppServerStartError,
    AsyncCodex,
    Codex,
    CodexConfig,
    ConfigOverrideError,
    InternalError,
    InvalidRequestError,
    JsonRpcError,
    MethodNotFoundError,
    RequestTimeoutError,
    ServerBusyError,
    TransportClosedError,
    TurnFailedError,
    is_retryable_error,
    retry_on_overload,
)
from codex_app_server._protocol import ErrorResponse, JsonRpcCore
from codex_app_server.testing import ScriptedModelServer, http_error, message, response

pytestmark = pytest.mark.real_binary

NOISE = ("Stack backtrace", "<unknown>", "PATH aliases", "bubblewrap", "\x1b")


def with_overrides(config: CodexConfig, **options: object) -> CodexConfig:
    return dataclasses.replace(config, **options)  # type: ignore[arg-type]


# -- a closed client ---------------------------------------------------------------------------


def test_a_crashed_server_s_stderr_says_a_repeated_warning_once(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(*(response(message("ok")) for _ in range(3)))
    thread = codex.thread_start()
    for _ in range(3):
        thread.run("hello")  # every model request logs that mock-model is unknown
    kill_hard(codex.client.connection.pid)
    with pytest.raises(TransportClosedError) as caught:
        thread.run("hello")
    tail = caught.value.stderr_tail
    warning = "Unknown model mock-model is used"
    assert tail.count(warning) == 1
    assert re.search(warning + r".* \[\d+ times\]$", tail, re.MULTILINE)
    assert "\x1b" not in str(caught.value)


# -- start-up failures -------------------------------------------------------------------------


def test_a_rejected_override_fails_start_naming_it_without_noise(
    codex_config: CodexConfig,
) -> None:
    config = with_overrides(codex_config, config_overrides={"model_verbosity": "loud"})
    with pytest.raises(AppServerStartError) as caught:
        Codex(config)
    text = str(caught.value)
    assert text.startswith(
        "the app-server exited during start-up; the cause is config_overrides['model_verbosity']"
    )
    assert "unknown variant `loud`, expected one of `low`, `medium`, `high`" in text
    for noise in NOISE:
        assert noise not in text
    assert caught.value.exit_code == 1


def test_a_missing_codex_home_fails_start_naming_it(
    codex_config: CodexConfig, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-home"
    config = with_overrides(codex_config, env={**codex_config.env, "CODEX_HOME": str(missing)})
    with pytest.raises(AppServerStartError) as caught:
        Codex(config)
    text = str(caught.value)
    assert f"the cause is CODEX_HOME ({str(missing)!r}, from env=)" in text
    assert "but that path does not exist" in text
    for noise in NOISE:
        assert noise not in text


def test_a_rejected_extra_argument_fails_start_naming_it(codex_config: CodexConfig) -> None:
    config = with_overrides(codex_config, extra_args=["--no-such-flag"])
    with pytest.raises(AppServerStartError, match=r"the cause is extra_args \('--no-such-flag'\)"):
        Codex(config)


def test_hostile_stderr_is_made_safe_before_it_is_quoted(tmp_path: Path) -> None:
    # The real server cannot be made to print escapes on purpose; a stand-in that exits at
    # once shows what reaches the user's terminal.
    fake = python_program(
        tmp_path / "codex",
        "import sys\n"
        "sys.stderr.write('\\x1b]0;owned\\x07\\x1b[31mError:\\x1b[0m bad \\u202etxt.exe\\n')\n"
        "sys.exit(3)\n",
    )
    with pytest.raises(AppServerStartError) as caught:
        Codex(codex_bin=fake)
    text = str(caught.value)
    assert "Error: bad \\u202etxt.exe" in text
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "owned" not in text
    assert caught.value.exit_code == 3


# -- overrides the server does not take --------------------------------------------------------


def test_an_unknown_override_key_fails_start(codex_config: CodexConfig) -> None:
    config = with_overrides(codex_config, config_overrides={"no_such_setting": True})
    with pytest.raises(ConfigOverrideError) as caught:
        Codex(config)
    assert caught.value.problems == [
        "'no_such_setting': unknown setting (this Codex version ignores it)"
    ]
    assert "check_overrides='warn'" in str(caught.value)


def test_an_effort_the_model_cannot_use_fails_start(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    config = with_overrides(codex_config, config_overrides={"model_reasoning_effort": "ultra"})
    with pytest.raises(ConfigOverrideError, match="'ultra' needs a model that advertises it"):
        Codex(config)

    # What the check prevents: started anyway, the turn goes out with another effort.
    model_server.enqueue(response(message("ok")))
    with Codex(with_overrides(config, check_overrides="off")) as codex:
        codex.thread_start().run("hello")
    assert model_server.requests[0].body["reasoning"]["effort"] == "medium"


def test_a_listed_model_s_efforts_are_checked(codex_config: CodexConfig) -> None:
    overrides = {"model": "gpt-5.5", "model_reasoning_effort": "max"}
    with pytest.raises(ConfigOverrideError, match=r"model 'gpt-5\.5' does not support 'max'"):
        Codex(with_overrides(codex_config, config_overrides=overrides))


def test_overrides_that_take_effect_start_quietly(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    overrides = {
        "model_reasoning_effort": "high",
        "sandbox_workspace_write.network_access": True,
        "shell_environment_policy.inherit": "all",
        "project_doc_max_bytes": 100,
    }
    model_server.enqueue(response(message("ok")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Codex(with_overrides(codex_config, config_overrides=overrides)) as codex:
            codex.thread_start().run("hello")
    assert model_server.requests[0].body["reasoning"]["effort"] == "high"


def test_check_overrides_warn_starts_with_a_warning(codex_config: CodexConfig) -> None:
    config = with_overrides(
        codex_config, config_overrides={"no_such_setting": 1}, check_overrides="warn"
    )
    with pytest.warns(RuntimeWarning, match="'no_such_setting': unknown setting"):
        codex = Codex(config)
    with codex:
        assert codex.thread_start().id


async def test_async_start_checks_overrides_too(codex_config: CodexConfig) -> None:
    codex = AsyncCodex(with_overrides(codex_config, config_overrides={"no_such_setting": True}))
    with pytest.raises(ConfigOverrideError, match="'no_such_setting': unknown setting"):
        await codex.__aenter__()
    assert not codex.client.started
    assert codex.client.connection.closed


def test_check_overrides_takes_only_its_three_values() -> None:
    with pytest.raises(ValueError, match="'error', 'warn' or 'off'"):
        CodexConfig(check_overrides="strict")  # type: ignore[arg-type]


# -- failed turns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cause"),
    [(500, "(internalServerError, HTTP 500)"), (503, "(httpConnectionFailed, HTTP 503)")],
)
def test_a_failed_turn_says_its_code_and_http_status(
    codex: Codex, model_server: ScriptedModelServer, status: int, cause: str
) -> None:
    model_server.enqueue(http_error(status))
    with pytest.raises(TurnFailedError) as caught:
        codex.thread_start().run("hello")
    assert str(caught.value).endswith(cause)
    assert caught.value.error is not None
    assert caught.value.error.codex_error_info is not None
    assert not is_retryable_error(caught.value)


# -- JSON-RPC errors as the server sends them --------------------------------------------------


def test_an_unknown_method_raises_method_not_found_with_a_short_message(codex: Codex) -> None:
    with pytest.raises(MethodNotFoundError) as caught:
        codex.client.request("thread/no_such_method", {})
    error = caught.value
    assert error.code == -32600  # what the server sends; the class says what it means
    assert error.method == "thread/no_such_method"
    assert "`thread/start`" in error.message  # the server's whole list stays on .message
    text = str(error)
    assert len(text) < 300
    assert "unknown variant `thread/no_such_method`, expected one of" in text
    assert "names (the full list is on the exception's .message)" in text


def test_other_invalid_requests_stay_invalid_requests(codex: Codex) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        codex.client.request("thread/read", {"threadId": "no-such-thread"})
    assert not isinstance(caught.value, MethodNotFoundError)


def wire_error(line: bytes) -> JsonRpcError:
    """An error reply decoded by the client's own protocol core, as a call would raise it."""
    core = JsonRpcCore()
    request_id, _ = core.request("thread/start", {})
    (event,) = core.receive_data(line.replace(b"ID", str(request_id).encode()))
    assert isinstance(event, ErrorResponse)
    return event.error


def test_an_overload_in_the_data_of_another_code_is_retried() -> None:
    # The real server cannot be overloaded on purpose; this is its wire form.
    busy = wire_error(
        b'{"id": ID, "error": {"code": -32603, "message": "try later",'
        b' "data": {"codexErrorInfo": "serverOverloaded"}}}\n'
    )
    assert isinstance(busy, ServerBusyError)
    assert busy.code == -32603
    assert is_retryable_error(busy)
    calls: list[int] = []

    def op() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise busy
        return "ok"

    assert retry_on_overload(op, initial_delay=0.001) == "ok"
    assert len(calls) == 3


def test_only_overloads_are_retryable() -> None:
    internal = wire_error(b'{"id": ID, "error": {"code": -32603, "message": "boom"}}\n')
    assert isinstance(internal, InternalError)
    for error in (internal, RequestTimeoutError("late"), TransportClosedError("gone")):
        assert not is_retryable_error(error)


def test_server_text_in_an_error_is_bounded_and_terminal_safe() -> None:
    hostile = "\x1b]0;owned\x07\x1b[2Jwiped " + "x" * 5000
    error = wire_error(
        b'{"id": ID, "error": {"code": -32602, "message": %s}}\n' % json.dumps(hostile).encode()
    )
    assert error.message == hostile  # the whole text, as sent
    text = str(error)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert text.endswith("(4506 more characters)")
    assert len(text) < 600
