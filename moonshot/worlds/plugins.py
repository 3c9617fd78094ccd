"""World plug-ins: modules that register worlds when imported, found the way Python finds
plug-ins, so that every command and every worker process meets the same worlds.

Two sources, read when a world name is unknown (and for ``moonshot --help``):

* the entry-point group ``moonshot.worlds`` of installed distributions. In a package's
  ``pyproject.toml``::

      [project.entry-points."moonshot.worlds"]
      drone = "mylab.drone_world"            # a module that registers its world on import
      # or "mylab.drone_world:register"      (a function that registers it, called once)
      # or "mylab.drone_world:DRONE"         (a World object, registered for you)

* the variable ``MOONSHOT_WORLDS=module[,module]``: modules importable from the current
  directory or the Python path (``MOONSHOT_WORLDS=drone_world moonshot plan drone``).

Each module is imported once per process. A module that fails to import is an error naming
the module, where it was declared and the exception. Importing a plug-in runs its code: that
is what a plug-in is, so name only modules you trust (a run folder's recorded modules are
imported the same way when the folder is loaded).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

#: The entry-point group of world plug-ins.
ENTRY_POINT_GROUP = "moonshot.worlds"
#: The environment variable naming world plug-in modules, comma-separated.
ENV_VAR = "MOONSHOT_WORLDS"

#: Each plug-in tried in this process (entry point or module) -> its error, or None.
_tried: dict[str, str | None] = {}
_loading = False  # a plug-in that looks up an unknown world while it loads


def import_user_module(name: str, source: str) -> Any:
    """Import module ``name`` as a user's script would see it (the current directory on the
    path, as ``python -m`` puts it); a failure is a :class:`ConfigError` naming the module,
    ``source`` (where it was named) and the exception."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a plug-in may fail in any way while it imports
        raise ConfigError(f"cannot import module {name!r} ({source}): "
                          f"{type(exc).__name__}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def env_modules() -> list[str]:
    """The modules named by ``MOONSHOT_WORLDS`` (in order, without blanks)."""
    return [m.strip() for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]


@functools.cache
def _entry_points() -> tuple:
    """The installed entry points of the group (read once: scanning every distribution's
    metadata is the slow part)."""
    from importlib.metadata import entry_points

    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def load_plugins(register: Callable[[Any, str], Any]) -> list[str]:
    """Import every world plug-in not tried yet in this process: the entry points of group
    :data:`ENTRY_POINT_GROUP`, then the modules of :data:`ENV_VAR`. One that fails leaves
    the others loaded.

    :param register: ``register(world, module)``, for an entry point that names a ``World``
        object rather than a module that registers its world itself.
    :returns: the errors of the current plug-ins that failed (each names the plug-in, where
        it was declared and its exception), for the caller to report.
    """
    global _loading
    if _loading:
        return []
    _loading = True
    keys = []
    try:
        for ep in _entry_points():
            key = f"entry point {ep.name} = {ep.value}"
            keys.append(key)
            if key not in _tried:
                dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
                source = f"entry point {ep.name!r} of distribution {dist!r}"
                _tried[key] = _attempt(_load_entry_point, ep, source, register)
        for module in env_modules():
            keys.append(module)
            if module not in _tried:
                _tried[module] = _attempt(import_user_module, module, f"named in {ENV_VAR}")
    finally:
        _loading = False
    return [error for k in dict.fromkeys(keys) if (error := _tried[k])]


def _attempt(load: Callable[..., Any], *args) -> str | None:
    """``load(*args)``: None, or the error it raised."""
    try:
        load(*args)
    except ConfigError as exc:
        return str(exc)
    return None


def _load_entry_point(ep, source: str, register: Callable[[Any, str], Any]) -> None:
    from . import World

    module, _, attr = ep.value.partition(":")
    obj = import_user_module(module.strip(), source)
    if not attr.strip():
        return
    try:
        for part in attr.strip().split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ConfigError(f"module {module.strip()!r} has no {attr.strip()!r} "
                          f"({source})") from None
    if isinstance(obj, World):
        register(obj, module.strip())
    elif callable(obj):  # a registration function, as in Gymnasium's own entry points
        try:
            obj()
        except Exception as exc:
            raise ConfigError(f"{ep.value} failed ({source}): {type(exc).__name__}: "
                              f"{_one_line(exc)}") from None
    else:
        raise ConfigError(f"{ep.value} is a {type(obj).__name__}, not a World nor a "
                          f"function that registers one ({source})")


def declared_modules() -> set[str]:
    """The modules the user declared as world plug-ins: those of the installed entry points
    of :data:`ENTRY_POINT_GROUP` and those named in :data:`ENV_VAR`."""
    names = {ep.value.partition(":")[0].strip() for ep in _entry_points()}
    return names | set(env_modules())


def import_recorded(modules: object, source: str) -> None:
    """Make sure the world modules a run folder recorded (``config.json``'s ``modules``) are
    loaded before its world is looked up - without running code that only the folder names.

    A run folder is data: a module it records is imported only when it is a declared
    plug-in (an installed entry point of :data:`ENTRY_POINT_GROUP` or a module named in
    :data:`ENV_VAR`) or already imported; any other is refused with a sentence that says how
    to declare it. (A folder that could name any module to import could run code: an
    ``evil.py`` beside it, or an installed module with side effects.)"""
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"{source}: 'modules' must be a list of module names, "
                          f"got {modules!r}")
    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return
    declared = declared_modules()
    for module in missing:
        if module not in declared:
            raise ConfigError(
                f"{source}: the run's world comes from module {module!r}, which is not a "
                f"declared world plug-in; a run folder never imports code by itself: declare "
                f"it ({ENV_VAR}={module} moonshot ..., or install the package whose "
                f"'{ENTRY_POINT_GROUP}' entry point names it)")
    from . import load_plugins

    load_plugins()  # imports the declared plug-ins (once per process), these among them
    for module in missing:
        if module not in sys.modules:
            import_user_module(module, source)


def import_trusted(modules) -> None:
    """Import the world modules a sweep's driver hands its workers (its own registry's, so
    as trusted as the driver's process; never read from a file)."""
    for module in modules:
        if module not in sys.modules:
            import_user_module(module, "a world module of the sweep's driver")
