"""Secrets never reach the DEBUG log: every request type that carries one, by key and by shape."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from codex_app_server import Codex, generated
from codex_app_server._connection import log_sent
from codex_app_server._redact import hides_values, is_secret_key, redact, redact_text, redact_url
from codex_app_server.generated import (
    ChatgptAuthTokensRefreshResponse,
    CommandExecParams,
    ConfigBatchWriteParams,
    ConfigValueWriteParams,
    LoginAccountParams,
    ThreadStartParams,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

# Plain words: only the key can tell the log that these are secrets.
PLAIN = "hunter2-plain-secret"
# Values whose shape gives them away, whatever key they sit under.
SHAPED = {
    "bearer": "Bearer abcDEF123456ghiJKL",
    "openai key": "sk-proj-Zx81mQpLr3TtYu7wVb2N",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdHRhY2tlciJ9.c2lnbmF0dXJlLXBhcnQ",
    "github token": "ghp_abcdefghijklmnopqrstuvwxyz0123",
    "aws key id": "AKIAIOSFODNN7EXAMPLE",
    "random base64": "Q2xhc3NpZmllZF9rZXlfbWF0ZXJpYWxfMTIzNDU2Nzg5",
    "long hex": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "url password": "https://deploy:s3cr3t-pass@git.example.com/repo.git",
}


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _request(method: str, params: Any) -> bytes:
    return json.dumps({"id": 7, "method": method, "params": params}).encode()


def _reply(result: Any) -> bytes:
    return json.dumps({"id": 7, "result": result}).encode()


#: Every request (and the one reply to a server request) whose generated model has a field that
#: can hold a credential, filled with PLAIN wherever one fits.
SECRET_CARRIERS = {
    "account/login/start apiKey": _request(
        "account/login/start",
        _dump(LoginAccountParams.model_validate({"type": "apiKey", "apiKey": PLAIN})),
    ),
    "account/login/start chatgptAuthTokens": _request(
        "account/login/start",
        _dump(
            LoginAccountParams.model_validate(
                {"type": "chatgptAuthTokens", "accessToken": PLAIN, "chatgptAccountId": "acct"}
            )
        ),
    ),
    "account/login/start amazonBedrock": _request(
        "account/login/start",
        _dump(
            LoginAccountParams.model_validate(
                {"type": "amazonBedrock", "apiKey": PLAIN, "region": "us-east-1"}
            )
        ),
    ),
    "account/login/start amazonBedrockAccessKeys": _request(
        "account/login/start",
        _dump(
            LoginAccountParams.model_validate(
                {
                    "type": "amazonBedrockAccessKeys",
                    "accessKeyId": PLAIN,
                    "secretAccessKey": PLAIN,
                    "sessionToken": PLAIN,
                    "region": "us-east-1",
                }
            )
        ),
    ),
    "config/value/write to a secret key": _request(
        "config/value/write",
        _dump(
            ConfigValueWriteParams.model_validate(
                {
                    "keyPath": "model_providers.corp.experimental_bearer_token",
                    "value": PLAIN,
                    "mergeStrategy": "replace",
                }
            )
        ),
    ),
    "config/value/write of a header": _request(
        "config/value/write",
        _dump(
            ConfigValueWriteParams.model_validate(
                {
                    "keyPath": "model_providers.corp.http_headers.X-Corp-Auth",
                    "value": PLAIN,
                    "mergeStrategy": "replace",
                }
            )
        ),
    ),
    "config/value/write of an mcp server": _request(
        "config/value/write",
        _dump(
            ConfigValueWriteParams.model_validate(
                {
                    "keyPath": "mcp_servers.docs",
                    "value": {
                        "command": "docs-mcp",
                        "env": {"DOCS_KEY": PLAIN},
                        "bearer_token": PLAIN,
                        "http_headers": {"X-Api-Key": PLAIN},
                    },
                    "mergeStrategy": "upsert",
                }
            )
        ),
    ),
    "config/batchWrite": _request(
        "config/batchWrite",
        _dump(
            ConfigBatchWriteParams.model_validate(
                {
                    "edits": [
                        {"keyPath": "model", "value": "gpt-5.4", "mergeStrategy": "replace"},
                        {
                            "keyPath": "mcp_servers.docs.env.DOCS_KEY",
                            "value": PLAIN,
                            "mergeStrategy": "replace",
                        },
                        {
                            "keyPath": "model_providers.corp",
                            "value": {"name": "corp", "privateKey": PLAIN, "jwt": PLAIN},
                            "mergeStrategy": "upsert",
                        },
                    ]
                }
            )
        ),
    ),
    "thread/start config": _request(
        "thread/start",
        _dump(
            ThreadStartParams.model_validate(
                {
                    "config": {
                        "mcp_servers": {"docs": {"env": {"TOKEN_FOR_DOCS": PLAIN}}},
                        "model_providers": {"corp": {"password": PLAIN, "tokens": [PLAIN]}},
                    }
                }
            )
        ),
    ),
    "command/exec env": _request(
        "command/exec",
        _dump(CommandExecParams.model_validate({"command": ["true"], "env": {"ANY_NAME": PLAIN}})),
    ),
    "account/chatgptAuthTokens/refresh reply": _reply(
        _dump(
            ChatgptAuthTokensRefreshResponse.model_validate(
                {"accessToken": PLAIN, "chatgptAccountId": "acct"}
            )
        )
    ),
    "headers under any spelling": _request(
        "custom/method",
        {"X-Api-Key": PLAIN, "x_api_key": PLAIN, "Cookie": PLAIN, "client_secret": PLAIN},
    ),
}


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="codex_app_server")
    return caplog


@pytest.mark.parametrize("line", SECRET_CARRIERS.values(), ids=SECRET_CARRIERS.keys())
def test_a_credential_in_any_request_type_never_reaches_the_debug_log(
    line: bytes, debug_log: pytest.LogCaptureFixture
) -> None:
    assert PLAIN.encode() in line  # the attack: the message really carries the secret
    log_sent(line)
    assert len(debug_log.records) == 1
    assert PLAIN not in debug_log.text
    assert "<redacted>" in debug_log.text


@pytest.mark.parametrize("secret", SHAPED.values(), ids=SHAPED.keys())
def test_a_secret_shaped_value_is_hidden_under_an_innocent_key(
    secret: str, debug_log: pytest.LogCaptureFixture
) -> None:
    command = f"curl -H 'X: {secret}' https://api.example.com"
    log_sent(_request("command/exec", {"command": ["sh", "-c", command], "note": secret}))
    shown = debug_log.records[0].getMessage()
    assert "curl -H" in shown  # the rest of the text stays readable
    for part in secret.split():
        if len(part) > 12:
            assert part not in shown


def _holds(model: type[BaseModel], attr: str, value: Any) -> bool:
    """Whether ``model.attr`` keeps ``value`` as plain text (not a count, flag or enum)."""
    model.model_rebuild()  # models are built on first use; this resolves their annotations
    try:
        held = TypeAdapter(model.model_fields[attr].annotation).validate_python(value)
    except ValidationError:
        return False
    texts = held.values() if isinstance(held, dict) else [held]
    return all(type(text) is str for text in texts)


def _secret_fields() -> list[tuple[type[BaseModel], str, Any]]:
    """Every generated model field under a credential's name that holds text, with a value."""
    found = []
    for name in generated.__all__:
        model = getattr(generated, name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for attr, info in model.model_fields.items():
            wire = info.alias or attr
            for value in ({"ANY_NAME": PLAIN}, PLAIN):
                secret = hides_values(wire) if isinstance(value, dict) else is_secret_key(wire)
                if secret and _holds(model, attr, value):
                    found.append((model, attr, value))
    return found


def test_no_generated_model_shows_a_secret_in_its_repr() -> None:
    checked = {f"{model.__name__}.{attr}" for model, attr, _ in _secret_fields()}
    assert {
        "ApiKeyLoginAccountParams.api_key",
        "AmazonBedrockAccessKeysLoginAccountParams.secret_access_key",
        "ChatgptAuthTokensLoginAccountParams.access_token",
        "ChatgptAuthTokensRefreshResponse.access_token",
        "CommandExecParams.env",
    } <= checked
    for model, attr, value in _secret_fields():
        shown = model.model_construct(**{attr: value})
        assert getattr(shown, attr) == value
        assert PLAIN not in repr(shown), f"{model.__name__}.{attr}"
        assert PLAIN not in str(shown), f"{model.__name__}.{attr}"
    # Validated through the union, as a user builds a login: hidden, yet still sent.
    login = LoginAccountParams.model_validate({"type": "apiKey", "apiKey": PLAIN})
    assert PLAIN not in repr(login)
    assert PLAIN not in str(login)
    assert "ApiKeyLoginAccountParams" in repr(login)
    assert _dump(login)["apiKey"] == PLAIN


def test_counts_flags_and_ordinary_text_stay_readable() -> None:
    usage = {"inputTokens": 12, "outputTokens": 3, "isSecret": False, "tokenBudget": None}
    assert redact(usage) == usage
    words = "the basic token budget was exceeded in /home/me/Projects/codex_app_server/x.py"
    assert redact_text(words) == words
    assert redact({"keyPath": "model", "value": "gpt-5.4"})["value"] == "gpt-5.4"


def test_urls_lose_their_credentials_and_keep_their_address() -> None:
    shown = redact_url("wss://user:TOPSECRET@codex.internal:4500/ws?token=ALSO-SECRET&x=1")
    assert shown == "wss://<redacted>@codex.internal:4500/ws?token=<redacted>&x=<redacted>"
    assert redact_url("ws://127.0.0.1:4500") == "ws://127.0.0.1:4500"


def test_real_config_writes_and_api_key_login_are_logged_without_the_secret(
    codex: Codex, debug_log: pytest.LogCaptureFixture
) -> None:
    codex.client.config_value_write(
        key_path="model_providers.corp",
        value={
            "name": "corp",
            "base_url": "http://127.0.0.1:9",
            "experimental_bearer_token": PLAIN,
        },
        merge_strategy="upsert",
    )
    codex.client.config_value_write(
        key_path="mcp_servers.docs",
        value={"command": "docs-mcp", "env": {"DOCS_KEY": PLAIN}},
        merge_strategy="upsert",
    )
    codex.client.request("account/login/start", {"type": "apiKey", "apiKey": PLAIN})
    codex.client.request("config/read", {})
    lines = [record.getMessage() for record in debug_log.records]
    # The server echoed what was written: its reply was logged too, as redacted.
    assert any("<- reply #" in line and "experimental_bearer_token" in line for line in lines)
    assert sum('"method":"config/value/write"' in line for line in lines) == 2
    assert any(line.startswith("<- reply #") and "config/read" in line for line in lines)
    assert PLAIN not in debug_log.text
