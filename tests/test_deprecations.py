"""Old names keep working, with a DeprecationWarning that says where the thing went."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import moonshot.agents
from moonshot.physics.city.drive import Drive


def test_the_training_module_load_agent_is_the_one_loader():
    from moonshot.agents import training

    with pytest.warns(DeprecationWarning, match="moonshot.agents.load_agent"):
        old = training.load_agent
    assert old is moonshot.agents.load_agent
    with pytest.raises(AttributeError):
        training.no_such_name  # noqa: B018


def test_a_drive_pickled_under_the_old_module_name_still_loads():
    """Checkpoints of CityNav-v1 runs pickle the drive in progress; those written before
    ``physics/city/world.py`` was split name ``moonshot.physics.city.world.Drive``."""
    drive = Drive(1, 2.0, 3, 4.0, None, np.zeros(4), 0, 0.0, 0.0, None)
    # the old module name has the same length, so the pickle's string lengths still hold
    old = pickle.dumps(drive).replace(b"moonshot.physics.city.drive",
                                      b"moonshot.physics.city.world")
    assert b"moonshot.physics.city.world" in old
    with pytest.warns(DeprecationWarning, match="moonshot.physics.city.drive.Drive"):
        back = pickle.loads(old)
    assert type(back) is Drive and back.goal_lane == 3


def test_the_old_moon_world_names_still_import_and_say_where_they_went():
    import importlib

    old = importlib.import_module("moonshot.envs.moon_world")
    for name, home in (("action_to_burn", "moon_actions"), ("make_config", "moon_config"),
                       ("Scenarios", "moon_core")):
        with pytest.warns(DeprecationWarning, match=f"moonshot.envs.{home}.{name}"):
            assert getattr(old, name) is getattr(
                importlib.import_module(f"moonshot.envs.{home}"), name)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018
