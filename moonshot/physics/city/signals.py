"""Traffic lights: fixed-time signal plans with yellow and all-red clearance.

A light with ``P`` phases runs a cycle of ``P * (green + yellow + all_red)`` seconds; phase ``p``
is green during ``[p * T, p * T + green)`` of the cycle (``T = green + yellow + all_red``),
yellow for ``yellow`` seconds after that, then red. The all-red interval at the end of each
phase lets the last car that entered on yellow clear the intersection before the next phase
turns green. Each light has its own offset into the cycle. The plan is a pure function of time,
so a planner reads the future of a light from its timing the way a driver learns a city's
signal plan (``Signals.state``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import njit

GREEN, YELLOW, RED = 0, 1, 2
NO_LIGHT = -1
STATE_NAMES = ("green", "yellow", "red")


class SignalArrays(NamedTuple):
    """The signal plans as compiled kernels take them (``Signals.arrays``)."""

    node_phases: np.ndarray
    node_offset: np.ndarray
    green: float
    yellow: float
    all_red: float


@njit(cache=True)
def light_state(signals: tuple, node: int, phase: int, t: float) -> int:
    """State (GREEN, YELLOW, RED) of ``phase`` of the light at ``node`` at time ``t`` (s);
    ``signals``: :class:`SignalArrays` (or its plain tuple)."""
    signals = SignalArrays(*signals)
    n = signals.node_phases[node]
    if n <= 0 or phase < 0:
        return GREEN
    green, yellow = signals.green, signals.yellow
    period = green + yellow + signals.all_red
    tt = (t + signals.node_offset[node]) % (n * period)
    k = int(tt // period)
    if k != phase:
        return RED
    r = tt - k * period
    if r < green:
        return GREEN
    if r < green + yellow:
        return YELLOW
    return RED


@dataclass
class Signals:
    """The signal plans of a city.

    ``node_phases (N,)``: phases of the light at each intersection (0: no light);
    ``node_offset (N,)``: its offset into the cycle (s); ``road_phase (2E,)``: phase of each
    directed road at the intersection it runs into (-1: no light); ``green``, ``yellow``,
    ``all_red``: durations (s), the same for every light of the city; ``road_node (2E,)``:
    the intersection each directed road runs into. ``arrays``: the :class:`SignalArrays` view
    that compiled kernels take (built once).
    """

    node_phases: np.ndarray
    node_offset: np.ndarray
    road_phase: np.ndarray
    green: float
    yellow: float
    all_red: float

    @property
    def period(self) -> float:
        return self.green + self.yellow + self.all_red

    @cached_property
    def arrays(self) -> SignalArrays:
        # durations as floats: one compiled specialization whatever the caller passed
        return SignalArrays(self.node_phases, self.node_offset, float(self.green),
                            float(self.yellow), float(self.all_red))

    def state(self, node: int, phase: int, t: float) -> int:
        """GREEN, YELLOW or RED for ``phase`` at ``node`` at time ``t``."""
        return int(light_state(tuple(self.arrays), node, phase, t))

    def next_green(self, node: int, phase: int, t: float) -> tuple[float, float]:
        """``(start, end)`` (absolute times) of the green of ``phase`` now or next after ``t``."""
        n = int(self.node_phases[node])
        if n <= 0 or phase < 0:
            return t, float("inf")
        cycle = n * self.period
        tt = (t + self.node_offset[node]) % cycle
        start = phase * self.period
        if tt >= start + self.green:
            start += cycle
        begin = t + (start - tt)
        if tt >= start:  # inside the green now
            begin = t - (tt - start)
        return begin, begin + self.green

    def states(self, t: float) -> np.ndarray:
        """State of every directed road's light at time ``t`` (NO_LIGHT where none)."""
        out = np.full(len(self.road_phase), NO_LIGHT, dtype=np.int64)
        assert self.road_node is not None  # set by the generator
        return _road_states(tuple(self.arrays), self.road_node, self.road_phase, float(t),
                            out)

    road_node: np.ndarray | None = None  # set by the generator: the node each directed road enters


@njit(cache=True)
def _road_states(signals: tuple, road_node: np.ndarray, road_phase: np.ndarray, t: float,
                 out: np.ndarray) -> np.ndarray:
    for d in range(road_phase.shape[0]):
        if road_phase[d] >= 0:
            out[d] = light_state(signals, road_node[d], road_phase[d], t)
    return out
