"""Saving and loading what a training run leaves behind: models, normalization statistics,
checkpoints, and the trained agent (every error names the file)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from ..runlog import read_json
from .config import ALGO_NAMES, algo_class
from .sb3_agent import SB3Agent


def save_model_atomic(model, path: Path) -> None:
    """``model.save`` to a temporary name, then rename (a kill never leaves half a zip)."""
    tmp = path.with_name(f".{path.stem}.tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)


def save_stats_atomic(norm, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.pkl")
    norm.save(tmp)
    os.replace(tmp, path)


def wrap_normalize(vec, kwargs: dict | None, stats: Path | None):
    """Wrap ``vec`` in ``VecNormalize``: fresh, or with the statistics saved in ``stats``."""
    from stable_baselines3.common.vec_env import VecNormalize

    if kwargs is None:
        return vec
    if stats is None:
        return VecNormalize(vec, **kwargs)
    norm = load_normalizer(stats)
    norm.set_venv(vec)
    norm.training = True
    return norm


def wrap_frame_stack(vec, n: int):
    """``vec`` behind SB3's ``VecFrameStack`` of ``n`` observations (``n <= 1``: unchanged),
    outside ``VecNormalize`` as RL Zoo stacks them."""
    if n <= 1:
        return vec
    from stable_baselines3.common.vec_env import VecFrameStack

    return VecFrameStack(vec, n_stack=int(n))


def load_normalizer(path: Path):
    """Saved ``VecNormalize`` statistics (no env attached), naming the file in any error."""
    from stable_baselines3.common.vec_env import VecNormalize

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


def load_model(path: Path, algo: str | None = None, **kwargs):
    """Load an SB3 model file (of ``algo``, or trying each known one), naming the file in
    any error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing model file: {path}")
    names = [algo] if algo else list(ALGO_NAMES)
    last: Exception | None = None
    for name in names:
        try:
            return algo_class(name).load(path, **kwargs)
        except Exception as exc:  # SB3 raises many types for a bad zip
            last = exc
    raise ValueError(f"unreadable model file {path}: {type(last).__name__}: {last}")


def set_torch_threads(n: int) -> None:
    """Limit torch's intra-op threads (see ``TrainConfig.torch_threads``)."""
    import torch

    if n >= 1 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def load_sb3_agent(run_dir: str | os.PathLike) -> SB3Agent:
    """A ready agent (shared interface) from a training run folder (its ``model.zip``)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"no such run folder: {run}")
    cfg_path = run / "config.json"
    algo, normalized, stack = None, False, 1
    if cfg_path.exists():
        saved = read_json(cfg_path)
        algo = saved.get("train", {}).get("algo")
        normalized = bool(saved.get("normalize"))
        stack = int(saved.get("frame_stack") or 1)
    set_torch_threads(1)
    model = load_model(run / "model.zip", algo if algo in ALGO_NAMES else None, device="cpu")
    stats = run / "vecnormalize.pkl"
    agent = SB3Agent(model, name=algo or type(model).__name__.lower(),
                     normalizer=load_normalizer(stats) if normalized or stats.exists()
                     else None, frame_stack=stack)
    agent.run_dir = run
    return agent
