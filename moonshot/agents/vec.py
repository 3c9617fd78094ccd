"""Adapters from moonshot's environments to stable-baselines3's VecEnv API.

The envs layer knows nothing of stable-baselines3, so the bridge lives here: the natively
batched MoonLaunch env becomes an SB3 ``VecEnv`` without a Python loop per launch, and any
single env is vectorized with SB3's own Dummy/Subproc VecEnvs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol, cast

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from ..envs.vector_slots import slot_info
from ..worlds import resolve_env_id


def sb3_infos(info: dict, terminated: np.ndarray, truncated: np.ndarray) -> list[dict]:
    """SB3's per-env info dicts from a same-step-autoreset vector env's dict of arrays: a
    finished episode's carries its final info keys, ``terminal_observation`` and
    ``TimeLimit.truncated``."""
    dones = terminated | truncated
    final = info.get("final_info", {})
    final_obs = info.get("final_obs")
    infos: list[dict] = [{} for _ in range(len(dones))]
    for i in np.nonzero(dones)[0].tolist():
        d = infos[i]
        d.update(slot_info(final, i))
        assert final_obs is not None  # the env reports it with every finished episode
        d["terminal_observation"] = final_obs[i]
        d["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
    return infos


class GymVectorToSB3(VecEnv):
    """Present a Gymnasium ``VectorEnv`` with same-step autoreset as an SB3 ``VecEnv``.

    Per-env ``info`` dicts are rebuilt from the vector env's dict of arrays; a finished
    episode's info carries ``terminal_observation`` (SB3's convention) and the final info keys
    (``is_success``, ``outcome``, ``map_id``, ...).
    """

    def __init__(self, venv: gym.vector.VectorEnv):
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    @property
    def spec(self) -> EnvSpec | None:
        """The Gymnasium spec of the vector env (its id, e.g. in VecMonitor's header)."""
        return getattr(self.venv, "spec", None)

    def reset(self) -> VecEnvObs:
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._seed = seed
        return [seed] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        return obs, rewards.astype(np.float32), dones, sb3_infos(info, terminated, truncated)

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        val = getattr(self.venv, attr_name)
        return [val for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        fn = getattr(self.venv, method_name)
        return [fn(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]


class _Resumable(Protocol):
    """A native vector env whose state a resume saves and restores (MoonLaunch's, CityNav's)."""

    def get_state(self) -> dict: ...

    def set_state(self, state: dict) -> None: ...


def _vector_worker(conn: Connection, env_id: str, n: int, kwargs: dict) -> None:
    """A worker process of :class:`WorkerVecEnv`: one native vector env, driven by messages.
    Every reply is ``("ok", payload)`` or ``("error", traceback)``: an exception in the worker
    reaches the trainer instead of leaving it waiting."""
    import traceback

    from .. import register_envs

    venv = None
    try:
        register_envs()
        venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point",
                            **kwargs)
        conn.send(("ok", None))
        while True:
            cmd, arg = conn.recv()
            if cmd == "close":
                break
            try:
                out: object = None  # the reply's payload
                if cmd == "step":
                    out = venv.step(arg)
                elif cmd == "reset":
                    out = venv.reset(seed=arg)[0]
                elif cmd == "get_state":
                    out = cast(_Resumable, venv.unwrapped).get_state()
                elif cmd == "set_state":
                    cast(_Resumable, venv.unwrapped).set_state(arg)
                else:
                    raise ValueError(f"unknown worker command {cmd!r}")
            except Exception:
                conn.send(("error", traceback.format_exc()))
            else:
                conn.send(("ok", out))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    except Exception:  # building the env failed
        try:
            conn.send(("error", traceback.format_exc()))
        except (BrokenPipeError, OSError):
            pass
    finally:
        if venv is not None:
            venv.close()
        conn.close()


class WorkerError(RuntimeError):
    """An env worker process failed (its traceback is in the message) or died."""


class WorkerVecEnv(VecEnv):
    """``n_envs`` slots of a native vector env split across worker processes, one batched
    env each: every step is one message round trip per worker (not per env), and the workers
    step their batches in parallel on as many cores. Slot ``i`` is seeded ``seed + i`` as in
    one vector env, so for envs that seed each slot on its own (CityNav-v1) the episodes are
    the single process's."""

    def __init__(self, env_id: str, n_envs: int, workers: int, kwargs: dict):
        import multiprocessing as mp

        sizes = [n_envs // workers + (k < n_envs % workers) for k in range(workers)]
        self._offsets = np.cumsum([0] + sizes)
        ctx = (mp.get_context("forkserver") if "forkserver" in mp.get_all_start_methods()
               else mp.get_context("spawn"))
        self._pipes, self._procs = [], []
        for n in sizes:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_vector_worker, args=(child, env_id, n, kwargs),
                               daemon=True)
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)
        try:
            for k in range(len(self._pipes)):
                self._recv(k)  # each worker built its env (or says why not)
        except BaseException:
            self.close()
            raise
        probe = gym.make(env_id, **kwargs)
        super().__init__(n_envs, probe.observation_space, probe.action_space)
        probe.close()
        self._seed: int | None = None
        self._actions: np.ndarray | None = None
        self.env_id = env_id

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._seed = seed
        return [seed] * self.num_envs

    def _recv(self, k: int) -> Any:
        try:
            status, payload = self._pipes[k].recv()
        except (EOFError, ConnectionResetError, OSError):
            proc = self._procs[k]
            proc.join(timeout=1)
            raise WorkerError(f"env worker {k} of {len(self._procs)} died (exit code "
                              f"{proc.exitcode})") from None
        if status == "error":
            raise WorkerError(f"env worker {k} of {len(self._procs)} failed:\n{payload}")
        return payload

    def _gather(self) -> list:
        """Every worker's reply (all read, so none is left for the next call), or the first
        worker's error."""
        out, error = [], None
        for k in range(len(self._pipes)):
            try:
                out.append(self._recv(k))
            except WorkerError as exc:
                error = error or exc
        if error is not None:
            raise error
        return out

    def reset(self) -> VecEnvObs:
        for k, pipe in enumerate(self._pipes):
            pipe.send(("reset", None if self._seed is None else
                       self._seed + int(self._offsets[k])))
        self._seed = None
        return np.concatenate(self._gather())

    def step_async(self, actions: np.ndarray) -> None:
        for k, pipe in enumerate(self._pipes):
            pipe.send(("step", actions[self._offsets[k]:self._offsets[k + 1]]))

    def step_wait(self) -> VecEnvStepReturn:
        parts = self._gather()
        obs = np.concatenate([p[0] for p in parts])
        rewards = np.concatenate([p[1] for p in parts]).astype(np.float32)
        term = np.concatenate([p[2] for p in parts])
        trunc = np.concatenate([p[3] for p in parts])
        infos = []
        for p in parts:
            infos += sb3_infos(p[4], p[2], p[3])
        return obs, rewards, term | trunc, infos

    def get_state(self) -> list:
        for pipe in self._pipes:
            pipe.send(("get_state", None))
        return self._gather()

    def set_state(self, states: list) -> None:
        for pipe, s in zip(self._pipes, states, strict=True):
            pipe.send(("set_state", s))
        self._gather()

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if attr_name == "render_mode":  # the workers' vector envs do not render
            return [None for _ in self._get_indices(indices)]
        raise AttributeError(f"{attr_name} lives in the worker processes")

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"{attr_name} lives in the worker processes")

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        raise AttributeError(f"{method_name} lives in the worker processes")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        return [False] * self.num_envs

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs


def make_vec_env(env: str, n_envs: int, seed: int, env_kwargs: dict | None = None,
                 subprocess: bool = False, workers: int = 1) -> VecEnv:
    """An SB3 VecEnv of ``n_envs`` copies of ``env`` (short name or id), seeded with ``seed``.

    Envs with a native batched version (MoonLaunch, CityNav-v1) use it - one compiled call
    per step for all - split across ``workers`` processes when more than one (each steps its
    share of the batch, in parallel); other envs are stacked with ``DummyVecEnv`` (or
    ``SubprocVecEnv`` with ``subprocess``).
    """
    env_id = resolve_env_id(env)
    kwargs = dict(env_kwargs or {})
    spec = gym.spec(env_id)
    if spec.vector_entry_point is not None and workers > 1 and n_envs >= 2 * workers:
        vec: VecEnv = WorkerVecEnv(env_id, n_envs, workers, kwargs)
    elif spec.vector_entry_point is not None:
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            **kwargs)
        vec = GymVectorToSB3(venv)
    else:
        def factory() -> Callable[[], gym.Env]:
            def _make() -> gym.Env:
                from .. import register_envs  # a fresh subprocess has not registered them

                register_envs()
                return gym.make(env_id, **kwargs)
            return _make

        cls = SubprocVecEnv if subprocess and n_envs > 1 else DummyVecEnv
        vec = cls([factory() for _ in range(n_envs)])
    vec.seed(seed)
    return vec
