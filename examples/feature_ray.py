"""Run a batch of Codex tasks on Ray: two actors, each owning an app-server.

On a laptop, ``ray.init()`` starts a local cluster; with ``RAY_ADDRESS`` set (or under
``ray job submit``) the same script runs on a cluster. Credentials and ``CODEX_HOME`` reach the
workers through Ray's runtime environment, never as task arguments. Needs
``pip install 'codex-app-server-sdk[ray]'``.
"""

from __future__ import annotations

import os

import ray
from codex_app_server import CodexConfig, TurnBounds
from codex_app_server.ray import CodexActorPool, CodexTask

#: Environment variables the workers' app-servers need, taken from this shell.
FORWARDED = ("OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME")

VERDICT = {
    "type": "object",
    "properties": {"prime": {"type": "boolean"}},
    "required": ["prime"],
    "additionalProperties": False,
}


def main() -> None:
    ray.init(runtime_env={"env_vars": {k: os.environ[k] for k in FORWARDED if k in os.environ}})
    # A stuck turn is interrupted instead of holding its actor forever.
    bounds = TurnBounds(wall_clock=300, inactivity=120)
    tasks = [CodexTask(f"In one line: what does `{tool}` do?") for tool in ("ls", "grep", "sed")]
    tasks.append(CodexTask("Is 7 a prime number?", output_schema=VERDICT))
    # App-servers mostly wait on the model: half a CPU each is plenty.
    with CodexActorPool(
        CodexConfig(), actors=2, turns=2, bounds=bounds, actor_options={"num_cpus": 0.5}
    ) as pool:
        for result in pool.map(tasks, progress=True):
            answer = result.output if result.output is not None else result.text
            print(f"{result.index}: {result.status}: {answer if result.ok else result.error}")
    ray.shutdown()


if __name__ == "__main__":
    main()
