"""Throughput of codex_app_server.ray beside one process running the same turns directly.

    python benchmarks/ray_batch.py [--turns 200] [--turns-per-actor 4] [--runs 3] [--codex-bin PATH]

Every turn is a new thread answered by the scripted model on 127.0.0.1. Three ways, timed from
started app-servers to the last result (Ray's and the app-servers' start-up excluded):

- in-process: one ``AsyncCodex`` running ``2 x turns-per-actor`` turns at once;
- Ray, 2 actors of ``turns-per-actor`` turns each (the same total concurrency);
- Ray, 1 actor of ``2 x turns-per-actor`` turns.

``benchmarks/run.py --only ray`` prints the same figures beside their baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from codex_app_server import AsyncCodex, CodexConfig
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    message,
    response,
    write_codex_home,
)


def _script(model: ScriptedModelServer, turns: int) -> None:
    model.enqueue(*(response(message("done")) for _ in range(turns)))


async def _in_process(config: CodexConfig, turns: int, concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(codex: AsyncCodex, index: int) -> None:
        async with slots:
            thread = await codex.thread_start()
            await thread.run(f"task {index}")

    async with AsyncCodex(config) as codex:
        start = time.perf_counter()
        await asyncio.gather(*(one(codex, i) for i in range(turns)))
        return time.perf_counter() - start


def in_process_seconds(codex_bin: str | None, folder: Path, turns: int, concurrency: int) -> float:
    """Seconds for ``turns`` turns, ``concurrency`` at once, on one ``AsyncCodex``."""
    with ScriptedModelServer() as model:
        _script(model, turns)
        home = write_codex_home(folder / "home-in-process", model)
        config = CodexConfig(
            codex_bin=codex_bin, cwd=folder, env=app_server_env(home), inherit_env=False
        )
        seconds = asyncio.run(_in_process(config, turns, concurrency))
        model.raise_for_failures()
    return seconds


def ray_seconds(
    codex_bin: str | None, folder: Path, turns: int, actors: int, turns_per_actor: int
) -> float:
    """Seconds for ``turns`` turns over ``actors`` actors of ``turns_per_actor`` turns each."""
    from codex_app_server.ray import CodexActorPool

    with ScriptedModelServer() as model:
        _script(model, turns)
        home = write_codex_home(folder / f"home-ray-{actors}", model)
        env = {"CODEX_HOME": str(home), "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG": "1"}
        options = {"num_cpus": 0.5, "runtime_env": {"env_vars": env}}
        with CodexActorPool(
            CodexConfig(codex_bin=codex_bin, cwd=folder),
            actors=actors,
            turns=turns_per_actor,
            actor_options=options,
        ) as pool:
            pool.start()
            start = time.perf_counter()
            results = pool.map(f"task {i}" for i in range(turns))
            seconds = time.perf_counter() - start
        model.raise_for_failures()
    failed = [result for result in results if not result.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} turns failed, the first: {failed[0].error}")
    return seconds


def measure(
    codex_bin: str | None, folder: Path, turns: int, turns_per_actor: int, runs: int
) -> dict[str, float]:
    """Best-of-``runs`` seconds per turn: ``in_process``, ``ray_2_actors``, ``ray_1_actor``."""
    import ray

    concurrency = 2 * turns_per_actor
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds / turns)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for _ in range(runs):
            keep("in_process", in_process_seconds(codex_bin, folder, turns, concurrency))
            keep("ray_2_actors", ray_seconds(codex_bin, folder, turns, 2, turns_per_actor))
            keep("ray_1_actor", ray_seconds(codex_bin, folder, turns, 1, concurrency))
    finally:
        ray.shutdown()
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Print turns per second of each way and the ratios the issue asks about."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--turns-per-actor", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codex-bin", default=os.environ.get("CODEX_BIN"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        best = measure(args.codex_bin, Path(tmp), args.turns, args.turns_per_actor, args.runs)
    concurrency = 2 * args.turns_per_actor
    print(f"{args.turns} turns, {concurrency} at once, {os.cpu_count()} CPUs, best of {args.runs}")
    for name, seconds in best.items():
        print(f"{name:<14} {1 / seconds:8.1f} turns/s")
    print(f"ray 2 actors / in-process: x{best['in_process'] / best['ray_2_actors']:.2f}")
    print(f"ray 2 actors / ray 1 actor: x{best['ray_1_actor'] / best['ray_2_actors']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
