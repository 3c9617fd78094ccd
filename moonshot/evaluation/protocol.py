"""The protocol's check: test seeds never appear where agents and planners are developed.

docs/protocol.md, "The check". Two scans, both text-only (nothing is run):

* :func:`check_tree` - the files under ``moonshot/``, ``tests/``, ``benchmarks/`` and the
  release queue's own files in ``measurements/`` today: no file other than the declared
  results specs (:data:`RESULTS_SPECS`), the release queue (:data:`RELEASE_DRIVERS`) and the
  protocol's own implementation (:data:`PROTOCOL_FILES`) selects the test seed set
  (``--seed-set test``, ``seed_set: test``, ``seed_set="test"``) or hard-codes a seed of a
  world's test range.
  ``tests/test_protocol.py`` runs it in CI.
* :func:`check_history` - the commits of a git range: no commit adds such a line outside those
  files, and no commit that changes an agent or a planner (:data:`DEVELOPMENT_PATHS`) adds
  one anywhere, not even in a results spec: the figures are regenerated in a commit of their
  own, after the agents are frozen. ``python benchmarks/protocol_check.py --history`` runs it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The sweep specs that regenerate the reported figures: the only files that evaluate on the
#: test seeds (run once per release; docs/protocol.md).
RESULTS_SPECS = ("moonshot/sweeps/city-rl-informed.yaml",
                 "moonshot/sweeps/headline-moon-tuned.yaml",
                 "moonshot/sweeps/moon-rl-informed.yaml",
                 "moonshot/sweeps/headline-moon.yaml",
                 "moonshot/sweeps/headline-city.yaml",
                 "moonshot/sweeps/headline-city-informed.yaml",
                 "moonshot/sweeps/headline-body.yaml",
                 "moonshot/sweeps/headline-moon-pets.yaml")
#: The protocol's own implementation and its tests: they name the test set to define, offer
#: and check it (a choice on the command line, a range, a disjointness test), and evaluate
#: no agent on it.
PROTOCOL_FILES = ("moonshot/worlds/__init__.py", "moonshot/agents/episodes.py",
                  "moonshot/evaluation/protocol.py", "moonshot/cli.py",
                  "tests/test_seed_sets.py", "tests/test_protocol.py")
#: The release queue (``measurements/queue.sh``): it runs the results specs and the
#: ladders, evaluations and relearning runs docs/results.md names on the test seeds, job by
#: job across sessions. It may select the test set; a commit that also changes an agent or a
#: planner may not (the history check), like a results spec.
RELEASE_DRIVERS = ("measurements/queue.sh",)
#: Where the files scanned lie, and which files they are (under ``measurements/``, the
#: queue's own files only: its subfolders are the measured data).
SCANNED = ("moonshot/", "moonshot_body/", "tests/", "benchmarks/", "measurements/")
SUFFIXES = (".py", ".yaml", ".yml", ".md", ".toml", ".sh", ".cfg", ".txt")
#: The documents the history scan also reads, and those that may show a test command: the
#: rules (how a user submits an agent), the reported figures with their commands (the
#: headline in results.md, the test-seed ladders in generalization.md), and the release
#: measurement's own notes (which command made each of its folders).
DOCS = ("docs/", "README.md")
DOCS_ALLOWED = ("docs/protocol.md", "docs/results.md", "docs/generalization.md", "README.md",
                "measurements/README.md")
#: Where agents and planners are developed: a commit that changes them adds no test seed.
DEVELOPMENT_PATHS = ("moonshot/agents/", "moonshot/worlds/", "moonshot/physics/",
                     "moonshot/envs/", "moonshot_body/")
#: Commits made before the test ranges were declared whose added lines happen to hold a number
#: inside one (not a use of the test set: the ranges did not exist yet), each with what it
#: was and the commit that moved it out. Listed, not skipped silently: docs/protocol.md.
PRE_PROTOCOL = {
    "bc88e95b0e177970ad22feafad43a05ea3296ff1":
        "MAP_SEED = 1_234_567_891 in tests/test_information_rule.py, a held-out map seed of "
        "the no-seed-in-a-view test, written in parallel with the protocol; moved to "
        "1_734_567_891 when the two were merged",
}
#: Texts that select the test seed set: the flag, a spec key, a keyword.
SELECTS_TEST = re.compile(
    r"""--seed-set[\s=]+["']?test\b|\bseed_set["']?\s*[:=]\s*["']?test\b""")
#: Integer literals long enough to lie in a test range (underscores allowed).
_LONG_INT = re.compile(r"(?<![\w.])\d[\d_]{7,}(?![\w.])")


@dataclass(frozen=True)
class Finding:
    """One line that breaks the protocol."""

    path: str
    line: int
    text: str
    why: str
    commit: str = ""

    def __str__(self) -> str:
        where = f"{self.commit[:10]} " if self.commit else ""
        return f"{where}{self.path}:{self.line}: {self.why}: {self.text.strip()[:120]}"


def test_ranges() -> list[range]:
    """Every registered world's test block."""
    from ..worlds import worlds

    return [w.seed_sets.block("test") for w in worlds()]


def allowed(path: str) -> bool:
    """Whether ``path`` (relative, with ``/``) may select the test set."""
    return (path in RESULTS_SPECS or path in PROTOCOL_FILES or path in DOCS_ALLOWED
            or path in RELEASE_DRIVERS)


def scanned(path: str, docs: bool = False) -> bool:
    """Whether the scan reads ``path``: code, tests, benchmarks (and, with ``docs``, the
    documents)."""
    if path.startswith("measurements/") and path.count("/") > 1:
        return False  # the measured data, not code
    return path.endswith(SUFFIXES) and (path.startswith(SCANNED)
                                        or docs and path.startswith(DOCS))


def line_problem(text: str, ranges: list[range]) -> str | None:
    """Why ``text`` uses the test set (``None``: it does not)."""
    if SELECTS_TEST.search(text):
        return "selects the test seed set"
    for match in _LONG_INT.finditer(text):
        value = int(match.group().replace("_", ""))
        if any(value in r for r in ranges):
            return f"hard-codes {value:,}, a seed of a test range"
    return None


def check_tree(root: str | Path) -> list[Finding]:
    """The files under :data:`SCANNED` of the checkout ``root`` that use the test set."""
    root = Path(root)
    ranges = test_ranges()
    found = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or not scanned(rel) or allowed(rel):
                continue
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            for i, text in enumerate(lines, 1):
                why = line_problem(text, ranges)
                if why:
                    found.append(Finding(rel, i, text, why))
    return found


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout


def check_history(root: str | Path, revisions: str = "HEAD") -> list[Finding]:
    """The commits of ``revisions`` (a ``git rev-list`` range) whose added lines use the test
    set where they may not (see the module docstring)."""
    root = Path(root)
    ranges = test_ranges()
    found = []
    for commit in _git(root, "rev-list", "--no-merges", revisions).split():
        if commit in PRE_PROTOCOL:
            continue
        diff = _git(root, "show", "--format=", "--unified=0", "--no-color", "--no-renames",
                    commit)
        changed = [m.group(1) for m in re.finditer(r"^\+\+\+ b/(.+)$", diff, re.M)]
        develops = any(p.startswith(DEVELOPMENT_PATHS) for p in changed)
        path, line = "", 0
        for text in diff.splitlines():
            if text.startswith("+++ "):
                path = text[6:] if text.startswith("+++ b/") else ""
            elif text.startswith("@@"):
                m = re.search(r"\+(\d+)", text)
                line = int(m.group(1)) if m else 0
            elif text.startswith("+") and path:
                why = (line_problem(text[1:], ranges)
                       if scanned(path, docs=True) or develops else None)
                if why and (develops and path not in PROTOCOL_FILES or not allowed(path)):
                    if develops and allowed(path):
                        why += " in a commit that changes an agent or planner"
                    found.append(Finding(path, line, text[1:], why, commit))
                line += 1
    return found


__all__ = ["DEVELOPMENT_PATHS", "Finding", "PRE_PROTOCOL", "PROTOCOL_FILES", "RELEASE_DRIVERS",
           "RESULTS_SPECS",
           "check_history", "check_tree", "line_problem"]
