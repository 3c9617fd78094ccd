"""What the native vector envs share: one generator per slot, seeded like Gymnasium's sync
vector env (slot ``i`` of ``reset(seed=s)`` is a single env's ``reset(seed=s + i)``; a list
gives each slot its seed), and the autoreset modes they accept."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

#: the modes a native env implements (``DISABLED`` would leave ended slots to the caller)
AUTORESET_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


def check_num_envs(num_envs: object) -> int:
    """``num_envs`` of a native vector env: a positive integer (``ValueError`` otherwise)."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or \
            num_envs < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    return int(num_envs)


def check_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """``mode`` as an :class:`~gymnasium.vector.AutoresetMode`; a string may be its value
    (``"NextStep"``) or spelt ``"next-step"``, ``"same_step"``...; anything else is a
    ``ValueError`` naming the accepted modes."""
    if isinstance(mode, str) and not isinstance(mode, AutoresetMode):
        key = mode.replace("-", "").replace("_", "").lower()
        mode = next((m for m in AutoresetMode if m.value.lower() == key), mode)
    if mode not in AUTORESET_MODES:
        known = ", ".join(f"{m.value!r}" for m in AUTORESET_MODES)
        raise ValueError(f"autoreset_mode must be one of {known} (or 'next-step', "
                         f"'same-step'; gymnasium.vector.AutoresetMode), got {mode!r}")
    return AutoresetMode(mode)


def set_up_batch(env: VectorEnv, num_envs: object, render_mode: str | None,
                 autoreset_mode: AutoresetMode | str, single: str) -> AutoresetMode:
    """What a native vector env's constructor does first: check ``num_envs`` and
    ``autoreset_mode`` and refuse a ``render_mode`` (``single`` names what to render
    instead; native envs do not render).

    :param env: the vector env being built (its ``num_envs``, ``render_mode`` and
        ``metadata["autoreset_mode"]`` are set).
    :returns: the autoreset mode, for ``env.autoreset_mode``.
    """
    env.num_envs = check_num_envs(num_envs)
    if render_mode is not None:
        raise ValueError(f"{type(env).__name__} does not render; render {single} instead")
    mode = check_autoreset_mode(autoreset_mode)
    env.metadata = {**env.metadata, "autoreset_mode": mode}
    env.render_mode = None
    return mode


def slot_seeds(seed: int | Sequence[int | None] | None, n: int) -> list[int | None]:
    """The seed of each of ``n`` slots: ``seed + i``, the list as given, or ``None`` each."""
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + i for i in range(n)]
    if isinstance(seed, (list, tuple, np.ndarray)) and len(seed) == n:
        return [None if s is None else int(s) for s in seed]
    raise ValueError(f"seed must be an integer, None or a list of {n} seeds (one per slot), "
                     f"got {seed!r}")


def slot_generators(seed, n: int) -> list[np.random.Generator]:
    """One generator per slot, each the one ``reset(seed=...)`` gives a single env."""
    return [seeding.np_random(s)[0] for s in slot_seeds(seed, n)]


def restore_generators(states: list[dict]) -> list[np.random.Generator]:
    """Generators put back at the bit-generator ``states`` of a ``get_state``."""
    rngs = [seeding.np_random(0)[0] for _ in states]
    for r, s in zip(rngs, states, strict=True):
        r.bit_generator.state = s
    return rngs


def slot_info(infos: dict, i: int) -> dict:
    """Slot ``i``'s own ``info`` from a vector env's dict of arrays (Gymnasium's layout: a
    key counts where its ``_key`` mask is set; a nested dict is unbatched the same way)."""
    out: dict = {}
    for key, val in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get("_" + key)
        if mask is not None and not mask[i]:
            continue
        v = slot_info(val, i) if isinstance(val, dict) else val[i]
        out[key] = v.item() if isinstance(v, np.generic) else v
    return out


def add_column(infos: dict, key: str, values: np.ndarray, mask: np.ndarray) -> dict:
    """Put ``values`` of the slots ``mask`` under ``key`` of a vector env's ``infos`` (in
    place, and returned), as Gymnasium's sync vector env adds each env's ``info[key]``: an
    array of ``values``' dtype (other slots 0, or ``None`` for objects) and its ``_key``
    mask; nothing when no slot has the key."""
    if not mask.any():
        return infos
    if key not in infos and mask.all():
        infos[key], infos["_" + key] = values.copy(), mask.copy()
        return infos
    if key not in infos:
        n = len(mask)
        infos[key] = np.full(n, None, dtype=object) if values.dtype == object else \
            np.zeros(n, dtype=values.dtype)
        infos["_" + key] = np.zeros(n, dtype=bool)
    infos[key][mask] = values[mask]
    infos["_" + key][mask] = True
    return infos
