"""The protocol's check (docs/protocol.md, "The check"): no file of the checkout and no commit
uses the test seeds where agents and planners are developed; the check finds a planted use."""

import subprocess
import sys
from pathlib import Path

import pytest

from moonshot.evaluation.protocol import RESULTS_SPECS, check_history, check_tree, line_problem
from moonshot.worlds import get_world

ROOT = Path(__file__).resolve().parents[1]
#: Built, not written: this file must not itself hold what the check looks for.
FLAG = "--seed-set " + "te" + "st"
TEST_SEED = get_world("city").seed_range("te" + "st", "train").start + 17


def test_no_file_of_the_checkout_uses_the_test_seeds():
    assert check_tree(ROOT) == [], "\n".join(map(str, check_tree(ROOT)))


def test_the_results_specs_are_the_ones_on_test_seeds():
    import yaml

    for rel in RESULTS_SPECS:
        spec = yaml.safe_load((ROOT / rel).read_text())
        assert spec["seed_set"] == "te" + "st", rel


@pytest.mark.parametrize("text", [
    f"moonshot evaluate runs/x {FLAG} --episodes 5",
    "seed_set: " + "te" + "st",
    "EvalSettings(seed_set='" + "te" + "st')",
    f"env.reset(seed={TEST_SEED})",
    f"SEED = {TEST_SEED:_}",
])
def test_a_use_of_the_test_seeds_is_found(text):
    assert line_problem(text, [get_world("city").seed_sets.block("te" + "st")])


@pytest.mark.parametrize("text", ["--seed-set dev", "seed_set: legacy", "seed=1000",
                                  "timesteps=2_000_000", "x = 10**9"])
def test_other_seeds_pass(text):
    assert line_problem(text, [get_world("city").seed_sets.block("te" + "st")]) is None


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def _commit(repo: Path, files: dict, message: str) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", message)


def test_the_history_check_finds_a_commit_that_tunes_on_test_seeds(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _commit(repo, {"moonshot/agents/planner.py": "HORIZON = 3\n",
                   "tests/test_x.py": "SEED = 3\n"}, "a planner")
    assert check_history(repo) == [] and check_tree(repo) == []
    # the figures regenerated alone, from a results spec: allowed
    _commit(repo, {RESULTS_SPECS[0]: "seed_set: " + "te" + "st\n"}, "figures")
    assert check_history(repo) == [] and check_tree(repo) == []
    # a planner change with a test evaluation in a benchmark: found, file and commit named
    _commit(repo, {"moonshot/agents/planner.py": "HORIZON = 4\n",
                   "benchmarks/try.sh": f"moonshot shift city --agent planner {FLAG}\n"},
                "tune the horizon")
    found = check_history(repo)
    assert [(f.path, f.line) for f in found] == [("benchmarks/try.sh", 1)]
    assert [f.path for f in check_tree(repo)] == ["benchmarks/try.sh"]
    # a planner change in the same commit as a results spec on test seeds: found too
    _commit(repo, {"moonshot/agents/planner.py": "HORIZON = 5\n",
                   RESULTS_SPECS[1]: "seed_set: " + "te" + "st\n"}, "both")
    assert any(f.path == RESULTS_SPECS[1] and "changes an agent" in f.why
               for f in check_history(repo))


def test_the_release_queue_is_the_only_file_of_measurements_that_may_use_the_test_seeds(
        tmp_path):
    """measurements/queue.sh runs the release jobs on the test seeds; another script there is
    found, the measured data in its subfolders are not read, and a commit that changes an
    agent and the queue together is found (the figures are regenerated on frozen agents)."""
    from moonshot.evaluation.protocol import RELEASE_DRIVERS

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    line = f"moonshot shift city --agent planner:city {FLAG}\n"
    _commit(repo, {RELEASE_DRIVERS[0]: line,
                   "measurements/headline-city/sweep.yaml": "seed_set: " + "te" + "st\n",
                   "measurements/headline-city/cells/a/report.md": line}, "the queue, data")
    assert check_tree(repo) == [] and check_history(repo) == []
    _commit(repo, {"measurements/more.sh": line}, "a second driver")
    assert [f.path for f in check_tree(repo)] == ["measurements/more.sh"]
    assert [f.path for f in check_history(repo)] == ["measurements/more.sh"]
    (repo / "measurements" / "more.sh").unlink()
    _commit(repo, {"moonshot/agents/planner.py": "HORIZON = 5\n",
                   RELEASE_DRIVERS[0]: line + line}, "tune and measure")
    assert any(f.path == RELEASE_DRIVERS[0] and "changes an agent" in f.why
               for f in check_history(repo))


def test_the_script_exits_1_on_a_finding(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_y.py").write_text(f"SEED = {TEST_SEED}\n")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "protocol_check.py"),
                          "--root", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 1 and "tests/test_y.py:1" in res.stdout


def test_no_commit_of_this_repository_develops_on_test_seeds():
    if not (ROOT / ".git").exists() or subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
            capture_output=True, text=True).stdout.strip() != "false":
        pytest.skip("needs the repository's full history")
    found = check_history(ROOT)
    assert found == [], "\n".join(map(str, found))
