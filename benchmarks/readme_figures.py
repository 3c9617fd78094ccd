"""The README's demo figures, re-derived from a demo run (issue 30: every figure in the README
comes from a command written beside it).

    moonshot demo --out runs/demo
    python benchmarks/readme_figures.py runs/demo              # diff against README.md, exit 1
    python benchmarks/readme_figures.py runs/demo --write      # put this run's figures in

The README's demo figures sit between ``<!-- demo-table:begin -->`` and
``<!-- demo-table:end -->``; everything between the markers is rendered here from the demo's
``demo_config.json``, ``compare-*/efficiency.json`` and ``transfer-*/transfer.json`` (the files
its report is computed from), so a figure typed into that block by hand is a mismatch. The
demo's wall time depends on the machine and is not among them.

Exit status: 0 when the block matches, 1 when it differs (a unified diff is printed) or a
document lacks the markers, 2 when the demo folder is incomplete.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from pathlib import Path

from moonshot.evaluation.report import interval_percent

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- demo-table:begin -->", "<!-- demo-table:end -->"

#: The demo's worlds: (title, folder suffix, what one trial is called, the learning budget's unit).
WORLDS = (("MoonLaunch", "moon", "launches", "launches"), ("CityNav", "city", "drives", "steps"))


class DemoFolderError(Exception):
    """The demo folder lacks a file the figures come from."""


def _read(path: Path) -> dict:
    if not path.is_file():
        raise DemoFolderError(f"{path} is missing: give the folder of a finished `moonshot demo` "
                              "(its --out)")
    return json.loads(path.read_text())


def _n(x: float | int | None) -> str:
    """A count as the README writes it; None (never reached) as "not reached"."""
    return "not reached" if x is None else f"{x:,.0f}"


def _and(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _success(row: dict | None) -> str:
    """Success of a frozen agent on one split, with its 95% Clopper-Pearson interval."""
    if row is None:
        return ""
    text = f"{row['success_rate']:.0%}"
    if row.get("success_low") is None:
        return text
    low, high = interval_percent(row["success_low"], row["success_high"])  # as the report
    return f"{text} [{low}-{high}]"


def _planner_success(row: dict | None, trials: str) -> str:
    """A planner's success (its 95% Clopper-Pearson interval) with what it cost: real and
    imagined trials, deaths."""
    if row is None:
        return ""
    return (f"{_success(row)}, {row['trials_per_scenario']:.2f} {trials} and "
            f"{row['model_rollouts_per_scenario']:,.0f} imagined per scenario, "
            f"{row['deaths']:,} deaths")


def _is_planner(agent: str) -> bool:
    # the planners' runs are "planner", "city_planner", ...; a transfer label "planner" or a path
    return "planner" in agent


def _world_rows(demo: Path, title: str, key: str, trials: str, unit: str,
                budget: dict) -> list[list[str]]:
    runs = _read(demo / f"compare-{key}" / "efficiency.json")["runs"]
    evals = _read(demo / f"transfer-{key}" / "transfer.json")["results"]
    by_agent: dict[str, dict[str, dict]] = {}
    for r in evals:
        by_agent.setdefault(r["agent"], {})[r["split"]] = r
    ppo = [r for r in runs if not _is_planner(str(r["agent"]))]
    planners = [r for r in runs if _is_planner(str(r["agent"]))]
    rows = []
    steps = budget[f"{key}_ppo_timesteps"]
    live = next((a for a in by_agent if a.startswith("PPO (trained live")), None)
    if ppo:
        who = f"PPO trained live, {steps:,} {unit}, seed " + _and([str(r["seed"]) for r in ppo])
        if len(ppo) > 1:  # the figures of every seed in the cells, one seed's evaluation
            who = who.replace("seed", "seeds", 1) + f" (seed {ppo[0]['seed']} evaluated)"
        splits = by_agent.get(live or "", {})
        rows.append([title, who, _and([_n(r["episodes_to_first_success"]) for r in ppo]),
                     _and([_n(r["episodes_to_success_50"]) for r in ppo]),
                     _and([f"{_n(r['deaths'])} / {_n(r['episodes'])}" for r in ppo]),
                     _success(splits.get("train")), _success(splits.get("new"))])
    for agent, splits in by_agent.items():
        if agent.startswith("PPO (pretrained"):
            rows.append([title, agent, "", "", "", _success(splits.get("train")),
                         _success(splits.get("new"))])
    for r in planners:
        splits = next((s for a, s in by_agent.items() if _is_planner(a)), {})
        rows.append([title, f"planner ({r['scenarios']:,} scenarios while learning)",
                     _n(r["episodes_to_first_success"]), _n(r["episodes_to_success_50"]),
                     f"{_n(r['deaths'])} / {_n(r['episodes'])}",
                     _planner_success(splits.get("train"), trials),
                     _planner_success(splits.get("new"), trials)])
    return rows


def _time_to_goal(demo: Path) -> str:
    """The city agents' mean time to the goal in new cities, a sentence."""
    evals = _read(demo / "transfer-city" / "transfer.json")["results"]
    parts = [f"{'planner' if _is_planner(r['agent']) else r['agent']} "
             f"{r['time_to_goal']:.0f} {r['time_unit']}" for r in evals
             if r["split"] == "new" and r.get("time_to_goal") is not None]
    if not parts:
        return "No CityNav agent reached the goal in a new city."
    return ("Mean time to the goal of the drives that arrived, new cities: "
            + "; ".join(parts) + ".")


def demo_block(demo: Path) -> str:
    """Everything the README states between its demo markers, rendered from the demo run in
    ``demo`` (a ``moonshot demo --out`` folder).

    :raises DemoFolderError: when a file the figures come from is missing.
    """
    config = _read(demo / "demo_config.json")
    b = config["budget"]
    head = (f"`moonshot demo` at its {'full' if config['full'] else 'default'} budget, seed "
            f"{config['seed']}, **{config['seed_set']} seeds** (`--seed-set "
            f"{config['seed_set']}`): development figures, not the test-seed headline "
            "(docs/protocol.md). "
            f"MoonLaunch (target `{b['moon_target']}`): {b['moon_plan_scenarios']:,} planner "
            f"scenarios while learning, {b['moon_eval_scenarios']:,} scenarios per split "
            f"evaluated; CityNav: {b['city_plan_episodes']:,} planner drives, "
            f"{b['city_eval_episodes']:,} drives per split. One real trial per scenario for "
            "PPO, up to the world's allowance for the planner; success with 95% "
            "Clopper-Pearson intervals. Trials are counted while learning; the rolling rate "
            "counts from the 10th trial on, so 10 is the floor of \"to 50%\"; destroyed: "
            "the vehicle lost (a death). Pretrained PPO: the agents shipped in the package "
            "(`moonshot pretrained`).")
    header = ["world", "agent", "trials to 1st success", "trials to 50% rolling success",
              "destroyed / trials while learning", "success, train split", "success, new split"]
    rows = [row for world in WORLDS for row in _world_rows(demo, *world, b)]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join([_wrap(head), "", *table, "", _wrap(_time_to_goal(demo))])


def _wrap(text: str) -> str:
    """Prose at the README's line width (tables stay one line per row)."""
    return textwrap.fill(text, width=96, break_long_words=False, break_on_hyphens=False)


def stated_block(text: str) -> str | None:
    """The text a document states between the demo markers (None: it has no such block)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(BEGIN):end].strip("\n")


def check(demo: Path, doc: Path, write: bool = False) -> int:
    """Compare (or with ``write``, replace) ``doc``'s demo block with ``demo``'s figures;
    the exit status (see the module's docstring)."""
    derived = demo_block(demo)
    text = doc.read_text()
    stated = stated_block(text)
    if stated is None:
        print(f"{doc}: no demo block ({BEGIN} ... {END})", file=sys.stderr)
        return 1
    if stated == derived:
        print(f"{doc}: every demo figure matches {demo}")
        return 0
    if write:
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        doc.write_text(text[:start] + "\n" + derived + "\n" + text[end:])
        print(f"{doc}: demo block rewritten from {demo}")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        (stated + "\n").splitlines(keepends=True), (derived + "\n").splitlines(keepends=True),
        fromfile=f"{doc} (stated)", tofile=f"{demo} (derived)"))
    print(f"\n{doc}: the demo figures differ from {demo} (lines - stated, + derived)",
          file=sys.stderr)
    changed = [a for a, b in zip(stated.splitlines(), derived.splitlines(), strict=False)
               if a != b]
    if changed and all("trained live" in line for line in changed) and \
            len(stated.splitlines()) == len(derived.splitlines()):
        print("Only the rows of PPO trained live differ: on another CPU model torch runs other "
              "kernels and the same seed trains another PPO (README.md says on which CPU the "
              "block was made); every other figure matches.", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a `moonshot demo --out` folder")
    parser.add_argument("--doc", type=Path, default=ROOT / "README.md",
                        help="the document holding the demo block (default: README.md)")
    parser.add_argument("--write", action="store_true",
                        help="replace the document's demo block with these figures")
    args = parser.parse_args(argv)
    try:
        return check(args.demo, args.doc, args.write)
    except DemoFolderError as exc:
        print(f"readme_figures: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
