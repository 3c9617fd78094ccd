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

import numpy as np

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

    It holds a copy of the env; the one thing to do with it is rehearse actions and see the
    rewards and ``info`` the copy returns: :meth:`rehearse` one action (a one-step world:
    a launch at the current scenario), :meth:`rehearse_plans` sequences of actions from
    where the real episode stands *now* (a world of many steps: every call starts again
    from the live state). The copy draws its own random numbers (never the real env's next
    ones), and every rehearsal is counted: :attr:`rehearsals` (plans played) and
    :attr:`steps` (env steps they took in the copy). ``action_space`` is the env's.

    :param play: ``play(plans) -> (returns, infos, steps)``: ``plans (P, H, *action_shape)``
        played in the copy, each from the current state (a plan stops early where its
        episode ends); ``returns (P,)`` their summed rewards, ``infos`` the ``info`` of each
        plan's last step, ``steps`` the env steps taken in all.
    :param action_space: the env's action space.
    """

    __slots__ = ("__play", "action_space", "rehearsals", "steps")

    def __init__(self, play: Callable[[np.ndarray], tuple[np.ndarray, list[dict], int]],
                 action_space: Any):
        self.__play = play
        self.action_space = action_space
        self.rehearsals = 0
        self.steps = 0

    def rehearse(self, action: Any) -> tuple[float, dict]:
        """``(reward, info)`` of one ``action`` in a copy of the env, from the current state
        (a one-step world: a whole episode)."""
        returns, infos = self.rehearse_plans(np.asarray(action)[None, None])
        return float(returns[0]), infos[0]

    def rehearse_plans(self, plans: Any) -> tuple[np.ndarray, list[dict]]:
        """``(returns (P,), infos)`` of the action sequences ``plans (P, H, *action_shape)``,
        each played in a copy of the env from the current state (see the class docstring)."""
        plans = np.asarray(plans, dtype=self.action_space.dtype)
        if plans.ndim < 2 or plans.shape[2:] != tuple(self.action_space.shape):
            raise ValueError(f"plans must be (P, H, *{tuple(self.action_space.shape)}), got "
                             f"{plans.shape}")
        returns, infos, steps = self.__play(plans)
        self.rehearsals += len(plans)
        self.steps += int(steps)
        return np.asarray(returns, dtype=np.float64), infos
