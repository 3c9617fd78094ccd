"""Env docstrings filled from the values they document (defaults, constants, layouts).

A docstring names a value as ``$name``; :func:`fill_doc` replaces it, so the manual shows the
number the code uses and the number lives in one place. A placeholder alone on its line
takes a multi-line value (a table), indented like the placeholder.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from string import Template


def fill_doc(doc: str | None, values: Mapping[str, object]) -> str | None:
    """``doc`` with every ``$name`` replaced by ``values[name]`` (KeyError if one is missing);
    None stays None (``python -OO`` strips docstrings)."""
    if doc is None:
        return None

    def block(m: re.Match) -> str:
        indent, name = m.group(1), m.group(2)
        lines = str(values[name]).replace("$", "$$").splitlines()
        return "\n".join(indent + line if line else "" for line in lines)

    doc = re.sub(r"^([ \t]*)\$(\w+)[ \t]*$", block, doc, flags=re.MULTILINE)
    return Template(doc).substitute(values)


def number(x: float) -> str:
    """``x`` as prose writes it: ``10``, ``0.02``, ``-0.005``."""
    return f"{x:g}"


def make_call(env_id: str, kwargs: Mapping[str, object], width: int = 92) -> str:
    """``gymnasium.make(env_id, key=value, ...)`` as a literal, wrapped to ``width``."""
    args = ", ".join(f"{k}={_literal(v)}" for k, v in kwargs.items())
    return "\n".join(textwrap.wrap(f'``gymnasium.make("{env_id}", {args})``', width,
                                   break_long_words=False, break_on_hyphens=False))


def arguments_table(defaults: Mapping[str, object], meanings: Mapping[str, str]) -> str:
    """The docstring's table of settings: each key of ``defaults`` with its default and its
    one-line meaning from ``meanings``. A setting without a meaning, or a meaning of no
    setting, is a ``ValueError`` naming it (a new setting cannot go undocumented)."""
    missing = [k for k in defaults if k not in meanings]
    unknown = [k for k in meanings if k not in defaults]
    if missing or unknown:
        raise ValueError(f"settings without a meaning: {missing}; meanings of no setting: "
                         f"{unknown}")
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    rows += [f"| ``{k}`` | ``{_literal(v)}`` | {meanings[k]} |" for k, v in defaults.items()]
    return "\n".join(rows)


def arguments(settings: Mapping[str, tuple[object, str]], env_id: str) -> str:
    """The docstring's Arguments: the ``gymnasium.make`` call with every default, then the
    table of every setting (``settings``: key -> ``(default, meaning)``) and ``render_mode``."""
    defaults = {k: d for k, (d, _) in settings.items()}
    meanings = {k: m for k, (_, m) in settings.items()}
    render = "``None``, ``\"rgb_array\"`` (frames from ``render()``) or ``\"human\"`` (a window)"
    return (make_call(env_id, {**defaults, "render_mode": None}) + ":\n\n"
            + arguments_table({**defaults, "render_mode": None},
                              {**meanings, "render_mode": render}))


def _literal(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)
