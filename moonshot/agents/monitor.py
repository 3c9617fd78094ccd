"""The training monitor: every finished episode into ``episodes.csv``, periodic evaluations
into ``evaluations.csv``, checkpoints, and a progress display."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from ..progress import Progress, progress
from ..runlog import EpisodeLog, atomic_write_text, read_evaluations, read_json, write_json
from ..tblog import EpisodeScalars, write_evaluation
from .base import Agent
from .checkpoints import (
    is_checkpoint_name,
    save_model_atomic,
    save_replay_buffer,
    save_stats_atomic,
)
from .config import TrainConfig
from .episodes import EvalSettings, evaluate
from .sb3_agent import SB3Agent

EVAL_COLUMNS = ("env_steps", "episodes", "split", "success_rate", "death_rate", "mean_return",
                "n_episodes", "wall_time_s")


class EvalLog:
    """``evaluations.csv``: one evaluation (every split) is added in one atomic rewrite, so the
    file never holds half an evaluation. ``truncate_after_steps`` keeps the rows up to a
    checkpoint's step (-1: none)."""

    def __init__(self, path: Path, truncate_after_steps: int | None = None):
        self.path = path
        self.rows: list[dict] = []
        if truncate_after_steps is not None:
            self.rows = [r for r in read_evaluations(path)
                         if int(float(r["env_steps"])) <= truncate_after_steps]
        self._write()

    def has(self, env_steps: int) -> bool:
        return any(int(float(r["env_steps"])) == env_steps for r in self.rows)

    def add_rows(self, rows: list[dict]) -> None:
        self.rows.extend(rows)
        self._write()

    def _write(self) -> None:
        lines = [",".join(EVAL_COLUMNS)]
        lines += [",".join(str(r[c]) for c in EVAL_COLUMNS) for r in self.rows]
        atomic_write_text(self.path, "\n".join(lines) + "\n")


def evaluate_policy_on_split(agent: Agent, env_id: str, split: str, episodes: int, seed: int,
                             env_kwargs: dict, seed_set: str = "dev") -> dict:
    """Deterministic episodes of ``agent`` on ``split``: success, death rate, mean return.

    The training-time scenario set of a run of ``seed`` (:func:`~moonshot.agents.episodes.
    scenario_set`, fresh resets from :data:`~moonshot.agents.episodes.TRAINING_EVAL_SEED`
    ``+ seed``), through the evaluation core (:func:`~moonshot.agents.episodes.evaluate`;
    side by side in the env's vector version where it has one); the same seed evaluates on
    the same scenarios, whatever the agent."""
    res = evaluate(agent, env_id, EvalSettings(split=split, episodes=episodes, seed=seed,
                                               scenarios="training", seed_set=seed_set),
                   env_kwargs=env_kwargs)
    return {"success_rate": res.success_rate, "death_rate": float(res.deaths.mean()),
            "mean_return": float(np.mean([r.ret for r in res.records])),
            "n_episodes": episodes}


def _set_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def fault_point(name: str, steps: int) -> None:
    """Fault injection for the reliability probes (``benchmarks/reliability_probes.py``):
    with ``MOONSHOT_FAULT=name@N`` in the environment the process kills itself (SIGKILL, no
    cleanup) at the first ``name`` point at or after step N. Off (one dict lookup) otherwise."""
    spec = os.environ.get("MOONSHOT_FAULT")
    if not spec:
        return
    where, _, at = spec.partition("@")
    if where == name and steps >= int(at or 0):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


class TrainingMonitor(BaseCallback):
    """Logs every finished episode, evaluates, checkpoints and shows a progress bar.

    Evaluations and checkpoints happen between rollouts, after the update that consumed the
    last one (``on_rollout_start``): the evaluation first, then the checkpoint, so a
    checkpoint at step N implies its evaluation at N is on disk, and a run stopped during an
    evaluation resumes from the checkpoint before and evaluates again.
    """

    def __init__(self, run: Path, cfg: TrainConfig, env_id: str, log: EpisodeLog,
                 evals: EvalLog, schedule: dict, wall_offset: float, total: int,
                 resumed: dict | None = None, evaluated_at: int | None = None,
                 on_checkpoint: Callable[[Path], object] | None = None,
                 threads: tuple[int, int] = (1, 1), frame_stack: int = 1,
                 eval_seed_set: str = "dev") -> None:
        super().__init__()
        self.frame_stack = frame_stack
        self.eval_seed_set = eval_seed_set
        self.run, self.cfg, self.log, self.evals = run, cfg, log, evals
        self.eval_every = int(schedule["eval_every"])
        self.eval_episodes = int(schedule["eval_episodes"])
        self.checkpoint_every = int(schedule["checkpoint_every"])
        self.wall_offset = wall_offset
        self.total = total
        self.env_id = env_id
        from ..worlds import get_world

        # evaluations on the splits themselves, not on a randomized training distribution
        self.eval_kwargs = {k: v for k, v in get_world(env_id).evaluation_kwargs(
            cfg.env_kwargs).items() if k != "split"}
        self._t0 = time.perf_counter()
        self._ret = np.zeros(0)  # per env, sized at the training start
        self._len = np.zeros(0, dtype=np.int64)
        self._recent: list[bool] = []
        self._resumed = resumed
        self._evaluated_at = evaluated_at
        self._on_checkpoint = on_checkpoint
        self._threads = threads  # torch threads: (collecting, updating)
        self._next_eval = 0
        self._next_ckpt = 0
        self._last_eval_steps = -1
        self.bar: Progress | None = None
        self._scalars: EpisodeScalars | None = None  # with --tensorboard
        self._scalars_every = 1
        self._scalars_next = 0

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self._ret = np.zeros(n)
        self._len = np.zeros(n, dtype=np.int64)
        if self._resumed is not None:  # the episodes in flight at the checkpoint
            self._ret[:] = self._resumed["ret"]
            self._len[:] = self._resumed["len"]
            self._recent = list(self._resumed.get("recent", []))
        now = self.num_timesteps
        self._next_eval = (now // self.eval_every + 1) * self.eval_every
        self._next_ckpt = (now // self.checkpoint_every + 1) * self.checkpoint_every
        end = self.total
        n_steps = getattr(self.model, "n_steps", None)  # on-policy algorithms only
        if n_steps:  # on-policy: whole rollouts (announce_budget)
            per_update = int(n_steps) * n
            end = -(-end // per_update) * per_update
        self.bar = progress(end, f"{self.cfg.algo} {self.cfg.env}", unit="steps",
                            initial=now, enabled=self.cfg.progress)
        writer = self._tensorboard_writer()
        if writer is not None:
            self._scalars = EpisodeScalars(writer, self.log.episodes, self.log.deaths)
            # once per rollout (on-policy) or every 1,000 steps (off-policy: a rollout is a
            # step)
            self._scalars_every = int(n_steps) * n if n_steps else 1000
            self._scalars_next = now + self._scalars_every
        if now == 0 or (self._evaluated_at == now and not self.evals.has(now)):
            self._evaluate()  # the start, or an evaluation the checkpoint had but the log lost
        else:
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
        fault_point("rollout", self.num_timesteps)
        for i in np.nonzero(dones)[0]:
            info = infos[i]
            success = bool(info.get("is_success", False))
            self.log.add(
                env_steps=self.num_timesteps, wall_time_s=self.wall(), ret=float(self._ret[i]),
                length=int(self._len[i]), success=success, death=bool(info.get("death", False)),
                split=self.cfg.split, map_id=int(info.get("map_id", -1)),
                outcome=info.get("outcome", ""), agent=self.cfg.algo, seed=self.cfg.seed)
            self._recent.append(success)
            if self._scalars is not None:
                self._scalars.add(success, bool(info.get("death", False)))
            self._ret[i] = 0.0
            self._len[i] = 0
        if self.bar is not None:
            if self._recent:
                self._recent = self._recent[-1000:]
                self.bar.set_postfix(episodes=self.log.episodes,
                                     success=f"{np.mean(self._recent):.0%}", refresh=False)
            self.bar.set(self.num_timesteps)
        return True

    def _tensorboard_writer(self):
        """The writer of SB3's TensorBoard output (``--tensorboard``), so that our scalars
        sit in the same event file as SB3's; ``None`` without TensorBoard."""
        from stable_baselines3.common.logger import TensorBoardOutputFormat

        for fmt in getattr(self.logger, "output_formats", []):
            if isinstance(fmt, TensorBoardOutputFormat):
                return fmt.writer
        return None

    def _on_rollout_end(self) -> None:
        if self._scalars is not None and self.num_timesteps >= self._scalars_next:
            self._scalars.write(self.num_timesteps)
            self._scalars_next = self.num_timesteps + self._scalars_every
        # the update follows: no simulator runs now, the learner may use the CPUs
        if self._threads[1] != self._threads[0]:
            _set_threads(self._threads[1])

    def _on_rollout_start(self) -> None:
        if self._threads[1] != self._threads[0]:
            _set_threads(self._threads[0])
        # After the update on the last rollout: evaluate, then checkpoint (never past the
        # budget, which the final ones cover; never twice for one crossing).
        now = self.num_timesteps
        if now >= self.total:
            return
        if now >= self._next_eval:
            self._evaluate()
            self._next_eval = (now // self.eval_every + 1) * self.eval_every
        if now >= self._next_ckpt:
            self.checkpoint()
            self._next_ckpt = (now // self.checkpoint_every + 1) * self.checkpoint_every

    def _evaluate(self) -> None:
        self._last_eval_steps = self.num_timesteps
        agent = SB3Agent(self.model, name=self.cfg.algo,
                         normalizer=self.model.get_vec_normalize_env(),
                         frame_stack=self.frame_stack)
        rows = []
        for split in ("train", "new"):
            res = evaluate_policy_on_split(agent, self.env_id, split, self.eval_episodes,
                                           seed=self.cfg.seed, env_kwargs=self.eval_kwargs,
                                           seed_set=self.eval_seed_set)
            rows.append({"env_steps": self.num_timesteps, "episodes": self.log.episodes,
                         "split": split, "wall_time_s": round(self.wall(), 3), **res})
            fault_point("evaluation", self.num_timesteps)  # between the splits
        self.evals.add_rows(rows)
        if self._scalars is not None:
            write_evaluation(self._scalars.writer, self.num_timesteps, rows)

    def state(self) -> dict:
        return {"ret": self._ret.copy(), "len": self._len.copy(), "recent": self._recent[-1000:]}

    def checkpoint(self) -> None:
        """Flush the logs; save model, trainer state, statistics (and an off-policy replay
        buffer); then point ``latest.json`` at them - the commit point."""
        from .resume import capture, save_state

        self.log.flush()
        ckpt = self.run / "checkpoints"
        ckpt.mkdir(exist_ok=True)
        n = int(self.num_timesteps)
        meta: dict[str, Any] = {
            "env_steps": n, "episodes": self.log.episodes, "evaluations": len(self.evals.rows),
            "wall_time_s": self.wall(),
            "last_eval_steps": self._last_eval_steps, "model": f"model_{n}.zip",
            "state": f"state_{n}.npz"}
        save_model_atomic(self.model, ckpt / meta["model"])
        state = capture(self.model, self.state())
        state["meta"] = {k: meta[k] for k in ("episodes", "evaluations", "wall_time_s",
                                              "last_eval_steps")}
        save_state(state, ckpt / meta["state"])
        norm = self.model.get_vec_normalize_env()
        if norm is not None:
            meta["vecnormalize"] = f"vecnormalize_{n}.npz"
            save_stats_atomic(norm, ckpt / meta["vecnormalize"])
        fault_point("checkpoint", n)  # files written, latest.json not yet
        previous = None
        if getattr(self.model, "replay_buffer", None) is not None:
            # the buffer is large: only the newest checkpoint keeps one
            meta["replay_buffer"] = f"replay_buffer_{n}.npz"
            save_replay_buffer(self.model, ckpt / meta["replay_buffer"])
            latest = ckpt / "latest.json"
            if latest.exists():
                previous = read_json(latest).get("replay_buffer")
        write_json(ckpt / "latest.json", meta)
        # only a name of moonshot's own: latest.json may have been crafted (docs/security.md)
        if (isinstance(previous, str) and previous != meta.get("replay_buffer")
                and is_checkpoint_name("replay_buffer", previous)):
            (ckpt / previous).unlink(missing_ok=True)
        if self._on_checkpoint is not None:
            self._on_checkpoint(self.run)

    def finish(self) -> None:
        """After the last update: the final policy's evaluation and checkpoint."""
        _set_threads(self._threads[0])
        if self._last_eval_steps != self.num_timesteps:
            self._evaluate()
        self.checkpoint()
        if self._scalars is not None:
            self._scalars.writer.flush()

    def _on_training_end(self) -> None:
        if self._scalars is not None:
            self._scalars.write(self.num_timesteps)
            self._scalars.writer.flush()
        if self.bar is not None:
            self.bar.set(self.num_timesteps)
            self.bar.close()
