"""``moonshot demo``: the main job, end to end on both worlds, into one report.

Steps: train PPO live on both worlds (the sample-efficiency curves), run both planners, evaluate
every agent on the training and the held-out ("new") split, compare, render one episode per
agent per world, write ``report.md``. The default budget fits in about ten minutes on two
cores; ``--full`` runs the same experiment at the scale behind the README's headline numbers.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

from ..runlog import RunLock, check_named_folder, write_json
from .report import glossary as report_glossary


@dataclass
class DemoBudget:
    """How much of everything the demo runs."""

    moon_target: str = "soi"
    moon_ppo_timesteps: int = 300_000
    moon_seeds: int = 2
    moon_plan_scenarios: int = 100
    moon_eval_scenarios: int = 100
    city_ppo_timesteps: int = 40_000
    city_seeds: int = 1
    city_plan_episodes: int = 16
    city_eval_episodes: int = 20
    relearn_timesteps: int = 0  # fine-tuning budget for the relearning cost (0: skip)
    render: bool = True


FULL = DemoBudget(moon_ppo_timesteps=1_000_000, moon_seeds=5, moon_plan_scenarios=200,
                  moon_eval_scenarios=200, city_ppo_timesteps=2_000_000, city_seeds=3,
                  city_plan_episodes=200, city_eval_episodes=200, relearn_timesteps=500_000)


def pretrained_runs() -> dict[str, Path]:
    """Small pretrained RL agents shipped in the package (run folders with model.zip and the
    config.json of the ``moonshot train`` command that made them), by world."""
    from ..agents.pretrained import pretrained_agents
    from ..worlds import worlds

    shipped = pretrained_agents()
    return {w.name: shipped[w.pretrained].path for w in worlds() if w.pretrained in shipped}


class _Steps:
    """A numbered progress display for the demo's steps."""

    def __init__(self, total: int):
        self.total, self.i, self.t0 = total, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.i += 1
        print(f"\n[{self.i}/{self.total}] {text}  (t+{time.perf_counter() - self.t0:.0f}s)",
              flush=True)


def run_demo(out: Path, full: bool = False, seed: int = 0,
             budget: DemoBudget | None = None, seed_set: str = "dev") -> Path:
    """Run the demo experiment into ``out`` (see :func:`claim_demo_folder`); returns the
    path of ``report.md``. ``seed_set``: the seeds of its plan runs and evaluations
    (docs/protocol.md)."""
    from ..agents.episodes import check_seed_set
    from ..errors import check_int

    check_int("--seed", seed, 0)  # every value checked before anything is written
    check_seed_set(seed_set)
    out = check_named_folder(out, "demo")
    if full and budget is None:
        return run_full(out, seed_set)
    b = budget or (FULL if full else DemoBudget())
    lock = claim_demo_folder(out)
    try:
        return _run_demo(out, b, full, seed, seed_set)
    finally:
        lock.release()


def claim_demo_folder(out: Path) -> RunLock:
    """Lock ``out`` for a demo: a new or empty folder, or the folder of a previous demo, which
    is moved aside whole to ``OUT-1`` (``OUT-2``, ...), where its report keeps working; any
    other non-empty folder is refused, and a demo still running there is refused by its lock.
    Nothing is deleted."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder (nothing was written)")
    if out.is_dir() and any(p.name != RunLock.NAME for p in out.iterdir()):
        if not (out / "demo_config.json").exists():
            raise FileExistsError(f"--out {out} is not empty and holds no demo: the demo writes "
                                  "into a new or empty folder (nothing was written)")
        previous = RunLock(out, "demo").acquire()  # a demo still running there: refused
        try:
            kept = next(out.with_name(f"{out.name}-{k}") for k in range(1, 10**6)
                        if not out.with_name(f"{out.name}-{k}").exists())
            out.rename(kept)
        finally:
            previous.release()
        print(f"moonshot: the previous demo in {out} is kept, whole, in {kept}", flush=True)
    return RunLock(out, "demo").acquire()


def _run_demo(out: Path, b: DemoBudget, full: bool, seed: int, seed_set: str) -> Path:
    from ..agents.config import TrainConfig
    from ..agents.training import train
    from .experiments import compare, evaluate_agents
    from .planning import run_planner
    from .render import render_episodes

    runs = out / "runs"
    t_start = time.perf_counter()
    step = _Steps(8 if b.render else 7)
    write_json(out / "demo_config.json", {"budget": asdict(b), "seed": seed, "full": full,
                                           "seed_set": seed_set})

    step(f"MoonLaunch: PPO learns live ({b.moon_seeds} seed(s) x {b.moon_ppo_timesteps:,} "
         f"launches, target {b.moon_target})")
    moon_rl = []
    for s in range(b.moon_seeds):
        moon_rl.append(train(TrainConfig(
            env="moon", algo="ppo", timesteps=b.moon_ppo_timesteps, seed=seed + s,
            out=str(runs / f"moon-ppo-s{seed + s}"), env_kwargs={"target": b.moon_target},
            eval_episodes=100)))

    step(f"MoonLaunch: the physics planner on {b.moon_plan_scenarios} scenarios")
    moon_plan = runs / "moon-planner"
    run_planner("moon", episodes=b.moon_plan_scenarios, seed=seed, split="train", out=moon_plan,
                target=b.moon_target, seed_set=seed_set)

    step(f"CityNav: PPO learns live ({b.city_seeds} seed(s) x {b.city_ppo_timesteps:,} steps)")
    city_rl = []
    for s in range(b.city_seeds):
        city_rl.append(train(TrainConfig(
            env="city", algo="ppo", timesteps=b.city_ppo_timesteps, seed=seed + s,
            out=str(runs / f"city-ppo-s{seed + s}"), eval_episodes=3,
            eval_every=max(b.city_ppo_timesteps // 2, 1))))

    step(f"CityNav: the model-based planner on {b.city_plan_episodes} drives")
    city_plan = runs / "city-planner"
    run_planner("city", episodes=b.city_plan_episodes, seed=seed, split="train", out=city_plan,
                seed_set=seed_set)

    step("Sample efficiency: learning curves from every episodes.csv")
    cmp_moon = compare([*moon_rl, moon_plan], out / "compare-moon")
    cmp_city = compare([*city_rl, city_plan], out / "compare-city")

    step("Transfer: frozen agents on train and new maps/scenarios")
    pre = pretrained_runs()
    moon_agents = _named_agents(moon_rl[0], moon_plan, pre.get("moon"),
                                b.moon_ppo_timesteps, "launches")
    city_agents = _named_agents(city_rl[0], city_plan, pre.get("city"),
                                b.city_ppo_timesteps, "steps")
    ev_moon = evaluate_agents(moon_agents, ["train", "new"], b.moon_eval_scenarios, seed + 1,
                              out / "transfer-moon", seed_set=seed_set)
    ev_city = evaluate_agents(city_agents, ["train", "new"], b.city_eval_episodes, seed + 1,
                              out / "transfer-city", seed_set=seed_set)
    relearn = None
    if b.relearn_timesteps > 0:
        from .transfer import relearning_cost

        relearn = relearning_cost(city_rl[0], b.relearn_timesteps,
                                  runs / "city-ppo-relearn", seed=seed)
        write_json(out / "relearning.json", relearn)

    gifs: list[tuple[str, Path]] = []
    if b.render:
        step("Rendering one episode per agent per world")
        media = out / "media"
        moon_rl_agent = str(pre.get("moon", moon_rl[0]))
        city_rl_agent = str(pre.get("city", city_rl[0]))
        for name, env, agent, split in (
                ("MoonLaunch · planner (new moon)", "moon", "planner", "new"),
                ("MoonLaunch · PPO (new moon)", "moon", moon_rl_agent, "new"),
                ("CityNav · planner (new city)", "city", "planner", "new"),
                ("CityNav · PPO (new city)", "city", city_rl_agent, "new")):
            fname = media / (name.split(" (")[0].replace(" · ", "-").lower() + ".gif")
            gifs.append((name, render_episodes(env, agent=agent, split=split, episodes=1,
                                               seed=seed, out=fname)))

    step("Writing the report")
    from .html_report import report_meta, write_report

    seconds = time.perf_counter() - t_start
    write_report(out, _report_text(b, full, seed, cmp_moon, cmp_city, ev_moon, ev_city, relearn,
                                   gifs, out, seconds, pre), "moonshot demo report",
                 report_meta(f"moonshot demo --out {out}{' --full' if full else ''} --seed {seed} "
                             f"--seed-set {seed_set}",
                             seeds=_seeds_text(b, seed), wall_time_s=seconds))
    return out / "report.md"


def _short(n: int) -> str:
    """``1,000,000`` as ``1M``, ``300,000`` as ``300k`` (agent names, not tables)."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10) == 0:
            return f"{n / size:g}{suffix}"
    return f"{n:,}"


def _named_agents(live: Path, planner: Path, pretrained: Path | None, budget: int,
                  unit: str) -> list:
    """The demo's frozen agents, named for what they are: PPO trained live in this run, the
    planner, PPO shipped pretrained (with what each was trained for)."""
    from ..agents.loading import resolve_agent
    from ..runlog import read_json

    live_spec = resolve_agent(str(live))
    agents = [replace(live_spec, label=f"PPO (trained live, {_short(budget)} {unit})"),
              str(planner)]
    if pretrained is not None:
        spec = resolve_agent(str(pretrained))
        steps = read_json(pretrained / "config.json").get("train", {}).get("timesteps")
        trained = f", {_short(int(steps))} {unit}" if steps else ""
        agents.append(replace(spec, label=f"PPO (pretrained{trained})"))
    return agents


def _seeds_text(b: DemoBudget, seed: int) -> str:
    def span(n: int) -> str:
        return f"{seed}" if n == 1 else f"{seed}-{seed + n - 1}"

    return (f"{seed} (PPO: MoonLaunch {span(b.moon_seeds)}, CityNav {span(b.city_seeds)}; "
            f"planners {seed}; evaluation {seed + 1}; renders {seed})")


def run_full(out: Path, seed_set: str = "dev") -> Path:
    """``moonshot demo --full``: the sweep ``moonshot/sweeps/full.yaml`` (five seeds of PPO
    and the planners in both worlds, 200 scenarios and drives per split, relearning), on a
    local Ray; a rerun resumes it. Returns its ``report.md``."""
    from .sweep import run_sweep

    spec = Path(str(resources.files("moonshot") / "sweeps" / "full.yaml"))
    run_sweep(spec, out, resume=(out / "sweep.json").exists(), seed_set=seed_set)
    return out / "report.md"


def _rel(path: Path, root: Path) -> str:
    return str(Path(path).resolve().relative_to(root.resolve()))


def _training_plot(folder: Path, out: Path) -> list[str]:
    """The training-runs plot of a comparison, when it has one."""
    png = folder / "training.png"
    return [f"![training runs]({_rel(png, out)})", ""] if png.exists() else []


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _learning(rows: list[dict], unit: str) -> list[str]:
    """What the comparison's runs show, one sentence per kind of agent."""
    out = []
    # the planners' runs are "planner", "city_planner", "planner[simulator, oracle]", ...
    ppo = [r for r in rows if "planner" not in str(r["agent"])]
    reached = [r["episodes_to_success_50"] for r in ppo if r.get("episodes_to_success_50")]
    if ppo:
        n = f"{len(ppo)} seeds" if len(ppo) > 1 else "one seed"
        if reached:
            first = f"{min(reached):,}" + (f" to {max(reached):,}" if len(reached) > 1 else "")
            out.append(f"PPO ({n}) first reached 50% success while learning after {first} "
                       f"{unit} ({len(reached)} of {len(ppo)} runs got there)")
        else:
            most = max(r["episodes"] for r in ppo)
            out.append(f"PPO ({n}) did not reach 50% success while learning in {most:,} {unit}"
                       if most else f"PPO ({n}) finished none of its {unit} while learning "
                       "(its budget is shorter than one)")
        deaths = sum(int(r.get("deaths") or 0) for r in ppo)
        if deaths:
            out[-1] += f", dying {deaths:,} times on the way"
    for r in rows:
        if "planner" in str(r["agent"]):
            out.append(f"the planner solved {_pct(r['scenario_success_rate'])} of its "
                       f"{r['scenarios']:,} scenarios with {r['trials_per_scenario']:.1f} real "
                       f"{unit} and {r['model_rollouts_per_scenario']:,.0f} imagined rollouts "
                       f"each, and {int(r.get('deaths') or 0):,} deaths")
    return out


def _transfer(results: list[dict]) -> list[str]:
    """Success on the training and the new distribution, per frozen agent."""
    out = []
    by_agent: dict[str, dict] = {}
    for r in results:
        by_agent.setdefault(r["agent"], {})[r["split"]] = r
    for agent, splits in by_agent.items():
        if "train" in splits and "new" in splits:
            tr, nw = splits["train"], splits["new"]
            text = (f"{agent}: {_pct(tr['success_rate'])} on training scenarios, "
                    f"{_pct(nw['success_rate'])} on new ones")
            if nw.get("first_trial_success_rate") is not None and nw["trials_per_scenario"] > 1:
                text += f" ({_pct(nw['first_trial_success_rate'])} at the first trial)"
            out.append(text)
    return out


def findings(cmp_moon: dict, cmp_city: dict, ev_moon: dict, ev_city: dict) -> str:
    """The report's opening paragraph: what this run measured, in plain sentences computed
    from its tables (nothing in it is typed by hand)."""
    parts = []
    for world, cmp, ev, unit in (("MoonLaunch", cmp_moon, ev_moon, "launches"),
                                 ("CityNav", cmp_city, ev_city, "drives")):
        learned = _learning(cmp["rows"], unit)
        moved = _transfer(ev["results"])
        text = f"**{world}.** " + "; ".join(learned) + "." if learned else f"**{world}.**"
        if moved:
            text += " Frozen and evaluated: " + "; ".join(moved) + "."
        parts.append(text)
    return "\n\n".join(parts)


def _table(markdown_text: str) -> list[str]:
    """A table and, below it, what its columns mean."""
    return [markdown_text, report_glossary(markdown_text)]


def _report_text(b, full, seed, cmp_moon, cmp_city, ev_moon, ev_city, relearn, gifs, out,
                 seconds, pre) -> str:
    lines = [
        "# moonshot demo report", "",
        "## What this run found", "",
        findings(cmp_moon, cmp_city, ev_moon, ev_city), "",
        f"{'Full' if full else 'Default'} budget, seed {seed}, {seconds / 60:.1f} minutes. "
        "Every figure below is computed from the `episodes.csv` files under `runs/` and "
        "`transfer-*/episodes/`. Success *while learning* (sample efficiency) counts a "
        "stochastic policy's training episodes; success of a *frozen* agent (transfer) its "
        "deterministic evaluation, so the two differ.", "",
        "## The claim",
        "A model-free agent (PPO) needs many trials and generalizes locally; an agent that "
        "reasons with a model of the world (the planners) solves a new case in one or a few "
        "trials and carries over to worlds it has never seen.", "",
        "## MoonLaunch", "",
        f"Target `{b.moon_target}`. PPO trained live for {b.moon_ppo_timesteps:,} launches x "
        f"{b.moon_seeds} seed(s); the planner ran {b.moon_plan_scenarios} scenarios.", "",
        "### Sample efficiency", "", *_table(cmp_moon["markdown"]),
        f"![learning curves]({_rel(out / 'compare-moon' / 'learning_curves.png', out)})", "",
        *_training_plot(out / "compare-moon", out),
        "### Transfer to new launch conditions (other parking altitudes, a \"new moon\")", "",
        *_table(ev_moon["markdown"]),
        f"![transfer]({_rel(out / 'transfer-moon' / 'transfer.png', out)})", "",
        "## CityNav", "",
        f"PPO trained live for {b.city_ppo_timesteps:,} steps x {b.city_seeds} seed(s); the "
        f"planner drove {b.city_plan_episodes} times.", "",
        "### Sample efficiency", "", *_table(cmp_city["markdown"]),
        f"![learning curves]({_rel(out / 'compare-city' / 'learning_curves.png', out)})", "",
        *_training_plot(out / "compare-city", out),
        "### Transfer to unseen cities", "", *_table(ev_city["markdown"]),
        f"![transfer]({_rel(out / 'transfer-city' / 'transfer.png', out)})", "",
    ]
    if pre:
        lines += ["Pretrained agents (shipped in the package; their `config.json` holds the "
                  "`moonshot train` command that made them): " + ", ".join(
                      f"`{k}`: `pretrained:{v.name}`" for k, v in pre.items()), ""]
    if relearn:
        lines += ["### The cost of relearning", "",
                  f"Fine-tuned on new cities: back to its training success "
                  f"({relearn['train_success_rate']:.0%}) after "
                  f"{relearn['episodes_to_recover']} episodes and "
                  f"{relearn['deaths_to_recover']} crashes "
                  f"(recovered: {relearn['recovered']}).", ""]
    if gifs:
        lines += ["## Episodes", ""]
        lines += [f"![{name}]({_rel(path, out)})\n" for name, path in gifs]
    return "\n".join(lines) + "\n"
