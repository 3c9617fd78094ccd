"""Every throughput figure of moonshot next to its peers, in one run (what `docs/benchmarks.md`
reports). Install the peers first: `pip install -c constraints.txt -e ".[bench]"`.

    python benchmarks/run_all.py [--quick] [--out runs/benchmark]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from moonshot.evaluation.benchmark import run_benchmark

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="runs/benchmark")
    args = ap.parse_args()
    print(run_benchmark(Path(args.out), quick=args.quick)["markdown"])
