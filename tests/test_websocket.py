"""The websocket transport on the real app-server listening on 127.0.0.1, with its auth modes."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from codex_app_server import (
    AppServerStartError,
    AsyncCodex,
    Codex,
    CodexConfig,
    RequestTimeoutError,
    TransportClosedError,
    accept_all,
    final_text,
    signed_bearer_token,
    wait_until_ready,
)
from codex_app_server.config import resolve_codex_bin
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    exec_command,
    message,
    message_deltas,
    response,
    stall,
)

TOKEN = "capability-token-for-tests-0123456789"
SECRET = b"shared-secret-for-signed-tokens-0123456789"


class ListeningAppServer:
    """``codex app-server --listen ws://127.0.0.1:0`` on a private ``CODEX_HOME``.

    Port 0 lets the server choose a free port, which it prints on stderr; the URL is read
    from there and ``/readyz`` is awaited, each with a bounded wait. Always killed on exit.
    """

    def __init__(
        self, codex_bin: str | None, home: Path, workdir: Path, auth_args: Sequence[str] = ()
    ) -> None:
        argv = [
            os.fspath(resolve_codex_bin(codex_bin)),
            "app-server",
            "--listen",
            "ws://127.0.0.1:0",
            *auth_args,
        ]
        self.process = subprocess.Popen(
            argv,
            env=app_server_env(home),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        try:
            self.url = self._listening_url(timeout=30.0)
            wait_until_ready(self.url, timeout=30.0)
        except BaseException:
            self.kill()
            raise

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self._lines.put(raw.decode("utf-8", "replace"))
        self._lines.put("")

    def _listening_url(self, timeout: float) -> str:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError("the app-server printed no listening address") from None
            if not line:
                raise RuntimeError(f"the app-server exited: {self.process.wait()}")
            found = re.search(r"listening on: (ws://\S+)", line)
            if found:
                return found.group(1)

    def kill(self) -> None:
        """Stop the server for good and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._drainer.join(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def __enter__(self) -> ListeningAppServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


def write_secret(path: Path, content: str | bytes) -> str:
    """Write a token or secret file (the server wants absolute paths) and return its path."""
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return os.fspath(path.resolve())


@pytest.fixture
def ws_server(
    codex_bin: str | None, codex_home: Path, codex_workdir: Path, tmp_path: Path
) -> Iterator[ListeningAppServer]:
    """A websocket app-server requiring the capability token ``TOKEN``."""
    token_file = write_secret(tmp_path / "ws-token", TOKEN + "\n")
    auth = ["--ws-auth", "capability-token", "--ws-token-file", token_file]
    with ListeningAppServer(codex_bin, codex_home, codex_workdir, auth) as server:
        yield server


def test_a_turn_over_websocket_with_a_capability_token(
    ws_server: ListeningAppServer, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message_deltas(["hel", "lo"])), response(message("again")))
    with Codex(url=ws_server.url, ws_token=TOKEN) as codex:
        thread = codex.thread_start()
        handle = thread.turn("hi")
        methods = [event.method for event in handle.stream()]
        assert methods.count("item/agentMessage/delta") == 2
        assert methods[-1] == "turn/completed"
        assert final_text(thread.run("once more")) == "again"
        assert model_server.requests[1].user_texts[-1] == "once more"
        with pytest.raises(Exception, match="not a local process"):
            _ = codex.client.connection.pid


async def test_async_turn_with_an_approval_over_websocket(
    ws_server: ListeningAppServer, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("echo ws > over-ws.txt", escalated=True)),
        response(message("written")),
    )
    async with AsyncCodex(url=ws_server.url, ws_token=TOKEN, approval_handler=accept_all) as codex:
        thread = await codex.thread_start()
        assert final_text(await thread.run("write it")) == "written"
    assert (codex_workdir / "over-ws.txt").read_text().strip() == "ws"


def test_a_wrong_token_is_refused_clearly(ws_server: ListeningAppServer) -> None:
    with pytest.raises(AppServerStartError, match="HTTP 401") as refused:
        Codex(url=ws_server.url, ws_token="not-the-token")
    message_text = str(refused.value)
    assert "invalid websocket bearer token" in message_text
    assert "check ws_token" in message_text
    assert "not-the-token" not in message_text
    with pytest.raises(AppServerStartError, match="missing websocket bearer token"):
        Codex(url=ws_server.url)


async def test_a_wrong_token_is_refused_clearly_async(ws_server: ListeningAppServer) -> None:
    with pytest.raises(AppServerStartError, match=r"HTTP 401.*invalid websocket bearer token"):
        async with AsyncCodex(url=ws_server.url, ws_token="nope"):
            pass


def test_signed_bearer_tokens(
    codex_bin: str | None,
    codex_home: Path,
    codex_workdir: Path,
    tmp_path: Path,
    model_server: ScriptedModelServer,
) -> None:
    secret_file = write_secret(tmp_path / "ws-secret", SECRET)
    auth = [
        "--ws-auth",
        "signed-bearer-token",
        "--ws-shared-secret-file",
        secret_file,
        "--ws-issuer",
        "tests",
        "--ws-audience",
        "codex",
    ]
    model_server.enqueue(response(message("signed")))
    with ListeningAppServer(codex_bin, codex_home, codex_workdir, auth) as server:
        token = signed_bearer_token(SECRET, issuer="tests", audience="codex", ttl=60)
        with Codex(url=server.url, ws_token=token) as codex:
            assert final_text(codex.thread_start().run("hi")) == "signed"
        wrong_audience = signed_bearer_token(SECRET, issuer="tests", audience="other")
        with pytest.raises(AppServerStartError, match="HTTP 401"):
            Codex(url=server.url, ws_token=wrong_audience)
        forged = signed_bearer_token(b"another secret", issuer="tests", audience="codex")
        with pytest.raises(AppServerStartError, match="invalid websocket jwt"):
            Codex(url=server.url, ws_token=forged)


def test_server_going_away_mid_turn_fails_every_waiter(
    ws_server: ListeningAppServer, model_server: ScriptedModelServer
) -> None:
    hold = stall()
    model_server.enqueue(response(hold))
    with Codex(url=ws_server.url, ws_token=TOKEN) as codex:
        thread = codex.thread_start()
        handle = thread.turn("hang")
        hold.wait_reached()
        ws_server.kill()
        with pytest.raises(TransportClosedError, match="websocket"):
            handle.run(timeout=30)
        assert codex.client.connection.closed
        with pytest.raises(TransportClosedError, match="closed"):
            codex.thread_start()
    hold.release()


async def test_server_going_away_mid_turn_async(
    ws_server: ListeningAppServer, model_server: ScriptedModelServer
) -> None:
    hold = stall()
    model_server.enqueue(response(hold))
    async with AsyncCodex(url=ws_server.url, ws_token=TOKEN) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("hang")
        await asyncio.to_thread(hold.wait_reached)
        ws_server.kill()
        with pytest.raises(TransportClosedError, match="websocket"):
            await handle.run(timeout=30)
        with pytest.raises(TransportClosedError):
            await codex.thread_start()
    hold.release()


def test_missing_websockets_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "websockets.sync.client", None)
    with pytest.raises(ImportError, match=re.escape("codex-app-server-sdk[websocket]")):
        Codex(url="ws://127.0.0.1:9")


async def test_missing_websockets_package_async(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "websockets.asyncio.client", None)
    with pytest.raises(
        ImportError, match=re.escape("pip install 'codex-app-server-sdk[websocket]'")
    ):
        await AsyncCodex(url="ws://127.0.0.1:9").__aenter__()


def test_url_options_are_checked_and_the_token_stays_hidden() -> None:
    config = CodexConfig(url="ws://127.0.0.1:4500", ws_token="very-secret")
    assert "very-secret" not in repr(config)
    with pytest.raises(ValueError, match="cwd, env configure a launched app-server"):
        CodexConfig(url="ws://127.0.0.1:4500", cwd="/", env={"A": "1"})
    with pytest.raises(ValueError, match="only used with url="):
        CodexConfig(ws_token="t")
    with pytest.raises(ValueError, match="not a websocket URL"):
        CodexConfig(url="http://127.0.0.1:4500")


def test_connection_refused_is_a_start_error(unused_port: int) -> None:
    with pytest.raises(AppServerStartError, match="could not open a websocket"):
        Codex(url=f"ws://127.0.0.1:{unused_port}")
    with pytest.raises(RequestTimeoutError, match="not ready"):
        wait_until_ready(f"ws://127.0.0.1:{unused_port}", timeout=0.3)


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- logging: one redacted DEBUG line per message, nothing printed by default ----------------


def test_debug_log_has_one_line_per_message_with_secrets_redacted(
    codex: Codex, model_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    model_server.enqueue(response(message("logged")))
    caplog.set_level(logging.DEBUG, logger="codex_app_server")
    codex.client.request(
        "command/exec", {"command": ["true"], "env": {"SECRET_VAR": "hunter2-value"}}
    )
    codex.thread_start().run("hello")
    lines = [r.getMessage() for r in caplog.records if r.name == "codex_app_server"]
    sent = [line for line in lines if line.startswith("-> ")]
    received = [line for line in lines if line.startswith("<- ")]
    assert any('"method":"command/exec"' in line for line in sent)
    assert any(line.startswith("<- reply #") and "to command/exec" in line for line in received)
    assert sum(line.startswith("<- turn/completed ") for line in received) == 1
    assert sum('"method":"turn/start"' in line for line in sent) == 1
    assert "hunter2-value" not in caplog.text
    assert '"SECRET_VAR":"<redacted>"' in caplog.text


def test_the_bearer_token_never_reaches_the_log(
    ws_server: ListeningAppServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, websockets' handshake log included
    with Codex(url=ws_server.url, ws_token=TOKEN) as codex:
        codex.thread_start()
    assert "Authorization: <redacted>" in caplog.text
    assert TOKEN not in caplog.text
    assert any(r.getMessage().startswith("<- reply #") for r in caplog.records)


def test_nothing_is_printed_by_default() -> None:
    script = (
        "import logging, codex_app_server\n"
        "logging.getLogger('codex_app_server').warning('should stay silent')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stderr == ""
