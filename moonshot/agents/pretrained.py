"""The pretrained agents shipped in the package (``moonshot/pretrained/NAME``), by name.

``pretrained:NAME`` is an agent spec that works from any folder and from a wheel install
(the folders are package data, found with :mod:`importlib.resources`);
``moonshot pretrained`` lists them with what trained them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..runlog import read_json

PREFIX = "pretrained:"


@dataclass(frozen=True)
class Pretrained:
    """One shipped agent: its folder and what its ``config.json`` says trained it."""

    name: str
    path: Path
    env_id: str
    algo: str
    timesteps: int | None
    command: str


def pretrained_root() -> Path:
    """The package's ``pretrained`` folder (in a checkout or in site-packages)."""
    return Path(str(resources.files("moonshot") / "pretrained"))


def pretrained_agents() -> dict[str, Pretrained]:
    """Every shipped agent (a folder with ``model.zip`` and ``config.json``), by name."""
    found = {}
    root = pretrained_root()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if not ((folder / "model.zip").exists() and (folder / "config.json").exists()):
            continue
        cfg = read_json(folder / "config.json")
        train = cfg.get("train", {})
        found[folder.name] = Pretrained(folder.name, folder, cfg.get("env_id", ""),
                                        str(train.get("algo", "")), train.get("timesteps"),
                                        str(cfg.get("command", "")))
    return found


def pretrained_path(spec: str) -> Path:
    """The folder of ``pretrained:NAME``; an unknown name lists the shipped ones."""
    from ..errors import ConfigError, did_you_mean

    name = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    known = pretrained_agents()
    if name not in known:
        raise ConfigError(f"no pretrained agent {name!r}{did_you_mean(name, known)}; shipped: "
                          f"{', '.join(PREFIX + k for k in known) or 'none'}")
    return known[name].path
