"""Progress displays that suit where the output goes.

On a terminal (or in a notebook) :func:`progress` gives a tqdm bar. When the output is a file
or a CI log, a bar's carriage-return frames pile up (a ``moonshot demo`` log once held 113 KB
of them), so it prints a plain line every tenth of the way instead, and one at the end::

    ppo moon: 30% (90,112/300,000 steps) episodes=90,112 success=41% [12s]

Every loop of the package that shows progress (training, rollouts, the demo) goes through
here. No heavy imports.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any, Protocol, TextIO


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where bars go) is a terminal or a notebook."""
    stream = sys.stderr if stream is None else stream
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class LineProgress:
    """The non-terminal display: a line at every ``every`` fraction of ``total`` and at the
    end, with the latest postfix. Same calls as the tqdm bar :func:`progress` returns."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", initial: int = 0,
                 every: float = 0.1, stream: TextIO | None = None):
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.n = int(initial)
        self.stream = stream
        self.postfix: dict = {}
        self._t0 = time.perf_counter()
        self._next = self._threshold_after(self.n)
        self._closed = False

    def _threshold_after(self, n: int) -> float:
        if not self.total:
            return float("inf")
        step = max(1.0, self.every * self.total)
        return (int(n / step) + 1) * step

    def update(self, n: int = 1) -> None:
        self.set(self.n + n)

    def set(self, n: int) -> None:
        """Move to ``n`` done (absolute)."""
        self.n = int(n)
        if self.n >= self._next and (self.total is None or self.n < self.total):
            self._print()
            self._next = self._threshold_after(self.n)

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values

    def refresh(self) -> None:  # a line is printed when a threshold is crossed, not on demand
        pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._print()

    def _print(self) -> None:
        if self.total and self.n > self.total:  # a run may end a little past its budget
            self.total = self.n
        if self.total:
            head = (f"{self.desc}: {self.n / self.total:4.0%} "
                    f"({self.n:,}/{self.total:,} {self.unit})")
        else:
            head = f"{self.desc}: {self.n:,} {self.unit}"
        extra = " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                         for k, v in self.postfix.items())
        elapsed = time.perf_counter() - self._t0
        line = f"{head}{' ' + extra if extra else ''} [{elapsed:.0f}s]"
        print(line, file=self.stream if self.stream is not None else sys.stderr, flush=True)


class _Off:
    """No display at all (``enabled=False``)."""

    def __init__(self, initial: int = 0):
        self.n = int(initial)

    def update(self, n: int = 1) -> None:
        self.n += n

    def set(self, n: int) -> None:
        self.n = int(n)

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class Progress(Protocol):
    """What :func:`progress` returns: a tqdm bar, a :class:`LineProgress` or a silent one."""

    def update(self, n: int = 1) -> object: ...

    def set(self, n: int) -> None: ...

    def set_postfix(self, *, refresh: bool = True, **values: Any) -> None: ...

    def refresh(self) -> None: ...

    def close(self) -> None: ...


def progress(total: int | None, desc: str, *, unit: str = "it", initial: int = 0,
             enabled: bool = True, leave: bool = True, stream: TextIO | None = None,
             every: float = 0.1) -> Progress:
    """A progress display over ``total`` units: a tqdm bar where the output is a terminal
    (or a notebook), plain lines every ``every`` of the way elsewhere, nothing when
    ``enabled`` is false. All three take ``update(n)``, ``set(n)`` (absolute),
    ``set_postfix(**values)``, ``refresh()`` and ``close()``."""
    if not enabled:
        return _Off(initial)
    if not interactive(stream):
        return LineProgress(total, desc, unit=unit, initial=initial, every=every, stream=stream)
    return _bar_class()(total=total, initial=initial, desc=desc, unit=unit, leave=leave,
                        unit_scale=unit == "steps", file=stream, dynamic_ncols=True)


@functools.cache
def _bar_class() -> type:
    from tqdm.auto import tqdm

    class Bar(tqdm):
        """tqdm with ``set(n)``: absolute progress through tqdm's own rate limit."""

        def set(self, n: int) -> None:
            self.update(int(n) - self.n)

    return Bar
