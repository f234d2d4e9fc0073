"""Every example, run as a user runs it, on the real app-server and a scripted model.

Each example is started as ``python examples/NAME.py`` in a subprocess whose environment points
``CODEX_HOME`` at a scripted model (the app-server the example starts inherits it), with the
example's working directory as cwd. The examples call ``Codex()`` plainly, so the binary is the
installed ``codex-cli-bin`` runtime, as for a user. Each test checks what the example printed and
what the model was sent. The notebook in notebooks/ is executed the same way, in a kernel that
inherits that environment.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    exec_command,
    http_error,
    message,
    message_deltas,
    reasoning,
    response,
    stall,
    write_codex_home,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
WALKTHROUGH = ROOT / "notebooks" / "walkthrough.ipynb"
#: Seconds one example may take; they finish in one to three seconds.
TIMEOUT = 90

#: Example file names that have a test here (filled by ``@example``).
TESTED: set[str] = set()

F = TypeVar("F", bound=Callable[..., None])


def example(name: str) -> Callable[[F], F]:
    """Mark a test as the one for ``examples/name``."""

    def register(test: F) -> F:
        TESTED.add(name)
        return test

    return register


class RunExample(Protocol):
    def __call__(self, name: str, *args: str, stdin: str = "") -> str: ...


@pytest.fixture
def runtime_installed() -> None:
    """Fail, naming the fix, when the runtime the examples use is not installed."""
    if importlib.util.find_spec("codex_cli_bin") is None:
        pytest.fail(
            "codex_cli_bin is not installed, and the examples run Codex() with the installed "
            "runtime: run `nox -s tests`, or build and pip install this machine's codex-cli-bin "
            "wheel (scripts/update_sdk_artifacts.py stage-runtime, then python -m build --wheel)"
        )


@pytest.fixture
def run_example(runtime_installed: None, codex_home: Path, codex_workdir: Path) -> RunExample:
    """Run ``examples/NAME`` to completion with ``stdin`` as its input; return its stdout."""

    def run(name: str, *args: str, stdin: str = "") -> str:
        try:
            result = subprocess.run(
                [sys.executable, str(EXAMPLES / name), *args],
                cwd=codex_workdir,
                env=app_server_env(codex_home),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{name} did not finish in {TIMEOUT}s; stdout so far:\n{exc.stdout!r}")
        assert result.returncode == 0, (
            f"{name} exited with {result.returncode}\n--- stdout ---\n{result.stdout}"
            f"\n--- stderr ---\n{result.stderr}"
        )
        return result.stdout

    return run


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def lines(stdout: str) -> list[str]:
    """The printed lines, without trailing spaces."""
    return [line.rstrip() for line in stdout.splitlines()]


def ids(stdout: str) -> list[str]:
    """The thread and turn ids printed, in order."""
    return UUID.findall(stdout)


def without_ids(stdout: str) -> list[str]:
    """The printed lines with every thread or turn id replaced by ``<id>``."""
    return lines(UUID.sub("<id>", stdout))


def test_every_example_has_a_test() -> None:
    # examples/feature_*.py have their tests in tests/test_feature_examples.py.
    scripts = {path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("feature_")}
    assert scripts == TESTED


@example("quickstart.py")
def test_quickstart(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("A monorepo keeps many projects in one repository.")))
    out = run_example("quickstart.py")
    assert lines(out) == ["A monorepo keeps many projects in one repository."]
    (request,) = model_server.requests
    assert request.user_texts == ["In one sentence: what is a monorepo?"]


@example("run_turn.py")
def test_run_turn(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("11 is prime.")), response(message("22.")))
    out = run_example("run_turn.py")
    assert without_ids(out)[1:] == [
        "thread <id>",
        "",
        "> Name a prime number greater than 10.",
        "turn <id>: status=completed, items=['userMessage', 'agentMessage']",
        "11 is prime.",
        "",
        "> Now double it.",
        "turn <id>: status=completed, items=['userMessage', 'agentMessage']",
        "22.",
    ]
    assert out.startswith("connected to codex_app_server_sdk/")
    assert len(set(ids(out))) == 3
    first, second = model_server.requests
    assert "Answer in at most two sentences." in first.instructions
    assert second.user_texts == ["Name a prime number greater than 10.", "Now double it."]
    assert second.assistant_texts == ["11 is prime."]


@example("stream_turn.py")
def test_stream_turn(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(
        response(
            reasoning("Think of dolls inside dolls."),
            message_deltas(["Recursion is ", "a doll ", "inside a doll."]),
        )
    )
    out = run_example("stream_turn.py")
    assert "[thinking] Think of dolls inside dolls.\n" in out
    assert "Recursion is a doll inside a doll.\n" in out
    assert "[turn completed] final answer: 'Recursion is a doll inside a doll.'" in out
    counts = lines(out)[-1]
    assert counts.startswith("events: ")
    assert "item/agentMessage/delta x3" in counts
    assert counts.endswith("turn/completed x1")
    (request,) = model_server.requests
    assert request.body["reasoning"]["summary"] == "concise"


@example("resume_thread.py")
def test_resume_thread(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("noted")), response(message("BLUE HERON")))
    out = lines(run_example("resume_thread.py"))
    started = re.fullmatch(r"started thread (\S+): noted", out[0])
    assert started is not None
    thread_id = started.group(1)
    assert out[1:] == [f"resumed thread {thread_id} with 1 earlier turn(s)", "BLUE HERON"]
    assert "Remember this codename: BLUE HERON. Reply with 'noted'." in (
        model_server.requests[1].user_texts
    )

    # Given the id, it continues the same thread from a third process.
    model_server.enqueue(response(message("Still BLUE HERON.")))
    out = lines(run_example("resume_thread.py", thread_id))
    assert out == [f"resumed thread {thread_id} with 2 earlier turn(s)", "Still BLUE HERON."]
    assert model_server.requests[2].assistant_texts == ["noted", "BLUE HERON"]


@example("thread_lifecycle.py")
def test_thread_lifecycle(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("Shelly")), response(message("Sheldon")))
    out = run_example("thread_lifecycle.py")
    assert without_ids(out) == [
        "thread <id> named 'turtle names' has 1 turn(s)",
        "listed: True",
        "after archive: listed: False archived: True",
        "unarchived <id>",
        "forked <id> into <id>: Sheldon",
        "original still has 1 turn(s)",
    ]
    original, *same, fork = ids(out)
    assert same == [original] * 2
    assert fork != original
    fork_request = model_server.requests[1]
    assert fork_request.assistant_texts == ["Shelly"]
    assert fork_request.user_texts[-1] == "Give me one more name in the same style."


@example("image_url.py")
def test_image_url(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("Red")))
    assert lines(run_example("image_url.py")) == ["Red"]
    (request,) = model_server.requests
    assert request.user_texts == ["What is the main colour of this image? One word."]
    (data_url,) = request.images
    assert data_url.startswith("data:image/png;base64,")
    assert base64.b64decode(data_url.split(",", 1)[1]).startswith(b"\x89PNG")

    # A remote URL is refused by the server before any model request.
    out = lines(run_example("image_url.py", "https://example.com/cat.png"))
    assert out == ["refused: remote image URLs are not supported; use an inline data URL instead"]
    assert len(model_server.requests) == 1


@example("local_image.py")
def test_local_image(
    run_example: RunExample, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(response(message("A red square.")), response(message("Also red.")))
    assert lines(run_example("local_image.py")) == ["red-square.png: A red square."]
    sample = model_server.requests[0]
    assert sample.user_texts == ["Describe this image in one short sentence."]
    (image,) = sample.images
    png = base64.b64decode(image.split(",", 1)[1])
    (codex_workdir / "mine.png").write_bytes(png)
    assert lines(run_example("local_image.py", "mine.png")) == ["mine.png: Also red."]
    assert model_server.requests[1].images == [image]


@pytest.mark.posix_only("shows the command wrapped in bash -lc; Windows Codex uses PowerShell")
@example("async_parity.py")
def test_async_parity(
    run_example: RunExample, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(message("Bonjour !")),
        response(message_deltas(["one, ", "two, ", "three"])),
        response(exec_command("echo hi > hello.txt", escalated=True)),
        response(message("Wrote hello.txt.")),
        response(message("blue")),
        response(message("cat")),
    )
    out = lines(run_example("async_parity.py"))
    assert out[:3] == [
        "run: Bonjour !",
        "stream: one, two, three",
        "[approval] accept: /bin/bash -lc 'echo hi > hello.txt'",
    ]
    assert out[3] == "approval: Wrote hello.txt."
    assert len(out) == 5, out
    assert out[4] in ("concurrent: ['blue', 'cat']", "concurrent: ['cat', 'blue']")
    assert (codex_workdir / "hello.txt").read_text() == "hi\n"
    asked = {request.user_texts[-1] for request in model_server.requests[4:]}
    assert asked == {"Name a colour.", "Name an animal."}


@example("errors_and_retry.py")
def test_errors_and_retry(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(
        http_error(500, "the model is down"),
        response(message("Beautiful is better than ugly.")),
    )
    out = lines(run_example("errors_and_retry.py"))
    assert len(out) == 5, out
    # The relative path is reported as the absolute one it was resolved to.
    assert re.match(
        r"CodexNotFoundError: codex_bin='.+no-such-dir.{1,2}codex' is not a file", out[0]
    )
    cause = r"\(internalServerError, HTTP 500\)"
    assert re.fullmatch(rf"TurnFailedError: turn \S+ failed: .+ {cause}", out[1])
    assert out[2:4] == ["thread status: systemError", "answer: Beautiful is better than ugly."]
    assert out[4].startswith("InvalidRequestError -32600 from thread/resume: invalid session id")
    first, second = model_server.requests
    assert first.user_texts == ["Summarise the Zen of Python in one line."]
    assert second.user_texts[-1] == "Try again, briefly."


@example("chat_cli.py")
def test_chat_cli(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(
        response(message_deltas(["Hi ", "there!"])),
        response(message("You said hello.")),
    )
    out = run_example("chat_cli.py", stdin="Hello\n\nWhat did I just say?\n")
    assert out == ("you> codex> Hi there!\nyou> you> codex> You said hello.\nyou> bye\n")
    first, second = model_server.requests
    assert first.user_texts == ["Hello"]
    assert second.user_texts == ["Hello", "What did I just say?"]
    assert second.assistant_texts == ["Hi there!"]


@example("turn_parameters.py")
def test_turn_parameters(
    run_example: RunExample,
    model_server: ScriptedModelServer,
    codex_home: Path,
    codex_workdir: Path,
) -> None:
    # Configure the opposite of what the example asks for, so that its overrides show.
    write_codex_home(codex_home, model_server, sandbox_mode="workspace-write")
    answer = {"files": ["notes.txt"], "summary": "One text file."}
    model_server.enqueue(response(message(json.dumps(answer))))
    out = lines(run_example("turn_parameters.py", "mock-model-mini"))
    assert out == [
        "files: notes.txt",
        "summary: One text file.",
        "thread model now: mock-model-mini",
    ]
    (request,) = model_server.requests
    assert request.model == "mock-model-mini"
    assert request.body["reasoning"] == {"effort": "low", "summary": "concise"}
    assert request.output_schema is not None
    assert request.output_schema["required"] == ["files", "summary"]
    assert "Be brief." in request.instructions
    assert "`sandbox_mode` is `read-only`" in request.instructions
    assert "Network access is restricted." in request.instructions
    assert "Approval policy is currently never." in request.instructions
    assert f"<cwd>{codex_workdir}</cwd>" in "".join(request.texts("user"))


@example("model_selection.py")
def test_model_selection(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("The default one.")), response(message("The other.")))
    out = lines(run_example("model_selection.py"))
    listed = [line for line in out if line[:2] in ("* ", "  ")]
    assert len(listed) >= 2
    (default,) = [line[2:].split()[0] for line in listed if line.startswith("* ")]
    other = next(line[2:].split()[0] for line in listed if not line.startswith("* "))
    assert out[-1].startswith(f"using {default} at effort ")
    assert out[-1].endswith(": The default one.")
    assert model_server.requests[0].model == default
    effort = out[-1].split(" at effort ")[1].split(":")[0]
    assert model_server.requests[0].body["reasoning"]["effort"] == effort

    out = lines(run_example("model_selection.py", other))
    assert out[-1].startswith(f"using {other} at effort ")
    assert model_server.requests[1].model == other


@example("interrupt_and_steer.py")
def test_interrupt_and_steer(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    # Each stall holds the model's answer open, so the turn is surely running when the example
    # steers or interrupts it; the server releases the stalls when the test ends.
    model_server.enqueue(
        response(message_deltas(["The sea "]), stall()),
        response(message("Lighthouses keep ships off the rocks.")),
        response(message_deltas(["1\n"]), stall()),
    )
    out = lines(run_example("interrupt_and_steer.py"))
    assert out == [
        "started answering: 'The sea '",
        "steered",
        "steered turn completed: Lighthouses keep ships off the rocks.",
        "started answering: '1\\n'",
        "second turn interrupted",
    ]
    essay, steered, counting = model_server.requests
    assert essay.user_texts == ["Write a long essay about the sea."]
    assert steered.user_texts[-1] == "Change of plan: one sentence about lighthouses instead."
    assert counting.user_texts[-1] == "Count from one to a million, one number per line."


@pytest.mark.posix_only("the model runs `touch`, which Windows PowerShell lacks")
@example("approvals.py")
def test_approvals(
    run_example: RunExample, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    echo = exec_command("echo approved > approved.txt", escalated=True, justification="write it")
    touch = exec_command("touch declined.txt", escalated=True, justification="create it")
    model_server.enqueue(
        response(echo),
        response(message("approved.txt is written.")),
        response(touch),
        response(message("I was not allowed to create it.")),
    )
    out = lines(run_example("approvals.py"))
    assert out == [
        "> Write the word approved into approved.txt using echo.",
        "[accept] echo approved > approved.txt  (reason: write it)",
        "approved.txt is written.",
        "> Create an empty file declined.txt with touch.",
        "[decline] touch declined.txt  (reason: create it)",
        "I was not allowed to create it.",
    ]
    assert (codex_workdir / "approved.txt").read_text() == "approved\n"
    assert not (codex_workdir / "declined.txt").exists()
    requests = model_server.requests
    assert echo.call_id in requests[1].function_call_outputs
    assert touch.call_id in requests[3].function_call_outputs


@example("structured_output.py")
def test_structured_output(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    answer = {
        "languages": [
            {"name": "Python", "first_appeared": 1991, "typing": "dynamic"},
            {"name": "Rust", "first_appeared": 2015, "typing": "static"},
        ]
    }
    model_server.enqueue(
        response(message(json.dumps(answer))),
        response(message(json.dumps({"name": "Mojo", "typing": "static"}))),
    )
    out = lines(run_example("structured_output.py"))
    assert out[:2] == ["Python (1991): dynamic typing", "Rust (2015): static typing"]
    assert re.fullmatch(r"turn \S+ completed; parse_output gives the same answer: True", out[2])
    assert out[3] == "the answer did not fit Language: first_appeared: Field required"
    assert len(out) == 4
    first, second = model_server.requests
    assert first.output_schema is not None
    assert first.output_schema["required"] == ["languages"]
    # Strict: the field with a default is required too, and no object takes extra keys.
    language = first.output_schema["$defs"]["Language"]
    assert language["required"] == ["name", "first_appeared", "typing"]
    assert language["additionalProperties"] is False
    assert second.output_schema is not None
    assert second.output_schema["required"] == ["name", "first_appeared", "typing"]


@example("batch.py")
def test_batch(run_example: RunExample, model_server: ScriptedModelServer) -> None:
    # Requests are answered in arrival order: five answers, then one failure.
    answers: list[str | None] = [f"answer {i}" for i in range(5)]
    answers.append(None)
    model_server.enqueue(*(response(message(a)) for a in answers if a is not None))
    model_server.enqueue(http_error(400, "bad prompt"))
    out = lines(run_example("batch.py"))

    # Which prompt got which answer, from what the model was asked.
    expected: dict[int, str] = {}
    for request, answer in zip(model_server.requests, answers, strict=True):
        asked = re.search(r"What is (\d+) squared", request.user_texts[-1])
        assert asked is not None
        number = int(asked.group(1))
        expected[number] = (
            f"{number}: failed: TurnFailedError" if answer is None else f"{number}: {answer}"
        )
    assert out == [expected[number] for number in range(1, 7)]


@pytest.mark.posix_only("shows the command wrapped in bash -lc; Windows Codex uses PowerShell")
@example("demo.py")
def test_demo(
    run_example: RunExample, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(
            message_deltas(["Hello! ", "Let me ", "run a command."]),
            exec_command("echo hello, world", justification="greet the world", escalated=True),
        ),
        response(message_deltas(["The shell ", "said hello."])),
    )
    out = run_example("demo.py")
    assert out.startswith("[server] ")
    assert "[approval] \"/bin/bash -lc 'echo hello, world'\" -> approved" in out
    assert "[output] hello, world" in out
    assert out.rstrip().endswith("[turn] completed: 'The shell said hello.'")
    assert "hello, world" in next(iter(model_server.requests[1].function_call_outputs.values()))


def cell_outputs(cell: Any) -> str:
    """Everything a code cell printed."""
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


def read_walkthrough() -> Any:
    """The walkthrough notebook (nbformat, nbclient and ipykernel are dev dependencies)."""
    import nbformat

    return nbformat.read(WALKTHROUGH, as_version=4)  # type: ignore[no-untyped-call]


def test_walkthrough_notebook_is_stored_without_outputs() -> None:
    import nbformat

    notebook = read_walkthrough()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_walkthrough_notebook(
    runtime_installed: None,
    model_server: ScriptedModelServer,
    codex_home: Path,
    codex_workdir: Path,
) -> None:
    from nbclient import NotebookClient

    model_server.enqueue(
        response(message("A monorepo holds many projects in one repository.")),
        response(message_deltas(["Many toys ", "in one box."])),
        response(exec_command("echo hello > hello.txt", escalated=True)),
        response(message("I wrote hello.txt.")),
        response(message('{"name": "Tokyo", "country": "Japan", "population_millions": 37.4}')),
    )
    notebook = read_walkthrough()
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(codex_workdir)}},
    )
    # The kernel, and the app-server it starts, get the scripted model's CODEX_HOME.
    client.execute(env=app_server_env(codex_home))

    printed = [cell_outputs(cell) for cell in notebook.cells if cell.cell_type == "code"]
    assert printed[0].startswith("codex_app_server_sdk/")
    assert printed[1:] == [
        "completed\nA monorepo holds many projects in one repository.\n",
        "Many toys in one box.\n[completed]\n",
        "accept: echo hello > hello.txt\nI wrote hello.txt.\n",
        "hello\n",
        "Tokyo, Japan: 37.4 million people\n",
        printed[6],
    ]
    assert re.fullmatch(r"thread \S+ is stored; closing\n", printed[6])
    assert (codex_workdir / "hello.txt").read_text() == "hello\n"
    requests = model_server.requests
    assert len(requests) == 5
    assert requests[1].assistant_texts == ["A monorepo holds many projects in one repository."]
    assert requests[4].output_schema is not None
    assert requests[4].output_schema["required"] == ["name", "country", "population_millions"]
