"""The training monitor: every finished episode into ``episodes.csv``, periodic evaluations
into ``evaluations.csv``, checkpoints, and a progress display."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from ..runlog import EpisodeLog, atomic_write_text, read_evaluations, write_json
from .checkpoints import save_model_atomic, save_stats_atomic
from .config import TrainConfig
from .sb3_agent import SB3Agent

EVAL_COLUMNS = ("env_steps", "episodes", "split", "success_rate", "death_rate", "mean_return",
                "n_episodes", "wall_time_s")


class EvalLog:
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

    def __init__(self, run: Path, cfg: TrainConfig, env_id: str, log: EpisodeLog,
                 evals: EvalLog, eval_every: int, checkpoint_every: int, wall_offset: float,
                 total: int):
        super().__init__()
        self.run, self.cfg, self.log, self.evals = run, cfg, log, evals
        self.eval_every, self.checkpoint_every = eval_every, checkpoint_every
        self.wall_offset = wall_offset
        self.total = total
        self.env_id = env_id
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
            self.log.add(
                env_steps=self.num_timesteps, wall_time_s=self.wall(), ret=float(self._ret[i]),
                length=int(self._len[i]), success=success, death=bool(info.get("death", False)),
                split=self.cfg.split, map_id=int(info.get("map_id", -1)),
                outcome=info.get("outcome", ""), agent=self.cfg.algo, seed=self.cfg.seed)
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
        save_model_atomic(self.model, path)
        meta = {"env_steps": int(self.num_timesteps), "episodes": self.log.episodes,
                "wall_time_s": self.wall(), "model": path.name}
        norm = self.model.get_vec_normalize_env()
        if norm is not None:
            stats = ckpt / f"vecnormalize_{self.num_timesteps}.pkl"
            save_stats_atomic(norm, stats)
            meta["vecnormalize"] = stats.name
        write_json(ckpt / "latest.json", meta)

    def _on_training_end(self) -> None:
        if self._last_eval_steps != self.num_timesteps:
            self._evaluate()  # the final policy is always evaluated
        if self.bar is not None:
            self.bar.n = self.num_timesteps
            self.bar.close()
