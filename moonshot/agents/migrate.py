"""``moonshot migrate DIR --trust``: convert the pickles an older moonshot wrote in run
folders (trainer states, normalization statistics, replay buffers) to the plain ``.npz`` files
moonshot loads now.

Converting means unpickling, and unpickling runs whatever code the file holds: this is the one
place moonshot does it, only for files it names first and only with ``--trust``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..runlog import RunLock, read_json, write_json

#: The pickles older versions wrote, by file name.
_KINDS = {"state": re.compile(r"^state_\d+\.pkl$"),
          "vecnormalize": re.compile(r"^vecnormalize(_\d+)?\.pkl$"),
          "replay_buffer": re.compile(r"^replay_buffer_\d+\.pkl$")}


def old_pickles(root: Path) -> list[tuple[str, Path]]:
    """Every (kind, path) of an old moonshot pickle under ``root`` that has no ``.npz`` yet."""
    found = []
    for path in sorted(Path(root).rglob("*.pkl")):
        for kind, pattern in _KINDS.items():
            if pattern.match(path.name) and not path.with_suffix(".npz").exists():
                found.append((kind, path))
    return found


def migrate(root: str | Path, trust: bool = False,
            say: Callable[[str], object] = print) -> list[Path]:
    """Convert the old pickles under ``root`` (see the module docstring); returns the files
    written. Without ``trust`` nothing is loaded or written: a ``PermissionError`` lists the
    files and asks for ``--trust``. The pickles stay where they are."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such run folder: {root}")
    todo = old_pickles(root)
    if not todo:
        for latest in sorted(root.rglob("latest.json")):  # names a .pkl beside its .npz
            if _repoint_latest(latest):
                say(f"moonshot: {latest} now names the .npz files beside its pickles")
        say(f"moonshot: nothing to convert in {root} (no old pickles without an .npz)")
        return []
    say(f"moonshot: {len(todo)} pickle(s) to convert under {root}:")
    for _, path in todo:
        say(f"  {path}")
    if not trust:
        raise PermissionError(
            "converting loads these pickles, and loading a pickle runs any code it holds: run "
            "again with --trust only if you trust where this folder came from (nothing was "
            "loaded or written)")
    say(f"moonshot: warning: loading {len(todo)} pickle(s) under {root} (they may run code)")
    written = []
    for folder in sorted({_run_of(p) for _, p in todo}):
        with RunLock(folder, "migrate"):
            for kind, path in [(k, p) for k, p in todo if _run_of(p) == folder]:
                written.append(_convert(kind, path))
                say(f"  {path.name} -> {written[-1].name}")
        _repoint_latest(folder / "checkpoints" / "latest.json")
    say(f"moonshot: converted {len(written)} file(s); the .pkl files are left in place "
        "(moonshot no longer reads them: delete them when you wish)")
    return written


def _run_of(path: Path) -> Path:
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def _convert(kind: str, path: Path) -> Path:
    import pickle

    from .checkpoints import save_replay_buffer, save_stats_atomic
    from .resume import save_state

    with open(path, "rb") as fh:
        obj = pickle.load(fh)  # noqa: S301 - the user said --trust: the point of migrating
    out = path.with_suffix(".npz")
    if kind == "state":
        if not isinstance(obj, dict) or "torch_rng" not in obj:
            raise ValueError(f"{path} is not a moonshot trainer state")
        save_state(obj, out)
    elif kind == "vecnormalize":
        if not hasattr(obj, "obs_rms"):
            raise ValueError(f"{path} holds a {type(obj).__name__}, not VecNormalize statistics")
        save_stats_atomic(obj, out)
    else:
        if not hasattr(obj, "observations"):
            raise ValueError(f"{path} holds a {type(obj).__name__}, not a replay buffer")
        save_replay_buffer(obj, out)
    return out


def _repoint_latest(latest: Path) -> bool:
    """``latest.json`` names the converted files; returns whether it changed."""
    if not latest.exists():
        return False
    meta = read_json(latest)
    changed = False
    for key in ("state", "vecnormalize", "replay_buffer"):
        name = meta.get(key)
        if isinstance(name, str) and name.endswith(".pkl") and \
                (latest.parent / name).with_suffix(".npz").exists():
            meta[key] = name[:-4] + ".npz"
            changed = True
    if changed:
        with RunLock(latest.parent.parent, "migrate"):
            write_json(latest, meta)
    return changed
