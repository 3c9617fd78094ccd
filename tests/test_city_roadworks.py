"""The roadworks axis: lanes of the route closed by barriers the planner's map does not show.

The barriers are physical (the ego that touches one has crashed; the lidar sees them), the
traffic keeps off the closed streets, the planner's view shows a barrier only once its
sensors see it, and the drive is otherwise the one of level 0."""

from __future__ import annotations

import math

import numpy as np
import pytest

import moonshot  # noqa: F401
from moonshot.agents.base import run_episode
from moonshot.agents.city import CityPlanner
from moonshot.envs.city_drives import CityDrives
from moonshot.envs.city_perception import CityMap
from moonshot.envs.city_v1 import CityNavV1Env
from moonshot.errors import ConfigError
from moonshot.physics.city.roads import CONNECTOR
from moonshot.worlds import get_world

CITY = get_world("city")
AXIS = CITY.axis("roadworks")


def _env(seed: int, **settings) -> CityNavV1Env:
    env = CityNavV1Env(**settings)
    env.reset(seed=seed)
    return env


def test_the_axis_and_its_settings():
    assert AXIS.perceivable and len(AXIS.levels) == 4 and AXIS.settings(0) == {}
    assert [AXIS.settings(k).get("roadworks", 0) for k in range(4)] == [0, 1, 2, 4]
    assert "roadworks+occlusion" in CITY.combined_axes
    assert not CITY.axis("roadworks+occlusion").perceivable  # the hedges are not seen
    for bad in ({"roadworks": -1}, {"roadworks": 1.5}, {"roadworks_length": 0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            CityNavV1Env(**bad)


@pytest.mark.parametrize("seed", [3, 8])
def test_closures_stand_on_the_route_and_leave_the_drive_as_it_was(seed):
    plain = _env(seed)
    for level in range(1, len(AXIS.levels)):
        env = _env(seed, **AXIS.settings(level))
        b, d = env._drives.batch, env._drives.batch.started(0)
        works = b.works[0]
        assert 1 <= len(works.lanes) <= AXIS.settings(level)["roadworks"]
        route = d.route.lanes
        assert set(works.lanes) <= set(route)
        assert d.start_lane not in works.lanes and d.goal_lane not in works.lanes
        np.testing.assert_allclose(works.boxes[:, 2], 0.5 * AXIS.settings(level).get(
            "roadworks_length", 8.0))
        # the same map, start, goal, route and ego; the traffic a subset of level 0's
        ref = plain._drives.batch.started(0)
        assert env.map_id == plain.map_id and route == ref.route.lanes
        np.testing.assert_array_equal(d.ego, ref.ego)
        assert {tuple(p) for p in d.traffic.pose} <= {tuple(p) for p in ref.traffic.pose}
        # the planner's map is the stale one: the very map of level 0, without the works
        assert env.perceive().map is CityMap.of(b.city[0])
        assert len(env.perceive("oracle").works) == len(works.lanes)


def test_the_traffic_keeps_off_the_closed_streets():
    env = _env(5, traffic_cars=60, **AXIS.settings(3))
    closed = env._drives.batch.works[0].closed
    g = env._drives.batch.city[0].lanes
    assert len(closed)
    for _ in range(300):
        tr = env._drives.batch.started(0).traffic
        into = np.where(g.kind[tr.lane] == CONNECTOR, g.dst[tr.lane], tr.lane)
        assert not np.isin(into, closed).any()
        assert not np.isin(g.dst[tr.next[tr.next >= 0]], closed).any()
        env._drives.batch.step(np.zeros(1), np.zeros(1), [np.random.default_rng(1).random(tr.n)])


def _facing(env: CityNavV1Env, gap: float) -> np.ndarray:
    """The ego put ``gap`` metres before its first barrier, facing it, standing."""
    box = env._drives.batch.works[0].boxes[0]
    x = box[0] - (box[2] + gap) * math.cos(box[4])
    y = box[1] - (box[2] + gap) * math.sin(box[4])
    env._drives.batch.ego[0] = (x, y, box[4], 0.0)
    return box


def test_a_barrier_is_seen_by_the_lidar_and_the_sensors_and_hit_by_the_car():
    env = _env(3, **AXIS.settings(1))
    b = env._drives.batch
    _facing(env, 10.0)
    b.cast([0])
    nose = b.lidar[0, 0]  # ray 0, from the car's centre along its nose
    assert nose == pytest.approx(10.0, abs=1e-6)
    assert list(b.visible_works(0)) == [0]
    far = _env(3)  # no works: the same ray goes on
    far._drives.batch.ego[0] = b.ego[0]
    far._drives.batch.cast([0])
    assert far._drives.batch.lidar[0, 0] > nose
    # driving on into it is a crash, of its own kind
    _facing(env, 0.5 * b.ego_params.length + 0.3)
    b.ego[0, 3] = 5.0
    _, reward, terminated, _, info = env.step(np.array([0.0, 0.0]))
    assert terminated and info["death"] and info["crash"] == "roadworks"
    assert reward < -5


def test_a_rehearsal_and_a_resume_carry_the_works():
    env = _env(3, **AXIS.settings(2))
    state = env._drives.get_state(0)
    twin = CityDrives(2, dict(env.config))
    twin.set_state(1, state)
    for a, b in zip(twin.batch.works[1], env._drives.batch.works[0], strict=True):
        np.testing.assert_array_equal(a, b)
    _facing(env, 2.0)
    env._drives.batch.ego[0, 3] = 8.0
    rehearsal = env.perceive("simulator")  # a copy of the drive as it stands now
    _, infos = rehearsal.rehearse_plans(np.zeros((1, 10, 2)))
    assert infos[0]["crash"] == "roadworks"


def test_the_planner_passes_the_works_it_sees_and_a_blind_one_hits_them():
    class Blind(CityPlanner):
        def _notice_works(self, seen):
            return np.zeros((0, 5))

    settings = AXIS.settings(2)
    for seed in (130_000_000, 130_000_001):
        seeing = run_episode(CityPlanner(), CityNavV1Env(**settings), seed=seed)
        assert seeing.outcome == "arrived"
        blind = run_episode(Blind(), CityNavV1Env(**settings), seed=seed)
        assert blind.outcome == "crashed" and blind.final_info["crash"] == "roadworks"


def test_a_batch_of_drives_with_roadworks_is_each_drive_alone():
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    settings, mode = AXIS.settings(3), AutoresetMode.NEXT_STEP
    native = gym.make_vec("moonshot/CityNav-v1", num_envs=3,
                          vectorization_mode="vector_entry_point", autoreset_mode=mode,
                          **settings)
    sync = gym.make_vec("moonshot/CityNav-v1", num_envs=3, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": mode}, **settings)
    rng = np.random.default_rng(0)
    (o1, _), (o2, _) = native.reset(seed=[4, 90, 7]), sync.reset(seed=[4, 90, 7])
    np.testing.assert_array_equal(o1, o2)
    ended = 0
    for _ in range(60):
        act = rng.uniform(-1, 1, native.action_space.shape).astype(np.float32)
        act[:, 0] = 1.0  # on, into the works
        r1, r2 = native.step(act), sync.step(act)
        for a, b in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        ended += int(r1[2].sum())
    assert ended  # and a drive started again, with works of its own
    native.close()
    sync.close()


def test_a_drive_with_roadworks_resumes_exactly_from_its_stored_state():
    from moonshot.safe_store import decode_tree, encode_tree

    settings = AXIS.settings(2)
    env = _env(3, **settings)
    for _ in range(20):
        env.step(np.array([0.5, 0.0]))
    resumed = _env(99, **settings)  # another drive, then the stored one
    resumed.set_state(decode_tree(*encode_tree(env.get_state())))
    for _ in range(30):
        a, b = env.step(np.array([0.5, 0.02])), resumed.step(np.array([0.5, 0.02]))
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]


def test_hedges_hide_barriers_from_the_honest_view_as_they_hide_cars():
    """``roadworks+occlusion``: a barrier the buildings leave in sight can stand behind a
    hedge; the honest view then does not list it (the oracle's does), and without hedges the
    view lists what the sensors see, as before."""
    both = CITY.axis("roadworks+occlusion").settings(3)
    assert both["occlusion"] > 0 and both["roadworks"] > 0
    hedged = _env(3, **both)
    plain = _env(3, **{k: v for k, v in both.items() if k != "occlusion"})
    honest, oracle, open_view = hedged.perceive(), hedged.perceive("oracle"), plain.perceive()
    b = hedged._drives.batch
    boxes, lanes = b.works[0].boxes, b.city[0].lanes
    pts = lanes.pts.reshape(-1, 2)
    hidden = 0
    for box in boxes:
        d = np.hypot(pts[:, 0] - box[0], pts[:, 1] - box[1])
        for q in pts[(d > 15) & (d < 45)]:
            for env in (hedged, plain):
                env._drives.batch.ego[0] = (q[0], q[1], 0.0, 0.0)
                env._refresh_views(env.perceive())
                env._refresh_views(env.perceive("oracle"))
            seen = b.visible_works(0)
            np.testing.assert_array_equal(open_view.works, boxes[seen])
            assert len(oracle.works) == len(boxes)
            in_view = {tuple(w) for w in honest.works}
            assert in_view <= {tuple(w) for w in boxes[seen]}
            hidden += len(seen) - len(in_view)
    assert hidden > 0  # some barriers in the buildings' line of sight stood behind hedges
