"""Signing in, on the real app-server, offline.

A fresh ``CODEX_HOME`` with Codex's default provider needs an OpenAI sign-in: ``Codex()``
refuses to start there unless told otherwise. The sign-in flows run for real: an API key is
stored and read back; the ChatGPT flows reach OpenAI only after their start (browser) or not
at all (device code), which offline ends in clear errors.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from codex_app_server import (
    AsyncCodex,
    Codex,
    CodexConfig,
    LoginFailedError,
    NotSignedInError,
    RequestTimeoutError,
)
from codex_app_server.testing import app_server_env

# The fixture that fails, naming the fix, when the installed runtime is missing.
from test_examples import runtime_installed  # noqa: F401

KEY = "sk-test-0123456789abcdefSECRET"


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    """A CODEX_HOME with no config (Codex's default provider, which needs a sign-in)."""
    home = tmp_path / "empty-home"
    home.mkdir()
    return home


@pytest.fixture
def bare_config(codex_bin: str | None, empty_home: Path, tmp_path: Path) -> CodexConfig:
    """Options that start the real app-server on the empty home, checking the sign-in."""
    return CodexConfig(codex_bin=codex_bin, env=app_server_env(empty_home), inherit_env=False)


def unchecked(config: CodexConfig) -> CodexConfig:
    return CodexConfig(
        codex_bin=config.codex_bin, env=config.env, inherit_env=False, require_sign_in=False
    )


def port_is_open(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    with socket.socket() as probe:
        probe.settimeout(5)
        return probe.connect_ex((parsed.hostname or "", parsed.port or 80)) == 0


def closes(url: str, within: float = 10.0) -> bool:
    """Whether the port of ``url`` stops accepting connections within ``within`` seconds."""
    deadline = time.monotonic() + within
    while port_is_open(url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def callback_of(auth_url: str) -> tuple[str, str]:
    """The loopback redirect URL and the state of a ChatGPT sign-in's ``auth_url``."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(auth_url).query)
    return query["redirect_uri"][0], query["state"][0]


def test_start_fails_for_an_empty_home_with_the_ways_to_sign_in(
    bare_config: CodexConfig, empty_home: Path
) -> None:
    with pytest.raises(NotSignedInError) as caught:
        Codex(bare_config)
    message = str(caught.value)
    assert f"CODEX_HOME ({empty_home})" in message
    assert "python -m codex_cli_bin login --with-api-key" in message
    assert "python -m codex_cli_bin login\n" in message
    assert "python -m codex_cli_bin login --device-auth" in message
    assert "require_sign_in=False" in message
    assert "login_api_key(key)" in message


async def test_async_start_fails_for_an_empty_home(bare_config: CodexConfig) -> None:
    codex = AsyncCodex(bare_config)
    with pytest.raises(NotSignedInError, match="not signed in"):
        await codex.start()
    assert codex.client.connection.closed  # the server it started is stopped


def test_a_provider_without_openai_auth_starts_without_a_sign_in(codex: Codex) -> None:
    # The `codex` fixture's scripted model is a custom provider: nothing to sign in to.
    account = codex.account()
    assert (account.requires_openai_auth, account.account) == (False, None)


def test_an_api_key_is_stored_read_back_and_logged_out(
    bare_config: CodexConfig, empty_home: Path
) -> None:
    with Codex(unchecked(bare_config)) as codex:
        assert codex.account().account is None
        codex.login_api_key(KEY)
        account = codex.account()
        assert account.account is not None
        assert account.account.type == "apiKey"
    assert (empty_home / "auth.json").exists()
    with Codex(bare_config) as codex:  # signed in now: the check passes
        codex.logout()
        assert codex.account().account is None
    with pytest.raises(NotSignedInError):
        Codex(bare_config)


async def test_async_api_key_sign_in(bare_config: CodexConfig) -> None:
    async with AsyncCodex(unchecked(bare_config)) as codex:
        await codex.login_api_key(KEY)
        account = await codex.account()
        assert account.account is not None
        assert account.account.type == "apiKey"
        await codex.logout()
        assert (await codex.account()).account is None


def test_the_key_reaches_no_argv_log_repr_or_error(
    bare_config: CodexConfig, empty_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="codex_app_server")
    config = unchecked(bare_config)
    with Codex(config) as codex:
        codex.login_api_key(KEY)
        pid = codex.client.connection.pid
        argv = " ".join(psutil.Process(pid).cmdline())
        shown = [repr(codex), repr(config), repr(codex.client.config), argv]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "account/login/start" in logged
    assert "<redacted>" in logged
    assert all(KEY not in text for text in [logged, *shown])

    # A key the SDK refuses, and one the server refuses: neither message quotes it.
    with Codex(config) as codex, pytest.raises(ValueError, match="whitespace") as refused:
        codex.login_api_key(KEY + " \n")
    assert KEY not in str(refused.value)
    (empty_home / "config.toml").write_text('forced_login_method = "chatgpt"\n')
    with Codex(config) as codex, pytest.raises(LoginFailedError) as failed:
        codex.login_api_key(KEY)
    assert "API key login is disabled" in str(failed.value)
    assert KEY not in str(failed.value)
    assert failed.value.__cause__ is None
    assert KEY not in "\n".join(record.getMessage() for record in caplog.records)


def test_browser_sign_in_has_a_loopback_callback_and_cancels_cleanly(
    bare_config: CodexConfig,
) -> None:
    with Codex(unchecked(bare_config)) as codex:
        handle = codex.login_chatgpt()
        callback, _ = callback_of(handle.auth_url)
        parsed = urllib.parse.urlparse(callback)
        assert handle.auth_url.startswith("https://")
        assert (parsed.scheme, parsed.hostname, parsed.path) == (
            "http",
            "127.0.0.1",
            "/auth/callback",
        )
        assert port_is_open(callback)
        assert repr(handle) == f"ChatgptLoginHandle(login_id={handle.login_id!r})"
        with pytest.raises(RequestTimeoutError, match="still open"):
            handle.wait(timeout=0.2)

        handle.cancel()
        handle.cancel()  # idempotent
        with pytest.raises(LoginFailedError, match="was cancelled"):
            handle.wait()
        assert codex.client.connection.subscriber_count() == 0
        # The callback server is gone, and a new attempt can start.
        assert closes(callback)
        again = codex.login_chatgpt()
        again.cancel()


def test_a_browser_sign_in_that_fails_ends_wait_with_the_reason(bare_config: CodexConfig) -> None:
    with Codex(unchecked(bare_config)) as codex:
        handle = codex.login_chatgpt()
        callback, state = callback_of(handle.auth_url)
        # The browser's redirect, as OpenAI would send it; exchanging the code needs the
        # network, so the sign-in fails and says why.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        query = urllib.parse.urlencode({"code": "offline", "state": state})
        with opener.open(f"{callback}?{query}", timeout=30):
            pass
        with pytest.raises(LoginFailedError, match="Token exchange failed") as failed:
            handle.wait(timeout=60)
        assert failed.value.login_id == handle.login_id
        assert codex.account().account is None


def test_device_code_sign_in_without_a_network_fails_clearly(bare_config: CodexConfig) -> None:
    with Codex(unchecked(bare_config)) as codex:
        with pytest.raises(LoginFailedError) as failed:
            codex.login_chatgpt_device_code()
        assert "failed to request device code" in str(failed.value)
        assert "sign in with an API key" in str(failed.value)
        assert codex.client.connection.subscriber_count() == 0


async def test_async_chatgpt_sign_ins(bare_config: CodexConfig) -> None:
    async with AsyncCodex(unchecked(bare_config)) as codex:
        handle = await codex.login_chatgpt()
        callback, _ = callback_of(handle.auth_url)
        assert urllib.parse.urlparse(callback).hostname == "127.0.0.1"
        with pytest.raises(RequestTimeoutError):
            await handle.wait(timeout=0.2)
        await handle.cancel()
        with pytest.raises(LoginFailedError, match="was cancelled"):
            await handle.wait()
        with pytest.raises(LoginFailedError, match="failed to request device code"):
            await codex.login_chatgpt_device_code()
        assert codex.client.connection.subscriber_count() == 0


@pytest.mark.usefixtures("runtime_installed")
def test_the_cli_login_command_named_in_the_error_works(empty_home: Path) -> None:
    # `python -m codex_cli_bin login --with-api-key`, exactly as NotSignedInError advises.
    env = app_server_env(empty_home)
    result = subprocess.run(
        [sys.executable, "-m", "codex_cli_bin", "login", "--with-api-key"],
        input=KEY + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    with Codex(env=env, inherit_env=False) as codex:  # the installed runtime, like the CLI's
        account = codex.account().account
        assert account is not None
        assert account.type == "apiKey"
