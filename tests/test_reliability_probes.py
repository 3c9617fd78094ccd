"""The fast part of the reliability probes (docs/reliability.md) in CI: every refused value
and folder and every bounded input of `benchmarks/reliability_probes.py`, the command line
called in this process."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_fast_reliability_probes_all_hold(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "reliability_probes", ROOT / "benchmarks" / "reliability_probes.py")
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    rows = probes.fast_probes(tmp_path)
    failed = [row for row in rows if not row[-1]]
    assert len(rows) >= 50 and not failed, failed
