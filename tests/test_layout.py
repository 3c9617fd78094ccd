"""Declared once: an observation layout gives the Box, the offsets and the docstring table;
an env's settings give its defaults and the docstring's Arguments table."""

from __future__ import annotations

import re

import numpy as np
import pytest

from moonshot.envs import moon_core
from moonshot.envs.city_nav import LIDAR_OBSERVATION, CityNavEnv
from moonshot.envs.city_v1 import CityNavV1Env
from moonshot.envs.docs import arguments_table, fill_doc
from moonshot.envs.layout import ObservationLayout, Size, Slot
from moonshot.envs.moon_launch import MoonLaunchEnv


def test_sizes_stay_symbolic_and_print_compactly():
    r, k = Size.symbol("R"), Size.symbol("K")
    assert str(r + 23) == "R+23" and str(r - 1) == "R-1" and str(6 * k + 1) == "6K+1"
    assert str(Size(0)) == "0" and str(r + k + 2 - r) == "K+2"
    assert (2 * r + 6 * k + 5).value({"R": 32, "K": 4}) == 93


def test_layout_offsets_box_and_table():
    k = Size.symbol("K")
    layout = ObservationLayout([
        Slot("speed", 1, 0, 1, "speed"),
        Slot("cars", 6 * k, -1, 1, "six numbers per car"),
        Slot("light", 3, 0, 1, "one-hot light"),
    ], symbols={"K": "cars"})
    at = layout.resolve({"cars": 4})
    assert at["speed"] == 0 and at.slices["speed"] == slice(0, 1) and at["cars"] == slice(1, 25)
    assert at["light"] == slice(25, 28) and at.span("cars", "light") == slice(1, 28)
    assert at.box.shape == (28,) and at.box.dtype == np.float32
    assert at.low[1] == -1 and at.high[27] == 1
    assert layout.label("cars") == "1 .. 6K" and layout.label("light") == "6K+1 .. 6K+3"
    one = ObservationLayout([Slot("rays", Size.symbol("R"), 0, 1, "")], {"R": "rays"})
    assert one.resolve({"rays": 1})["rays"] == slice(0, 1)  # symbolic: a slice even if 1 wide
    assert "| 6K+1 .. 6K+3 | ``light`` | one-hot light | 0 .. 1 |" in layout.table()
    with pytest.raises(KeyError, match="speed"):
        at["sped"]
    with pytest.raises(ValueError, match="undeclared"):
        ObservationLayout([Slot("cars", k, 0, 1, "")])


def test_citynav_observation_follows_its_layout():
    env = CityNavEnv(lidar_rays=16, traffic_cars=0)
    at = env.observation_layout
    assert env.observation_space == LIDAR_OBSERVATION.resolve({"lidar_rays": 16}).box
    ends = sorted((s.start, s.stop) for s in at.slices.values())
    assert ends[0][0] == 0 and ends[-1][1] == at.size == 16 + 23
    assert all(a[1] == b[0] for a, b in zip(ends[:-1], ends[1:], strict=True))  # contiguous
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(np.array([1.0, 0.0], np.float32))
    w = env.world
    assert obs[at["speed"]] == np.float32(w.ego[3] / env.ego_params.max_speed)
    assert np.allclose(obs[at["lidar"]], np.minimum(w.lidar / w.lidar_range, 1.0))
    assert obs[at["progress"]] == np.float32(w.route_s / w.route.length)
    env.close()


def _shown(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _table_rows(doc: str, header: str) -> list[list[str]]:
    """The cells of the rows of the markdown table that starts with ``header``."""
    lines = [line.strip() for line in doc.splitlines()]
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("| "):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


@pytest.mark.parametrize("env_cls", [CityNavEnv, CityNavV1Env, MoonLaunchEnv])
def test_env_docstrings_document_every_setting_with_its_default(env_cls):
    """The Arguments section: the ``gymnasium.make`` call with every default, then one row per
    setting with its default and what it means."""
    doc = env_cls.__doc__
    assert "$" not in doc
    args = re.search(r"gymnasium\.make\((.*?)\)``", " ".join(doc.split())).group(1)
    settings = {row[0].strip("`"): row for row in
                _table_rows(doc, "| argument | default | meaning |")}
    config = env_cls.default_config()
    assert set(settings) == set(config) | {"render_mode"}
    for key, value in config.items():
        assert f"{key}={_shown(value)}" in args, key
        _, default, meaning = settings[key]
        assert default == f"``{_shown(value)}``", key
        assert len(meaning) > 10, key  # a meaning, not a placeholder


def test_citynav_docstring_is_generated_from_layout_and_defaults():
    doc = CityNavEnv.__doc__
    slots = _table_rows(doc, "| index | slot | observation | range |")
    assert [row[1].strip("`") for row in slots] == LIDAR_OBSERVATION.names
    assert "| R+18 .. R+20 | ``light`` |" in doc


def test_moonlaunch_docstring_documents_every_setting_and_observation_slot():
    doc = MoonLaunchEnv.__doc__
    assert "(train 180 .. 400, new 600 .. 2000)" in doc  # the shift settings' meanings
    slots = _table_rows(doc, "| index | slot | observation | range |")
    assert [row[1].strip("`") for row in slots] == moon_core.MOON_OBSERVATION.names
    assert [row[0] for row in slots][:3] == ["0, 1", "2, 3", "4"]
    assert "| 8 | ``moon_semi_major_axis`` |" in doc


def test_moonlaunch_observation_follows_its_layout():
    env = MoonLaunchEnv(split="new")
    at = env.observation_layout
    assert env.observation_space == moon_core.MOON_OBSERVATION.resolve({}).box
    obs, _ = env.reset(seed=4)
    s = env.scenario
    assert obs[at["park_altitude"]] == np.float32(s.park_altitude[0] / 1000.0)
    assert obs[at["moon_semi_major_axis"]] == np.float32(
        s.moon_a[0] / moon_core.EARTH_MOON_DISTANCE)
    np.testing.assert_array_equal(obs[at["park_angle"]], np.float32(
        [np.cos(s.park_angle[0]), np.sin(s.park_angle[0])]))


def test_a_setting_without_a_meaning_is_an_error_naming_it():
    with pytest.raises(ValueError, match="sun_gravity"):
        arguments_table({"target": "soi", "sun_gravity": 0.0}, {"target": "what succeeds"})
    with pytest.raises(ValueError, match="gravity"):
        arguments_table({"target": "soi"}, {"target": "what succeeds", "gravity": "?"})
    assert "| ``target`` | ``\"soi\"`` | what succeeds |" in arguments_table(
        {"target": "soi"}, {"target": "what succeeds"})


def test_fill_doc_indents_blocks_and_rejects_unknown_names():
    doc = "\n    Intro $n.\n\n    $table\n    end\n"
    out = fill_doc(doc, {"n": "3", "table": "| a |\n| b |"})
    assert out == "\n    Intro 3.\n\n    | a |\n    | b |\n    end\n"
    with pytest.raises(KeyError):
        fill_doc("$missing", {})
    assert fill_doc(None, {}) is None
