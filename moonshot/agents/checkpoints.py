"""Saving and loading what a training run leaves behind: models, normalization statistics,
checkpoints, and the trained agent (every error names the file).

Nothing a run folder holds is unpickled (``docs/security.md``): an SB3 ``model.zip`` is read
with its pickled fields (policy class, spaces, schedules, ...) supplied by moonshot from the
run's own config, its tensors with ``torch.load(weights_only=True)``; normalization
statistics and replay buffers are plain arrays (:mod:`moonshot.safe_store`). Files written by
an older moonshot as pickles are refused with a pointer to ``moonshot migrate``.

Why one module of ~420 lines: every file a run folder holds is written and read here, so the
rule that nothing in it is unpickled has one place to be checked.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..runlog import read_json
from ..safe_store import UnsafeFileError, load_tree, save_tree
from .config import ALGO_NAMES, algo_class, is_algo, schedules
from .sb3_agent import SB3Agent

if TYPE_CHECKING:
    import gymnasium as gym
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv, VecNormalize

#: Where a run keeps its normalization statistics (a checkpoint: ``vecnormalize_N.npz``).
STATS_FILE = "vecnormalize.npz"
_STATS_FORMAT = "moonshot.vecnormalize/1"
_BUFFER_FORMAT = "moonshot.replay_buffer/1"
#: The bare names a checkpoint's files may have, by their key in ``latest.json`` (the old
#: pickled names are matched so that they are refused by name, not as a path).
_CHECKPOINT_NAMES = {
    "model": re.compile(r"model_\d+\.zip"),
    "state": re.compile(r"state_\d+\.(npz|pkl)"),
    "vecnormalize": re.compile(r"vecnormalize_\d+\.(npz|pkl)"),
    "replay_buffer": re.compile(r"replay_buffer_\d+\.(npz|pkl)"),
}


def is_checkpoint_name(key: str, name: object) -> bool:
    """Whether ``name`` is one of moonshot's own bare file names for the checkpoint file
    ``key`` (``model``, ``state``, ``vecnormalize``, ``replay_buffer``): never a path, so a
    crafted ``latest.json`` cannot point a resume at - or make it delete - a file outside
    ``checkpoints/``."""
    pattern = _CHECKPOINT_NAMES.get(key)
    return pattern is not None and isinstance(name, str) and pattern.fullmatch(name) is not None
#: Pickled fields of an SB3 model that hold where a run stood: left empty on load (SB3
#: resets them, an exact resume puts its own saved values back).
_RUN_STATE_FIELDS = ("_last_obs", "_last_episode_starts", "_last_original_obs",
                     "ep_info_buffer", "ep_success_buffer", "rollout_buffer_class",
                     "replay_buffer_class")


def save_model_atomic(model: BaseAlgorithm, path: Path) -> None:
    """``model.save`` to a temporary name, then rename (a kill never leaves half a zip)."""
    tmp = path.with_name(f".{path.stem}.tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)


def refuse_pickle(path: Path, what: str) -> None:
    """Raise :class:`UnsafeFileError` if ``path`` is an old pickle that moonshot no longer
    loads, saying how to convert its run folder."""
    run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    raise UnsafeFileError(
        f"{path} holds {what} as a pickle (written by an older moonshot); loading a pickle "
        f"runs any code it holds, so moonshot does not: if you trust this folder, convert it "
        f"with `moonshot migrate {run} --trust`")


def stats_path(model_path: Path) -> Path:
    """The statistics beside a model file: ``model.zip`` -> ``vecnormalize.npz``,
    ``checkpoints/model_N.zip`` -> ``vecnormalize_N.npz``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem.replace("model", "vecnormalize", 1) + ".npz")


# --- normalization statistics ----------------------------------------------------------
def _rms_tree(rms) -> dict:
    if isinstance(rms, dict):
        return {"by_key": {k: _rms_tree(v) for k, v in rms.items()}}
    return {"mean": np.asarray(rms.mean), "var": np.asarray(rms.var), "count": float(rms.count)}


def _rms_from(tree: dict):
    from stable_baselines3.common.running_mean_std import RunningMeanStd

    if "by_key" in tree:
        return {k: _rms_from(v) for k, v in tree["by_key"].items()}
    rms = RunningMeanStd(shape=np.shape(tree["mean"]))
    rms.mean = np.array(tree["mean"], dtype=np.float64)
    rms.var = np.array(tree["var"], dtype=np.float64)
    rms.count = float(tree["count"])
    return rms


_NORM_SETTINGS = ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon",
                  "norm_obs_keys")


def save_stats_atomic(norm: VecNormalize, path: Path) -> None:
    """``VecNormalize`` statistics and settings as plain arrays (``.npz``)."""
    tree = {"format": _STATS_FORMAT, **{k: getattr(norm, k) for k in _NORM_SETTINGS},
            "obs_rms": _rms_tree(norm.obs_rms) if norm.norm_obs else None,
            "ret_rms": _rms_tree(norm.ret_rms)}
    save_tree(path, tree)


def _read_stats(path: Path) -> dict:
    path = Path(path)
    if path.suffix == ".pkl" or (not path.exists() and path.with_suffix(".pkl").exists()):
        refuse_pickle(path.with_suffix(".pkl"), "normalization statistics")
    tree = load_tree(path, "normalization statistics")
    if not isinstance(tree, dict) or tree.get("format") != _STATS_FORMAT:
        raise ValueError(f"{path} holds no moonshot normalization statistics")
    return tree


def _apply_stats(norm, tree: dict, path: Path) -> None:
    try:
        for key in _NORM_SETTINGS:
            setattr(norm, key, tree[key])
        if tree["obs_rms"] is not None:
            norm.obs_rms = _rms_from(tree["obs_rms"])
        norm.ret_rms = _rms_from(tree["ret_rms"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"unreadable normalization statistics {path}: {exc}") from None


def wrap_normalize(vec: VecEnv, kwargs: dict | None, stats: Path | None) -> VecEnv:
    """Wrap ``vec`` in ``VecNormalize``: fresh, or with the statistics saved in ``stats``."""
    from stable_baselines3.common.vec_env import VecNormalize

    if kwargs is None:
        return vec
    if stats is None:
        return VecNormalize(vec, **kwargs)
    tree = _read_stats(stats)
    norm = VecNormalize(vec, **kwargs)
    _apply_stats(norm, tree, stats)
    if norm.norm_obs and not isinstance(norm.obs_rms, dict) and \
            np.shape(norm.obs_rms.mean) != vec.observation_space.shape:
        raise ValueError(f"{stats} normalizes observations of shape "
                         f"{np.shape(norm.obs_rms.mean)}, not this env's "
                         f"{vec.observation_space.shape}")
    norm.training = True
    return norm


def wrap_frame_stack(vec, n: int):
    """``vec`` behind SB3's ``VecFrameStack`` of ``n`` observations (``n <= 1``: unchanged),
    outside ``VecNormalize`` as RL Zoo stacks them."""
    if n <= 1:
        return vec
    from stable_baselines3.common.vec_env import VecFrameStack

    return VecFrameStack(vec, n_stack=int(n))


def load_normalizer(path: Path) -> VecNormalize:
    """Saved ``VecNormalize`` statistics (no env attached: ``normalize_obs`` only), naming the
    file in any error."""
    from stable_baselines3.common.vec_env import VecNormalize

    tree = _read_stats(Path(path))
    norm = VecNormalize.__new__(VecNormalize)  # what unpickling makes, from plain data
    norm.venv = None  # type: ignore[assignment]  # no env attached; SB3 types it VecEnv
    norm.class_attributes = dict(inspect.getmembers(VecNormalize))
    norm.training = False
    norm.returns = np.zeros(1)
    _apply_stats(norm, tree, Path(path))
    return norm


# --- replay buffers --------------------------------------------------------------------
_BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones",
                  "timeouts")


def save_replay_buffer(model_or_buffer: Any, path: Path) -> None:
    """An off-policy model's replay buffer (or the buffer itself) as plain arrays
    (``.npz``)."""
    buf = getattr(model_or_buffer, "replay_buffer", model_or_buffer)
    save_tree(path, {"format": _BUFFER_FORMAT, "pos": int(buf.pos), "full": bool(buf.full),
                     **{k: getattr(buf, k, None) for k in _BUFFER_ARRAYS}})


def load_replay_buffer(model: Any, path: Path) -> None:
    """Fill ``model``'s (fresh) replay buffer from :func:`save_replay_buffer`'s file; every
    array must have the shape and type of the buffer's own."""
    path = Path(path)
    if path.suffix == ".pkl":
        refuse_pickle(path, "a replay buffer")
    tree = load_tree(path, "replay buffer")
    buf = model.replay_buffer
    if not isinstance(tree, dict) or tree.get("format") != _BUFFER_FORMAT:
        raise ValueError(f"{path} holds no moonshot replay buffer")
    for key in _BUFFER_ARRAYS:
        mine, saved = getattr(buf, key, None), tree.get(key)
        if mine is None and saved is None:
            continue
        pairs: list[tuple[Any, Any]] = (list(zip(mine.values(), saved.values(), strict=True))
                 if isinstance(mine, dict) and isinstance(saved, dict) else [(mine, saved)])
        for a, b in pairs:
            if not (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype):
                raise ValueError(f"{path}: {key} does not fit this run's replay buffer")
            a[...] = b
    buf.pos, buf.full = int(tree["pos"]), bool(tree["full"])


# --- models ----------------------------------------------------------------------------
def _model_fields(path: Path, raw: bytes) -> dict:
    """The JSON ``data`` of an SB3 model zip (never deserializing its pickled fields)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            data = json.loads(archive.read("data").decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise ValueError(f"unreadable model file {path}: {type(exc).__name__}: {exc}") \
            from None
    if not isinstance(data, dict):
        raise ValueError(f"unreadable model file {path}: its data is not a JSON object")
    return data


def _check_tensors(path: Path, raw: bytes) -> None:
    """Every ``.pth`` member of a model zip loaded by torch's restricted unpickler
    (``weights_only=True``: tensors and plain containers only) before stable-baselines3 reads
    it: what passes holds nothing but those, whichever way a given SB3 version then loads it.
    A member that would build any other object is refused."""
    import torch

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            if not name.endswith(".pth"):
                continue
            try:
                torch.load(io.BytesIO(archive.read(name)), map_location="cpu",
                           weights_only=True)
            except Exception as exc:  # torch raises UnpicklingError and others
                if "weights_only" in str(exc) or "Unsupported" in str(exc):
                    raise ValueError(
                        f"refused model file {path}: its {name} holds Python objects that "
                        "only unpickling would build, and moonshot never unpickles a run "
                        "folder (docs/security.md)") from None
                first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
                raise ValueError(f"unreadable model file {path} ({name}): "
                                 f"{type(exc).__name__}: {first}") from None


def model_readable(path: Path, model: bool = True) -> bool:
    """Whether ``path`` is a whole model zip (every member's checksum right, its data JSON;
    ``model=False``: any whole zip, such as an ``.npz``), without loading it: a truncated
    checkpoint is passed over for the one before."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                return False
            if model:
                json.loads(archive.read("data").decode("utf-8"))
        return True
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):
        return False


def _pickled_keys(data: dict) -> list[str]:
    return [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]


def _supplied_fields(path: Path, cls, keys: list[str], spaces: tuple, hyperparams: dict,
                     policy: str | None) -> dict:
    """moonshot's own values for the pickled fields ``keys`` of a model of class ``cls``:
    the spaces of the env, the policy class of the algorithm's alias, the schedules and
    buffers of the run's hyperparameters (a model built from them, never set up)."""
    from gymnasium import spaces as gspaces
    from stable_baselines3.common.utils import FloatSchedule

    obs_space, act_space = (copy.deepcopy(s) for s in spaces)
    if policy is None:
        policy = "MultiInputPolicy" if isinstance(obs_space, gspaces.Dict) else "MlpPolicy"
    try:
        template = cls(policy, None, _init_setup_model=False, **schedules(hyperparams))
    except Exception as exc:  # SB3 raises many types for a bad argument
        raise ValueError(f"cannot load {path}: the run's hyperparameters do not make a "
                         f"{cls.__name__}: {type(exc).__name__}: {exc}") from None
    supplied: dict[str, Any] = {"observation_space": obs_space, "action_space": act_space,
                                "policy_class": template.policy_class,
                                "lr_schedule": FloatSchedule(template.learning_rate)}
    out = {}
    for key in keys:
        if key in supplied:
            out[key] = supplied[key]
        elif key in _RUN_STATE_FIELDS:
            out[key] = None
        elif key in template.__dict__:
            out[key] = copy.deepcopy(template.__dict__[key])
        else:
            raise UnsafeFileError(
                f"{path} holds a pickled field {key!r} that moonshot cannot supply from the "
                "run's config; loading it would run code from the file, so it is refused")
    return out


def load_model(path: Path, algo: str | None = None, *, spaces: tuple | None = None,
               hyperparams: dict | None = None, policy: str | None = None,
               env: gym.Env | VecEnv | None = None, device: str = "cpu") -> BaseAlgorithm:
    """Load an SB3 model file (of ``algo``, or trying each known one) without unpickling
    anything in it, naming the file in any error.

    :param spaces: (observation space, action space) of the model's env; taken from ``env``
        when it is given.
    :param hyperparams: the run's SB3 constructor arguments (``lin_`` schedules allowed):
        the source of the schedules and settings SB3 stored pickled; defaults otherwise.
    :param policy: the policy alias (``MlpPolicy``; default: from the observation space).
    :param env: the env to continue training in (SB3's ``load(env=...)``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing model file: {path}")
    raw = path.read_bytes()  # one read: what is checked is what is loaded
    data = _model_fields(path, raw)
    _check_tensors(path, raw)
    if env is not None:
        spaces = (env.observation_space, env.action_space)
    if spaces is None:
        raise ValueError(f"cannot load {path}: the env it acts in is unknown (no config.json "
                         "beside it); give the env (--env WORLD)")
    keys = _pickled_keys(data)
    names = [algo] if algo else list(ALGO_NAMES)
    last: Exception | None = None
    for name in names:
        cls = algo_class(name)
        custom = _supplied_fields(path, cls, keys, spaces, dict(hyperparams or {}), policy)
        try:
            return cls.load(io.BytesIO(raw), env=env, device=device, custom_objects=custom)
        except Exception as exc:  # SB3 raises many types for a bad zip
            last = exc
    text = str(last)
    if "weights_only" in text:  # torch refused to build a non-tensor object: say so plainly
        raise ValueError(f"refused model file {path}: its tensors hold Python objects that "
                         "only unpickling would build, and moonshot never unpickles a run "
                         "folder (docs/security.md)")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    raise ValueError(f"unreadable model file {path}: {type(last).__name__}: {first}")


def set_torch_threads(n: int) -> None:
    """Limit torch's intra-op threads (see ``TrainConfig.torch_threads``)."""
    import torch

    if n >= 1 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def env_spaces(env_id: str, env_kwargs: dict, frame_stack: int = 1) -> tuple:
    """(observation space, action space) of ``env_id`` built with ``env_kwargs``, the
    observations as the policy sees them (``frame_stack`` of them side by side, as
    :func:`wrap_frame_stack` stacks them)."""
    import gymnasium as gym

    env = gym.make(env_id, **env_kwargs)
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        env.close()
    if frame_stack > 1:
        from gymnasium import spaces
        from stable_baselines3.common.vec_env.stacked_observations import StackedObservations

        if not isinstance(obs_space, (spaces.Box, spaces.Dict)):
            raise ValueError(f"frame_stack needs a Box or Dict observation, not {obs_space}")
        obs_space = StackedObservations(1, frame_stack, obs_space).stacked_observation_space
    return obs_space, act_space


def load_sb3_agent(run_dir: str | os.PathLike, env: str | None = None) -> SB3Agent:
    """A ready agent (shared interface) from a training run folder (its ``model.zip``);
    ``env`` (a world or env id) for a folder without ``config.json``."""
    from ..worlds import resolve_env_id

    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"no such run folder: {run}")
    cfg_path = run / "config.json"
    saved: dict = read_json(cfg_path) if cfg_path.exists() else {}
    if not isinstance(saved, dict):
        raise ValueError(f"{cfg_path} is not a run's config (not a JSON object)")
    train = saved.get("train")
    train_cfg: dict = train if isinstance(train, dict) else {}
    algo = train_cfg.get("algo")
    normalized = bool(saved.get("normalize"))
    env_id = saved.get("env_id") or train_cfg.get("env") or env
    model_path = run / "model.zip"
    if not model_path.exists():
        raise FileNotFoundError(f"missing model file: {model_path}")
    _model_fields(model_path, model_path.read_bytes())  # a damaged file first, by its name
    if not env_id:
        raise ValueError(f"{run} has no config.json saying which env its agent was trained in: "
                         "give the env (--env WORLD)")
    kwargs = {k: v for k, v in (train_cfg.get("env_kwargs") or {}).items() if k != "split"}
    stack = int(saved.get("frame_stack") or 1)
    set_torch_threads(1)
    hp = saved.get("resolved_hyperparams")
    model = load_model(model_path, algo if is_algo(algo) else None,
                       spaces=env_spaces(resolve_env_id(env_id), kwargs, stack),
                       hyperparams=hp if isinstance(hp, dict) else None,
                       policy=saved.get("policy") if isinstance(saved.get("policy"), str)
                       else None)
    stats = run / STATS_FILE
    if not stats.exists() and (run / "vecnormalize.pkl").exists():
        refuse_pickle(run / "vecnormalize.pkl", "normalization statistics")
    agent = SB3Agent(model, name=algo or type(model).__name__.lower(),
                     normalizer=load_normalizer(stats) if normalized or stats.exists()
                     else None, frame_stack=stack)
    agent.run_dir = run
    return agent
