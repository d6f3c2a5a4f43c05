"""The red environment, red and blue together (PettingZoo) and the vectorised
environments (#21, items 2-4, 6)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import paraverse
from paraverse.envs import BlueEnv, RedEnv
from paraverse.parallel import RedBlueEnv, parallel_env
from paraverse.vector import TeamVectorEnv
from test_envs import noop, rollout

CAMPUS = dict(ticks=60, ticks_per_step=10)


def exploit_all(obs, info):
    return np.ones(len(obs), dtype=np.int64)


idle = noop


def test_red_env_passes_the_checker_and_steers_the_first_campaign():
    env = RedEnv("metaverse-campus", **CAMPUS)
    check_env(env, skip_render_check=True)
    assert gym.spec("paraverse/Red-v0") is not None
    groups = env.universe.groups()
    assert env.observation_space.shape == (len(groups), 3)
    assert list(env.action_space.nvec) == [2] * len(groups)
    assert env.view.campaign == 0
    campaigns = [c["name"] for c in env.universe.campaigns()]
    assert RedEnv("metaverse-campus", campaign=campaigns[-1], **CAMPUS).view.campaign == len(campaigns) - 1
    with pytest.raises(ValueError, match="expected one of"):
        RedEnv("metaverse-campus", campaign="nobody", **CAMPUS)


def test_red_exploits_add_security_loss_and_its_rewards_add_up_to_it():
    idle_obs, idle_rewards, idle_info = rollout(RedEnv("metaverse-campus", **CAMPUS), 4, idle)
    obs, rewards, info = rollout(RedEnv("metaverse-campus", **CAMPUS), 4, exploit_all)
    loss = info["objectives"]["security_loss"]
    assert loss > idle_info["objectives"]["security_loss"]
    start = paraverse.Universe("metaverse-campus", seed=4, ticks=60).objectives()["security_loss"]
    assert sum(rewards) == pytest.approx(loss - start, rel=1e-9, abs=1e-6)
    # Red sees what it holds: more than when it stayed idle.
    assert obs[1][:, 0].sum() > idle_obs[1][:, 0].sum()
    # Same seed and actions: the same episode, bit for bit.
    again, rewards_again, _ = rollout(RedEnv("metaverse-campus", **CAMPUS), 4, exploit_all)
    assert np.array_equal(obs, again) and rewards == rewards_again


def test_red_exploits_are_logged_and_fail_on_patched_or_isolated_nodes():
    u = paraverse.Universe("metaverse-campus", seed=3, ticks=20, operator=True)
    u.act("patch", [0])
    u.act("quarantine", [1])
    u.step()
    u.act("exploit", [0, 1, 2, 3])
    u.step()
    c = u.summary()["counters"]
    assert c["exploit_attempts"] == 4
    taken = [e for e in u.events().to_pylist() if e["event"] == "operator_exploit"]
    nodes = {e["node"] for e in taken}
    first = u.groups()[0]["name"]
    assert f"{first}-0" not in nodes and f"{first}-1" not in nodes, "patched / isolated"
    assert c["exploits"] == len(taken) >= 1
    held = np.frombuffer(u.observation("red", per_node=True), dtype="<f4").reshape(-1, 3)
    assert held[2:4, 0].sum() >= 1, "red sees the nodes it took"
    with pytest.raises(ValueError, match="campaign 99"):
        u.act_group(0, 1, team="red", campaign=99)
    with pytest.raises(ValueError, match="expected blue or red"):
        u.observation("green")


def test_red_and_blue_pass_pettingzoos_api_test():
    parallel_api_test(RedBlueEnv("metaverse-campus", **CAMPUS), num_cycles=20)
    env = parallel_env(scenario="metaverse-campus", **CAMPUS)
    assert env.possible_agents == ["red", "blue"]
    assert env.observation_space("red").shape[1] == 3
    assert env.observation_space("blue").shape[1] == 4


def play(env, seed, blue, red):
    obs, infos = env.reset(seed=seed)
    total = {a: 0.0 for a in env.possible_agents}
    trail = []
    while env.agents:
        actions = {"blue": blue(obs["blue"], infos["blue"]), "red": red(obs["red"], infos["red"])}
        obs, rewards, terms, truncs, infos = env.step(actions)
        trail.append((obs["blue"].copy(), obs["red"].copy()))
        for a, r in rewards.items():
            total[a] += r
        last = infos
    return total, trail, last


def quarantine_alerted(obs, info):
    return np.ones(len(obs), dtype=np.int64)


def test_red_against_blue_same_seed_same_game_and_blue_acts_first():
    env = RedBlueEnv("metaverse-campus", **CAMPUS)
    a, trail_a, infos = play(env, 9, quarantine_alerted, exploit_all)
    b, trail_b, _ = play(RedBlueEnv("metaverse-campus", **CAMPUS), 9, quarantine_alerted, exploit_all)
    assert a == b
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(trail_a, trail_b))
    objectives = infos["blue"]["objectives"]
    assert a["red"] == pytest.approx(
        objectives["security_loss"]
        - paraverse.Universe("metaverse-campus", seed=9, ticks=60).objectives()["security_loss"],
        rel=1e-9,
        abs=1e-6,
    )
    # Blue patching every group from the first step leaves red's exploits nothing to take
    # but what the scripted worm already held.
    patch = lambda obs, info: np.full(len(obs), 3, dtype=np.int64)
    patched, _, infos = play(RedBlueEnv("metaverse-campus", **CAMPUS), 9, patch, exploit_all)
    assert patched["red"] < a["red"]


def vector_rollout(envs, seed, steps, policy):
    obs, info = envs.reset(seed=seed)
    out, rewards = [obs], []
    for _ in range(steps):
        obs, r, term, trunc, info = envs.step(policy(obs))
        out.append(obs)
        rewards.append(r)
    return np.stack(out), np.stack(rewards)


def test_vector_env_members_equal_single_envs_bit_for_bit_at_any_thread_count():
    n, steps = 3, 6  # 60 ticks: exactly one episode
    policy = lambda obs: (np.arange(obs.shape[0] * obs.shape[1]).reshape(obs.shape[:2]) % 4).astype(np.int64)
    one = TeamVectorEnv("metaverse-campus", n, threads=1, **CAMPUS)
    two = TeamVectorEnv("metaverse-campus", n, threads=2, **CAMPUS)
    assert one.observation_space.shape == (n, one.view.rows, 4)
    a_obs, a_rewards = vector_rollout(one, 20, steps, policy)
    b_obs, b_rewards = vector_rollout(two, 20, steps, policy)
    assert np.array_equal(a_obs, b_obs) and np.array_equal(a_rewards, b_rewards)
    for i in range(n):
        single = BlueEnv("metaverse-campus", **CAMPUS)
        obs, _ = single.reset(seed=20 + i)
        assert np.array_equal(obs, a_obs[0, i])
        for t in range(steps):
            obs, r, done, _, _ = single.step(policy(a_obs[t])[i])
            assert np.array_equal(obs, a_obs[t + 1, i]) and r == a_rewards[t, i]
        assert done


def test_vector_env_autoresets_on_the_next_step_and_checks_actions():
    envs = TeamVectorEnv("metaverse-campus", 2, team="red", ticks=20, ticks_per_step=10)
    obs, info = envs.reset(seed=1)
    assert obs.shape == (2, envs.view.rows, 3) and info["action_mask"].shape == (2, envs.view.rows, 2)
    ones = np.ones((2, envs.view.rows), dtype=np.int64)
    envs.step(ones)
    _, _, term, _, info = envs.step(ones)
    assert term.all() and (info["tick"] == 20).all()
    obs, rewards, term, _, info = envs.step(ones)
    assert not term.any() and (rewards == 0).all() and (info["tick"] == 0).all(), "reset, action ignored"
    with pytest.raises(ValueError):
        envs.step(np.full((2, envs.view.rows), 5))
    with pytest.raises(ValueError):
        envs.step(np.zeros((3, envs.view.rows)))


def test_a_bad_action_in_one_member_queues_nothing_in_any():
    kw = dict(team="blue", ticks=20, ticks_per_step=10)
    tried, clean = TeamVectorEnv("metaverse-campus", 2, **kw), TeamVectorEnv("metaverse-campus", 2, **kw)
    tried.reset(seed=3)
    clean.reset(seed=3)
    patch = np.full((2, tried.view.rows), 3, dtype=np.int64)
    bad = patch.copy()
    bad[1, 0] = 7
    with pytest.raises(ValueError, match="member 1"):
        tried.step(bad)
    a, b = tried.step(np.zeros_like(patch)), clean.step(np.zeros_like(patch))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), "member 0's patches were not queued"


def test_the_cage4_like_network_is_bundled_with_two_phases_for_red():
    assert "cage4-like" in paraverse.scenarios()
    blue = BlueEnv("cage4-like", ticks=60, ticks_per_step=10)
    check_env(blue, skip_render_check=True)
    zones = {g["zone"] for g in blue.groups}
    assert {"contractor", "restricted-a", "operational-a", "restricted-b", "operational-b"} <= zones
    assert blue.universe.nodes == 97
    red = RedEnv("cage4-like", campaign="phase-2B-impact", ticks=60, ticks_per_step=10)
    assert red.view.campaign == 1


def test_the_bench_prints_a_row_per_size(capsys):
    from paraverse import bench

    assert bench.scaled_campus(1000).count("count = ") >= 14
    bench.main(["--sizes", "16", "--seconds", "0.05", "--members", "2", "--nasim-max", "0"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["nodes", "serial", "steps/s"], out
    row = out[1].split()
    assert int(row[0]) >= 16 and float(row[1]) > 0 and float(row[2]) > 0 and row[3] == "-", row


def test_agents_give_the_exercises_policy_level_commands():
    """Zone cuts, strategies deployed mid-run and campaign launches, as players give them
    (`Universe.command`): counted, logged, and refused with the reason."""
    u = paraverse.Universe("metaverse-campus", seed=3, ticks=60, operator=True)
    u.step()
    assert u.command("launch campus-iot-worm") == 1
    assert u.command("isolate campus-xr cloud") == 1
    u.step()
    with pytest.raises(ValueError, match="under way"):
        u.command("launch campus-iot-worm")
    with pytest.raises(ValueError, match="zone `nowhere`"):
        u.command("isolate nowhere")
    assert u.command("strategy zero-trust") == 0
    u.run()
    s = u.summary()
    c = s["counters"]
    assert (c["launches"], c["zone_cuts"], c["strategy_switches"]) == (1, 1, 1)
    assert c["verifications"] > 0 and c["blocked_flow_ticks"] > 0
    assert s["strategy"] == "zero-trust"
    kinds = set(u.events().column("event").to_pylist())
    assert {"operator_launch", "operator_isolate", "operator_strategy"} <= kinds
    with pytest.raises(ValueError, match="operator"):
        paraverse.Universe("metaverse-campus", ticks=5).command("isolate campus-xr")
