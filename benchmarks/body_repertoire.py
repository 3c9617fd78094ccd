"""Build the body's gait repertoire (the behaviour-performance map of the ``adapt`` agent,
:mod:`moonshot_body.agents.gaits`): MAP-Elites over the gait family in the agent's own model
of the intact body, written to ``moonshot_body/data/repertoire.npz`` with this command line,
its seed and its cost in the file's metadata.

Run: ``python benchmarks/body_repertoire.py [--evaluations 8000] [--seed 0] [--out PATH]``
(its CPU seconds are in the file's ``cpu_s``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from moonshot_body.agents.gaits import REPERTOIRE_FILE, map_elites

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "moonshot_body" / "data" / REPERTOIRE_FILE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluations", type=int, default=8000, help="gaits tried")
    parser.add_argument("--seed", type=int, default=0, help="MAP-Elites' generator seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the .npz to write")
    args = parser.parse_args(argv)
    if args.evaluations < 1:
        parser.error(f"--evaluations must be >= 1, got {args.evaluations}")
    command = "python benchmarks/body_repertoire.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    rep = map_elites(args.evaluations, args.seed, meta={"command": command.strip()},
                     progress=lambda done, cells, best: print(
                         f"{done:6d} gaits tried, {cells:4d} cells, best {best:.3f} m/s",
                         flush=True))
    rep.save(args.out)
    print(f"{len(rep.params)} gaits -> {args.out} ({rep.meta['cpu_s']} CPU s, "
          f"{rep.meta['imagined_walks']} imagined walks)")


if __name__ == "__main__":
    main()
