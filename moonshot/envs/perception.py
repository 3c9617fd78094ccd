"""What an agent may know, handed over by the env: the perception views.

The information rule (docs/design.md, "The information rule") is enforced here, not by a
docstring: a planner receives a *view* from ``env.unwrapped.perceive(mode)``, never the env.
A view is a read-only object that holds what a person in the agent's place could know - the
map or the published constants, its own vehicle, what its sensors see now - and nothing
else: it keeps no reference to the env, its random generator, other agents' intents or the
future, so there is nothing to reach through it. Asking a view for anything else raises
:class:`PerceptionError`.

``mode`` is ``"honest"`` (the default everywhere) or ``"oracle"``, a labelled ablation that
adds the privileged state a real agent could not know. An agent that owns the simulator (the
``simulator-search`` baseline, not a planner) asks for ``"simulator"`` and gets a
:class:`Rehearsal` instead of a view, from the worlds that offer one.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

PERCEPTIONS = ("honest", "oracle")
#: The perception of an agent that owns the simulator: ``perceive(SIMULATOR)`` returns a
#: :class:`Rehearsal`.
SIMULATOR = "simulator"


class PerceptionError(AttributeError):
    """A planner asked its view for something its perception does not include."""


def check_perception(mode: str) -> str:
    if mode not in PERCEPTIONS:
        from ..errors import ConfigError

        raise ConfigError(f"invalid perception={mode!r}; choose one of {list(PERCEPTIONS)}")
    return mode


class View:
    """Base of the perception views: attributes are set once by the env (``_fields``), read
    by the agent; anything not declared raises :class:`PerceptionError` naming what the
    view does hold."""

    _fields: tuple[str, ...] = ()
    mode: str = "honest"

    def __init__(self, mode: str = "honest", **values: Any):
        object.__setattr__(self, "mode", check_perception(mode))
        for key, val in values.items():
            self._set(key, val)

    def _set(self, key: str, val: Any) -> None:
        """For the env only: update a field (views are refreshed as the world moves)."""
        if key not in self._fields:
            raise PerceptionError(f"{type(self).__name__} has no field {key!r}")
        if isinstance(val, dict):
            val = MappingProxyType(dict(val))
        object.__setattr__(self, key, val)

    def __setattr__(self, key: str, val: Any) -> None:
        raise PerceptionError(f"a perception view is read-only ({key!r})")

    def __getattr__(self, key: str) -> Any:  # only called for names not set
        raise PerceptionError(
            f"{key!r} is not part of the {self.mode} perception of "
            f"{type(self).__name__}; it holds: {', '.join(self._fields)}")


class Rehearsal:
    """The simulator itself, sealed: what ``perceive("simulator")`` hands an agent that owns
    the simulator (the ``simulator-search`` baseline, a labelled ablation, never a planner).

    It holds a copy of the env at the current scenario; the one thing to do with it is
    :meth:`rehearse` an action and see the reward and ``info`` the copy returns. The copy
    draws its own random errors (never the real env's next ones), and every rehearsal is
    counted in :attr:`rehearsals`. ``action_space`` is the env's.
    """

    __slots__ = ("__step", "action_space", "rehearsals")

    def __init__(self, step: Callable[[Any], tuple[float, dict]], action_space: Any):
        self.__step = step
        self.action_space = action_space
        self.rehearsals = 0

    def rehearse(self, action: Any) -> tuple[float, dict]:
        """``(reward, info)`` of ``action`` in a copy of the env at the current scenario."""
        self.rehearsals += 1
        return self.__step(action)
