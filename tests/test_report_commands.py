"""The command a report records is the one that made it: typed again, it measures the same
thing (an evaluation of ``--env-kwargs target=landing`` once recorded no env settings, so its
report's command evaluated the other target)."""

from __future__ import annotations

import csv
import re
import shlex
import string
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from moonshot.agents.config import key_value_words, parse_key_values
from moonshot.cli import main

values = st.one_of(st.booleans(), st.integers(), st.none(),
                   st.floats(allow_nan=False, allow_infinity=False),
                   st.text(string.ascii_letters + string.digits + " .:-_=/", min_size=1),
                   st.lists(st.integers(), max_size=3))


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), values,
                       max_size=4))
def test_env_settings_written_as_a_user_types_them_read_back_the_same(settings):
    words = key_value_words("--env-kwargs", settings)
    assert words == [] if not settings else words[0] == "--env-kwargs"
    assert parse_key_values(words[1:], "--env-kwargs") == settings


def _recorded(folder: Path) -> list[str]:
    line = re.search(r"- command: `(.*)`", (folder / "report.md").read_text()).group(1)
    return shlex.split(line)


def _rows(path: Path) -> list[dict]:
    """A table's measured columns (wall times differ from run to run)."""
    return [{k: v for k, v in r.items() if "compute" not in k}
            for r in csv.DictReader(path.open())]


def _replay(folder: Path, again: Path) -> list[str]:
    argv = _recorded(folder)
    assert argv[:1] == ["moonshot"]
    argv[argv.index("--out") + 1] = str(again)
    assert main(argv[1:]) == 0
    return argv


def test_an_evaluation_report_records_its_env_settings(tmp_path):
    first = tmp_path / "landing"
    assert main(["evaluate", "planner:moon", "--env-kwargs", "target=landing", "--split", "new",
                 "--episodes", "2", "--seed", "3", "--out", str(first)]) == 0
    argv = _replay(first, tmp_path / "again")
    assert argv[argv.index("--env-kwargs") + 1] == "target=landing"
    assert _rows(first / "transfer.csv") == _rows(tmp_path / "again" / "transfer.csv")


def test_a_ladder_report_records_its_levels_and_env_settings(tmp_path):
    first = tmp_path / "ladder"
    assert main(["shift", "moon", "--agent", "planner:moon", "--axis", "altitude", "--level", "2",
                 "--env-kwargs", "target=landing", "--episodes", "2", "--no-progress",
                 "--out", str(first)]) == 0
    argv = _replay(first, tmp_path / "again")
    assert argv[argv.index("--level") + 1] == "2" and "target=landing" in argv
    rows = _rows(first / "shift.csv")
    assert [r["level"] for r in rows] == ["2"]
    assert rows == _rows(tmp_path / "again" / "shift.csv")
