"""Handlers of the ``moonshot`` subcommands (the CLI layer; parsing lives in :mod:`cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .worlds import World


def _world(name: str) -> World:
    from .worlds import get_world

    return get_world(name)


def _import_recorded_modules(run: Path) -> None:
    """The world modules recorded in ``run/config.json`` (a run folder's, if ``run`` is one),
    imported before a command looks its world up."""
    from .runlog import read_json
    from .worlds.plugins import import_recorded

    path = run / "config.json"
    if path.is_file():
        cfg = read_json(path)
        import_recorded(cfg.get("modules", []) if isinstance(cfg, dict) else [],
                        f"recorded in {path}")


#: What each command writes at ``--out``: a run folder, a report folder, or one file.
OUT_KINDS = {"train": "run", "plan": "run", "evaluate": "report", "compare": "report",
             "shift": "report", "sweep": "report", "benchmark": "report", "demo": "report",
             "render": "file"}
#: Files that mark a folder as a training or planner run (``moonshot train``/``plan``).
RUN_MARKS = ("config.json", "episodes.csv", "model.zip", "checkpoints")


def check_out(command: str, out: str | None) -> Path | None:
    """``--out`` of ``command``, checked before anything is written: never the current
    folder unnamed (``--out ''``), never a file where a folder belongs (or the reverse), and
    a report never goes into a run folder of ``train``/``plan``. Raises ``ConfigError`` with
    one sentence naming the value."""
    from .errors import ConfigError
    from .runlog import check_named_folder

    kind = OUT_KINDS.get(command)
    if kind is None or out is None:
        return None if out is None else Path(out)
    path = check_named_folder(out, command)
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"--out {out}: {parent} is a file, not a folder")
    if kind == "file":
        if path.is_dir():
            raise ConfigError(f"--out {out} is a folder; {command} writes one file: give a "
                              "file name, e.g. --out episode.gif")
        return path
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder: choose a folder (nothing "
                          "was written)")
    if kind == "report" and path.is_dir():
        marks = [m for m in RUN_MARKS if (path / m).exists()]
        if marks:
            raise ConfigError(f"--out {out} holds a run ({', '.join(marks)}): {command} writes "
                              "its report into a folder of its own; choose another --out")
    return path


def _fresh_run_dir(out: str) -> Path:
    """``--out`` of a new run: refused if it holds a run or anything else (a report, the
    user's files: a run never writes among them); nothing is created here, the run creates
    and locks it once every argument has been checked."""
    path = Path(out)
    if (path / "episodes.csv").exists():
        raise FileExistsError(f"run folder {path} already holds a run; choose another --out "
                              "(nothing was overwritten)")
    if path.is_dir() and any(p.name not in (".lock", ".lock.pid") for p in path.iterdir()):
        raise FileExistsError(f"--out {path} is not empty: a new run writes into a new or "
                              "empty folder (nothing was written)")
    return path


def _print_summary(title: str, summary: dict) -> None:
    print(f"\n{title}")
    for key in ("scenarios", "episodes", "success_rate", "first_trial_success_rate",
                "mean_trials_per_scenario", "max_trials_per_scenario", "deaths",
                "env_steps", "model_steps", "model_rollouts",
                "median_compute_s_per_scenario", "mean_return", "wall_time_s"):
        if key in summary:
            val = summary[key]
            print(f"  {key:32s} {val:.4g}" if isinstance(val, float) else
                  f"  {key:32s} {val}")
    if "outcomes" in summary:
        print("  outcomes                         " + ", ".join(
            f"{k}: {v}" for k, v in summary["outcomes"].items()))


def cmd_plan(args: argparse.Namespace) -> int:
    from .worlds import resolve_env_id

    world = _world(args.env)
    out = _fresh_run_dir(args.out)
    from .agents.config import parse_key_values
    from .evaluation.planning import run_planner

    summary = run_planner(world.name, episodes=args.episodes, seed=args.seed, split=args.split,
                          out=out, target=args.target, max_trials=args.max_trials,
                          env_id=resolve_env_id(args.env),
                          env_kwargs=parse_key_values(args.env_kwargs, "--env-kwargs"),
                          planner_options=parse_key_values(args.options, "--options"),
                          tensorboard=args.tensorboard, seed_set=args.seed_set)
    _print_summary(f"{world.name} planner on split={args.split}, seed set {args.seed_set}",
                   summary)
    print(f"\nwrote {out / 'episodes.csv'} and {out / 'summary.json'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .evaluation.demo import run_demo

    report = run_demo(Path(args.out), full=args.full, seed=args.seed, seed_set=args.seed_set)
    print(f"\nreport: {report.with_suffix('.html')} (open it in a browser; the same in "
          f"{report.name})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .agents.config import TrainConfig, parse_key_values
    from .agents.training import train
    from .errors import ConfigError

    if args.resume:  # a plug-in world's run resumes without the variable
        _import_recorded_modules(Path(args.out))
    world = _world(args.env)
    env_kwargs = parse_key_values(args.env_kwargs, "--env-kwargs")
    hyperparams = parse_key_values(args.hyperparams, "--hyperparams")
    if args.hyperparams_from is not None:
        from .agents.tuning import best_hyperparams

        best = best_hyperparams(args.hyperparams_from)
        if best.get("world") not in (None, world.name):
            raise ConfigError(f"{args.hyperparams_from} was tuned in the {best['world']} "
                              f"world, not {world.name}")
        if args.algo not in (None, best["algo"]):
            raise ConfigError(f"{args.hyperparams_from} holds {best['algo']} "
                              f"hyperparameters; --algo {args.algo} cannot use them")
        args.algo = best["algo"]
        env_kwargs = {**best.get("env_kwargs", {}), **env_kwargs}
        hyperparams = {**best["hyperparams"], **hyperparams}
    if args.target is not None:
        if world.task_key is None:
            raise ConfigError(f"--target does not apply to the {world.name} world")
        env_kwargs[world.task_key] = args.target
    # Only what was given: a resume keeps the rest of the saved run.
    given = {"algo": args.algo, "timesteps": args.timesteps, "seed": args.seed,
             "n_envs": args.n_envs, "split": args.split, "eval_every": args.eval_every,
             "eval_episodes": args.eval_episodes, "checkpoint_every": args.checkpoint_every,
             "device": args.device}
    cfg = TrainConfig(
        env=args.env if args.env != world.env_id else world.name, out=args.out,
        env_kwargs=env_kwargs, hyperparams=hyperparams,
        tensorboard=args.tensorboard, progress=not args.no_progress,
        **{k: v for k, v in given.items() if v is not None})
    try:
        run = train(cfg, resume=args.resume)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last checkpoint and episodes.csv are kept in {args.out}; "
              f"continue the same run with `moonshot train {args.env} --out {args.out} "
              "--resume`")
        return 130
    _print_training_result(run)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from .agents.config import parse_key_values
    from .agents.tuning import TuneConfig, tune

    world = _world(args.env)
    cfg = TuneConfig(
        env=args.env if args.env != world.env_id else world.name, algo=args.algo,
        trials=args.trials, out=args.out, timesteps=args.timesteps, seeds=args.seeds,
        seed=args.seed, eval_episodes=args.eval_episodes,
        splits=("train", "new") if args.split == "both" else (args.split,),
        objective=args.objective,
        env_kwargs=parse_key_values(args.env_kwargs, "--env-kwargs"),
        hyperparams=parse_key_values(args.hyperparams, "--hyperparams"),
        progress=not args.no_progress)
    best = tune(cfg)
    cost = best["cost"]
    score = (f"mean dev success {best['objective']:.1%}" if args.objective == "success" else
             f"mean dev return {best['objective']:.2f} (success {best['success']:.1%})")
    print(f"\nbest of {best['trials']} trial(s): trial {best['trial']}, {score}; "
          f"the search cost {cost['env_steps']:,} env steps, "
          f"{cost['episodes']:,} training episodes and {cost['deaths']:,} deaths "
          f"(+ {cost['eval_episodes']:,} dev evaluation episodes, {cost['eval_deaths']:,} "
          "deaths)")
    print(f"wrote {args.out}/trials.csv and best.json; train with it: moonshot train "
          f"{args.env} --hyperparams-from {args.out} --out DIR")
    return 0


def _print_training_result(run: Path) -> None:
    from .runlog import read_episodes

    log = read_episodes(run)
    n = len(log["episode"])
    if n == 0:
        print(f"\ntrained {run}: no episode finished within the budget")
    else:
        tail = log["success"][-max(1, n // 10):]
        print(f"\ntrained {run}: {n} episodes, {int(log['death'].sum())} deaths, success "
              f"{log['success'].mean():.1%} overall, {tail.mean():.1%} in the last tenth")
    model = run / "model.zip" if (run / "model.zip").exists() else run / "model.npz"
    print(f"model: {model}; logs: episodes.csv, evaluations.csv")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .agents.config import parse_key_values
    from .evaluation.experiments import evaluate_agents

    splits = ["train", "new"] if args.split == "both" else [args.split]
    out = Path(args.out)
    res = evaluate_agents(args.runs, splits, args.episodes, args.seed, out, env=args.env,
                          seed_set=args.seed_set, max_trials=args.max_trials,
                          env_kwargs=parse_key_values(args.env_kwargs, "--env-kwargs"),
                          progress=not args.no_progress, workers=args.workers)
    print("\n" + res["markdown"])
    print(f"wrote {out}/transfer.md, transfer.csv, transfer.json, transfer.png; report.md "
          "and report.html")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .evaluation.experiments import compare

    out = Path(args.out)
    res = compare([Path(r) for r in args.runs], out, window=args.window)
    print("\n" + res["markdown"])
    extra = ", training.png" if (out / "training.png").exists() else ""
    print(f"wrote {out}/efficiency.md, efficiency.csv, efficiency.json, "
          f"learning_curves.png{extra}; report.md and report.html")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .evaluation.render import render_episodes

    _import_recorded_modules(Path(args.agent))  # a run folder of a plug-in world
    path = render_episodes(args.env, agent=args.agent, split=args.split, episodes=args.episodes,
                           seed=args.seed, out=args.out, fps=args.fps, view=args.view,
                           progress=not args.no_progress)
    print(f"wrote {path}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from .evaluation.benchmark import run_benchmark

    out = Path(args.out)
    res = run_benchmark(out, quick=args.quick)
    print("\n" + res["markdown"])
    print(f"wrote {out}/benchmark.json and {out}/benchmark.md")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .evaluation.sweep import check_cell, expand, load_spec, print_plan, run_sweep

    if args.dry_run:
        spec = load_spec(args.spec)
        if args.seed_set is not None:
            spec["seed_set"] = args.seed_set
        cells = expand(spec)
        for cell in cells:
            check_cell(cell)
        print(print_plan(cells))
        return 0
    res = run_sweep(args.spec, args.out, address=args.address, resume=args.resume,
                    progress=not args.no_progress, num_cpus=args.num_cpus,
                    seed_set=args.seed_set)
    print("\n" + res["markdown"])
    print(f"wrote {args.out}/report.md, report.html, summary.csv, cells.csv")
    return 0


def cmd_shift(args: argparse.Namespace) -> int:
    from .agents.config import parse_key_values
    from .agents.episodes import EvalSettings
    from .errors import check_int
    from .evaluation.shift import run_shift

    check_int("--episodes", args.episodes, 1)
    check_int("--seed", args.seed, 0)
    for agent in args.agent:  # run folders of a plug-in world
        _import_recorded_modules(Path(agent))
    settings = EvalSettings(split="train", episodes=args.episodes, seed=args.seed,
                            progress=not args.no_progress, seed_set=args.seed_set,
                            max_trials=args.max_trials,
                            env_overrides=parse_key_values(args.env_kwargs, "--env-kwargs"))
    res = run_shift(args.env, args.agent, axes=args.axis, levels=args.level,
                    settings=settings, out=Path(args.out), workers=args.workers)
    print("\n" + res["markdown"])
    print(f"wrote {args.out}/shift.csv, shift.png, report.md, report.html")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .agents.migrate import migrate

    migrate(Path(args.dir), trust=args.trust)
    return 0


def cmd_pretrained(args: argparse.Namespace) -> int:
    import re

    from .agents.pretrained import PREFIX, pretrained_agents

    rows = [("agent", "env", "algo", "trained for", "made by")]
    for a in pretrained_agents().values():
        steps = f"{a.timesteps:,} steps" if a.timesteps else ""
        command = re.sub(r" --out \S+", "", a.command)  # where it ran: not how to rerun it
        rows.append((PREFIX + a.name, a.env_id, a.algo, steps, command))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0
