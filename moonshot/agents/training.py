"""Training RL agents with stable-baselines3, every training episode logged.

A run folder holds::

    config.json        everything needed to reproduce the run (versions, seed, hyperparameters)
    episodes.csv       one row per training episode (DESIGN.md schema)
    evaluations.csv    periodic deterministic evaluations on both splits
    model.zip          the final model
    vecnormalize.pkl   observation/reward normalization statistics (runs with ``normalize``)
    checkpoints/       periodic checkpoints and latest.json (what --resume continues from)
    tensorboard/       with --tensorboard
"""

from __future__ import annotations

import copy
import inspect
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3 import A2C, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from tqdm.auto import tqdm

from .. import ENV_IDS, resolve_env_id
from ..errors import ConfigError, check_choice
from ..runlog import EpisodeLog, atomic_write_text, read_evaluations, read_json, write_json
from .sb3_agent import SB3Agent
from .vec import make_vec_env

ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC, "td3": TD3, "a2c": A2C}
EVAL_COLUMNS = ("env_steps", "episodes", "split", "success_rate", "death_rate", "mean_return",
                "n_episodes", "wall_time_s")


def default_hyperparams(env: str, algo: str) -> dict:
    """The packaged defaults for ``env`` (short name or id) and ``algo``."""
    check_choice("algo", algo, ALGOS)
    world = _world(env)
    text = resources.files("moonshot.agents").joinpath("hyperparams.yaml").read_text()
    return dict(yaml.safe_load(text)[world][algo])


def _world(env: str) -> str:
    env_id = resolve_env_id(env)
    return {v: k for k, v in ENV_IDS.items()}[env_id]


def parse_key_values(items: list[str] | None, what: str) -> dict:
    """Parse ``key=value`` strings; values are read as YAML (numbers, lists, booleans)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"{what} must be key=value, got {item!r}")
        key, val = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(val)
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot parse {what} {item!r}: {exc}") from None
    return out


@dataclass
class TrainConfig:
    """One training run; every field is recorded in ``config.json``."""

    env: str  #: ``moon``, ``city`` or a full id
    algo: str = "ppo"  #: ppo | sac | td3 | a2c
    timesteps: int = 100_000  #: total env steps (launches for MoonLaunch)
    seed: int = 0
    out: str = "runs/train"
    n_envs: int | None = None  #: None: the default of the hyperparameter file
    split: str = "train"  #: the split the agent trains on
    env_kwargs: dict = field(default_factory=dict)  #: e.g. {"target": "soi"}
    hyperparams: dict = field(default_factory=dict)  #: overrides of the defaults
    tensorboard: bool = False
    eval_every: int = 0  #: env steps between evaluations; 0 = ten evaluations per run
    eval_episodes: int = 50  #: episodes per split and evaluation
    checkpoint_every: int = 0  #: env steps between checkpoints; 0 = five per run
    device: str = "cpu"
    progress: bool = True
    init_from: str | None = None  #: start from this model.zip (fine-tuning) instead of scratch
    #: torch CPU threads. 1 by default: small MLPs gain nothing from more, and on a busy
    #: 2-core machine extra threads spin against the simulators (seen: 8 ms per 256x256 layer).
    torch_threads: int = 1


def _split_hyperparams(cfg: TrainConfig) -> tuple[dict, int, str, dict | None]:
    """SB3 constructor arguments, n_envs, policy and VecNormalize arguments (None: off)."""
    hp = default_hyperparams(cfg.env, cfg.algo)
    hp.update(cfg.hyperparams)
    n_envs = int(cfg.n_envs or hp.pop("n_envs", 1))
    hp.pop("n_envs", None)
    hp.pop("env_kwargs", None)
    policy = hp.pop("policy", "MlpPolicy")
    normalize = _normalize_kwargs(hp.pop("normalize", False), hp.get("gamma", 0.99))
    _schedules(hp)  # reject a bad schedule before anything is created
    allowed = set(inspect.signature(ALGOS[cfg.algo].__init__).parameters) - {
        "self", "policy", "env", "seed", "device", "tensorboard_log", "verbose",
        "_init_setup_model"}
    unknown = sorted(set(hp) - allowed)
    if unknown:
        raise ConfigError(f"unknown {cfg.algo} hyperparameter(s) {unknown}; known: "
                          f"{', '.join(sorted(allowed | {'n_envs', 'policy', 'normalize'}))}")
    return hp, n_envs, policy, normalize


def _normalize_kwargs(value, gamma: float) -> dict | None:
    """RL Zoo's ``normalize``: false, true, or a dict of ``VecNormalize`` arguments."""
    if value is False or value is None:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(f"normalize must be true, false or a dict of VecNormalize "
                          f"arguments, got {value!r}")
    known = {"norm_obs", "norm_reward", "clip_obs", "clip_reward", "epsilon"}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"unknown normalize argument(s) {unknown}; known: {sorted(known)}")
    return {"gamma": float(gamma), **value}


SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")


def _schedules(hp: dict) -> dict:
    """RL Zoo's ``lin_<x>`` values: ``x`` decaying linearly to 0 over the run's budget (a
    resumed run with a raised budget stretches the rest of the decay over the new one)."""
    out = dict(hp)
    for key, val in hp.items():
        if isinstance(val, str) and val.startswith("lin_"):
            if key not in SCHEDULED:
                raise ConfigError(f"{key}={val!r}: only {', '.join(SCHEDULED)} take a "
                                  "schedule")
            try:
                start = float(val[4:])
            except ValueError:
                raise ConfigError(f"cannot read {key}={val!r}; a linear schedule is "
                                  "lin_<start>, e.g. lin_3e-4") from None
            out[key] = LinearSchedule(start, 0.0, 1.0)
    return out


def versions() -> dict:
    import gymnasium
    import numba
    import stable_baselines3
    import torch

    from .. import __version__

    return {"moonshot": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "gymnasium": gymnasium.__version__, "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__}


class _EvalLog:
    """``evaluations.csv``, rewritten atomically on every evaluation."""

    def __init__(self, path: Path, truncate_after_steps: int | None = None):
        self.path = path
        self.rows: list[dict] = []
        if truncate_after_steps is not None:
            self.rows = [r for r in read_evaluations(path)
                         if int(r["env_steps"]) <= truncate_after_steps]
        self._write()

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self._write()

    def _write(self) -> None:
        lines = [",".join(EVAL_COLUMNS)]
        lines += [",".join(str(r[c]) for c in EVAL_COLUMNS) for r in self.rows]
        atomic_write_text(self.path, "\n".join(lines) + "\n")


def evaluate_policy_on_split(agent, env_id: str, split: str, episodes: int, seed: int,
                             env_kwargs: dict) -> dict:
    """Deterministic episodes of ``agent`` on ``split``: success, death rate, mean return."""
    import gymnasium as gym

    from .base import run_episode

    kwargs = dict(env_kwargs)
    kwargs["split"] = split
    env = gym.make(env_id, **kwargs)
    succ, death, rets = [], [], []
    try:
        for i in range(episodes):
            rec = run_episode(agent, env, seed=seed if i == 0 else None)
            succ.append(rec.success)
            death.append(rec.death)
            rets.append(rec.ret)
    finally:
        env.close()
    return {"success_rate": float(np.mean(succ)), "death_rate": float(np.mean(death)),
            "mean_return": float(np.mean(rets)), "n_episodes": episodes}


class TrainingMonitor(BaseCallback):
    """Logs every finished episode, evaluates, checkpoints and shows a progress bar."""

    def __init__(self, run: Path, cfg: TrainConfig, log: EpisodeLog, evals: _EvalLog,
                 eval_every: int, checkpoint_every: int, wall_offset: float, total: int):
        super().__init__()
        self.run, self.cfg, self.log, self.evals = run, cfg, log, evals
        self.eval_every, self.checkpoint_every = eval_every, checkpoint_every
        self.wall_offset = wall_offset
        self.total = total
        self.env_id = resolve_env_id(cfg.env)
        self.eval_kwargs = {k: v for k, v in cfg.env_kwargs.items() if k != "split"}
        self._t0 = time.perf_counter()
        self._ret: np.ndarray | None = None
        self._len: np.ndarray | None = None
        self._recent: list[bool] = []
        self._next_eval = 0
        self._next_ckpt = 0
        self._last_eval_steps = -1
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self._ret = np.zeros(n)
        self._len = np.zeros(n, dtype=np.int64)
        now = self.num_timesteps
        self._next_eval = (now // self.eval_every + 1) * self.eval_every
        self._next_ckpt = (now // self.checkpoint_every + 1) * self.checkpoint_every
        self.bar = tqdm(total=self.total, initial=now, disable=not self.cfg.progress,
                        unit="step", unit_scale=True, desc=f"{self.cfg.algo} {self.cfg.env}")
        if now == 0:
            self._evaluate()
        else:  # resumed: the checkpoint's policy was evaluated before
            self._last_eval_steps = now

    def wall(self) -> float:
        return self.wall_offset + time.perf_counter() - self._t0

    def _on_step(self) -> bool:
        norm = self.model.get_vec_normalize_env()
        rewards = norm.get_original_reward() if norm is not None else self.locals["rewards"]
        dones = self.locals["dones"]
        infos = self.locals["infos"]
        self._ret += rewards
        self._len += 1
        for i in np.nonzero(dones)[0]:
            info = infos[i]
            success = bool(info.get("is_success", False))
            self.log.append(
                env_steps=self.num_timesteps, wall_time_s=round(self.wall(), 4),
                length=int(self._len[i]), success=success, death=bool(info.get("death", False)),
                split=self.cfg.split, map_id=int(info.get("map_id", -1)),
                outcome=info.get("outcome", ""), trial=1, agent=self.cfg.algo,
                seed=self.cfg.seed, **{"return": round(float(self._ret[i]), 5)})
            self._recent.append(success)
            self._ret[i] = 0.0
            self._len[i] = 0
        if self.bar is not None:
            self.bar.n = self.num_timesteps
            if self._recent:
                self._recent = self._recent[-1000:]
                self.bar.set_postfix(episodes=self.log.episodes,
                                     success=f"{np.mean(self._recent):.0%}", refresh=False)
            self.bar.refresh() if self.n_calls % 50 == 0 else None
        return True

    def _on_rollout_end(self) -> None:
        # Between rollouts, never inside one (a tiny budget would evaluate every few steps);
        # never past the budget a rollout may overshoot, and never twice for one crossing.
        now = self.num_timesteps
        if now >= self._next_ckpt and now < self.total:
            self.checkpoint()
            self._next_ckpt = (now // self.checkpoint_every + 1) * self.checkpoint_every
        if now >= self._next_eval and now < self.total:
            self._evaluate()
            self._next_eval = (now // self.eval_every + 1) * self.eval_every

    def _evaluate(self) -> None:
        self._last_eval_steps = self.num_timesteps
        agent = SB3Agent(self.model, name=self.cfg.algo,
                         normalizer=self.model.get_vec_normalize_env())
        for split in ("train", "new"):
            res = evaluate_policy_on_split(agent, self.env_id, split, self.cfg.eval_episodes,
                                           seed=10_000 + self.cfg.seed, env_kwargs=self.eval_kwargs)
            self.evals.add({"env_steps": self.num_timesteps, "episodes": self.log.episodes,
                            "split": split, "wall_time_s": round(self.wall(), 3), **res})

    def checkpoint(self) -> None:
        """Save model, flush the logs, then point ``latest.json`` at the checkpoint."""
        self.log.flush()
        ckpt = self.run / "checkpoints"
        ckpt.mkdir(exist_ok=True)
        path = ckpt / f"model_{self.num_timesteps}.zip"
        _save_model_atomic(self.model, path)
        meta = {"env_steps": int(self.num_timesteps), "episodes": self.log.episodes,
                "wall_time_s": self.wall(), "model": path.name}
        norm = self.model.get_vec_normalize_env()
        if norm is not None:
            stats = ckpt / f"vecnormalize_{self.num_timesteps}.pkl"
            _save_stats_atomic(norm, stats)
            meta["vecnormalize"] = stats.name
        write_json(ckpt / "latest.json", meta)

    def _on_training_end(self) -> None:
        if self._last_eval_steps != self.num_timesteps:
            self._evaluate()  # the final policy is always evaluated
        if self.bar is not None:
            self.bar.n = self.num_timesteps
            self.bar.close()


def _save_model_atomic(model: BaseAlgorithm, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)


def _save_stats_atomic(norm: VecNormalize, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.pkl")
    norm.save(tmp)
    os.replace(tmp, path)


def _wrap_normalize(vec: VecEnv, kwargs: dict | None, stats: Path | None) -> VecEnv:
    """Wrap ``vec`` in ``VecNormalize``: fresh, or with the statistics saved in ``stats``."""
    if kwargs is None:
        return vec
    if stats is None:
        return VecNormalize(vec, **kwargs)
    norm = load_normalizer(stats)
    norm.set_venv(vec)
    norm.training = True
    return norm


def load_normalizer(path: Path) -> VecNormalize:
    """Saved ``VecNormalize`` statistics (no env attached), naming the file in any error."""
    import pickle

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing normalization statistics: {path}")
    try:
        with open(path, "rb") as f:
            norm = pickle.load(f)
    except Exception as exc:
        raise ValueError(f"unreadable normalization statistics {path}: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(norm, VecNormalize):
        raise ValueError(f"{path} holds a {type(norm).__name__}, not VecNormalize statistics")
    return norm


def train(cfg: TrainConfig | None = None, *, resume: bool = False, **kwargs) -> Path:
    """Train an RL agent; returns the run folder.

    ``train(env="moon", algo="ppo", timesteps=200_000, out="runs/x", env_kwargs={"target":
    "soi"})`` or ``train(TrainConfig(...))``. With ``resume=True`` the run in ``out`` continues
    from its last checkpoint (same config; ``timesteps`` may be raised), appending to its logs
    without losing or duplicating episodes.
    """
    if cfg is None:
        cfg = TrainConfig(**kwargs)
    elif kwargs:
        raise TypeError("pass either a TrainConfig or keyword arguments, not both")
    check_choice("algo", cfg.algo, ALGOS)
    check_choice("split", cfg.split, ("train", "new"))
    if cfg.timesteps < 1:
        raise ConfigError(f"timesteps must be >= 1, got {cfg.timesteps}")
    if cfg.eval_episodes < 1:
        raise ConfigError(f"eval_episodes must be >= 1, got {cfg.eval_episodes}")
    env_id = resolve_env_id(cfg.env)
    run = Path(cfg.out)
    start_steps, wall_offset = 0, 0.0
    latest = run / "checkpoints" / "latest.json"
    saved: dict = {}
    if resume:
        if not (run / "config.json").exists():
            raise FileNotFoundError(f"nothing to resume: {run / 'config.json'} does not exist")
        saved = read_json(run / "config.json")
        cfg = TrainConfig(**{**saved["train"], "progress": cfg.progress,
                             "timesteps": max(cfg.timesteps, saved["train"]["timesteps"])})
        if latest.exists():
            meta = read_json(latest)
            start_steps, wall_offset = int(meta["env_steps"]), float(meta["wall_time_s"])
    elif (run / "episodes.csv").exists():
        raise FileExistsError(f"run folder {run} already holds a run; pass --resume to continue "
                              "it or choose another --out (nothing was overwritten)")
    if cfg.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: "
                              "pip install 'moonshot[tensorboard]' (or pip install "
                              "tensorboard)") from None
    set_torch_threads(cfg.torch_threads)
    if "resolved_hyperparams" in saved:
        # A resumed run keeps the settings it started with, whatever the packaged defaults
        # have become since (its env_kwargs were recorded with the defaults merged in).
        hp, n_envs, policy = saved["resolved_hyperparams"], saved["n_envs"], saved["policy"]
        normalize = saved.get("normalize")
        env_kwargs = dict(cfg.env_kwargs)
    else:
        hp, n_envs, policy, normalize = _split_hyperparams(cfg)
        # Training-time env settings of the packaged defaults (reward shaping), under the
        # user's.
        env_kwargs = {**default_hyperparams(cfg.env, cfg.algo).get("env_kwargs", {}),
                      **cfg.env_kwargs}
        cfg.env_kwargs = dict(env_kwargs)
    run.mkdir(parents=True, exist_ok=True)
    env_kwargs["split"] = cfg.split
    # A resumed run must not replay the scenarios of its first episodes: offset the env seed.
    vec = make_vec_env(env_id, n_envs, cfg.seed + start_steps, env_kwargs)
    algo_cls = ALGOS[cfg.algo]
    tb = str(run / "tensorboard") if cfg.tensorboard else None
    if start_steps > 0:
        meta = read_json(latest)
        # A normalized run resumes with its statistics or not at all (load_normalizer names
        # the missing file); fresh statistics would silently change what the policy sees.
        stats = run / "checkpoints" / meta.get("vecnormalize", f"vecnormalize_{start_steps}.pkl")
        vec = _wrap_normalize(vec, normalize, stats if normalize is not None else None)
        model = load_model(run / "checkpoints" / meta["model"], algo_cls, env=vec,
                           device=cfg.device)
        model.tensorboard_log = tb
    elif cfg.init_from:
        # model.zip -> vecnormalize.pkl, checkpoints/model_N.zip -> vecnormalize_N.pkl
        init = Path(cfg.init_from)
        stats = init.with_name(init.stem.replace("model", "vecnormalize", 1) + ".pkl")
        if (normalize is not None) != stats.exists():
            raise ConfigError(
                f"{init} was trained on normalized observations ({stats.name} beside it): "
                "fine-tune it with normalize=true" if stats.exists() else
                f"normalize is on but {init} has no statistics beside it ({stats}): it was "
                "trained on raw observations; fine-tune it without normalize")
        vec = _wrap_normalize(vec, normalize, stats if stats.exists() else None)
        model = load_model(Path(cfg.init_from), algo_cls, env=vec, device=cfg.device)
        model.set_random_seed(cfg.seed)
        model.tensorboard_log = tb
    else:
        vec = _wrap_normalize(vec, normalize, None)
        # SB3 may add entries to policy_kwargs in place (A2C's optimizer): pass a copy.
        model = algo_cls(policy, vec, seed=cfg.seed, device=cfg.device, tensorboard_log=tb,
                         verbose=0, **_schedules(copy.deepcopy(hp)))
    write_json(run / "config.json", {
        "train": asdict(cfg), "env_id": env_id, "resolved_hyperparams": hp, "n_envs": n_envs,
        "normalize": normalize,
        "policy": policy, "versions": versions(),
        "command": command_line(cfg)})
    log = EpisodeLog(run / "episodes.csv", flush_every=4096,
                     truncate_after_steps=start_steps if resume else None)
    evals = _EvalLog(run / "evaluations.csv", truncate_after_steps=start_steps if resume else 0)
    eval_every = cfg.eval_every or max(1, cfg.timesteps // 10)
    ckpt_every = cfg.checkpoint_every or max(1, cfg.timesteps // 5)
    monitor = TrainingMonitor(run, cfg, log, evals, eval_every, ckpt_every, wall_offset,
                              cfg.timesteps)
    if tb is None:  # SB3's default logger would leave an empty folder in /tmp per run
        model.set_logger(Logger(folder=None, output_formats=[]))
    try:
        model.learn(total_timesteps=max(0, cfg.timesteps - start_steps), callback=monitor,
                    reset_num_timesteps=start_steps == 0, tb_log_name="run")
    except KeyboardInterrupt:
        monitor.checkpoint()
        raise
    finally:  # whatever happens, the logged episodes are kept
        log.close()
        vec.close()
    monitor.checkpoint()
    _save_model_atomic(model, run / "model.zip")
    if model.get_vec_normalize_env() is not None:
        _save_stats_atomic(model.get_vec_normalize_env(), run / "vecnormalize.pkl")
    return run


def command_line(cfg: TrainConfig) -> str:
    """The ``moonshot train`` command that reproduces ``cfg``."""
    parts = [f"moonshot train {cfg.env} --algo {cfg.algo} --timesteps {cfg.timesteps} "
             f"--seed {cfg.seed} --out {cfg.out}"]
    if cfg.n_envs:
        parts.append(f"--n-envs {cfg.n_envs}")
    if cfg.split != "train":
        parts.append(f"--split {cfg.split}")
    if cfg.env_kwargs:
        parts.append("--env-kwargs " + " ".join(f"{k}={v}" for k, v in cfg.env_kwargs.items()))
    if cfg.hyperparams:
        parts.append("--hyperparams " + " ".join(f"{k}={v}" for k, v in cfg.hyperparams.items()))
    for flag, val, default in (("--eval-every", cfg.eval_every, 0),
                               ("--eval-episodes", cfg.eval_episodes, 50),
                               ("--checkpoint-every", cfg.checkpoint_every, 0)):
        if val != default:
            parts.append(f"{flag} {val}")
    return " ".join(parts)


def set_torch_threads(n: int) -> None:
    """Limit torch's intra-op threads (see ``TrainConfig.torch_threads``)."""
    import torch

    if n >= 1 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def load_model(path: Path, algo_cls: type[BaseAlgorithm] | None = None, **kwargs):
    """Load an SB3 model file, naming the file in any error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing model file: {path}")
    classes = [algo_cls] if algo_cls else list(ALGOS.values())
    last: Exception | None = None
    for cls in classes:
        try:
            return cls.load(path, **kwargs)
        except Exception as exc:  # SB3 raises many types for a bad zip
            last = exc
    raise ValueError(f"unreadable model file {path}: {type(last).__name__}: {last}")


def load_agent(run_dir: str | os.PathLike) -> SB3Agent:
    """A ready agent (shared interface) from a training run folder (its ``model.zip``)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"no such run folder: {run}")
    cfg_path = run / "config.json"
    algo, normalized = None, False
    if cfg_path.exists():
        saved = read_json(cfg_path)
        algo = saved.get("train", {}).get("algo")
        normalized = bool(saved.get("normalize"))
    set_torch_threads(1)
    model = load_model(run / "model.zip", ALGOS.get(algo) if algo else None, device="cpu")
    stats = run / "vecnormalize.pkl"
    agent = SB3Agent(model, name=algo or type(model).__name__.lower(),
                     normalizer=load_normalizer(stats) if normalized or stats.exists()
                     else None)
    agent.run_dir = run
    return agent
