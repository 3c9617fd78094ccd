"""The body world's relearning cost: how many real walks (and falls) an agent needs after its
body is damaged before it walks as well as it did intact.

For each agent, a body whose ``--leg`` (each of the given legs in turn) is damaged
(``--damage``, level 2 of the ladder by default: a shin half as long) walks ``--walks``
scenarios in sequence, starting from what the agent knew before the damage (an evaluation
starts forgetful: an adapting agent's knowledge of the damage comes from these walks only). The
same agent walks the same number of scenarios with the intact body: its reference rate.
The relearning cost is the number of damaged walks before the first walk from which the
success rate over the rest of the sequence (pooled over the legs, at least ``--min-tail``
walks a leg, so that the last walk or two cannot pass by chance) is within ``--within``
points of the intact rate; its falls are those of the walks before it. The imagined work
behind the damaged walks (``model_rollouts``, model steps) is reported beside it. An agent
that never gets there is reported as not recovered within the walks.

    python benchmarks/body_adaptation.py planner:body RUN_DIR adapt:body \\
        --walks 20 --legs fl br --out runs/body-adaptation [--seed-set dev]

Writes ``walks.csv`` (every walk), ``summary.csv`` and ``summary.md`` (intervals: Clopper-
Pearson over walks), and ``adaptation.png`` (success by walk index, each agent's intact rate
dashed). Development uses the dev seeds (the default); a reported figure, the test set
(``--seed-set``, as for ``moonshot evaluate``).
An SB3 policy cannot learn during an evaluation: its cost after damage is a fine-tuning run,
not this walk sequence (its rows here show what the frozen policy does on the damaged body).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def run(agents: list[str], damage: str, legs: list[str], walks: int, within: float,
        seed: int, seed_set: str, out: Path, min_tail: int = 5) -> list[dict]:
    from moonshot.agents.episodes import EvalSettings, evaluate
    from moonshot.agents.loading import resolve_agent
    from moonshot.evaluation.stats import proportion_ci

    out.mkdir(parents=True, exist_ok=True)
    rows, summary = [], []
    for text in agents:
        spec = resolve_agent(text, "body")
        intact = evaluate(spec, None, EvalSettings(
            split="train", episodes=walks, seed=seed, seed_set=seed_set, axis="damage"))
        base = float(np.mean([r.success for r in intact.records]))
        for i, r in enumerate(intact.records):
            rows.append({"agent": spec.label, "leg": "intact", "walk": i + 1,
                         "success": int(r.success), "death": int(r.death),
                         "outcome": r.outcome})
        runs, imagined = [], [0, 0]
        for leg in legs:
            res = evaluate(spec, None, EvalSettings(
                split="train", episodes=walks, seed=seed, seed_set=seed_set, axis="damage",
                env_overrides={"damage": damage, "damage_leg": leg}))
            imagined[0] += sum(r.model_rollouts for r in res.records)
            imagined[1] += sum(r.model_steps for r in res.records)
            ok = np.array([r.success for r in res.records], dtype=bool)
            dead = np.array([r.death for r in res.records], dtype=bool)
            runs.append((ok, dead))
            for i, r in enumerate(res.records):
                rows.append({"agent": spec.label, "leg": leg, "walk": i + 1,
                             "success": int(r.success), "death": int(r.death),
                             "outcome": r.outcome})
            print(f"{spec.label} leg {leg}: {ok.sum()}/{len(ok)} arrived, {dead.sum()} fell",
                  flush=True)
        ok = np.stack([r[0] for r in runs])  # legs x walks
        dead = np.stack([r[1] for r in runs])
        tail = max(1, min(min_tail, walks))
        cost = next((k for k in range(walks - tail + 1)
                     if ok[:, k:].mean() >= base - within / 100.0), None)
        n_ok, n = int(ok.sum()), ok.size
        iv = proportion_ci(n_ok, n)
        ivb = proportion_ci(int(round(base * walks)), walks)
        summary.append({
            "agent": spec.label, "damage": damage, "legs": " ".join(legs), "walks": walks,
            "intact_success": round(base, 3), "intact_ci": f"{ivb.low:.2f}-{ivb.high:.2f}",
            "damaged_success": round(n_ok / n, 3), "damaged_ci": f"{iv.low:.2f}-{iv.high:.2f}",
            "first_walk_success": round(float(ok[:, 0].mean()), 3),
            "relearning_walks": "" if cost is None else cost * len(legs),
            "relearning_falls": "" if cost is None else int(dead[:, :cost].sum()),
            "recovered": cost is not None,
            "imagined_trials_per_walk": round(imagined[0] / n, 1),
            "model_steps_per_walk": round(imagined[1] / n, 1)})
    _write(out / "walks.csv", rows)
    _write(out / "summary.csv", summary)
    _markdown(out / "summary.md", summary, within)
    _plot(out / "adaptation.png", rows, summary, damage)
    return summary


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _markdown(path: Path, summary: list[dict], within: float) -> None:
    lines = ["| agent | intact | damaged (all walks) | first walk | relearning cost: walks "
             f"(falls) to within {within:g} pts | imagined per damaged walk: trials, model "
             "steps |", "|---|---|---|---|---|---|"]
    for s in summary:
        cost = (f"{s['relearning_walks']} ({s['relearning_falls']})" if s["recovered"]
                else f"not within {s['walks']} walks a leg")
        lines.append(f"| {s['agent']} | {s['intact_success']:.0%} [{s['intact_ci']}] | "
                     f"{s['damaged_success']:.0%} [{s['damaged_ci']}] | "
                     f"{s['first_walk_success']:.0%} | {cost} | "
                     f"{s['imagined_trials_per_walk']:,.0f}, {s['model_steps_per_walk']:,.0f} |")
    path.write_text("\n".join(lines) + "\n\nIntervals: Clopper-Pearson 95% over walks. "
                    "Relearning walks are summed over the damaged legs.\n")


def _plot(path: Path, rows: list[dict], summary: list[dict], damage: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    markers = "osd^vP*X"
    for i, s in enumerate(summary):
        mine = [r for r in rows if r["agent"] == s["agent"] and r["leg"] != "intact"]
        walks = sorted({int(r["walk"]) for r in mine})
        rate = [np.mean([r["success"] for r in mine if int(r["walk"]) == w]) for w in walks]
        line, = ax.plot(walks, rate, marker=markers[i % len(markers)], label=s["agent"])
        ax.axhline(s["intact_success"], ls="--", color=line.get_color(), lw=1)
    ax.set_xlabel(f"walk after the damage ({damage}), in order")
    ax.set_ylabel("arrived (share of legs damaged)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("BodyWalk: relearning after damage (dashed: intact rate)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("agents", nargs="+", help="agents (planner:body, a run folder, adapt:body)")
    p.add_argument("--damage", default="short", choices=["weak", "short", "missing"])
    p.add_argument("--legs", nargs="+", default=["fl", "fr", "bl", "br"])
    p.add_argument("--walks", type=int, default=20, help="damaged walks per leg, in order")
    p.add_argument("--within", type=float, default=5.0, help="points of the intact rate")
    p.add_argument("--min-tail", type=int, default=5,
                   help="walks a leg the recovered stretch spans at least")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seed-set", default="dev", choices=["dev", "test"])
    p.add_argument("--out", type=Path, default=Path("runs/body-adaptation"))
    a = p.parse_args(argv)
    import moonshot_body  # noqa: F401  (the body world, when not loaded as a plug-in)

    for s in run(a.agents, a.damage, a.legs, a.walks, a.within, a.seed, a.seed_set, a.out,
                 a.min_tail):
        print(s)
    print(f"wrote {a.out}/summary.md, walks.csv, adaptation.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
