"""``moonshot tune``: a hyperparameter search on development seeds, every trial counted.

The RL's development cost, measured the way the planner's is disclosed (docs/protocol.md):
Optuna's TPE sampler (seeded) proposes a hyperparameter set, as RL Zoo's ``--optimize``
does; each trial trains ``seeds`` runs through moonshot's own :func:`~.training.train` (run
folders ``DIR/trials/<n>/seed<k>``, each with its ``episodes.csv``) and evaluates each
final model on the *dev* seeds; the objective is the multi-seed mean success, or (``objective=
"return"``) the mean episode return of those evaluations, RL Zoo's own objective: a dense score
that still ranks trials whose budgets are too small for any of them to succeed (CityNav's
drives at a few hundred thousand steps). ``DIR`` holds::

    trials.csv     trial, state, hyperparameters (JSON), env steps, episodes, deaths (training
                   and evaluation), dev success and mean return, objective, wall time: the
                   whole cost of the search
    best.json      the best set, its objective, and the search's totals; ``moonshot train
                   ... --hyperparams-from DIR`` trains with it
    journal.log    Optuna's study as a JSON journal (``JournalFileBackend``): a rerun with the
                   same ``--out`` continues the search (no pickle is ever read)
    tune.json      the search's settings

The search spaces are our own, modelled on RL Zoo's samplers (``rl_zoo3.hyperparams_opt``:
same parameters, same ranges where they fit) rather than imported: RL Zoo's return torch
classes inside ``policy_kwargs`` (not JSON, so not a run folder's ``config.json``) and fixed
``n_steps`` ranges (32-4096 per env) that do not fit a world stepping 256 launches at once.
Here ``n_steps`` scales the world's packaged default, and every value is one
``moonshot train --hyperparams`` accepts.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..runlog import atomic_write_text, read_episodes, read_json, run_folder, write_json
from ..worlds import get_world
from .config import check_algo, default_hyperparams

#: The columns of ``trials.csv``.
TRIAL_COLUMNS = ("trial", "state", "hyperparams", "env_steps", "episodes", "deaths",
                 "eval_episodes", "eval_deaths", "success", "mean_return", "objective",
                 "wall_time_s")
#: What a search may maximise: the dev evaluations' mean success or mean episode return.
OBJECTIVES = ("success", "return")
#: Evaluation seed of the trials' dev evaluation (every trial meets the same scenarios).
TUNE_EVAL_SEED = 0


@dataclass
class TuneConfig:
    """One ``moonshot tune`` search.

    :param env: the world (short name or env id).
    :param algo: the algorithm (``ppo``, ``sac``, ``ppo_lstm``, ...).
    :param trials: hyperparameter sets to try (in total, a rerun included).
    :param out: the search folder.
    :param timesteps: training budget of each run.
    :param seeds: training runs per trial (seeds ``seed, seed + 1, ...``).
    :param seed: the first training seed, and the sampler's seed.
    :param eval_episodes: dev scenarios per split at the end of each run.
    :param splits: the splits the objective averages over.
    :param objective: ``"success"`` (the mean dev success) or ``"return"`` (the mean episode
        return of the same evaluations: a score that ranks trials none of which succeeds yet).
    :param env_kwargs: env settings of every run (``observation=objects``, say).
    :param hyperparams: fixed hyperparameters under the sampled ones (``frame_stack``).
    :param progress: progress output.
    """

    env: str
    algo: str = "ppo"
    trials: int = 10
    out: str = "runs/tune"
    timesteps: int = 100_000
    seeds: int = 3
    seed: int = 0
    eval_episodes: int = 50
    splits: tuple[str, ...] = ("train",)
    objective: str = "success"
    env_kwargs: dict = field(default_factory=dict)
    hyperparams: dict = field(default_factory=dict)
    progress: bool = True


def _pick(trial, name: str, choices: list) -> Any:
    return trial.suggest_categorical(name, choices)


def _gamma(trial, base: dict) -> dict:
    # a world whose episodes are one step long (MoonLaunch: gamma 0) has nothing to discount
    if float(base.get("gamma", 0.99)) == 0.0:
        return {}
    return {"gamma": 1.0 - trial.suggest_float("one_minus_gamma", 1e-4, 0.03, log=True)}


def _net(trial, base: dict) -> dict:
    arch = _pick(trial, "net_arch", ["small", "medium", "big"])
    layers = {"small": [64, 64], "medium": [256, 256], "big": [400, 300]}[arch]
    return {"policy_kwargs": {**dict(base.get("policy_kwargs") or {}), "net_arch": layers}}


def sample_on_policy(trial, base: dict, n_envs: int) -> dict:
    """PPO / A2C / RecurrentPPO (RL Zoo's ``sample_ppo_params``, n_steps relative to the
    world's default)."""
    n_steps = max(1, int(base.get("n_steps", 2048)) * _pick(trial, "n_steps_scale",
                                                              [0.5, 1, 2]))
    hp = {"learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
          "n_steps": int(n_steps),
          "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
          "gae_lambda": 1.0 - trial.suggest_float("one_minus_gae_lambda", 1e-4, 0.1,
                                                  log=True),
          "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 2.0),
          **_gamma(trial, base), **_net(trial, base)}
    if "batch_size" in base or "n_epochs" in base:  # PPO's, not A2C's
        rollout = int(n_steps) * n_envs
        hp["batch_size"] = min(rollout, _pick(trial, "batch_size", [64, 128, 256, 512]))
        hp["n_epochs"] = _pick(trial, "n_epochs", [5, 10, 20])
        hp["clip_range"] = _pick(trial, "clip_range", [0.1, 0.2, 0.3])
    return hp


def sample_off_policy(trial, base: dict, n_envs: int) -> dict:
    """SAC / TD3 (RL Zoo's ``sample_sac_params``: gradient steps = train frequency)."""
    freq = trial.suggest_int("train_freq", 1, 10)
    return {"learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
            "batch_size": _pick(trial, "batch_size", [64, 128, 256, 512, 1024]),
            "tau": trial.suggest_float("tau", 1e-3, 0.08, log=True),
            "train_freq": freq, "gradient_steps": freq,
            **_gamma(trial, base), **_net(trial, base)}


#: The search space of each algorithm: ``f(trial, packaged defaults, n_envs) -> hyperparams``.
SPACES: dict[str, Callable[[Any, dict, int], dict]] = {
    "ppo": sample_on_policy, "a2c": sample_on_policy, "ppo_lstm": sample_on_policy,
    "sac": sample_off_policy, "td3": sample_off_policy,
}


def check_tune(cfg: TuneConfig) -> None:
    """Every setting of a search, before anything is written."""
    from .config import _int

    check_algo(cfg.algo)
    get_world(cfg.env)
    if cfg.algo not in SPACES:
        raise ConfigError(f"moonshot tune has no search space for {cfg.algo!r}; it has: "
                          f"{', '.join(SPACES)}")
    _int("trials", cfg.trials, 1, 10_000)
    _int("timesteps", cfg.timesteps, 1)
    _int("seeds", cfg.seeds, 1, 100)
    _int("seed", cfg.seed, 0, 2**31)
    _int("eval_episodes", cfg.eval_episodes, 1, 5_000)
    if cfg.objective not in OBJECTIVES:
        raise ConfigError(f"tune objective is one of {', '.join(OBJECTIVES)}, got "
                          f"{cfg.objective!r}")
    for split in cfg.splits:
        if split not in ("train", "new"):
            raise ConfigError(f"tune splits are train and/or new, got {split!r}")
    # the fixed settings of every trial, as train() checks them
    from ..worlds import resolve_env_id
    from .config import TrainConfig, split_hyperparams, validate_config
    from .training import check_env_kwargs

    fixed = TrainConfig(env=cfg.env, algo=cfg.algo, timesteps=cfg.timesteps, out="unused",
                        env_kwargs=dict(cfg.env_kwargs), hyperparams=dict(cfg.hyperparams))
    validate_config(fixed)
    split_hyperparams(fixed)
    check_env_kwargs(resolve_env_id(cfg.env), {**cfg.env_kwargs, "split": "train"})


def _run_cost(run: Path) -> dict:
    """Env steps, episodes and deaths of one training run, from its logs (training
    episodes, and the episodes of its evaluations during training; the env steps, the most
    of the last finished episode's and the last evaluation's)."""
    log = read_episodes(run)
    n = len(log["episode"])
    cost = {"env_steps": int(log["env_steps"][-1]) if n else 0, "episodes": n,
            "deaths": int(log["death"].sum()) if n else 0}
    evals = run / "evaluations.csv"
    if evals.exists():
        for row in csv.DictReader(io.StringIO(evals.read_text())):
            k = int(row["n_episodes"])
            cost["episodes"] += k
            cost["deaths"] += int(round(float(row["death_rate"]) * k))
            # the steps trained when it was evaluated: it counts the steps of episodes still
            # running (a CityNav drive that the budget cut), which the episode log cannot
            cost["env_steps"] = max(cost["env_steps"], int(row["env_steps"]))
    return cost


def _trial(cfg: TuneConfig, out: Path, trial) -> float:
    """Train ``cfg.seeds`` runs with the trial's hyperparameters; their mean dev success (or
    mean episode return: ``cfg.objective``)."""
    from .config import TrainConfig
    from .episodes import EvalSettings, evaluate
    from .loading import resolve_agent
    from .training import train

    base = {**default_hyperparams(cfg.env, cfg.algo), **cfg.hyperparams}
    n_envs = int(base.get("n_envs", 1))
    hp = {**cfg.hyperparams, **SPACES[cfg.algo](trial, base, n_envs)}
    trial.set_user_attr("hyperparams", json.loads(json.dumps(hp)))
    t0 = time.perf_counter()
    cost = {"env_steps": 0, "episodes": 0, "deaths": 0, "eval_episodes": 0, "eval_deaths": 0}
    scores, returns = [], []
    try:
        for k in range(cfg.seeds):
            run = out / "trials" / str(trial.number) / f"seed{k}"
            train(TrainConfig(env=cfg.env, algo=cfg.algo, timesteps=cfg.timesteps,
                              seed=cfg.seed + k, out=str(run), env_kwargs=dict(cfg.env_kwargs),
                              hyperparams=hp, progress=False,
                              # one drive or launch per split at the start and the end: the
                              # objective is the dev evaluation below (they are counted too)
                              eval_every=cfg.timesteps, eval_episodes=1))
            for key, val in _run_cost(run).items():
                cost[key] += val
            spec = resolve_agent(str(run))
            for split in cfg.splits:
                res = evaluate(spec, None, EvalSettings(
                    split=split, episodes=cfg.eval_episodes, seed=TUNE_EVAL_SEED,
                    seed_set="dev", env_overrides={}))
                cost["eval_episodes"] += len(res.records)
                cost["eval_deaths"] += int(res.deaths.sum())
                scores.append(res.success_rate)
                returns.append(float(np.mean([r.ret for r in res.records])))
    finally:
        for key, val in cost.items():
            trial.set_user_attr(key, int(val))
        trial.set_user_attr("wall_time_s", time.perf_counter() - t0)
    success, mean_return = float(np.mean(scores)), float(np.mean(returns))
    trial.set_user_attr("success", success)
    trial.set_user_attr("mean_return", mean_return)
    return success if cfg.objective == "success" else mean_return


def _rows(study, out: Path) -> list[dict]:
    """The rows of ``trials.csv``. A trial interrupted by a killed process (still "running"
    in the journal; rows are written when no trial of this process runs) has its cost read
    from the run folders it left."""
    rows = []
    for t in study.trials:
        a = dict(t.user_attrs)
        state = t.state.name.lower()
        if state == "running":
            state = "interrupted"
            for run in sorted((out / "trials" / str(t.number)).glob("seed*")):
                if (run / "episodes.csv").exists():
                    for key, val in _run_cost(run).items():
                        a[key] = a.get(key, 0) + val
        rows.append({"trial": t.number, "state": state,
                     "hyperparams": json.dumps(a.get("hyperparams", {}), sort_keys=True),
                     **{k: a.get(k, 0) for k in ("env_steps", "episodes", "deaths",
                                                 "eval_episodes", "eval_deaths")},
                     "success": a.get("success", ""), "mean_return": a.get("mean_return", ""),
                     "objective": "" if t.value is None else t.value,
                     "wall_time_s": round(float(a.get("wall_time_s", 0.0)), 3)})
    return rows


def _write_results(cfg: TuneConfig, out: Path, study) -> dict | None:
    rows = _rows(study, out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TRIAL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "trials.csv", buf.getvalue())
    done = [t for t in study.trials if t.value is not None]
    if not done:
        return None
    best = max(done, key=lambda t: (t.value, -t.number))
    totals = {k: int(sum(r[k] for r in rows)) for k in ("env_steps", "episodes", "deaths",
                                                       "eval_episodes", "eval_deaths")}
    summary = {"world": get_world(cfg.env).name, "algo": cfg.algo,
               "hyperparams": best.user_attrs["hyperparams"],
               "env_kwargs": dict(cfg.env_kwargs), "objective": best.value,
               "objective_kind": cfg.objective,
               "success": best.user_attrs.get("success"),
               "mean_return": best.user_attrs.get("mean_return"),
               "trial": best.number, "trials": len(rows), "complete_trials": len(done),
               "seeds_per_trial": cfg.seeds, "timesteps_per_run": cfg.timesteps,
               "seed_set": "dev", "cost": totals}
    write_json(out / "best.json", summary)
    return summary


def tune(cfg: TuneConfig) -> dict:
    """Run (or continue) the search ``cfg`` describes; returns ``best.json``'s content. A
    folder that holds a search of other settings is refused."""
    check_tune(cfg)
    try:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
    except ImportError:
        raise ConfigError("moonshot tune needs Optuna >= 4.0: pip install 'moonshot[tune]'") \
            from None
    out = Path(cfg.out)
    settings = json.loads(json.dumps(asdict(cfg)))
    settings.pop("progress")
    settings.pop("trials")  # more trials may be asked of a search later
    # a search from before the objective choice maximised success
    if (out / "tune.json").exists() and {"objective": "success", **read_json(
            out / "tune.json")} != settings:
        raise ConfigError(f"{out} holds a search with other settings ({out / 'tune.json'}); "
                          "choose another --out")
    with run_folder(out, "tune", fresh=False):
        write_json(out / "tune.json", settings)
        if not cfg.progress:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = JournalStorage(JournalFileBackend(str(out / "journal.log")))
        study = optuna.create_study(
            study_name="moonshot-tune", storage=storage, direction="maximize",
            load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=cfg.seed))
        finished = sum(t.state.is_finished() for t in study.trials)
        for _ in range(max(0, cfg.trials - finished)):
            study.optimize(lambda t: _trial(cfg, out, t), n_trials=1, catch=(ConfigError,))
            _write_results(cfg, out, study)  # after every trial: an interruption loses none
        best = _write_results(cfg, out, study)
    if best is None:
        raise ConfigError(f"no trial of {out} completed (see {out / 'trials.csv'})")
    return best


def best_hyperparams(path: str | Path) -> dict:
    """``best.json`` of a search folder (or the file itself): what ``moonshot train
    --hyperparams-from`` reads (plain JSON)."""
    path = Path(path)
    file = path / "best.json" if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no best.json in {path}: is it a `moonshot tune` folder "
                                "with a completed trial?")
    best = read_json(file)
    if not isinstance(best, dict) or not isinstance(best.get("hyperparams"), dict):
        raise ValueError(f"{file} is not the best.json of a `moonshot tune` search")
    return best


__all__ = ["SPACES", "TRIAL_COLUMNS", "TuneConfig", "best_hyperparams", "tune"]
