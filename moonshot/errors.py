"""Errors shared across moonshot: each names the bad value and what would be accepted."""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(ValueError, TypeError):
    """An unknown or invalid configuration key or value.

    Subclasses both ``ValueError`` and ``TypeError``: an unknown keyword argument is a
    ``TypeError`` in Python, a bad value a ``ValueError``; callers may catch either.
    """


def check_keys(given: Iterable[str], known: Iterable[str], what: str = "config") -> None:
    """Raise :class:`ConfigError` naming every unknown key and listing the known ones."""
    known = sorted(known)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {what} key(s) {unknown}; known keys are: {', '.join(known)}")


def check_choice(name: str, value: object, choices: Iterable) -> None:
    """Raise :class:`ConfigError` if ``value`` is not one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"invalid {name}={value!r}; choose one of {choices}")


def check_int(name: str, value: object, lo: int) -> int:
    """``value`` as an integer ``>= lo`` (not a bool), else a :class:`ConfigError` naming
    ``name`` (the flag or key)."""
    if isinstance(value, bool) or not isinstance(value, (int,)) or value < lo:
        import numpy as np

        if not (isinstance(value, np.integer) and value >= lo):
            raise ConfigError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)
