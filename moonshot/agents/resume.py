"""Exact resume: what a checkpoint must hold besides the model for a resumed run to be the
same experiment as an uninterrupted one.

A checkpoint is taken between two rollouts, after the update that consumed the last one
(``on_rollout_start``), so every logged episode is already in the model. Besides the model
(weights and optimizer, SB3's zip) it records the random states (torch, numpy, Python, the
action space's), where each environment stands (``get_state()`` of moonshot's envs: their
generators and the scenario or drive in progress), SB3's last observation and episode-start
flags, the monitor's partial returns of the episodes in flight, and the wrappers' running
sums (VecNormalize's discounted returns, VecMonitor's episode counters). Restoring all of them
continues the run bit for bit (on the same machine; tested). An env without ``get_state``
resumes from a fresh reset with its seed offset by the checkpoint's step (close, not exact).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .vec import GymVectorToSB3, WorkerVecEnv

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv


def _base_vec(vec):
    """The VecEnv under any VecEnvWrapper (VecNormalize)."""
    while hasattr(vec, "venv") and not isinstance(vec, (GymVectorToSB3, WorkerVecEnv)):
        vec = vec.venv
    return vec


#: What each kind of saved env state was taken from (for the message of a mismatch).
_KINDS = {"workers": "a native vector env split across worker processes",
          "vector": "a native vector env", "list": "single envs side by side"}


def _kind(base) -> str:
    """The kind of state :func:`env_state` saves for ``base`` (a key of :data:`_KINDS`)."""
    if isinstance(base, WorkerVecEnv):
        return "workers"
    return "vector" if isinstance(base, GymVectorToSB3) else "list"


def env_state(vec: VecEnv) -> dict | None:
    """Where every env of an SB3 VecEnv stands (``None`` if an env cannot say)."""
    base = _base_vec(vec)
    kind = _kind(base)
    if kind == "workers":
        return {"kind": "workers", "state": base.get_state()}
    if kind == "vector":
        getter = getattr(base.venv.unwrapped, "get_state", None)
        return None if getter is None else {"kind": "vector", "state": getter()}
    envs = getattr(base, "envs", None)
    if envs is not None:  # DummyVecEnv
        getters = [getattr(e.unwrapped, "get_state", None) for e in envs]
        if any(g is None for g in getters):
            return None
        return {"kind": "list", "states": [g() for g in getters if g is not None]}
    try:  # SubprocVecEnv
        return {"kind": "list", "states": base.env_method("get_state")}
    except AttributeError:
        return None


def set_env_state(vec: VecEnv, state: dict) -> None:
    """Put back where every env stood (:func:`env_state`). A :class:`~moonshot.errors.
    ConfigError` when the envs are not of the kind the state was saved from (a run begun
    before its world had a native vector env, resumed after)."""
    base = _base_vec(vec)
    if _kind(base) != state["kind"]:
        from ..errors import ConfigError

        raise ConfigError(
            f"this checkpoint saved the state of {_KINDS.get(state['kind'], state['kind'])}, "
            f"but the run's envs are now {_KINDS[_kind(base)]} (the world gained or lost a "
            "native vector env since the run began): it cannot resume exactly. Resume it "
            "with the moonshot version that started it, or start a new run")
    if state["kind"] == "workers":
        base.set_state(state["state"])
        base._seed = None
    elif state["kind"] == "vector":
        base.venv.unwrapped.set_state(state["state"])
        base._seed = None
    elif hasattr(base, "envs"):
        for env, s in zip(base.envs, state["states"], strict=True):
            env.unwrapped.set_state(s)
    else:
        for i, s in enumerate(state["states"]):
            base.env_method("set_state", s, indices=[i])


#: Per wrapper class: the attributes that change step by step and that SB3 does not save.
#: (A dotted name is an attribute of an attribute: VecFrameStack's stacked observations.)
_WRAPPER_STATE = {"VecNormalize": ("returns",),
                  "VecMonitor": ("episode_returns", "episode_lengths", "episode_count"),
                  "VecFrameStack": ("stacked_obs.stacked_obs",)}


def _owner(obj, name: str):
    """The object holding the last part of a dotted attribute name, and that part."""
    *path, last = name.split(".")
    for part in path:
        obj = getattr(obj, part)
    return obj, last


def wrapper_state(vec: VecEnv) -> list:
    """The running sums of the VecEnvWrappers around the envs, outermost first."""
    out = []
    while hasattr(vec, "venv") and not isinstance(vec, (GymVectorToSB3, WorkerVecEnv)):
        names = _WRAPPER_STATE.get(type(vec).__name__, ())
        held = {n: _owner(vec, n) for n in names}
        out.append({n: np.copy(getattr(o, a)) for n, (o, a) in held.items() if hasattr(o, a)})
        vec = vec.venv
    return out


def set_wrapper_state(vec: VecEnv, states: list) -> None:
    for saved in states:
        if not (hasattr(vec, "venv") and not isinstance(vec, (GymVectorToSB3, WorkerVecEnv))):
            raise ValueError("the checkpoint's env wrappers differ from this run's")
        for name, value in saved.items():
            owner, attr = _owner(vec, name)
            setattr(owner, attr, np.copy(value) if isinstance(value, np.ndarray) else value)
        vec = vec.venv


def capture(model: BaseAlgorithm, monitor_state: dict) -> dict[str, Any]:
    """The trainer state of ``model`` now (see the module docstring)."""
    import torch

    space_rng = getattr(model.action_space, "_np_random", None)
    vec = model.get_env()
    assert vec is not None  # a model in training holds its envs
    return {
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),  # noqa: NPY002 (SB3 seeds the legacy global)
        "python_rng": random.getstate(),
        "action_space_rng": None if space_rng is None else space_rng.bit_generator.state,
        "last_obs": model._last_obs,
        "last_episode_starts": model._last_episode_starts,
        "last_original_obs": getattr(model, "_last_original_obs", None),
        "last_lstm_states": getattr(model, "_last_lstm_states", None),  # RecurrentPPO
        "env": env_state(vec),
        "wrappers": wrapper_state(vec),
        "monitor": monitor_state,
        # SB3's logging windows (rollout/ep_rew_mean): the model file leaves them out
        "ep_info_buffer": getattr(model, "ep_info_buffer", None),
        "ep_success_buffer": getattr(model, "ep_success_buffer", None),
    }


def restore(model: BaseAlgorithm, state: dict) -> bool:
    """Put ``state`` back into a freshly loaded ``model``; returns whether the envs were
    restored too (else they start from a reset)."""
    import torch

    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])  # noqa: NPY002
    random.setstate(state["python_rng"])
    for name in ("ep_info_buffer", "ep_success_buffer"):
        if state.get(name) is not None:
            setattr(model, name, state[name])
    if state.get("action_space_rng") is not None:
        model.action_space.seed(0)  # creates the generator, then takes the saved state
        model.action_space._np_random.bit_generator.state = state["action_space_rng"]
    if state.get("env") is None:
        return False
    vec = model.get_env()
    assert vec is not None  # loaded with its envs
    set_env_state(vec, state["env"])
    set_wrapper_state(vec, state.get("wrappers", []))
    model._last_obs = state["last_obs"]
    model._last_episode_starts = state["last_episode_starts"]
    if state.get("last_original_obs") is not None:
        model._last_original_obs = state["last_original_obs"]
    if state.get("last_lstm_states") is not None:
        # RecurrentPPO's own field, which BaseAlgorithm's type does not declare
        model._last_lstm_states = state["last_lstm_states"]  # type: ignore[attr-defined]
    return True


def save_state(state: dict, path: Path) -> None:
    """The trainer state as plain data (``.npz``: JSON and arrays, no pickle)."""
    from ..safe_store import save_tree

    save_tree(path, state)


def load_state(path: Path) -> dict:
    """The trainer state saved by :func:`save_state`, naming the file in any error; an old
    pickled state (``state_N.pkl``) is refused (see ``moonshot migrate``)."""
    from ..safe_store import load_tree
    from .checkpoints import refuse_pickle

    path = Path(path)
    if path.suffix == ".pkl":
        refuse_pickle(path, "a trainer state")
    state = load_tree(path, "trainer state of a checkpoint")
    if not isinstance(state, dict) or "torch_rng" not in state:
        raise ValueError(f"{path} is not a moonshot trainer state")
    return state
