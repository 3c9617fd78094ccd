"""Development and test seeds (docs/protocol.md): every world declares, per split and per shift
axis, a dev range and a disjoint test range; every evaluation draws its scenarios from the set
it is given, and says which."""

import csv
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moonshot  # noqa: F401 (registers the envs)
from moonshot.agents.episodes import TRAINING_EVAL_SEED, scenario_set
from moonshot.cli import main
from moonshot.errors import ConfigError
from moonshot.worlds import SeedSets, get_world, worlds


def _scenario_seeds(s) -> set[int]:
    """What a scenario set hands the env: its scenario ids (replayed), or its reset seeds."""
    return set(s.ids) if s.ids is not None else set(range(s.seed, s.seed + s.n))


def _places(world):
    return [(split, None) for split in world.seed_sets.places] + \
        [("train", axis) for axis in world.shift_axes]


@st.composite
def evaluations(draw):
    world = draw(st.sampled_from(worlds()))
    split, axis = draw(st.sampled_from(_places(world)))
    top = world.seed_sets.evaluation_seeds - 1
    return (world, split, axis, draw(st.integers(0, top)), draw(st.integers(0, top)),
            draw(st.integers(1, world.seed_sets.seeds_per_eval)),
            draw(st.integers(1, world.seed_sets.seeds_per_eval)),
            draw(st.sampled_from(["evaluation", "run"])))


@settings(max_examples=200, deadline=None)
@given(evaluations())
def test_dev_and_test_scenarios_never_overlap(case):
    """For any world, split or axis, seeds and sizes: the scenario ids (MoonLaunch) or reset
    seeds (CityNav) of a dev evaluation are never those of a test evaluation, nor those of a
    training-time evaluation (dev) of any run seed."""
    world, split, axis, s_dev, s_test, n_dev, n_test, kind = case
    dev = scenario_set(world, split, s_dev, n_dev, kind, seed_set="dev", axis=axis)
    test = scenario_set(world, split, s_test, n_test, kind, seed_set="test", axis=axis)
    assert not _scenario_seeds(dev) & _scenario_seeds(test)
    assert all(x in world.seed_sets.block("test") for x in _scenario_seeds(test))
    assert all(x in world.seed_sets.block("dev") for x in _scenario_seeds(dev))
    training = scenario_set(world, split, s_test, n_test, "training", axis=axis)
    assert not _scenario_seeds(training) & _scenario_seeds(test)
    # the legacy seeds (small evaluation seeds, training evaluations from 10,000) lie below
    legacy = scenario_set(world, split, s_test, n_test, kind, seed_set="legacy")
    if legacy.ids is None:
        assert max(_scenario_seeds(legacy)) < world.seed_sets.dev


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(worlds()), st.sampled_from(["dev", "test"]), st.data())
def test_each_split_and_axis_has_its_own_range(world, seed_set, data):
    (s1, a1), (s2, a2) = data.draw(st.lists(st.sampled_from(_places(world)), min_size=2,
                                            max_size=2, unique=True))
    r1, r2 = world.seed_range(seed_set, s1, a1), world.seed_range(seed_set, s2, a2)
    assert r1.stop <= r2.start or r2.stop <= r1.start
    assert min(r1.start, r2.start) >= max(TRAINING_EVAL_SEED * 100, 2**20)


def test_a_shift_ladder_shares_its_axis_seeds_across_levels():
    city = get_world("city")
    ev = scenario_set(city, "train", 3, 5, axis="friction")
    assert ev.seed == city.seed_range("dev", "train", "friction").start + 3 * 5_000
    assert ev != scenario_set(city, "train", 3, 5)  # not the split's seeds


def test_bad_seed_sets_are_refused():
    with pytest.raises(ConfigError, match="never test"):
        scenario_set(get_world("city"), "new", 5, 3, kind="training", seed_set="test")
    with pytest.raises(ConfigError, match="must not overlap"):
        SeedSets(dev=0, test=100, block_size=1_000)
    with pytest.raises(ConfigError, match="outside the test seed set.*0 .. 1999"):
        scenario_set(get_world("moon"), "train", 2000, 3, seed_set="test")
    with pytest.raises(ConfigError, match="do not fit"):
        scenario_set(get_world("moon"), "train", 0, 10**6, seed_set="dev")
    with pytest.raises(ConfigError, match="unknown split"):
        get_world("city").seed_range("dev", "holdout")


def test_a_plan_run_records_its_seed_set_and_refuses_a_seed_outside_it(tmp_path):
    out = tmp_path / "plan"
    assert main(["plan", "moon", "--episodes", "2", "--seed", "1", "--seed-set", "dev",
                 "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert config["seed_set"] == summary["seed_set"] == "dev"
    with open(out / "episodes.csv") as fh:
        ids = [int(row["map_id"]) for row in csv.DictReader(fh)]
    assert set(ids) <= set(get_world("moon").evaluation_seeds("dev", "train", 1, 2))
    bad = tmp_path / "bad"
    assert main(["plan", "moon", "--episodes", "2", "--seed", "5000", "--out", str(bad)]) == 2
    assert not bad.exists()
    assert main(["plan", "moon", "--episodes", "2", "--seed", "5000", "--seed-set", "legacy",
                 "--out", str(bad)]) == 0


def test_evaluate_and_shift_say_which_seed_set(tmp_path):
    assert main(["evaluate", "planner:moon", "--split", "train", "--episodes", "2",
                 "--seed-set", "legacy", "--out", str(tmp_path / "ev")]) == 0
    assert json.loads((tmp_path / "ev" / "transfer.json").read_text())["seed_set"] == "legacy"
    assert "Seed set: legacy" in (tmp_path / "ev" / "report.md").read_text()
    assert main(["shift", "moon", "--agent", "planner", "--axis", "sun", "--level", "0",
                 "--episodes", "2", "--out", str(tmp_path / "sh"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "sh" / "shift.json").read_text())["seed_set"] == "dev"
    assert "Seed set: dev" in (tmp_path / "sh" / "report.md").read_text()


def test_training_evaluates_on_dev_and_a_run_from_before_the_seed_sets_keeps_legacy(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "moon", "--timesteps", "256", "--eval-episodes", "2", "--out",
                 str(run), "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["eval_seed_set"] == "dev"
    del config["eval_seed_set"]  # as a run started before the seed sets
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "moon", "--timesteps", "4096", "--out", str(run), "--resume",
                 "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["eval_seed_set"] == "legacy"


def test_a_sweep_spec_says_its_seed_set_and_each_cell_carries_it():
    from moonshot.evaluation.sweep import expand

    spec = {"world": "moon", "agents": [{"planner": True}], "seeds": [0, 1]}
    assert {c.seed_set for c in expand(spec)} == {"dev"}
    assert {c.seed_set for c in expand({**spec, "seed_set": "legacy"})} == {"legacy"}
    with pytest.raises(ConfigError, match="seed set 'holdout'"):
        expand({**spec, "seed_set": "holdout"})
    with pytest.raises(ConfigError, match="outside the dev seed set"):
        expand({**spec, "evaluate": {"seed": 5000}})
    assert expand({**spec, "seed_set": "legacy", "evaluate": {"seed": 5000}})


#: Every place of the built-in worlds as of 81a5f05 (before the roadworks axis), in order, with
#: the first seed of its dev and of its test range: these must never move (docs/protocol.md,
#: "Seed ranges": places are append-only), or figures measured on them would silently change
#: scenarios. A new axis or ladder takes a new place after these.
PINNED_PLACES = {
    "moon": ("train", "new", "altitude", "moon_mass", "moon_orbit", "burn_noise", "sun",
             "burn_bias", "altitude+moon_mass+moon_orbit", "burn_noise+burn_bias",
             "moon_orbit+burn_bias+sun"),
    "city": ("train", "new", "traffic", "layout", "vehicle", "friction", "driving_side",
             "lidar_noise", "drivers", "grip_misjudged", "occlusion", "sensor_delay",
             "friction+traffic", "friction+traffic+vehicle", "friction+vehicle+layout",
             "drivers+sensor_delay+grip_misjudged", "drivers+occlusion+sensor_delay"),
    # the body world (a plug-in) as first built
    "body": ("train", "new", "damage", "payload", "friction", "slope", "damage+payload",
             "friction+slope"),
}


@pytest.mark.parametrize("world_name", sorted(PINNED_PLACES))
def test_the_seeds_of_every_existing_place_never_move(world_name):
    if world_name == "body":
        import moonshot_body  # noqa: F401  (a plug-in world: importing it registers it)
    world = get_world(world_name)
    for k, place in enumerate(PINNED_PLACES[world_name]):
        split, axis = (place, None) if place in ("train", "new") else ("train", place)
        dev, test = world.seed_range("dev", split, axis), world.seed_range("test", split, axis)
        assert (dev.start, dev.stop) == (100_000_000 + k * 10_000_000,
                                         110_000_000 + k * 10_000_000), place
        assert (test.start, test.stop) == (1_000_000_000 + k * 10_000_000,
                                           1_010_000_000 + k * 10_000_000), place
    # and the pinned places come first, in this order (new ones only after them), declared
    assert world.seed_order[:len(PINNED_PLACES[world_name]) - 2] == \
        PINNED_PLACES[world_name][2:]
    assert world.seed_places()[:len(PINNED_PLACES[world_name])] == PINNED_PLACES[world_name]


def test_a_new_axis_takes_a_place_after_every_listed_one_and_bad_orders_are_refused():
    from moonshot.worlds import ShiftAxis, World

    def axis(name, key):
        return ShiftAxis(name, ({}, {key: 1}), ("0", "1"))

    old = {"a": axis("a", "x"), "b": axis("b", "y")}
    before = World(name="w", title="W", env_id="w/W-v0", shift_axes=old,
                   combined_axes=("a+b",), seed_order=("a", "b", "a+b"))
    after = World(name="w", title="W", env_id="w/W-v0", shift_axes={**old, "c": axis("c", "z")},
                  combined_axes=("a+b", "c+a"), seed_order=("a", "b", "a+b"))
    assert after.seed_places()[:len(before.seed_places())] == before.seed_places()
    assert after.seed_places()[-2:] == ("c", "c+a")
    for place in before.seed_places()[2:]:
        assert after.seed_range("dev", "train", place) == before.seed_range("dev", "train", place)
    with pytest.raises(ConfigError, match="seed_order names 'd'"):
        World(name="w", title="W", env_id="w/W-v0", shift_axes=old, seed_order=("a", "d"))
    with pytest.raises(ConfigError, match="twice"):
        World(name="w", title="W", env_id="w/W-v0", shift_axes=old, seed_order=("a", "a"))
