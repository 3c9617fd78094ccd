"""Observation layouts, declared once.

An :class:`ObservationLayout` is an ordered list of named :class:`Slot` s, each with a width,
bounds and a one-line description. A width may depend on the env's config through a symbol
(``R = Size.symbol("R")`` for ``lidar_rays``, ``6 * K + 1`` for six numbers per nearby car
plus one). From the declaration come

* for one config (:meth:`ObservationLayout.resolve`): the ``Box``, the clipping bounds and
  where every slot sits, which the env writes to (``obs[at["speed"]] = ...``: an index for a
  slot declared one number wide, a slice otherwise);
* for the docs (:meth:`ObservationLayout.table`): the docstring's table of the observation,
  slot by slot, with symbolic indices (``R+3, R+4``), so the table cannot drift from the
  offsets.

An env with several observation variants declares one layout per variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class Size:
    """A whole number that may depend on the config: ``const + sum(coef * symbol)``.

    Sums and integer multiples of sizes and ints stay symbolic; :meth:`value` resolves the
    symbols, ``str`` prints the compact form used in tables (``R+5``, ``6K+1``, ``R-1``).
    """

    const: int = 0
    terms: tuple[tuple[str, int], ...] = ()  # (symbol, coefficient), in order of appearance

    @classmethod
    def symbol(cls, name: str) -> Size:
        return cls(0, ((name, 1),))

    @classmethod
    def of(cls, x: int | Size) -> Size:
        return x if isinstance(x, Size) else cls(int(x))

    def __add__(self, other: int | Size) -> Size:
        other = Size.of(other)
        coef = dict(self.terms)
        for name, c in other.terms:
            coef[name] = coef.get(name, 0) + c
        return Size(self.const + other.const, tuple((n, c) for n, c in coef.items() if c))

    __radd__ = __add__

    def __sub__(self, other: int | Size) -> Size:
        return self + (-1) * Size.of(other)

    def __mul__(self, k: int) -> Size:
        return Size(self.const * k, tuple((n, c * k) for n, c in self.terms if c * k))

    __rmul__ = __mul__

    @property
    def symbolic(self) -> bool:
        return bool(self.terms)

    def value(self, sizes: Mapping[str, int]) -> int:
        """The number, with each symbol replaced by ``sizes[symbol]``."""
        return self.const + sum(c * int(sizes[n]) for n, c in self.terms)

    def __str__(self) -> str:
        out = "".join(("+" if c > 0 else "-") + (str(abs(c)) if abs(c) != 1 else "") + n
                      for n, c in self.terms).lstrip("+")
        if self.const or not out:
            out += f"{self.const:+d}" if out else str(self.const)
        return out


@dataclass(frozen=True)
class Slot:
    """One named part of an observation: ``width`` numbers in ``[low, high]``."""

    name: str
    width: int | Size
    low: float
    high: float
    doc: str  # one line for the docstring's table

    @property
    def size(self) -> Size:
        return Size.of(self.width)

    @property
    def scalar(self) -> bool:
        """Declared one number wide (whatever the config)?"""
        return not isinstance(self.width, Size) and self.width == 1


class ObservationLayout:
    """An ordered list of slots; ``symbols`` maps each size symbol to its config key."""

    def __init__(self, slots: Sequence[Slot], symbols: Mapping[str, str] | None = None):
        names = [s.name for s in slots]
        if len(set(names)) != len(names):
            raise ValueError(f"slot names must be unique, got {names}")
        self.slots = tuple(slots)
        self.symbols = dict(symbols or {})
        starts, at = [], Size()
        for s in self.slots:
            unknown = {n for n, _ in s.size.terms} - set(self.symbols)
            if unknown:
                raise ValueError(f"slot {s.name!r} uses undeclared size symbol(s) "
                                 f"{sorted(unknown)}; declared: {sorted(self.symbols)}")
            starts.append(at)
            at = at + s.size
        self._starts = dict(zip(names, starts, strict=True))
        self.size = at  # the observation's length, symbolic

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    def _slot(self, name: str) -> Slot:
        for s in self.slots:
            if s.name == name:
                return s
        raise KeyError(f"unknown observation slot {name!r}; known: {self.names}")

    def label(self, first: str, last: str | None = None) -> str:
        """Indices of slot ``first`` (through slot ``last``) as the table prints them."""
        start = self._starts[self._slot(first).name]
        end = self._starts[self._slot(last or first).name] + self._slot(last or first).size
        width = end - start
        if not width.symbolic and width.const == 1:
            return str(start)
        if not width.symbolic and width.const == 2:
            return f"{start}, {start + 1}"
        return f"{start} .. {end - 1}"

    def summary(self, defaults: Mapping) -> str:
        """One sentence for the docs: the ``Box`` with its size symbols and, for the
        ``defaults`` config, its length."""
        n = self.resolve(defaults).size
        if not self.symbols:
            return f"``Box({n},)`` float32."
        syms = ", ".join(f"``{s} = {k}``" for s, k in self.symbols.items())
        vals = ", ".join(str(int(defaults[k])) for k in self.symbols.values())
        return f"``Box({self.size},)`` float32 with {syms} (default {vals}, so {n} numbers)."

    def table(self) -> str:
        """The docstring's observation table (markdown), one row per slot."""
        rows = ["| index | slot | observation | range |", "|---|---|---|---|"]
        rows += [f"| {self.label(s.name)} | ``{s.name}`` | {s.doc} | {s.low:g} .. {s.high:g} |"
                 for s in self.slots]
        return "\n".join(rows)

    def resolve(self, config: Mapping) -> ResolvedLayout:
        """The layout for one config (sizes read from the config keys of the symbols)."""
        sizes = {sym: int(config[key]) for sym, key in self.symbols.items()}
        slices, low, high = {}, [], []
        for s in self.slots:
            start, width = self._starts[s.name].value(sizes), s.size.value(sizes)
            if width < 0:
                raise ValueError(f"slot {s.name!r} has negative width {width} for {sizes}")
            slices[s.name] = slice(start, start + width)
            low.append(np.full(width, s.low))
            high.append(np.full(width, s.high))
        return ResolvedLayout(slices, {s.name for s in self.slots if s.scalar},
                              np.concatenate(low), np.concatenate(high))


class ResolvedLayout(dict):
    """A layout for one config: a dict from slot name to where the slot sits in the
    observation, an index for a slot declared one number wide (``scalars``) and a slice
    otherwise (``slices`` has slices for all); ``low``/``high`` (float64, per number),
    ``size`` and the ``box`` (float32)."""

    def __init__(self, slices: Mapping[str, slice], scalars: set[str], low: np.ndarray,
                 high: np.ndarray):
        # a plain dict lookup and an int index keep the env's writer as fast as hand-typed
        # offsets (a one-element slice writes several times slower)
        super().__init__((k, s.start if k in scalars else s) for k, s in slices.items())
        self.slices = dict(slices)
        self.low, self.high = low, high
        self.size = len(low)

    def __missing__(self, name: str) -> slice:
        raise KeyError(f"unknown observation slot {name!r}; known: {list(self.slices)}")

    def span(self, first: str, last: str) -> slice:
        """The slice from the start of slot ``first`` to the end of slot ``last``."""
        return slice(self.slices[first].start, self.slices[last].stop)

    @property
    def box(self) -> spaces.Box:
        return spaces.Box(self.low.astype(np.float32), self.high.astype(np.float32),
                          dtype=np.float32)
