"""What a training run is: :class:`TrainConfig`, the packaged default hyperparameters and
their validation, and the ``moonshot train`` command that reproduces a config.

No stable-baselines3 import at module level: the CLI validates a run before loading torch.

Why one module of ~470 lines: the run's settings, the algorithm lookup and the packaged
hyperparameters are validated together before torch is imported; splitting them would put
the checks of one flag in two places.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from ..errors import ConfigError
from ..worlds import LEARNER_ALGOS, get_world

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

#: The algorithms with packaged hyperparameters (and RL Zoo files), by name ->
#: stable-baselines3 (or sb3-contrib) class name. ``--algo`` takes any algorithm of
#: :data:`ALGO_PACKAGES`.
ALGO_NAMES = {"ppo": "PPO", "sac": "SAC", "td3": "TD3", "a2c": "A2C", "ppo_lstm": "RecurrentPPO"}
#: The packages whose algorithm classes ``--algo`` names in lower case (``ddpg``, ``tqc``).
ALGO_PACKAGES = ("stable_baselines3", "sb3_contrib")
#: RL Zoo's names of sb3-contrib's recurrent and masked PPO.
ALGO_ALIASES = {"ppo_lstm": "recurrentppo", "ppo_mask": "maskableppo"}
#: The packaged algorithms of sb3-contrib (RL Zoo's names): ``ppo_lstm`` is PPO with an LSTM
#: policy, memory for what one observation cannot say (other cars' speeds).
CONTRIB_ALGOS = ("ppo_lstm",)
#: Agents that learn their own model (:mod:`.model_learning`), trained without SB3.
MODEL_ALGOS = LEARNER_ALGOS
#: Hyperparameters that are ours, not the SB3 constructor's (``frame_stack``: RL Zoo's, the
#: last N observations side by side, in training and evaluation alike).
OWN_KEYS = ("n_envs", "policy", "normalize", "env_kwargs", "n_timesteps", "frame_stack")
#: Hyperparameters that take RL Zoo's ``lin_<x>`` linear schedules.
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")


@functools.cache
def algorithms() -> dict[str, type[BaseAlgorithm]]:
    """Every algorithm ``--algo`` accepts, by lower-case name -> class: the
    ``BaseAlgorithm`` subclasses of stable-baselines3 and, where installed, sb3-contrib
    (imports them; scanned once per process, read-only for callers)."""
    import importlib

    from stable_baselines3.common.base_class import BaseAlgorithm

    out: dict[str, type[BaseAlgorithm]] = {}
    for package in ALGO_PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:  # sb3-contrib is optional
            continue
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name, None)
            if isinstance(obj, type) and issubclass(obj, BaseAlgorithm):
                out.setdefault(name.lower(), obj)
    return out


def algo_class(algo: str) -> type[BaseAlgorithm]:
    """The stable-baselines3 (or sb3-contrib) class of ``algo`` (imports them)."""
    check_algo(algo)
    if algo in MODEL_ALGOS:
        raise ConfigError(f"{algo} learns its own model and is not a stable-baselines3 "
                          "algorithm (moonshot.agents.model_learning trains it)")
    return algorithms()[ALGO_ALIASES.get(algo, algo)]


def check_algo(algo: str) -> None:
    """``algo`` names an algorithm class of :data:`ALGO_PACKAGES` (the packaged ones are
    checked without importing torch)."""
    if algo in ALGO_NAMES or algo in MODEL_ALGOS:
        return
    known = algorithms() if isinstance(algo, str) else {}
    if ALGO_ALIASES.get(algo, algo) not in known:
        hint = "" if "tqc" in known else " (sb3-contrib's: pip install sb3-contrib)"
        raise ConfigError(f"invalid algo={algo!r}; choose one of "
                          f"{sorted({*known, *ALGO_ALIASES})}, or an agent that learns its "
                          f"own model: {', '.join(MODEL_ALGOS)}{hint}")


def default_policy(algo: str) -> str:
    """The policy of ``algo`` where the world names none: ``MlpPolicy``, or the algorithm's
    own MLP policy (``MlpLstmPolicy`` for ``recurrentppo``)."""
    aliases = list(getattr(algo_class(algo), "policy_aliases", {}) or ["MlpPolicy"])
    return "MlpPolicy" if "MlpPolicy" in aliases else next(
        (name for name in aliases if name.startswith("Mlp")), aliases[0])


def is_algo(algo: object) -> bool:
    """Whether ``algo`` names a stable-baselines3 (or sb3-contrib) algorithm that
    :func:`check_algo` accepts (not a model-learning agent: they are not SB3 models)."""
    if not isinstance(algo, str) or algo in MODEL_ALGOS:
        return False
    try:
        check_algo(algo)
    except ConfigError:
        return False
    return True


def default_hyperparams(env: str, algo: str) -> dict:
    """The packaged defaults for ``algo`` in the world of ``env`` (short name or id);
    ``{}`` (the algorithm's own defaults) where the world declares none for it."""
    check_algo(algo)
    world = get_world(env)
    return world.default_hyperparams(algo) if algo in world.hyperparam_table() else {}


def key_value_words(flag: str, values: Mapping[str, Any] | None) -> list[str]:
    """``flag key=value ...`` as a user types them, each value written so that
    :func:`parse_key_values` reads it back; no words at all for no values (the command line a
    report records)."""
    def text(v: Any) -> str:
        if isinstance(v, str) and yaml.safe_load(v) == v:
            return v
        dumped = yaml.safe_dump(v, default_flow_style=True, width=1_000_000)
        return dumped.removesuffix("\n...\n").strip()

    return [flag, *(f"{k}={text(v)}" for k, v in values.items())] if values else []


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


def _flag(name: str, help: str, default: Any = None, factory=None):
    """A config field with its command-line flag (for the command echo)."""
    meta = {"flag": name, "help": help}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """One training run; every field is recorded in ``config.json``.

    The fields with a ``flag`` in their metadata are the ``moonshot train`` options:
    :func:`command_line` echoes a config as the command that reproduces it.
    """

    env: str  #: world short name or env id (``moon``, ``city``, ``moonshot/CityNav-v0``)
    algo: str = _flag("--algo", "a stable-baselines3 or sb3-contrib algorithm, or pets | sysid",
                      "ppo")
    #: total env steps (launches for MoonLaunch); None: 100,000 for a new run (the
    #: model-learning agent's own ``default_timesteps``: on moon pets 3,000, sysid 50; on city
    #: pets 24,000, sysid 22,000; on body pets 25,000, sysid 5,000), the saved budget for a
    #: resumed one
    timesteps: int | None = _flag("--timesteps", "env steps", None)
    seed: int = _flag("--seed", "random seed", 0)
    out: str = _flag("--out", "run folder", "runs/train")
    #: None: the default of the hyperparameter file
    n_envs: int | None = _flag("--n-envs", "parallel envs", None)
    split: str = _flag("--split", "the split to train on", "train")
    env_kwargs: dict = _flag("--env-kwargs", "env config", factory=dict)
    hyperparams: dict = _flag("--hyperparams", "overrides of the defaults", factory=dict)
    tensorboard: bool = _flag("--tensorboard", "TensorBoard logs", False)
    #: env steps between evaluations; 0 = scaled to the budget
    eval_every: int = _flag("--eval-every", "env steps between evaluations", 0)
    #: episodes per split and evaluation; 0 = scaled to the budget
    eval_episodes: int = _flag("--eval-episodes", "episodes per split and evaluation", 0)
    #: env steps between checkpoints; 0 = five per run
    checkpoint_every: int = _flag("--checkpoint-every", "env steps between checkpoints", 0)
    device: str = _flag("--device", "torch device", "cpu")
    progress: bool = True
    #: start from this model.zip (fine-tuning) instead of from scratch
    init_from: str | None = None
    #: torch CPU threads while collecting experience. 1: a small MLP's forward pass gains
    #: nothing from more, and extra threads spin against the simulators.
    torch_threads: int = 1
    #: torch CPU threads during the updates, when no simulator runs; 0: the CPUs this process
    #: may use (OMP_NUM_THREADS where set, as Ray sets it for a task; at most 4). One by
    #: default: measured on 2 cores (``benchmarks/bench_wait_policy.py``, CityNav PPO, 82k
    #: steps), two threads are ~27% faster on a quiet machine (5,200 against 4,100 env
    #: steps/s) but OpenMP's waiting threads spin, and with a second training on the cores
    #: each run fell to ~690 env steps/s, against ~4,060 with one thread (waiting passively,
    #: ``OMP_WAIT_POLICY=PASSIVE``: 3,140 quiet, 3,630 busy). Raise it on a machine of your own.
    update_threads: int = 1
    #: processes stepping the batched env during collection; 0: one. Splitting the batch
    #: across two processes (CityNav-v1 only: its slots are seeded one by one, so episodes
    #: stay the same) was measured *slower* on 2 cores with the default 8 cities: PPO 6,132
    #: and 6,093 env steps/s with one process, 4,620 and 4,545 with two (runs alternated,
    #: quiet machine): a batched step of 8 cities costs less than the pipe round trips.
    env_workers: int = 0


DEFAULT_TIMESTEPS = 100_000
MAX_TIMESTEPS = 10**11
#: Fields a resumed run may change (the rest is the saved experiment).
RESUMABLE = ("timesteps", "progress", "device", "torch_threads", "update_threads", "out")


def _int(name: str, value, lo: int, hi: int | None = None, flag: bool = True) -> int:
    label = f"--{name.replace('_', '-')}" if flag else name
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{label} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo} .. {hi:,}"
        raise ConfigError(f"{label} must be {rng}, got {value!r}")
    return int(value)


def validate_config(cfg: TrainConfig) -> None:
    """Every field of ``cfg`` checked (types, ranges), naming the flag, before anything is
    created on disk."""
    check_algo(cfg.algo)
    get_world(cfg.env)
    if cfg.split not in ("train", "new"):
        raise ConfigError(f"--split must be train or new, got {cfg.split!r}")
    if cfg.timesteps is not None:
        _int("timesteps", cfg.timesteps, 1, MAX_TIMESTEPS)
    _int("seed", cfg.seed, 0, 2**32 - 1)
    if cfg.n_envs is not None:
        _int("n_envs", cfg.n_envs, 1, 4096)
    _int("eval_every", cfg.eval_every, 0)
    _int("eval_episodes", cfg.eval_episodes, 0, 100_000)
    _int("checkpoint_every", cfg.checkpoint_every, 0)
    _int("torch_threads", cfg.torch_threads, 1, 256, flag=False)
    _int("update_threads", cfg.update_threads, 0, 256, flag=False)
    _int("env_workers", cfg.env_workers, 0, 64, flag=False)
    for name in ("env_kwargs", "hyperparams"):
        if not isinstance(getattr(cfg, name), dict):
            raise ConfigError(f"{name} must be a dict of key=value settings")
    check_device(cfg.device)


def check_device(device: str) -> None:
    """``--device``: a torch device this machine has."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"--device {device!r} is not a torch device (cpu, cuda, cuda:0, "
                          f"mps): {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: this machine has no CUDA device; use cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device}: this machine has no MPS device; use cpu")


#: Type and range of the common SB3 hyperparameters: (kind, low, high); kind "int", "float",
#: "sched" (a float or a lin_ schedule).
HYPERPARAM_RANGES = {
    "learning_rate": ("sched", 0.0, 1.0), "n_steps": ("int", 1, None),
    "batch_size": ("int", 1, None), "n_epochs": ("int", 1, None),
    "gamma": ("float", 0.0, 1.0), "gae_lambda": ("float", 0.0, 1.0),
    "clip_range": ("sched", 0.0, None), "ent_coef": ("float", 0.0, None),
    "vf_coef": ("float", 0.0, None), "max_grad_norm": ("float", 0.0, None),
    "buffer_size": ("int", 1, None), "learning_starts": ("int", 0, None),
    "tau": ("float", 0.0, 1.0), "gradient_steps": ("int", -1, None),
    "policy_delay": ("int", 1, None), "target_policy_noise": ("float", 0.0, None),
    "target_noise_clip": ("float", 0.0, None),
}


def check_hyperparams(hp: dict) -> None:
    """Types and ranges of known hyperparameters, naming the key."""
    for key, (kind, lo, hi) in HYPERPARAM_RANGES.items():
        if key not in hp:
            continue
        val = hp[key]
        if kind == "sched" and isinstance(val, str) and val.startswith("lin_"):
            continue
        ok = (not isinstance(val, bool)) and (
            isinstance(val, (int, np.integer)) if kind == "int"
            else isinstance(val, (int, float, np.integer, np.floating)))
        if ok:
            ok = lo <= val and (hi is None or val <= hi)
        if not ok:
            what = {"int": "an integer", "float": "a number", "sched": "a number or lin_<x>"}
            rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ConfigError(f"hyperparameter {key}={val!r}: must be {what[kind]} {rng}")
    pk = hp.get("policy_kwargs")
    if pk is not None:
        if not isinstance(pk, dict):
            raise ConfigError(f"policy_kwargs must be a dict, got {pk!r}")
        arch = pk.get("net_arch")
        layers = (list(arch.values()) if isinstance(arch, dict) else [arch]) if arch else []
        for lay in layers:
            if not (isinstance(lay, list) and all(isinstance(n, int) and n > 0 for n in lay)):
                raise ConfigError(f"policy_kwargs net_arch={arch!r}: a list of layer sizes "
                                  "(e.g. [256, 256]) or {pi: [...], vf: [...]}")


def _field_default(f):
    from dataclasses import MISSING

    return f.default_factory() if f.default_factory is not MISSING else f.default


def _shell(value: Any) -> str:
    text = str(value).replace(" ", "")
    return f"'{text}'" if any(c in text for c in "[]{}(),*?") else text


def command_line(cfg: TrainConfig) -> str:
    """The ``moonshot train`` command that reproduces ``cfg`` (derived from the fields'
    flags: options left at their default are omitted, except the budget, seed and folder)."""
    parts = ["moonshot train", cfg.env]
    always = {"algo", "seed", "out"} | ({"timesteps"} if cfg.timesteps is not None else set())
    for f in fields(cfg):
        flag = f.metadata.get("flag")
        if flag is None:
            continue
        value = getattr(cfg, f.name)
        if f.name not in always and value == _field_default(f):
            continue
        if isinstance(value, dict):
            if value:
                parts.append(flag + " " + " ".join(f"{k}={_shell(v)}" for k, v in value.items()))
        elif isinstance(value, bool):
            if value:
                parts.append(flag)
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


_NOTED: set[tuple[str, str]] = set()


def split_hyperparams(cfg: TrainConfig) -> tuple[dict, int, str, dict | None]:
    """SB3 constructor arguments, n_envs, policy and VecNormalize arguments (None: off),
    from the packaged defaults under ``cfg.hyperparams``; every value checked."""
    hp = default_hyperparams(cfg.env, cfg.algo)
    if not hp and (get_world(cfg.env).name, cfg.algo) not in _NOTED:
        _NOTED.add((get_world(cfg.env).name, cfg.algo))  # once per process (a sweep's cells)
        print(f"moonshot: the {get_world(cfg.env).name} world declares no {cfg.algo} "
              f"hyperparameters: {cfg.algo} starts from its own defaults in "
              f"{algo_class(cfg.algo).__module__.split('.')[0]} (set any with --hyperparams)",
              flush=True)
    hp.update(cfg.hyperparams)
    n_envs = cfg.n_envs if cfg.n_envs is not None else hp.get("n_envs", 1)
    hp.pop("n_envs", None)
    hp.pop("env_kwargs", None)  # training-time env settings, applied by train()
    hp.pop("n_timesteps", None)  # RL Zoo's budget; ours is --timesteps
    frame_stack(hp.pop("frame_stack", None))  # applied by train() (run_frame_stack)
    policy = hp.pop("policy", default_policy(cfg.algo))
    normalize = normalize_kwargs(hp.pop("normalize", False), hp.get("gamma", 0.99))
    schedules(hp)  # reject a bad schedule before anything is created
    check_hyperparams(hp)
    _int("n_envs", n_envs, 1, 4096)
    allowed = constructor_keys(cfg.algo)
    unknown = sorted(set(hp) - allowed)
    if unknown:
        raise ConfigError(f"unknown {cfg.algo} hyperparameter(s) {unknown}; known: "
                          f"{', '.join(sorted(allowed | set(OWN_KEYS)))}")
    return hp, n_envs, policy, normalize


def frame_stack(value) -> int:
    """RL Zoo's ``frame_stack``: ``None``, 0 or 1 (off) or the number of observations
    stacked; returns it (1: off)."""
    if value is None or value is False:
        return 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            not 0 <= value <= 64:
        raise ConfigError(f"hyperparameter frame_stack={value!r}: the number of observations "
                          "stacked, an integer in 1 .. 64 (1 or 0: off)")
    return max(1, int(value))


def run_frame_stack(cfg: TrainConfig) -> int:
    """The frame stack of a run: its ``frame_stack`` hyperparameter over the defaults'."""
    return frame_stack({**default_hyperparams(cfg.env, cfg.algo),
                        **cfg.hyperparams}.get("frame_stack"))


def constructor_keys(algo: str) -> set[str]:
    """The SB3 constructor arguments a hyperparameter file may set for ``algo``."""
    return set(inspect.signature(algo_class(algo).__init__).parameters) - {
        "self", "policy", "env", "seed", "device", "tensorboard_log", "verbose",
        "_init_setup_model"}


def normalize_kwargs(value: bool | dict | None, gamma: float) -> dict | None:
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


def schedules(hp: dict) -> dict:
    """RL Zoo's ``lin_<x>`` values: ``x`` decaying linearly to 0 over the run's budget."""
    from stable_baselines3.common.utils import LinearSchedule

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


def usable_cpus() -> int:
    """The CPUs this process may use: ``OMP_NUM_THREADS`` where set (Ray sets it for a
    task), else its CPU affinity."""
    import os

    omp = os.environ.get("OMP_NUM_THREADS")
    if omp and omp.isdigit():
        return max(1, int(omp))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def update_threads(cfg: TrainConfig) -> int:
    """The torch threads of the updates (see :attr:`TrainConfig.update_threads`)."""
    return cfg.update_threads or min(4, usable_cpus())


def env_workers(cfg: TrainConfig, env_id: str, n_envs: int) -> int:
    """Processes stepping the batched env (see :attr:`TrainConfig.env_workers`)."""
    if not cfg.env_workers:
        return 1
    import gymnasium as gym

    from ..worlds import load_ref

    entry = gym.spec(env_id).vector_entry_point
    if cfg.env_workers > 1 and (entry is None or not getattr(load_ref(entry), "slot_seeding",
                                                               False)):
        raise ValueError(f"env_workers={cfg.env_workers}: {env_id} cannot split its batch "
                         "across processes without changing its episodes; use 1")
    return min(cfg.env_workers, n_envs)


#: The default evaluations may cost this share of the run: evaluation steps are budgeted at
#: ``EVAL_SHARE x EVAL_SPEEDUP x timesteps`` (a batched, deterministic evaluation step costs
#: about a quarter of a training step, which also pays the learner).
EVAL_SHARE, EVAL_SPEEDUP = 0.2, 4.0


def default_schedule(timesteps: int, episode_steps: int, eval_every: int = 0,
                     eval_episodes: int = 0, checkpoint_every: int = 0) -> dict:
    """Evaluation and checkpoint schedule of a run: what was given, and defaults that keep
    the evaluations at about ``EVAL_SHARE`` of the run's time: ten evaluations (plus the one
    at the start) of up to 50 episodes per split, fewer episodes when the world's episodes
    are long and the budget small - down to one episode per split at the start and the end
    only. Checkpoints: five per run."""
    every = eval_every or max(1, timesteps // 10)
    n_evals = timesteps // every + 1
    episodes = eval_episodes
    if not episodes:
        afford = EVAL_SHARE * EVAL_SPEEDUP * timesteps / (2 * max(1, episode_steps))
        episodes = int(min(50, afford // n_evals))
        if episodes < 1 and not eval_every:  # evaluate at the start and the end only
            every, episodes = timesteps, 1
        episodes = max(1, episodes)
    return {"eval_every": int(every), "eval_episodes": int(episodes),
            "checkpoint_every": int(checkpoint_every or max(1, timesteps // 5))}
