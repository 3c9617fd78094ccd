"""No report table shows a collapsed interval (issue 27): a planner that solves every one of
20 scenarios is reported 100% with the exact lower bound (83.2%), never "[100-100]"."""

import json
import re

from moonshot.cli import main
from moonshot.evaluation.stats import SMALL_N, proportion_ci

BRACKETS = re.compile(r"\[(-?\d+)[-–, ]+(-?\d+)\]")


def _intervals(markdown: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in BRACKETS.findall(markdown)]


def test_a_perfect_planner_on_20_scenarios_has_a_real_interval(tmp_path):
    out, ladder = tmp_path / "ev", tmp_path / "shift"
    assert main(["evaluate", "planner:moon", "--split", "train", "--episodes", "20",
                 "--out", str(out)]) == 0
    row = json.loads((out / "transfer.json").read_text())["results"][0]
    assert row["success_rate"] == 1.0  # the premise: every scenario solved
    table = (out / "transfer.md").read_text()
    found = _intervals(table)
    assert found and all(lo < hi for lo, hi in found)
    assert (83, 100) in found  # floor(100 * 0.8316), the exact Clopper-Pearson bound
    assert proportion_ci(20, 20).low < 0.84
    assert "[100-100]" not in (out / "report.md").read_text()
    # the ladder's table too, at every level of an axis the planner reads
    assert main(["shift", "moon", "--agent", "planner", "--axis", "altitude", "--level", "0",
                 "1", "--episodes", "20", "--no-progress", "--out", str(ladder)]) == 0
    shift_md = (ladder / "report.md").read_text()
    found = _intervals(shift_md)
    assert found and all(lo < hi for lo, hi in found)
    # and fewer than 10 units would say so
    assert f"(<{SMALL_N})" not in table


def test_a_small_evaluation_says_its_n_is_small(tmp_path):
    out = tmp_path / "ev"
    assert main(["evaluate", "planner:moon", "--split", "train", "--episodes", "4",
                 "--out", str(out)]) == 0
    assert f"n=4 scenarios (<{SMALL_N})" in (out / "transfer.md").read_text()
