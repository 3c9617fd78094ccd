"""The CityNav axes that fool a planner: each changes what its table says and nothing else;
combined ladders walk several axes together."""

from __future__ import annotations

import numpy as np
import pytest

import moonshot  # noqa: F401
from moonshot.envs.city_v1 import CityNavV1Env
from moonshot.errors import ConfigError
from moonshot.worlds import get_world

CITY = get_world("city")
ACTIONS = np.array([[0.6, 0.0], [0.2, 0.3], [-0.4, -0.2], [1.0, 0.1]], np.float32)


def _drive(steps=30, seed=6, **settings):
    """Observations, rewards and the honest and oracle views of a drive, step by step."""
    env = CityNavV1Env(traffic_cars=60, **settings)
    obs, _ = env.reset(seed=seed)
    honest, oracle = env.perceive(), env.perceive("oracle")
    rows = [(obs, 0.0, honest.cars.copy(), dict(honest.lights), oracle.cars.copy())]
    for k in range(steps):
        obs, r, term, trunc, _ = env.step(ACTIONS[k % len(ACTIONS)])
        rows.append((obs, r, honest.cars.copy(), dict(honest.lights), oracle.cars.copy()))
        if term or trunc:
            break
    return rows, honest


def test_grip_misjudged_changes_only_what_the_view_shows():
    axis = CITY.axis("grip_misjudged")
    assert not axis.perceivable
    for level in range(1, len(axis.levels)):
        settings = axis.settings(level)
        fooled, view = _drive(**settings)
        true_only = {k: v for k, v in settings.items() if k != "weather_seen"}
        plain, plain_view = _drive(**true_only)
        for a, b in zip(fooled, plain, strict=True):  # the same drive, bit for bit
            np.testing.assert_array_equal(a[0], b[0])
            assert a[1] == b[1]
        assert view.weather.name == "dry"  # ... on a road that is not
        assert settings["road_friction"] < view.weather.low
        assert plain_view.weather.low <= settings["road_friction"] < plain_view.weather.high


def test_sensor_delay_lags_the_cars_and_lights_seen_and_nothing_else():
    axis = CITY.axis("sensor_delay")
    base, _ = _drive()
    for level in range(1, len(axis.levels)):
        k = axis.settings(level)["sensor_delay"]
        late, view = _drive(**axis.settings(level))
        for t, (a, b) in enumerate(zip(late, base, strict=True)):
            np.testing.assert_array_equal(a[0], b[0])  # the drive itself is the same
            np.testing.assert_array_equal(a[4], b[4])  # the oracle is never late
            then = base[max(t - k, 0)]
            np.testing.assert_array_equal(a[2], then[2])  # the cars seen k steps ago
            assert a[3] == then[3]
        assert any(not np.array_equal(a[2], b[2]) for a, b in zip(late, base, strict=True))


def test_perception_settings_are_checked():
    with pytest.raises(ConfigError, match="weather_seen"):
        CityNavV1Env(weather_seen="fog")
    with pytest.raises(ConfigError, match="sensor_delay"):
        CityNavV1Env(sensor_delay=-1)


def test_bold_drivers_change_the_traffic_and_not_the_drive_it_starts_from():
    axis = CITY.axis("drivers")
    assert not axis.perceivable
    base, _ = _drive()
    for level in range(1, len(axis.levels)):
        env = CityNavV1Env(traffic_cars=60, **axis.settings(level))
        env.reset(seed=6)
        tr = env.world.traffic
        share = axis.settings(level)["bold_drivers"]
        assert tr.bold.shape == (tr.n,) and 0 < tr.bold.sum() < tr.n
        assert abs(tr.bold.mean() - share) < 0.25
        ref = CityNavV1Env(traffic_cars=60)
        ref.reset(seed=6)
        # the same drive and cars, only the bold ones want to go faster
        np.testing.assert_array_equal(tr.pose, ref.world.traffic.pose)
        np.testing.assert_array_equal(tr.v0[~tr.bold], ref.world.traffic.v0[~tr.bold])
        assert np.all(tr.v0[tr.bold] > ref.world.traffic.v0[tr.bold])
        bold, _ = _drive(**axis.settings(level))
        assert any(not np.array_equal(a[4], b[4]) for a, b in zip(bold, base, strict=False))


def test_a_bold_driver_runs_a_red_a_lawful_one_stops_for():
    """One car approaching a red at the speed limit: lawful, it stops at the line; bold, it
    goes through."""
    from moonshot.physics.city.generator import generate_city
    from moonshot.physics.city.roads import ROAD
    from moonshot.physics.city.traffic import Traffic, step_traffic, traffic_poses

    city = generate_city(3)
    g, sig = city.lanes, city.signals
    lane = next(ln for ln in range(len(g.length)) if g.kind[ln] == ROAD and g.phase[ln] >= 0
                and g.length[ln] > 60)
    node, phase = int(g.node[lane]), int(g.phase[lane])
    t0 = next(t for t in np.arange(0.0, 200.0, 0.1) if sig.state(node, phase, t) == 2
              and sig.state(node, phase, t + 8.0) == 2)  # red for the next 8 s
    ends = {}
    for bold in (False, True):
        tr = Traffic(lane=np.array([lane]), s=np.array([g.length[lane] - 40.0]),
                     v=np.array([13.0]), next=np.array([g.successors(lane)[0]]),
                     v0=np.array([13.9]), pose=np.zeros((1, 3)),
                     bold=np.array([bold]))
        traffic_poses(tr.lane, tr.s, g.pts, g.cum, tr.pose)
        for k in range(60):
            step_traffic(city, tr, t0 + 0.1 * k, 0.1, np.zeros(1))
        ends[bold] = int(tr.lane[0])
    assert ends[False] == lane and ends[True] != lane


def test_combined_ladders_walk_their_axes_together():
    ax = CITY.axis("friction+traffic+vehicle")
    assert ax.name == "friction+traffic+vehicle" and len(ax.levels) == 4
    for k in range(4):
        parts = [CITY.axis(n).settings(k) for n in ("friction", "traffic", "vehicle")]
        assert ax.settings(k) == {**parts[0], **parts[1], **parts[2]}
        assert ax.labels[k].count(" + ") == 2
    assert ax.settings(0) == {} and ax.perceivable
    assert not CITY.axis("drivers+sensor_delay").perceivable
    assert len(CITY.axis("traffic+driving_side").levels) == 2  # the shortest axis
    assert len(CITY.combined_axes) >= 3
    for name in CITY.combined_axes:  # declared ladders are real combinations
        assert len(CITY.axis(name).levels) > 1 and "+" in name


def test_combined_ladders_refuse_clashes_and_unknown_parts(tmp_path, capsys):
    from moonshot.cli import main

    with pytest.raises(ConfigError, match=r"'friction' and 'grip_misjudged'.*road_friction"):
        CITY.axis("friction+grip_misjudged")
    with pytest.raises(ConfigError, match="fog"):
        CITY.axis("friction+fog")
    assert main(["shift", "city", "--agent", "planner", "--axis", "traffic+fog", "--out",
                 str(tmp_path / "x")]) == 2
    assert "unknown shift axis 'fog'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_hedges_hide_cars_from_the_planner_and_change_nothing_else():
    from moonshot.envs.city_perception import hidden_by_hedges
    from moonshot.physics.city.generator import generate_city

    axis = CITY.axis("occlusion")
    assert not axis.perceivable
    base, _ = _drive(steps=60)
    hidden_any = False
    for level in range(1, len(axis.levels)):
        hedged, _ = _drive(steps=60, **axis.settings(level))
        for a, b in zip(hedged, base, strict=True):
            np.testing.assert_array_equal(a[0], b[0])  # the same drive
            np.testing.assert_array_equal(a[4], b[4])  # the oracle sees through hedges
            seen = {tuple(c) for c in b[2]}
            assert {tuple(c) for c in a[2]} <= seen  # hedges only hide
            hidden_any |= len(a[2]) < len(b[2])
    assert hidden_any
    # the geometry: across a corner lot is hidden, along the road is not
    city = generate_city(3)
    node = city.nodes[int(np.argmax(city.signals.node_phases))]
    e = city.edges[np.any(city.edges == int(np.argmax(city.signals.node_phases)), axis=1)]
    ends = city.nodes[e.ravel()]
    others = ends[np.hypot(*(ends - node).T) > 1.0]
    u = (others - node) / np.hypot(*(others - node).T)[:, None]
    i, j = divmod(int(np.argmin(np.abs(u @ u.T))), len(u))  # two roads at an angle
    assert abs(u[i] @ u[j]) < 0.5
    a, b = node + 14.0 * u[i], node + 14.0 * u[j]
    assert hidden_by_hedges(city, a, b[None], 25.0)[0]
    assert not hidden_by_hedges(city, a, b[None], 0.0)[0]
    assert not hidden_by_hedges(city, a, (node + 3.0 * u[i])[None], 25.0)[0]


def test_sweep_specs_take_combined_ladders():
    from moonshot.evaluation.sweep.spec import _check_shift

    _check_shift(CITY, {"axis": "friction+traffic", "levels": [0, 3]})
    with pytest.raises(ConfigError, match="sweep spec: .*road_friction"):
        _check_shift(CITY, {"axes": ["traffic", "friction+grip_misjudged"]})
