"""Policy-level actions in the agent environments (#21 item 2): blue cuts zone pairs and
deploys strategies, red launches its campaign, as components after the rows."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import paraverse
from paraverse.envs import BlueEnv, RedEnv
from paraverse.parallel import RedBlueEnv
from paraverse.vector import TeamVectorEnv

CAMPUS = dict(ticks=60, ticks_per_step=10)
BLUE_LEVERS = dict(cuts=True, strategies=["zero-trust", "segmented"])


def test_levers_follow_the_rows_in_the_action_space():
    env = BlueEnv("metaverse-campus", **CAMPUS, **BLUE_LEVERS)
    check_env(env, skip_render_check=True)
    rows, zones = env.view.rows, 6
    pairs = zones * (zones - 1) // 2
    assert list(env.action_space.nvec) == [6] * rows + [2] * pairs + [3]
    names = env.view.levers.names
    assert names[0] == "cut campus-xr|campus-iot" and names[-1] == "strategy: 0 = as started, 1 = zero-trust, 2 = segmented"
    _, info = env.reset(seed=1)
    assert list(info["levers"]) == [0] * (pairs + 1)
    # Only the pairs asked for.
    few = BlueEnv("metaverse-campus", cuts=[("campus-xr", "cloud")], **CAMPUS)
    assert list(few.action_space.nvec) == [6] * rows + [2]
    red = RedEnv("metaverse-campus", launch=True, **CAMPUS)
    check_env(red, skip_render_check=True)
    assert list(red.action_space.nvec) == [2] * rows + [2]
    assert red.view.levers.names == ["launch campus-iot-worm"]


def test_bad_levers_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="zone `nowhere`: expected"):
        BlueEnv("metaverse-campus", cuts=[("nowhere", "cloud")], **CAMPUS)
    with pytest.raises(ValueError, match="one zone"):
        BlueEnv("metaverse-campus", cuts=[("cloud", "cloud")], **CAMPUS)
    with pytest.raises(ValueError, match="given twice"):
        BlueEnv("metaverse-campus", cuts=[("cloud", "edge"), ("edge", "cloud")], **CAMPUS)
    with pytest.raises(ValueError, match="strategy"):
        BlueEnv("metaverse-campus", strategies=["no-such-strategy"], **CAMPUS)
    with pytest.raises(ValueError, match="red's is launch"):
        RedEnv("metaverse-campus", cuts=True, **CAMPUS)
    with pytest.raises(ValueError, match="launch is red's"):
        BlueEnv("metaverse-campus", launch=True, **CAMPUS)


def episode(env, seed, actions):
    obs, info = env.reset(seed=seed)
    trail = [(obs, 0.0, info.get("levers"))]
    for a in actions:
        obs, r, done, _, info = env.step(a)
        trail.append((obs, r, info.get("levers")))
    return trail, info


def test_all_zero_levers_change_nothing_and_a_cut_and_a_switch_act():
    plain = BlueEnv("metaverse-campus", **CAMPUS)
    levered = BlueEnv("metaverse-campus", **CAMPUS, **BLUE_LEVERS)
    rows, width = levered.view.rows, len(levered.view.levers)
    zeros = [np.zeros(rows + width, dtype=np.int64)] * 6
    a, _ = episode(plain, 4, [z[:rows] for z in zeros])
    b, _ = episode(levered, 4, zeros)
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b)), "zero levers = no levers"

    cut = levered.view.levers.names.index("cut campus-xr|cloud")
    acts = []
    for step in range(6):
        act = np.zeros(rows + width, dtype=np.int64)
        act[rows + cut] = 1 if step < 3 else 0  # cut for three steps, then reconnect
        act[-1] = 1 if step >= 2 else 0  # zero trust from the third step on
        acts.append(act)
    trail, info = episode(levered, 4, acts)
    states = [t[2] for t in trail[1:]]
    assert [s[cut] for s in states] == [1, 1, 1, 0, 0, 0]
    assert [s[-1] for s in states] == [0, 0, 1, 1, 1, 1]
    assert info["lever_orders"] == 0, "the last step asked for the state in force"
    s = levered.universe.summary()
    c = s["counters"]
    assert (c["zone_cuts"], c["strategy_switches"]) == (1, 1)
    assert c["verifications"] > 0, "zero trust verified sessions after the switch"
    assert s["strategy"] == "zero-trust"
    kinds = levered.universe.events().column("event").to_pylist()
    assert kinds.count("operator_isolate") == 1 and kinds.count("operator_reconnect") == 1
    # The same seed and actions give the same episode.
    again, _ = episode(BlueEnv("metaverse-campus", **CAMPUS, **BLUE_LEVERS), 4, acts)
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(trail, again))


def test_a_lever_out_of_range_queues_nothing():
    env = BlueEnv("metaverse-campus", **CAMPUS, **BLUE_LEVERS)
    env.reset(seed=2)
    act = np.zeros(env.action_space.shape, dtype=np.int64)
    act[: env.view.rows] = 3  # patch every group ...
    act[-1] = 7  # ... with a strategy that does not exist
    with pytest.raises(ValueError, match=r"lever `strategy: .*`: 7 is not 0 to 2"):
        env.step(act)
    assert env.universe.summary()["counters"].get("operator_patches", 0) == 0
    assert env.universe.tick == 0


def test_red_launches_its_campaign_ahead_of_schedule():
    plain = RedEnv("metaverse-campus", **CAMPUS)
    early = RedEnv("metaverse-campus", launch=True, **CAMPUS)
    rows = early.view.rows
    waiting, _ = episode(plain, 6, [np.zeros(rows, dtype=np.int64)] * 6)
    launch = np.zeros(rows + 1, dtype=np.int64)
    launch[-1] = 1
    launched, info = episode(early, 6, [launch] + [np.zeros(rows + 1, dtype=np.int64)] * 5)
    assert [t[2][0] for t in launched[1:]] == [1] * 6, "a launch is never taken back"
    assert sum(t[1] for t in launched) > sum(t[1] for t in waiting), "an early worm does more harm"
    assert early.universe.summary()["counters"]["launches"] == 1


def test_vector_env_with_levers_equals_single_envs_bit_for_bit():
    n, steps = 3, 6
    envs = TeamVectorEnv("metaverse-campus", n, threads=2, **CAMPUS, **BLUE_LEVERS)
    rows, width = envs.view.rows, len(envs.view.levers)
    assert envs.action_space.shape == (n, rows + width)
    rng = np.random.default_rng(0)
    plan = []
    for t in range(steps):
        act = np.zeros((n, rows + width), dtype=np.int64)
        act[:, :rows] = rng.integers(0, 4, (n, rows))
        act[:, rows:-1] = rng.random((n, width - 1)) < 0.2
        act[:, -1] = rng.integers(0, 3, n)
        plan.append(act)
    obs, info = envs.reset(seed=30)
    assert info["levers"].shape == (n, width)
    vec = [(obs, None, info["levers"])]
    for act in plan:
        obs, r, _, _, info = envs.step(act)
        vec.append((obs, r, info["levers"]))
    for i in range(n):
        single, _ = episode(
            BlueEnv("metaverse-campus", **CAMPUS, **BLUE_LEVERS), 30 + i, [a[i] for a in plan]
        )
        for t, (o, r, lv) in enumerate(single):
            assert np.array_equal(o, vec[t][0][i]) and np.array_equal(lv, vec[t][2][i])
            if t:
                assert r == vec[t][1][i]
    envs.reset(seed=1)
    bad = plan[0].copy()
    bad[2, -1] = 9
    with pytest.raises(ValueError, match="member 2: lever `strategy"):
        envs.step(bad)


def test_red_and_blue_with_levers_pass_pettingzoos_api_test():
    env = RedBlueEnv("metaverse-campus", cuts=True, strategies=["zero-trust"], launch=True, **CAMPUS)
    parallel_api_test(env, num_cycles=20)
    assert env.action_space("red").nvec[-1] == 2 and env.action_space("blue").nvec[-1] == 2
    _, infos = env.reset(seed=1)
    assert len(infos["blue"]["levers"]) == 16 and len(infos["red"]["levers"]) == 1
