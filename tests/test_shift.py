"""The generalization ladder: level 0 is the training distribution exactly, each level changes
what its table says and nothing else, bad axes and levels are named."""

import csv
import json

import numpy as np
import pytest

import moonshot
from moonshot.cli import main
from moonshot.envs import moon_config, moon_core
from moonshot.errors import ConfigError
from moonshot.worlds import get_world

MOON = get_world("moon")
IDS = np.arange(0, 4000, 7)


def _scenarios(**settings):
    cfg = moon_config.make_config(**settings)
    return moon_core.sample_scenarios("train", IDS, cfg["moon_eccentricity"],
                                       cfg["soi_radius"], moon_config.split_ranges("train", cfg))


def _episodes_by_agent(folder) -> dict[str, list[dict]]:
    """The episodes of every ``episodes.csv`` under ``folder``, by folder and agent, without
    the columns that time or label an episode (what remains is the episode itself)."""
    out = {}
    for path in sorted(folder.rglob("episodes.csv")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        agent = rows[0]["agent"]
        out[path.parent.name, agent] = [{k: v for k, v in row.items() if k not in
                                         ("wall_time_s", "compute_s", "agent")} for row in rows]
    return out


def _level_zero_is_a_plain_evaluation(tmp_path, world: str, base: list[str],
                                      shifted: list[str], options: str = "",
                                      others: tuple[str, ...] = ()) -> None:
    """``moonshot shift`` at level 0 of every axis of ``world``, for a planner run made with
    the shifted settings ``shifted`` (and the agents ``others``), gives exactly the episodes
    of a plain evaluation on the training split of a planner run made without them: level 0
    applies nothing, and the ladder strips the agent's own values of what it shifts."""
    # legacy seeds: on dev and test seeds every axis has seeds of its own (docs/protocol.md),
    # and this compares settings on the same scenarios
    common = ["--episodes", "3", "--seed", "5", "--seed-set", "legacy"]
    plans = {}
    for name, kwargs in (("plain", base), ("shifted", base + shifted)):
        plans[name] = str(tmp_path / f"plan-{name}")
        assert main(["plan", world, "--episodes", "1", "--env-kwargs", *kwargs, "--out",
                     plans[name], *(["--options", options] if options else [])]) == 0
    assert main(["evaluate", plans["plain"], *others, "--split", "train", *common, "--out",
                 str(tmp_path / "eval-plain")]) == 0
    assert main(["evaluate", plans["shifted"], "--split", "train", *common, "--out",
                 str(tmp_path / "eval-shifted")]) == 0
    assert main(["shift", world, "--agent", plans["shifted"], *[w for o in others for w in
                 ("--agent", o)], "--level", "0", *common, "--out", str(tmp_path / "shift"),
                 "--no-progress"]) == 0
    plain = {agent: rows for (_, agent), rows in
             _episodes_by_agent(tmp_path / "eval-plain").items()}
    (own,) = _episodes_by_agent(tmp_path / "eval-shifted").values()
    ladder = _episodes_by_agent(tmp_path / "shift" / "episodes")
    assert len(plain) == 1 + len(others) and all(len(rows) >= 3 for rows in plain.values())
    assert len(ladder) == len(get_world(world).shift_axes) * len(plain)
    planner = next(agent for agent in plain if agent.startswith("planner")
                   or agent.endswith("planner"))
    assert own != plain[planner]  # the run's own settings do change its episodes...
    for (folder, agent), rows in ladder.items():
        assert rows == plain[agent], folder  # ...and level 0 of every axis leaves them out


def test_level_zero_of_every_moon_axis_is_the_training_distribution(tmp_path):
    assert all(axis.settings(0) == {} for axis in MOON.shift_axes.values())
    # the first-guess planner misses by amounts that any change of the world changes
    _level_zero_is_a_plain_evaluation(tmp_path, "moon", ["target=landing"],
                                      ["sun_gravity=30", "execution_error=3"],
                                      options="model=first_guess")


def test_a_shift_axis_starts_from_the_training_distribution():
    from moonshot.worlds import ShiftAxis

    with pytest.raises(ConfigError, match="level 0 must be"):
        ShiftAxis("altitude", ({"park_altitude_km": [180, 400]},), ("training",))


FIELDS = {"altitude": {"park_altitude"}, "moon_mass": {"gm_moon", "moon_soi"},
          "moon_orbit": {"moon_a", "moon_soi"}, "burn_noise": set(), "sun": set(),
          "burn_bias": set()}


@pytest.mark.parametrize("axis", list(FIELDS))
def test_each_level_changes_what_its_axis_says_and_nothing_else(axis):
    ref = _scenarios()
    ax = MOON.axis(axis)
    for level in range(1, len(ax.levels)):
        s = _scenarios(**ax.settings(level))
        for field in ("park_altitude", "park_angle", "moon_angle", "moon_perigee", "moon_a",
                      "gm_moon", "moon_soi", "sun_angle"):
            same = np.array_equal(getattr(s, field), getattr(ref, field))
            assert same == (field not in FIELDS[axis]), (axis, level, field)
    if axis == "altitude":  # the levels lie where the table says, outside training
        for level, (lo, hi) in ((1, (400, 500)), (3, (1000, 2000))):
            alt = _scenarios(**ax.settings(level)).park_altitude
            assert alt.min() >= lo and alt.max() <= hi


def test_dynamics_axes_change_the_flight_only_where_they_say():
    import gymnasium as gym

    def fly(**kw):
        env = gym.make("moonshot/MoonLaunch-v1", target="soi", **kw).unwrapped
        env.reset(seed=3)
        return env.step(np.array([0.1, 0.2, 0.0], np.float32))[4]["closest_approach_km"]

    base = fly()
    assert fly(sun_gravity=0.0) == base
    assert abs(fly(sun_gravity=30.0) - base) > 100.0  # the Sun pulls
    assert fly(execution_error=10.0) != base  # the same draw, ten times the error


def test_bad_axis_and_level_name_the_valid_ones(tmp_path, capsys):
    with pytest.raises(ConfigError, match="altitude"):
        MOON.axis("gravity")
    with pytest.raises(ConfigError, match=r"0 \.\. 3"):
        MOON.axis("altitude").settings(4)
    assert main(["shift", "moon", "--agent", "planner", "--axis", "gravity", "--out",
                 str(tmp_path / "x")]) == 2
    assert "burn_noise" in capsys.readouterr().err
    assert main(["shift", "moon", "--agent", "planner", "--axis", "sun", "--level", "9",
                 "--out", str(tmp_path / "x")]) == 2
    assert "levels are 0 .. 3" in capsys.readouterr().err
    with pytest.raises(ValueError, match="park_altitude_km"):
        moon_config.make_config(park_altitude_km=[500, 100])


def test_shift_cli_writes_the_ladder(tmp_path):
    out = tmp_path / "shift"
    assert main(["shift", "moon", "--agent", "planner", "--agent", "planner:moon:model="
                 "first_guess", "--axis", "altitude", "--level", "0", "3", "--episodes", "3",
                 "--env-kwargs", "target=soi", "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "shift.json").read_text())["rows"]
    assert {(r["agent"], r["level"]) for r in rows} == {
        ("planner", 0), ("planner", 3), ("planner[first_guess]", 0),
        ("planner[first_guess]", 3)}
    for r in rows:
        assert 0 <= r["success_low"] <= r["success"] <= r["success_high"] <= 1
        assert (r["model_rollouts"] == 0) == (r["agent"] == "planner[first_guess]")
    header = (out / "shift.csv").read_text().splitlines()[0].split(",")
    for col in ("axis", "level", "agent", "episodes", "success", "success_low",
                "success_high", "deaths", "trials", "model_rollouts"):
        assert col in header
    assert (out / "shift.png").stat().st_size > 1000 and (out / "report.html").exists()
    assert moonshot.get_world("moon").axis("sun").perceivable is False


def test_level_zero_gives_the_same_result_whatever_level_came_before(tmp_path):
    """A planner that corrects from its misses keys them by scenario id, and a ladder meets
    the same ids at every level: each evaluation must start from the same agent. (Before the
    fix the first-guess planner's misses at 30x the Sun's tide spoiled level 0 of the next
    axis.)"""
    out, alone = tmp_path / "shift", tmp_path / "alone"
    assert main(["shift", "moon", "--agent", "planner:moon:model=first_guess", "--axis", "sun",
                 "--level", "3", "0", "--episodes", "12", "--env-kwargs",
                 "target=landing", "--out", str(out), "--no-progress"]) == 0
    assert main(["shift", "moon", "--agent", "planner:moon:model=first_guess", "--axis", "sun",
                 "--level", "0", "--episodes", "12", "--env-kwargs",
                 "target=landing", "--out", str(alone), "--no-progress"]) == 0
    rows = {(r["axis"], r["level"]): r for r in json.loads((out / "shift.json").read_text())
            ["rows"]}
    first = json.loads((alone / "shift.json").read_text())["rows"][0]
    keys = ("episodes", "success", "deaths", "trials", "model_rollouts")
    assert [rows["sun", 0][k] for k in keys] == [first[k] for k in keys]
    # ...and the 30x Sun level does make the planner miss and correct (a real history)
    assert rows["sun", 3]["trials"] > rows["sun", 0]["trials"]


CITY = get_world("city")


def test_level_zero_of_every_city_axis_is_the_training_distribution(tmp_path):
    assert all(axis.settings(0) == {} for axis in CITY.shift_axes.values())
    # the planner does not read the lidar; an agent that does sees lidar_noise
    _level_zero_is_a_plain_evaluation(tmp_path, "city", ["time_limit=15"],
                                      ["traffic_cars=40", "road_friction=0.1",
                                       "lidar_noise=1.0"], others=("user_agents:LidarSteer",))


def _city_drive(steps: int = 40, **kw):
    """Config, map, vehicle, grip, traffic poses and observations of one seeded drive."""
    import gymnasium as gym

    env = gym.make("moonshot/CityNav-v1", **{"traffic_cars": 20, **kw}).unwrapped
    obs, _ = env.reset(seed=3)
    oracle = env.perceive("oracle")
    cars, observations = [oracle.cars[:, :3].copy()], [obs]
    for _ in range(steps):
        obs, *_ = env.step(np.array([0.3, 0.0], np.float32))
        cars.append(oracle.cars[:, :3].copy())
        observations.append(obs)
    return {"config": dict(env.config), "nodes": oracle.map.nodes.copy(),
            "edges": {tuple(sorted(e[:2])) for e in np.asarray(oracle.map.edges).tolist()},
            "vehicle": oracle.vehicle, "friction": oracle.road_friction,
            "cars": np.array(cars), "obs": np.array(observations)}


@pytest.mark.parametrize("axis", list(CITY.shift_axes))
def test_each_city_level_changes_its_setting_and_only_what_it_says(axis):
    ref = _city_drive()
    lidar = slice(0, 32)
    for level in range(1, len(CITY.axis(axis).levels)):
        settings = CITY.axis(axis).settings(level)
        got = _city_drive(**settings)
        changed = {k for k in ref["config"] if got["config"][k] != ref["config"][k]}
        assert changed == set(settings), (axis, level)
        if axis == "traffic":
            assert len(got["cars"][0]) == settings["traffic_cars"] != len(ref["cars"][0])
        elif axis == "layout":  # other streets
            assert got["edges"] != ref["edges"] or got["nodes"].shape != ref["nodes"].shape \
                or not np.allclose(got["nodes"], ref["nodes"])
        elif axis == "vehicle":
            assert got["vehicle"] != ref["vehicle"]
            assert np.array_equal(got["nodes"], ref["nodes"])
        elif axis == "friction":
            assert got["friction"] == settings["road_friction"] != ref["friction"]
            assert np.array_equal(got["nodes"], ref["nodes"])
        elif axis == "driving_side":  # the same city, mirrored
            assert np.allclose(np.sort(got["nodes"][:, 0]), np.sort(-ref["nodes"][:, 0]))
        elif axis == "lidar_noise":  # the same drive, only the lidar differs
            assert np.array_equal(got["cars"], ref["cars"])
            assert np.array_equal(np.delete(got["obs"], lidar, axis=1),
                                  np.delete(ref["obs"], lidar, axis=1))
            noise = np.std(got["obs"][:, lidar] - ref["obs"][:, lidar])
            assert noise > 0


def test_city_axes_reach_the_planner_through_its_perception():
    import gymnasium as gym

    env = gym.make("moonshot/CityNav-v1", **CITY.axis("friction").settings(3)).unwrapped
    env.reset(seed=0)
    assert env.perceive().weather.name == "ice"  # as a driver sees it
    assert env.perceive("oracle").road_friction == pytest.approx(0.1)
    env = gym.make("moonshot/CityNav-v1", **CITY.axis("vehicle").settings(3)).unwrapped
    env.reset(seed=0)
    assert env.perceive().vehicle.length == 9.0


def test_agents_that_would_share_a_label_are_told_apart(tmp_path):
    """Three seeds' run folders are all called ``run``: the ladder's table and plot name each
    by as much of its path as it takes; the same agent given twice is numbered."""
    from moonshot.agents.loading import resolve_agents

    for seed in ("s0", "s1"):
        assert main(["train", "moon", "--timesteps", "128", "--out", str(tmp_path / seed / "run"),
                     "--n-envs", "16", "--eval-episodes", "2", "--no-progress", "--target",
                     "soi", "--seed", seed[1], "--hyperparams", "n_steps=8", "batch_size=64",
                     "n_epochs=1"]) == 0
    runs = [str(tmp_path / s / "run") for s in ("s0", "s1")]
    out = tmp_path / "shift"
    assert main(["shift", "moon", "--agent", runs[0], "--agent", runs[1], "--agent", "planner",
                 "--axis", "altitude", "--level", "0", "--episodes", "2", "--env-kwargs",
                 "target=soi", "--out", str(out), "--no-progress"]) == 0
    agents = {r["agent"] for r in json.loads((out / "shift.json").read_text())["rows"]}
    assert agents == {"ppo (s0/run)", "ppo (s1/run)", "planner"}
    twice = [s.label for s in resolve_agents(["planner", "planner"], "moon")]
    assert twice == ["planner #1", "planner #2"]
    given = resolve_agents([runs[0]], "moon")[0]
    again = resolve_agents([given, given], "moon")
    assert given.label == "ppo (run)"  # the caller's spec is left as it was
    assert [s.label for s in again] == ["ppo (run) #1", "ppo (run) #2"]
