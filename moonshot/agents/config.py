"""What a training run is: :class:`TrainConfig`, the packaged default hyperparameters and
their validation, and the ``moonshot train`` command that reproduces a config.

No stable-baselines3 import at module level: the CLI validates a run before loading torch.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from typing import Any

import yaml

from ..errors import ConfigError
from ..worlds import get_world

#: The algorithms ``moonshot train`` knows, by name -> stable-baselines3 class name.
ALGO_NAMES = {"ppo": "PPO", "sac": "SAC", "td3": "TD3", "a2c": "A2C"}
#: Hyperparameters that are ours, not the SB3 constructor's.
OWN_KEYS = ("n_envs", "policy", "normalize", "env_kwargs")
#: Hyperparameters that take RL Zoo's ``lin_<x>`` linear schedules.
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")


def algo_class(algo: str):
    """The stable-baselines3 class of ``algo`` (imports stable-baselines3)."""
    check_algo(algo)
    import stable_baselines3

    return getattr(stable_baselines3, ALGO_NAMES[algo])


def check_algo(algo: str) -> None:
    if algo not in ALGO_NAMES:
        raise ConfigError(f"invalid algo={algo!r}; choose one of {list(ALGO_NAMES)}")


def default_hyperparams(env: str, algo: str) -> dict:
    """The packaged defaults for ``algo`` in the world of ``env`` (short name or id)."""
    check_algo(algo)
    return get_world(env).default_hyperparams(algo)


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
    algo: str = _flag("--algo", "ppo | sac | td3 | a2c", "ppo")
    #: total env steps (launches for MoonLaunch)
    timesteps: int = _flag("--timesteps", "env steps", 100_000)
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
    eval_episodes: int = _flag("--eval-episodes", "episodes per split and evaluation", 50)
    #: env steps between checkpoints; 0 = five per run
    checkpoint_every: int = _flag("--checkpoint-every", "env steps between checkpoints", 0)
    device: str = _flag("--device", "torch device", "cpu")
    progress: bool = True
    #: start from this model.zip (fine-tuning) instead of from scratch
    init_from: str | None = None
    #: torch CPU threads. 1 by default: small MLPs gain nothing from more, and on a busy
    #: 2-core machine extra threads spin against the simulators (seen: 8 ms per 256x256 layer).
    torch_threads: int = 1


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
    always = {"algo", "timesteps", "seed", "out"}
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


def split_hyperparams(cfg: TrainConfig) -> tuple[dict, int, str, dict | None]:
    """SB3 constructor arguments, n_envs, policy and VecNormalize arguments (None: off),
    from the packaged defaults under ``cfg.hyperparams``; every value checked."""
    hp = default_hyperparams(cfg.env, cfg.algo)
    hp.update(cfg.hyperparams)
    n_envs = cfg.n_envs if cfg.n_envs is not None else hp.get("n_envs", 1)
    hp.pop("n_envs", None)
    hp.pop("env_kwargs", None)  # training-time env settings, applied by train()
    policy = hp.pop("policy", "MlpPolicy")
    normalize = normalize_kwargs(hp.pop("normalize", False), hp.get("gamma", 0.99))
    schedules(hp)  # reject a bad schedule before anything is created
    allowed = constructor_keys(cfg.algo)
    unknown = sorted(set(hp) - allowed)
    if unknown:
        raise ConfigError(f"unknown {cfg.algo} hyperparameter(s) {unknown}; known: "
                          f"{', '.join(sorted(allowed | set(OWN_KEYS)))}")
    return hp, n_envs, policy, normalize


def constructor_keys(algo: str) -> set[str]:
    """The SB3 constructor arguments a hyperparameter file may set for ``algo``."""
    return set(inspect.signature(algo_class(algo).__init__).parameters) - {
        "self", "policy", "env", "seed", "device", "tensorboard_log", "verbose",
        "_init_setup_model"}


def normalize_kwargs(value, gamma: float) -> dict | None:
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
