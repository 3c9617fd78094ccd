"""Rollouts, sample-efficiency and transfer experiments, statistics, plots, reports.

The evaluation core lives in :mod:`moonshot.agents.episodes` (training-time evaluation uses it
too, and agents never import this package); its names are re-exported here, on first use.
"""

from __future__ import annotations

from typing import Any

_CORE = ("EVALUATION_ID_OFFSET", "SCENARIO_SETS", "SEED_SETS", "TRAINING_EVAL_SEED", "EvalResult",
         "EvalSettings", "ScenarioResult", "ScenarioSet", "evaluate", "group_scenarios",
         "scenario_set", "scenario_starts", "summarize")


def __getattr__(name: str) -> Any:
    if name in _CORE:
        from ..agents import episodes

        return getattr(episodes, name)
    raise AttributeError(name)


__all__ = list(_CORE)
