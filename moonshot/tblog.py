"""The testbed's own TensorBoard scalars, for RL runs and planner runs alike.

``moonshot train --tensorboard`` adds them to stable-baselines3's event file (beside SB3's
``rollout/`` and ``train/`` scalars); ``moonshot plan --tensorboard`` writes them with
TensorBoard's own writer, so a planner run never loads torch. Tags (x axis: env steps, as in
``episodes.csv``):

=====================================  ===================================================
``moonshot/train/success_rate``         training episodes since the last point (at least
                                        the last :data:`WINDOW`)
``moonshot/train/death_rate``           same
``moonshot/train/episodes``             episodes so far (real trials)
``moonshot/train/deaths``               deaths so far
``moonshot/eval/success_rate_<split>``  periodic deterministic evaluation, per split
``moonshot/eval/death_rate_<split>``    same
``moonshot/eval/mean_return_<split>``   same
``moonshot/plan/real_trials``           a planner's real trials at each scenario
``moonshot/plan/model_rollouts``        its imagined trials (model rollouts) at each scenario
``moonshot/plan/model_rollouts_total``  imagined trials so far
=====================================  ===================================================

A planner run logs the ``moonshot/train/*`` tags too, so RL and planner curves overlay.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

#: Fewest episodes in a point of the training success and death rates.
WINDOW = 100


def check_tensorboard() -> None:
    """``--tensorboard`` needs the tensorboard package: a :class:`ConfigError` says how to
    get it."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        from .errors import ConfigError

        raise ConfigError("--tensorboard needs the tensorboard package: pip install "
                          "'moonshot[tensorboard]' (or pip install tensorboard)") from None


class ScalarWriter(Protocol):
    """TensorBoard's ``Writer`` or torch's ``SummaryWriter``: the calls moonshot makes."""

    def add_scalar(self, tag: str, value: Any, step: Any, /) -> Any: ...

    def flush(self) -> Any: ...

    def close(self) -> Any: ...


def scalar_writer(folder: str | Path) -> ScalarWriter:
    """A TensorBoard writer into ``folder`` with ``add_scalar(tag, value, step)``,
    ``flush()`` and ``close()``: TensorBoard's own (no torch), else torch's."""
    try:
        from tensorboard.summary import Writer
    except ImportError:  # an older tensorboard
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(folder))
    return Writer(str(folder))


class EpisodeScalars:
    """The ``moonshot/train/*`` scalars from finished episodes (RL training and planners)."""

    def __init__(self, writer: ScalarWriter, episodes: int = 0, deaths: int = 0):
        self.writer = writer
        self.episodes, self.deaths = episodes, deaths
        self._window: list[tuple[bool, bool]] = []
        self._new = 0  # episodes since the last point

    def add(self, success: bool, death: bool) -> None:
        self.episodes += 1
        self.deaths += int(bool(death))
        self._window.append((bool(success), bool(death)))
        self._new += 1

    def write(self, step: int) -> None:
        """A point at ``step``, if an episode ended since the last one."""
        if not self._new:
            return
        self._new = 0
        n = len(self._window)
        values = {"success_rate": sum(s for s, _ in self._window) / n,
                  "death_rate": sum(d for _, d in self._window) / n,
                  "episodes": self.episodes, "deaths": self.deaths}
        for key, val in values.items():
            self.writer.add_scalar(f"moonshot/train/{key}", val, int(step))
        del self._window[:-WINDOW]


def write_evaluation(writer: ScalarWriter, step: int, rows: Iterable[dict]) -> None:
    """``moonshot/eval/*`` from evaluation rows (``split``, ``success_rate``, ...)."""
    for row in rows:
        for key in ("success_rate", "death_rate", "mean_return"):
            writer.add_scalar(f"moonshot/eval/{key}_{row['split']}", float(row[key]),
                              int(step))


def read_scalars(folder: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar under ``folder`` (all runs): ``{tag: [(step, value), ...]}``; for tests
    and scripts."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import (
        EventAccumulator,
    )
    from tensorboard.util import tensor_util

    out: dict[str, list[tuple[int, float]]] = {}
    for run in sorted({p.parent for p in Path(folder).rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(run), size_guidance={"tensors": 0})
        acc.Reload()
        for tag in acc.Tags().get("tensors", []):
            series = out.setdefault(tag, [])
            for ev in acc.Tensors(tag):
                value: Any = tensor_util.make_ndarray(ev.tensor_proto)
                series.append((int(ev.step), float(value)))
    for series in out.values():
        series.sort()
    return out
