"""Tokens stay off clear-text networks, URL credentials out of messages, and codex_bin is the
file the caller named: each test plays the attacker against the real app-server."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _portable import python_program
from codex_app_server import (
    AppServerStartError,
    AsyncCodex,
    Codex,
    CodexConfig,
    CodexNotFoundError,
    CodexPool,
    RequestTimeoutError,
    wait_until_ready,
)
from codex_app_server.config import resolve_codex_bin
from codex_app_server.testing import app_server_env
from test_websocket import TOKEN, ListeningAppServer, unused_port, ws_server

__all__ = ["unused_port", "ws_server"]  # fixtures shared with test_websocket

URL_SECRET = "url-secret-0123456789"


# -- ws:// with a token to another machine is refused ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ws://10.0.0.5:4500",
        "ws://codex.example.com:4500",
        "ws://127.0.0.1.example.com:4500",  # looks local, is not
    ],
)
def test_a_token_is_never_sent_in_clear_text_to_another_host(url: str) -> None:
    with pytest.raises(ValueError, match="refusing to send credentials in clear text") as refused:
        Codex(url=url, ws_token=TOKEN)
    assert "allow_insecure_token_over_ws=True" in str(refused.value)
    assert "wss://" in str(refused.value)
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        f"ws://user:{URL_SECRET}@codex.example.com:4500",
        f"ws://codex.example.com:4500/?token={URL_SECRET}",
    ],
)
def test_credentials_inside_a_clear_text_url_are_refused_and_never_shown(url: str) -> None:
    with pytest.raises(ValueError, match="clear text") as refused:
        CodexConfig(url=url)
    assert URL_SECRET not in str(refused.value)
    with pytest.raises(ValueError, match="clear text") as in_pool:
        CodexPool([url])
    assert URL_SECRET not in str(in_pool.value)


def test_clear_text_is_allowed_on_loopback_over_tls_or_when_the_caller_says_so() -> None:
    for url in ("ws://127.0.0.1:4500", "ws://localhost:4500", "ws://[::1]:4500"):
        assert CodexConfig(url=url, ws_token=TOKEN).url == url
    assert CodexConfig(url="wss://codex.example.com", ws_token=TOKEN).ws_token == TOKEN
    opted_in = CodexConfig(
        url="ws://10.0.0.5:4500", ws_token=TOKEN, allow_insecure_token_over_ws=True
    )
    assert opted_in.allow_insecure_token_over_ws
    assert CodexConfig(url="ws://10.0.0.5:4500").ws_token is None  # nothing to leak


def test_a_token_and_url_credentials_together_are_refused() -> None:
    # websockets would send the URL's user:password as Basic auth in place of the token.
    with pytest.raises(ValueError, match="keep the token in ws_token= alone") as refused:
        CodexConfig(url=f"wss://me:{URL_SECRET}@codex.example.com", ws_token=TOKEN)
    assert URL_SECRET not in str(refused.value)


def test_websocket_only_options_need_a_url() -> None:
    with pytest.raises(ValueError, match="allow_insecure_token_over_ws= is only used with url="):
        CodexConfig(allow_insecure_token_over_ws=True)
    with pytest.raises(ValueError, match="ws_ssl_context= is only used with a wss:// url"):
        CodexConfig(url="ws://127.0.0.1:4500", ws_ssl_context=ssl.create_default_context())


# -- URL credentials never reach repr or an error message ------------------------------------


def test_url_credentials_stay_out_of_repr_errors_and_health(unused_port: int) -> None:
    url = f"ws://admin:{URL_SECRET}@127.0.0.1:{unused_port}/?token={URL_SECRET}"
    config = CodexConfig(url=url)
    assert URL_SECRET not in repr(config)
    assert TOKEN not in repr(CodexConfig(url=f"ws://127.0.0.1:{unused_port}", ws_token=TOKEN))
    assert f"127.0.0.1:{unused_port}" in repr(config)
    with pytest.raises(AppServerStartError, match="could not open a websocket") as refused:
        Codex(config)
    assert URL_SECRET not in str(refused.value)
    with pytest.raises(RequestTimeoutError, match="not ready") as not_ready:
        wait_until_ready(url, timeout=0.2)
    assert URL_SECRET not in str(not_ready.value)
    with pytest.raises(ValueError, match="not a websocket URL") as bad:
        CodexConfig(url=f"http://admin:{URL_SECRET}@127.0.0.1:1")
    assert URL_SECRET not in str(bad.value)


def test_secret_config_overrides_and_extra_args_stay_out_of_repr() -> None:
    config = CodexConfig(
        config_overrides={
            "model_providers.corp.experimental_bearer_token": URL_SECRET,
            "mcp_servers.docs.env.DOCS": URL_SECRET,
            "model": "gpt-5.4",
        },
        extra_args=["-c", "model_providers.corp.http_headers.Authorization='Bearer abcdefgh12345'"],
        env={"OPENAI_API_KEY": URL_SECRET},
    )
    shown = repr(config)
    assert URL_SECRET not in shown
    assert "abcdefgh12345" not in shown
    assert "model_providers.corp.experimental_bearer_token" in shown
    assert "'model': 'gpt-5.4'" in shown


def test_the_pool_reports_members_without_their_credentials(ws_server: ListeningAppServer) -> None:
    port = ws_server.url.rsplit(":", 1)[1]
    with CodexPool(
        [CodexConfig(url=f"ws://127.0.0.1:{port}/?token={URL_SECRET}", ws_token=TOKEN)]
    ) as pool:
        (health,) = pool.health()
    assert health.connected
    assert URL_SECRET not in health.target
    assert health.target == f"ws://127.0.0.1:{port}/?token=<redacted>"


# -- wss:// ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no system trusts, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",  # every openssl and LibreSSL makes these
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class TlsFront:
    """TLS on 127.0.0.1 in front of a plain websocket app-server: a ``wss://`` server.

    Each accepted connection is decrypted and its bytes are copied both ways to the backend;
    ``handshakes`` counts the clients that completed TLS (a client that refused the
    certificate never gets that far, so it sent nothing).
    """

    def __init__(self, backend_port: int, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.backend_port = backend_port
        self.handshakes = 0
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=30)
        except OSError:
            raw.close()
            return
        self.handshakes += 1
        client.settimeout(None)
        backend.settimeout(None)
        self._sockets += [client, backend]
        threading.Thread(target=self._pump, args=(backend, client), daemon=True).start()
        self._pump(client, backend)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def wss_front(ws_server: ListeningAppServer, self_signed: tuple[Path, Path]) -> Iterator[TlsFront]:
    front = TlsFront(int(ws_server.url.rsplit(":", 1)[1]), *self_signed)
    try:
        yield front
    finally:
        front.close()


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_a_turn_over_wss_with_a_trusted_certificate(
    wss_front: TlsFront, self_signed: tuple[Path, Path]
) -> None:
    url = f"wss://127.0.0.1:{wss_front.port}"
    context = _trusting(self_signed[0])
    wait_until_ready(url, timeout=30, ssl_context=context)
    with Codex(url=url, ws_token=TOKEN, ws_ssl_context=context) as codex:
        assert codex.thread_start().id
    assert wss_front.handshakes >= 2  # the readiness probe and the websocket


async def test_async_over_wss(wss_front: TlsFront, self_signed: tuple[Path, Path]) -> None:
    url = f"wss://127.0.0.1:{wss_front.port}"
    async with AsyncCodex(
        url=url, ws_token=TOKEN, ws_ssl_context=_trusting(self_signed[0])
    ) as codex:
        assert (await codex.thread_start()).id


def test_an_untrusted_certificate_gets_no_token(wss_front: TlsFront) -> None:
    # The attacker in the middle presents a certificate the client's CAs did not sign.
    with pytest.raises(AppServerStartError, match=r"(?i)certificate verify failed") as refused:
        Codex(url=f"wss://127.0.0.1:{wss_front.port}", ws_token=TOKEN)
    assert TOKEN not in str(refused.value)
    assert wss_front.handshakes == 0


# -- codex_bin is the file the caller named --------------------------------------------------


def test_a_relative_codex_bin_never_runs_the_projects_file(
    codex_bin: str | None, codex_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "hostile-binary-ran"
    project = tmp_path / "project"
    (project / "bin").mkdir(parents=True)
    # Planted in the repository the agent works on.
    python_program(project / "bin" / "codex", f"open({str(marker)!r}, 'w')\nexit(1)\n")
    caller = tmp_path / "caller"
    (caller / "bin").mkdir(parents=True)
    # Named as Windows names programs: codex_bin="bin/codex" finds bin/codex.exe there.
    (caller / "bin" / ("codex.exe" if os.name == "nt" else "codex")).symlink_to(
        resolve_codex_bin(codex_bin)
    )
    env = app_server_env(codex_home)

    monkeypatch.chdir(caller)
    config = CodexConfig(codex_bin="bin/codex", cwd=project, env=env, inherit_env=False)
    assert config.codex_bin == str(caller / "bin" / "codex")
    with Codex(config) as codex:
        assert codex.thread_start().id
    assert not marker.exists()

    monkeypatch.chdir(tmp_path)  # no bin/codex here: a clear error, and still not the project's
    with pytest.raises(CodexNotFoundError, match=re.escape(repr(str(tmp_path / "bin" / "codex")))):
        Codex(codex_bin="bin/codex", cwd=project, env=env, inherit_env=False)
    assert not marker.exists()
