"""The Gymnasium blue-team environment (#21, item 2) and the operator actions under it."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import paraverse
from paraverse.envs import DEFAULT_WEIGHTS, BlueEnv


def env(**kw):
    return BlueEnv("metaverse-campus", ticks=60, ticks_per_step=10, **kw)


def test_passes_gymnasiums_own_checker():
    check_env(env(), skip_render_check=True)
    assert gym.spec("paraverse/Blue-v0") is not None


def test_spaces_are_per_group_and_observations_in_range():
    e = env()
    groups = e.universe.groups()
    assert e.observation_space.shape == (len(groups), 4)
    assert list(e.action_space.nvec) == [6] * len(groups)
    obs, info = e.reset(seed=5)
    assert obs.dtype == np.float32 and e.observation_space.contains(obs)
    assert info["action_mask"].shape == (len(groups), 6)
    assert (info["action_mask"][:, 0] == 1).all(), "doing nothing is always allowed"


def rollout(e, seed, policy):
    obs, info = e.reset(seed=seed)
    out = [obs]
    rewards = []
    done = False
    while not done:
        obs, r, done, truncated, info = e.step(policy(obs, info))
        assert not truncated
        out.append(obs)
        rewards.append(r)
    return np.stack(out), rewards, info


def noop(obs, info):
    return np.zeros(len(obs), dtype=np.int64)


def patch_all(obs, info):
    return np.full(len(obs), 3, dtype=np.int64)


def test_same_seed_and_actions_same_episode_and_rewards_add_up_to_the_score():
    e = env()
    a, ra, info = rollout(e, 11, patch_all)
    b, rb, _ = rollout(env(), 11, patch_all)
    assert np.array_equal(a, b) and ra == rb
    # The episode's rewards telescope to minus the lab's score of the run (from tick 0).
    start = paraverse.Universe("metaverse-campus", seed=11, ticks=60).objectives()
    score = lambda o: sum(w * o[k] for k, w in DEFAULT_WEIGHTS.items())
    assert sum(ra) == pytest.approx(-(score(info["objectives"]) - score(start)), rel=1e-9, abs=1e-6)


def test_patching_every_group_contains_the_worm_and_costs_operations():
    _, _, idle = rollout(env(), 3, noop)
    _, _, patched = rollout(env(), 3, patch_all)
    assert patched["objectives"]["security_loss"] < idle["objectives"]["security_loss"]
    assert patched["objectives"]["cost"] > idle["objectives"]["cost"], "patching is not free"


def test_operator_actions_count_like_scripted_defenses_and_are_logged():
    u = paraverse.Universe("metaverse-campus", seed=2, ticks=20, operator=True)
    u.step(5)
    before = u.summary()["counters"]
    u.act("quarantine", [0, 1, 2])
    u.act("patch", [10])
    u.step()
    after = u.summary()["counters"]
    assert after["quarantines"] - before.get("quarantines", 0) == 3
    assert after["patches"] - before.get("patches", 0) >= 1
    events = u.events().to_pylist()
    first = u.groups()[0]["name"]
    kinds = [(e["event"], e["node"], e["tick"]) for e in events if e["event"].startswith("operator_")]
    assert ("operator_quarantine", f"{first}-0", 6) in kinds, kinds
    assert ("operator_patch", f"{first}-10", 6) in kinds, kinds
    obs = np.frombuffer(u.blue_observation(), dtype="<f4").reshape(-1, 4)
    assert obs[:, 1].sum() > 0, "the quarantines show in the blue observation"
    u.act("release", [0])
    u.step()
    assert u.summary()["counters"]["releases"] >= 1
    with pytest.raises(ValueError, match="no such node"):
        u.act("quarantine", [10**9])
    with pytest.raises(ValueError, match="expected quarantine, release, patch, harden, revoke or exploit"):
        u.act("reboot", [1])
    with pytest.raises(ValueError, match="operator"):
        paraverse.Universe(seed=2, ticks=5).act("quarantine", [0])
    with pytest.raises(ValueError):
        BlueEnv(ticks_per_step=0)
    with pytest.raises(ValueError):
        env().step([9] * len(env().universe.groups()))


def test_per_node_mode_for_small_networks(monkeypatch):
    e = BlueEnv("metaverse-campus", ticks=20, ticks_per_step=5, per="node")
    n = e.universe.nodes
    assert e.observation_space.shape == (n, 4) and list(e.action_space.nvec) == [6] * n
    check_env(e, skip_render_check=True)
    obs, info = e.reset(seed=4)
    assert set(np.unique(obs)) <= {0.0, 1.0}
    action = np.zeros(n, dtype=np.int64)
    action[[0, 1]] = 1  # quarantine two nodes
    obs, _, _, _, info = e.step(action)
    assert info["node_actions"] == 2
    assert obs[0, 1] == 1.0 and obs[1, 1] == 1.0, "both show as quarantined"
    assert info["action_mask"][0].tolist()[:3] == [1, 0, 1]
    monkeypatch.setattr(paraverse.envs, "MAX_NODES_PER_NODE", n - 1)
    with pytest.raises(ValueError, match="per='group'"):
        BlueEnv("metaverse-campus", ticks=1, per="node")
    with pytest.raises(ValueError):
        BlueEnv(per="zone")


def test_score_weights_are_finite_and_bounded():
    for bad in (float("nan"), float("inf"), -2e12, "1"):
        with pytest.raises(ValueError, match="expected a finite weight from -1e12 to 1e12"):
            BlueEnv("metaverse-campus", ticks=1, weights={"cost": bad})
    BlueEnv("metaverse-campus", ticks=1, weights={"cost": -1e12})


def test_harden_and_revoke_count_in_the_cost_and_revoke_evicts_a_taken_account():
    u = paraverse.Universe("campaign-takeover", seed=1, ticks=400, operator=True)
    taken = []
    while not taken and not u.done:
        u.step(20)
        taken = [e["node"] for e in u.events().to_pylist() if e["event"] == "account_takeover"]
    assert taken, "the scenario takes an account over"
    names = {}
    for g in u.groups():
        for i in range(g["count"]):
            names[f"{g['name']}-{i}"] = g["first_node"] + i
    node = names[taken[0]]
    before = u.objectives()["cost"]
    u.act("revoke", [node])
    u.act("harden", [node, node])
    u.step()
    counters = u.summary()["counters"]
    assert counters["revocations"] >= 1 and counters["hardened"] >= 1
    assert u.objectives()["cost"] > before, "revocations and hardening are not free"
    revoked = [e for e in u.events().to_pylist() if e["event"] == "operator_revoke"]
    assert revoked[-1]["node"] == taken[0] and revoked[-1]["true_positive"] is True
    assert [e["event"] for e in u.events().to_pylist()].count("operator_harden") == 1
