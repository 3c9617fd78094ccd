"""Errors shared across moonshot: each names the bad value and what would be accepted."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError, TypeError):
    """An unknown or invalid configuration key or value.

    Subclasses both ``ValueError`` and ``TypeError``: an unknown keyword argument is a
    ``TypeError`` in Python, a bad value a ``ValueError``; callers may catch either.
    """


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the options closest to ``word`` (difflib), else ``""``."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def check_keys(given: Iterable[str], known: Iterable[str], what: str = "config") -> None:
    """Raise :class:`ConfigError` naming every unknown key (with the closest known key, if
    one is close) and listing the known ones."""
    known = sorted(known)
    unknown = sorted(set(given) - set(known))
    if unknown:
        hints = "".join(did_you_mean(u, known) for u in unknown)
        raise ConfigError(
            f"unknown {what} key(s) {unknown}{hints}; known keys are: {', '.join(known)}")


def check_choice(name: str, value: object, choices: Iterable) -> None:
    """Raise :class:`ConfigError` if ``value`` is not one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        hint = did_you_mean(value, [c for c in choices if isinstance(c, str)]) \
            if isinstance(value, str) else ""
        raise ConfigError(f"invalid {name}={value!r}{hint}; choose one of {choices}")


def check_int(name: str, value: object, lo: int) -> int:
    """``value`` as an integer ``>= lo`` (not a bool), else a :class:`ConfigError` naming
    ``name`` (the flag or key)."""
    if isinstance(value, bool) or not isinstance(value, (int,)) or value < lo:
        import numpy as np

        if not (isinstance(value, np.integer) and value >= lo):
            raise ConfigError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)
