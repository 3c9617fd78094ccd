"""The protocol's check (docs/protocol.md): test seeds never appear where agents and planners
are developed.

    python benchmarks/protocol_check.py                 # the files of this checkout
    python benchmarks/protocol_check.py --history       # and every commit of HEAD
    python benchmarks/protocol_check.py --history v0.3..HEAD

Exits 1 and lists every offending line (file:line, or commit file:line) when there is one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moonshot.evaluation.protocol import check_history, check_tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                        help="the checkout (default: this one)")
    parser.add_argument("--history", nargs="?", const="HEAD", default=None,
                        metavar="REVISIONS", help="also scan the commits of this git range "
                        "(default: all of HEAD)")
    args = parser.parse_args(argv)
    found = check_tree(args.root)
    if args.history is not None:
        found += check_history(args.root, args.history)
    for finding in found:
        print(finding)
    scope = "files" + (f" and the commits of {args.history}" if args.history else "")
    print(f"protocol check: {len(found)} problem(s) in the {scope}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
