"""docs/performance.md's table says what benchmarks/run.py checks, and agrees with itself.

Speed is measured by the benchmark, not here; this keeps the page's targets and bounds equal to
the code's, and each row's "runs meeting it" consistent with its own range and target.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "performance.md").read_text()
RUN = (ROOT / "benchmarks" / "run.py").read_text()


def table_rows() -> list[list[str]]:
    table = PAGE.split("| Figure | Target | Ratio over runs | Runs meeting it |", 1)[1]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def code_bounds(name: str) -> tuple[float, float]:
    """(target, fail) of the first benchmark in run.py whose name contains ``name``."""
    found = re.search(
        rf'f"[^"]*{re.escape(name)}[^"]*".*?target=([\d.]+),\s*fail=([\d.]+)', RUN, re.DOTALL
    )
    assert found, name
    return float(found.group(1)), float(found.group(2))


def target(row_name: str) -> float:
    rows = {row[0]: row[1] for row in table_rows()}
    return float(rows[row_name].removeprefix("<= "))


def test_the_page_s_targets_are_the_benchmark_s() -> None:
    assert code_bounds("calls, sync")[0] == target("calls, sync, CPU")
    assert code_bounds("calls, async")[0] == target("calls, async, CPU / wall")
    assert code_bounds("deltas, sync")[0] == target("stream, sync, CPU / wall")
    assert code_bounds("deltas, async")[0] == target("stream, async, CPU / wall")
    assert code_bounds("real binary")[0] == target("real binary, 20,000-delta turn, wall")


def test_the_page_s_fail_bounds_are_the_benchmark_s() -> None:
    assert code_bounds("deltas, sync")[1] == 2.5
    assert code_bounds("calls, sync")[1] == 5.0
    # The real binary's figure is its wall time, whose bound is twice the CPU one.
    assert code_bounds("real binary")[1] * 2 == 3.0
    bounds = "(2.5x for streaming CPU, 5x for round trips and for memory, 3x for the\nreal binary"
    assert bounds in PAGE


def test_each_row_s_runs_meeting_it_fit_its_range() -> None:
    for name, goal, spread, meeting in table_rows():
        bound = re.fullmatch(r"<= ([\d.]+)", goal)
        numbers = [float(n) for n in re.findall(r"\d+\.\d+|\d+", spread.split(" B/")[0])]
        if bound is None or not numbers or not meeting:
            continue
        highest, lowest = max(numbers), min(numbers)
        if meeting.startswith("all"):
            assert highest <= float(bound.group(1)), f"{name}: 'all' but up to {highest}"
        else:
            counts = re.fullmatch(r"(\d+) of (\d+)", meeting)
            assert counts, f"{name}: {meeting!r}"
            met, runs = int(counts.group(1)), int(counts.group(2))
            assert 0 < met < runs, name
            assert lowest <= float(bound.group(1)) < highest, f"{name}: {spread} vs {goal}"
