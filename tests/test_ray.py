"""codex_app_server.ray on a local Ray cluster, the real binary and the scripted model.

Ray starts once for the whole session (``ray_cluster``); actors reach the scripted model in
this process over 127.0.0.1 through the ``CODEX_HOME`` their runtime environment names.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray", reason="Ray has no wheel for this platform or Python")
pyarrow_parquet = pytest.importorskip("pyarrow.parquet", reason="pyarrow has no wheel here")

import ray  # noqa: E402
from codex_app_server import CodexConfig  # noqa: E402
from codex_app_server.ray import (  # noqa: E402
    CodexActor,
    CodexActorPool,
    CodexBatchMapper,
    CodexTask,
    TaskResult,
)
from codex_app_server.testing import (  # noqa: E402
    ScriptedModelServer,
    app_server_env,
    http_error,
    message,
    response,
    stall,
    write_codex_home,
)
from ray import cloudpickle  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}

#: Generous for a loaded machine: a bound on waits, never a speed assertion.
WAIT = 120.0

# Nothing here may hang the session: a stuck test fails, and Ray is still shut down.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One local Ray for the session: starting it costs seconds."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"RUST_LOG": "warn"}},
    )
    try:
        yield
    finally:
        ray.shutdown()


def worker_env(home: Path, **extra: str) -> dict[str, Any]:
    """Actor options that point the workers' app-servers at ``home``."""
    env = {"CODEX_HOME": str(home), "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG": "1", **extra}
    # App-servers wait on the model: a small CPU share leaves room for Ray Data's own tasks.
    return {"runtime_env": {"env_vars": env}, "num_cpus": 0.1}


def config(codex_bin: str | None) -> CodexConfig:
    return CodexConfig(codex_bin=codex_bin)


def app_servers_using(home: Path) -> list[int]:
    """Process ids of live ``codex app-server`` processes whose CODEX_HOME is ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"app-server" in argv and f"CODEX_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def wait_until_gone(home: Path) -> list[int]:
    """The app-servers still using ``home`` once they had ``WAIT`` seconds to exit."""
    deadline = time.monotonic() + WAIT
    while (left := app_servers_using(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def prompt_of_thread(model: ScriptedModelServer) -> dict[str, str]:
    """Each thread's prompt, as the model received it."""
    return {r.headers["thread-id"]: r.user_texts[-1] for r in model.requests}


@pytest.fixture(scope="module")
def shared(
    ray_cluster: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CodexActorPool, ScriptedModelServer, Path]]:
    """Two actors of four turns each on one scripted model, for the batch tests."""
    codex_bin = os.environ.get("CODEX_BIN") or None
    with ScriptedModelServer() as model:
        home = write_codex_home(tmp_path_factory.mktemp("ray") / "home", model)
        pool = CodexActorPool(config(codex_bin), actors=2, turns=4, actor_options=worker_env(home))
        try:
            yield pool, model, home
        finally:
            pool.shutdown()
        assert wait_until_gone(home) == []
        model.raise_for_failures()


def test_a_hundred_turns_over_two_actors_come_back_in_input_order(
    shared: tuple[CodexActorPool, ScriptedModelServer, Path],
) -> None:
    pool, model, _ = shared
    model.enqueue(*(response(message("done")) for _ in range(100)))
    prompts = [f"task number {i}" for i in range(100)]

    results = pool.map(prompts, progress=True)

    assert [result.index for result in results] == list(range(100))
    assert all(result.ok and result.text == "done" for result in results), results
    assert all(result.usage["total_tokens"] == 15 for result in results)
    sent = prompt_of_thread(model)
    assert [sent[str(result.thread_id)] for result in results] == prompts
    assert len({result.thread_id for result in results}) == 100


def test_structured_output_comes_back_parsed(
    shared: tuple[CodexActorPool, ScriptedModelServer, Path],
) -> None:
    pool, model, _ = shared
    model.enqueue(*(response(message(json.dumps({"answer": 42}))) for _ in range(3)))
    tasks = [CodexTask(f"question {i}", output_schema=SCHEMA) for i in range(3)]

    results = pool.map(tasks)

    assert [result.output for result in results] == [{"answer": 42}] * 3
    assert [request.output_schema for request in model.requests[-3:]] == [SCHEMA] * 3


def test_a_failed_turn_is_recorded_and_the_rest_succeed(
    shared: tuple[CodexActorPool, ScriptedModelServer, Path],
) -> None:
    pool, model, _ = shared
    model.enqueue(*(response(message("fine")) for _ in range(3)))
    model.enqueue(http_error(500))
    model.enqueue(*(response(message("fine")) for _ in range(4)))

    results = pool.map([f"job {i}" for i in range(8)])

    failed = [result for result in results if not result.ok]
    assert len(failed) == 1
    assert failed[0].status == "failed"
    assert failed[0].error_type == "TurnFailedError"
    assert failed[0].attempts == 1
    assert all(result.text == "fine" for result in results if result is not failed[0])


def test_streaming_yields_every_result_once_as_they_finish(
    shared: tuple[CodexActorPool, ScriptedModelServer, Path],
) -> None:
    pool, model, _ = shared
    model.enqueue(*(response(message("streamed")) for _ in range(10)))

    seen = [result.index for result in pool.map_unordered(iter(f"s{i}" for i in range(10)))]

    assert sorted(seen) == list(range(10))


def test_killed_actor_and_crashed_app_server_lose_no_task(
    ray_cluster: None, tmp_path: Path, codex_bin: str | None
) -> None:
    gates = [stall() for _ in range(4)]
    with ScriptedModelServer() as model:
        # The four first turns (two per actor) hang until released; the rest answer at once.
        model.enqueue(*(response(gate, message("done")) for gate in gates))
        model.enqueue(*(response(message("done")) for _ in range(30)))
        home = write_codex_home(tmp_path / "home", model)
        pool = CodexActorPool(config(codex_bin), actors=2, turns=2, actor_options=worker_env(home))
        try:
            victim, survivor = pool.actors
            survivor_server = ray.get(survivor.start.remote(), timeout=WAIT)
            results: list[TaskResult] = []
            runner = threading.Thread(
                target=lambda: results.extend(pool.map([f"t{i}" for i in range(20)]))
            )
            runner.start()
            for gate in gates:
                gate.wait_reached(timeout=WAIT)
            ray.kill(victim)
            os.kill(survivor_server, signal.SIGKILL)
            for gate in gates:
                gate.release()
            runner.join(WAIT)
            assert not runner.is_alive()
        finally:
            pool.shutdown()
        assert [result.index for result in results] == list(range(20))
        assert all(result.ok for result in results), [r for r in results if not r.ok]
        # Each actor had two turns in flight: all four ran again.
        assert sum(result.attempts == 2 for result in results) == 4
        assert wait_until_gone(home) == []


def test_a_task_lost_more_often_than_allowed_is_recorded_with_its_cause(
    ray_cluster: None, tmp_path: Path, codex_bin: str | None
) -> None:
    gate = stall()
    with ScriptedModelServer(response(gate, message("never"))) as model:
        home = write_codex_home(tmp_path / "home", model)
        pool = CodexActorPool(
            config(codex_bin),
            actors=1,
            turns=1,
            max_attempts=1,
            max_actor_restarts=0,
            actor_options=worker_env(home),
        )
        try:
            results: list[TaskResult] = []
            runner = threading.Thread(target=lambda: results.extend(pool.map(["a", "b"])))
            runner.start()
            gate.wait_reached(timeout=WAIT)
            ray.kill(pool.actors[0])
            runner.join(WAIT)
            gate.release()
        finally:
            pool.shutdown()
        assert [(r.index, r.status, r.error_type) for r in results] == [
            (0, "error", "ActorDiedError"),
            (1, "error", "RuntimeError"),
        ]
        assert "max_actor_restarts" in str(results[1].error)
        assert wait_until_gone(home) == []


def test_secrets_reach_the_app_server_but_never_task_arguments(
    ray_cluster: None, tmp_path: Path, codex_bin: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-" + "7f3a9c" * 6
    sent: list[Any] = []

    def recording(original: Any) -> Any:
        def remote(self: Any, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
            sent.append((args, kwargs))
            return original(self, args=args, kwargs=kwargs, **options)

        return remote

    monkeypatch.setattr(ray.actor.ActorClass, "_remote", recording(ray.actor.ActorClass._remote))
    monkeypatch.setattr(ray.actor.ActorMethod, "_remote", recording(ray.actor.ActorMethod._remote))
    with ScriptedModelServer(*(response(message("ok")) for _ in range(2))) as model:
        extra = {"model_providers": {"mock": {"env_key": "CODEX_TEST_KEY"}}}
        home = write_codex_home(tmp_path / "home", model, extra=extra)
        options = worker_env(home, CODEX_TEST_KEY=secret)
        with CodexActorPool(config(codex_bin), actors=1, actor_options=options) as pool:
            results = pool.map(["one", "two"])

    assert all(result.ok for result in results)
    # The key reached the app-server through Ray's runtime environment...
    assert {r.headers["authorization"] for r in model.requests} == {f"Bearer {secret}"}
    # ...and none of what was sent to actors, nor any result, carries it.
    assert len(sent) >= 3
    assert secret.encode() not in cloudpickle.dumps(sent)
    assert secret.encode() not in cloudpickle.dumps(results)


def test_a_config_carrying_env_values_is_refused(ray_cluster: None) -> None:
    with pytest.raises(ValueError, match=r"runtime_env=\{'env_vars'"):
        CodexActorPool(CodexConfig(env={"OPENAI_API_KEY": "sk-nope"}))


def test_ray_data_round_trip_from_jsonl_to_parquet(
    ray_cluster: None, tmp_path: Path, codex_bin: str | None
) -> None:
    prompts = [f"summarise file {i}" for i in range(6)]
    source = tmp_path / "prompts.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, p in enumerate(prompts))
    )
    with ScriptedModelServer(*(response(message("summary")) for _ in range(6))) as model:
        home = write_codex_home(tmp_path / "home", model)
        dataset = ray.data.read_json(str(source)).map_batches(
            CodexBatchMapper,
            fn_constructor_args=(config(codex_bin),),
            fn_constructor_kwargs={"turns": 3},
            batch_size=3,
            concurrency=2,
            **worker_env(home),
        )
        dataset.write_parquet(str(tmp_path / "out"))
        model.raise_for_failures()
    table = pyarrow_parquet.read_table(tmp_path / "out").to_pylist()
    rows = sorted(table, key=lambda row: row["id"])
    assert [row["prompt"] for row in rows] == prompts
    assert {(row["text"], row["status"], row["error"]) for row in rows} == {
        ("summary", "completed", None)
    }
    assert all(row["total_tokens"] == 15 and row["thread_id"] for row in rows)
    assert wait_until_gone(home) == []


def test_each_task_gets_its_own_or_a_fresh_workspace(tmp_path: Path, codex_bin: str | None) -> None:
    named = tmp_path / "named"
    named.mkdir()
    with ScriptedModelServer(*(response(message("ok")) for _ in range(2))) as model:
        home = write_codex_home(tmp_path / "home", model)
        env = {"CODEX_HOME": str(home), "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG": "1"}
        actor = CodexActor(
            CodexConfig(codex_bin=codex_bin, inherit_env=False),
            fresh_workspace=True,
            forward_env=["CODEX_HOME", "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG"],
        )

        async def run_both() -> list[TaskResult]:
            try:
                return [
                    await actor.run(CodexTask("in named", cwd=named), 0),
                    await actor.run(CodexTask("in fresh"), 1),
                ]
            finally:
                await actor.close()

        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            results = asyncio.run(run_both())
    assert all(result.ok for result in results)
    cwds = [re.search(r"<cwd>(.*?)</cwd>", r.texts("user")[0]).group(1) for r in model.requests]  # type: ignore[union-attr]
    assert cwds[0] == str(named)
    assert Path(cwds[1]).name.startswith("codex-task-")
    assert not Path(cwds[1]).exists()


def test_a_missing_forwarded_variable_fails_the_task_saying_which(
    codex_bin: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEX_RAY_TEST_UNSET", raising=False)
    actor = CodexActor(
        CodexConfig(codex_bin=codex_bin, inherit_env=False), forward_env=["CODEX_RAY_TEST_UNSET"]
    )

    result = asyncio.run(actor.run(CodexTask("hi"), 7))

    assert (result.index, result.status, result.error_type) == (7, "error", "ValueError")
    assert "CODEX_RAY_TEST_UNSET" in str(result.error)


def test_the_ray_example_runs_a_batch_on_the_cluster(ray_cluster: None, tmp_path: Path) -> None:
    answer = json.dumps({"prime": True})
    with ScriptedModelServer(*(response(message(answer)) for _ in range(4))) as model:
        home = write_codex_home(tmp_path / "home", model)
        # The example joins the session's cluster (as under `ray job submit`) instead of
        # starting its own; CODEX_HOME reaches its workers through its runtime environment.
        env = {**app_server_env(home), "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "feature_ray.py")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT * 2,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        model.raise_for_failures()
    assert done.stdout.splitlines() == [
        f"0: completed: {answer}",
        f"1: completed: {answer}",
        f"2: completed: {answer}",
        "3: completed: {'prime': True}",
    ]
    assert sorted(r.user_texts[-1] for r in model.requests) == [
        "In one line: what does `grep` do?",
        "In one line: what does `ls` do?",
        "In one line: what does `sed` do?",
        "Is 7 a prime number?",
    ]
    assert sum(r.output_schema is not None for r in model.requests) == 1
    assert wait_until_gone(home) == []


def test_importing_the_sdk_does_not_import_ray() -> None:
    code = "import sys, codex_app_server; print(sorted(m for m in sys.modules if m == 'ray'))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert done.stdout.strip() == "[]"
