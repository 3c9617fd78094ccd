"""Root finding for shooting: the one Illinois regula falsi the planners and the learned
models share (a pure function of the miss they are given; no model of its own)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def illinois(f: Callable[[float], float], x0: float, f0: float, x1: float, f1: float,
             tol: float, max_iter: int, xtol: float = 1e-6) -> tuple[float, float]:
    """Illinois regula falsi for ``f(x) = 0`` between ``x0`` and ``x1`` (``f0``, ``f1``
    their values, of opposite signs): stops within ``tol`` of zero, when the bracket is
    narrower than ``xtol``, or after ``max_iter`` evaluations. Returns the ``(x, f(x))``
    nearest zero seen."""
    x0, f0, x1, f1 = float(x0), float(f0), float(x1), float(f1)
    best = (x0, f0) if abs(f0) < abs(f1) else (x1, f1)
    side = 0
    for _ in range(max_iter):
        x = x1 - f1 * (x1 - x0) / (f1 - f0) if f1 != f0 else 0.5 * (x0 + x1)
        fx = f(x)
        if abs(fx) < abs(best[1]):
            best = (x, fx)
        if abs(fx) < tol or abs(x1 - x0) < xtol:
            break
        if np.sign(fx) == np.sign(f1):
            x1, f1 = x, fx
            if side == 1:
                f0 *= 0.5
            side = 1
        else:
            x0, f0 = x, fx
            if side == -1:
                f1 *= 0.5
            side = -1
    return best
