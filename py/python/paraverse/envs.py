"""Gymnasium environments on any paraverse scenario (needs ``gymnasium`` and ``numpy``).

:class:`BlueEnv` makes the defender an agent, :class:`RedEnv` the attacker. Each sees
through its own team's sensors only and acts through the simulator's operator actions
(:mod:`paraverse` ``Universe.act``), which go through the same systems as the scripted
defenses and campaigns: a blue quarantine or patch counts in the cost as a scripted one
does, a red exploit takes a node exactly when the simulator's own exploits could. The
scenario's own defenses (or a ``strategy``'s) and its scripted campaigns keep running
beside the agents: they are the default policy of the team no agent plays.

Rewards are minus the change in a weighted score of the lab's three objectives over the
step, so an episode's rewards add up to minus the run's score. Blue's default weights are
the lab's (:data:`DEFAULT_WEIGHTS`); red's (:data:`RED_WEIGHTS`) make its reward the
security loss it inflicts: zero-sum against blue's security term, not against blue's
availability or cost.

See :mod:`paraverse.parallel` for red and blue together (PettingZoo) and
:mod:`paraverse.vector` for many universes stepped at once inside Rust.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ._core import DEFAULT_WEIGHTS as _LAB_WEIGHTS
from ._core import MAX_WEIGHT
from ._core import (
    BLUE_FEATURE_NAMES,
    GROUP_ACTIONS,
    NODE_ACTIONS,
    RED_ACTIONS,
    RED_FEATURE_NAMES,
    Levers,
    Universe,
)

#: The lab's default score weights (``[score]`` in an experiment file): lower is better.
DEFAULT_WEIGHTS = dict(_LAB_WEIGHTS)

#: Red's weights: its reward is the security loss it adds.
RED_WEIGHTS = {"security_loss": -1.0}

#: What each blue observation column means, per group (shares) or per node (0 or 1).
OBSERVATION_FEATURES = tuple(BLUE_FEATURE_NAMES)

#: What each red observation column means: nodes its campaign holds, nodes silent on the
#: network (isolated), nodes whose services are down.
RED_OBSERVATION_FEATURES = tuple(RED_FEATURE_NAMES)

#: The largest network ``per="node"`` takes: one observation row and action per node.
MAX_NODES_PER_NODE = 10_000

TEAMS = {
    "blue": (OBSERVATION_FEATURES, tuple(GROUP_ACTIONS), tuple(NODE_ACTIONS), DEFAULT_WEIGHTS),
    "red": (RED_OBSERVATION_FEATURES, tuple(RED_ACTIONS), tuple(RED_ACTIONS), RED_WEIGHTS),
}


def campaign_index(universe: Universe, campaign) -> int:
    """The index of a campaign given by name or index (default: the scenario's first)."""
    campaigns = [c["name"] for c in universe.campaigns()]
    if not campaigns:
        raise ValueError(f"{universe.name} has no campaign for red to steer")
    if campaign is None:
        return 0
    if isinstance(campaign, str):
        if campaign not in campaigns:
            raise ValueError(f"campaign {campaign!r}: expected one of {campaigns}")
        return campaigns.index(campaign)
    if not 0 <= int(campaign) < len(campaigns):
        raise ValueError(f"campaign {campaign}: the scenario has {len(campaigns)}")
    return int(campaign)


class TeamView:
    """One team's rows, features, actions, levers and score over a universe: what the
    single, parallel and vector environments share."""

    def __init__(
        self,
        universe: Universe,
        team: str,
        per: str,
        weights,
        campaign,
        cuts=False,
        strategies=None,
        launch=False,
    ):
        if team not in TEAMS:
            raise ValueError(f"team: expected 'blue' or 'red', not {team!r}")
        if per not in ("group", "node"):
            raise ValueError(f"per: expected 'group' or 'node', not {per!r}")
        self.team = team
        self.per_node = per == "node"
        features, group_actions, node_actions, default = TEAMS[team]
        self.features = features
        self.actions = node_actions if self.per_node else group_actions
        self.weights = dict(default if weights is None else weights)
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"weights: unknown objectives {sorted(unknown)}")
        for name, w in self.weights.items():
            # As the lab's [score]: a NaN or infinite reward has no order to learn from.
            if not (isinstance(w, (int, float)) and abs(w) <= MAX_WEIGHT):
                raise ValueError(
                    f"weights: `{name}`: found {w!r}: expected a finite weight from -1e12 to 1e12"
                )
        self.campaign = campaign_index(universe, campaign) if team == "red" else 0
        self.rows = universe.nodes if self.per_node else len(universe.groups())
        if self.per_node and self.rows > MAX_NODES_PER_NODE:
            raise ValueError(
                f"per='node': {universe.name} has {self.rows} nodes, more than "
                f"{MAX_NODES_PER_NODE}; use per='group'"
            )
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(self.rows, len(features)), dtype=np.float32
        )
        #: The policy-level components after the rows (``None`` without any).
        self.levers = None
        self.orders = 0
        if cuts or strategies or launch:
            self.levers = Levers(
                universe,
                team=team,
                campaign=self.campaign,
                cuts=cuts,
                strategies=list(strategies or []),
                launch=launch,
            )
        nvec = [len(self.actions)] * self.rows + (list(self.levers.nvec) if self.levers else [])
        self.action_space = spaces.MultiDiscrete(nvec)

    def score(self, objectives: dict) -> float:
        return sum(w * objectives[k] for k, w in self.weights.items())

    def observe(self, universe: Universe) -> np.ndarray:
        b = universe.observation(self.team, per_node=self.per_node, campaign=self.campaign)
        return np.frombuffer(b, dtype="<f4").reshape(self.observation_space.shape).copy()

    def mask(self, universe: Universe) -> np.ndarray:
        b = universe.action_mask(self.per_node, team=self.team, campaign=self.campaign)
        return np.frombuffer(b, dtype=np.int8).reshape(self.rows, len(self.actions)).copy()

    def lever_state(self, universe: Universe) -> np.ndarray:
        """The levers' state (as the action's lever part gives it); empty without levers."""
        state = self.levers.state(universe) if self.levers else []
        return np.asarray(state, dtype=np.int64)

    def info(self, universe: Universe, **extra) -> dict:
        info = {"tick": universe.tick, "action_mask": self.mask(universe)}
        if self.levers:
            info["levers"] = self.lever_state(universe)
            info["lever_orders"] = self.orders
        return {**info, **extra}

    def act(self, universe: Universe, action) -> int:
        action = np.asarray(action)
        if action.shape != self.action_space.shape or action.dtype.kind not in "iu":
            raise ValueError(f"{self.team} action {action!r} is not in {self.action_space}")
        rows, levers = action[: self.rows].tolist(), action[self.rows :].tolist()
        if self.levers:
            self.levers.check(levers)
        # The simulator checks every index (0 to actions - 1) and queues nothing if one is
        # out of range: a ValueError naming the row's action.
        queued = universe.act_rows(
            rows, team=self.team, per_node=self.per_node, campaign=self.campaign
        )
        #: How many policy-level orders the last action gave (cuts, reconnections, a
        #: strategy deployed, a launch).
        self.orders = self.levers.apply(universe, levers) if self.levers else 0
        return queued


class TeamEnv(gym.Env):
    """One team as a Gymnasium environment; :class:`BlueEnv` and :class:`RedEnv` fix the
    team."""

    metadata = {"render_modes": []}
    team = "blue"

    def __init__(
        self,
        scenario: str = "metaverse-campus",
        *,
        strategy: str | None = None,
        ticks: int | None = None,
        ticks_per_step: int = 1,
        weights: dict | None = None,
        threads: int | None = None,
        backend: str = "cpu",
        per: str = "group",
        campaign: str | int | None = None,
        cuts: bool | list = False,
        strategies: list[str] | None = None,
        launch: bool = False,
    ):
        if ticks_per_step < 1:
            raise ValueError("ticks_per_step: expected at least 1")
        self._options = dict(
            strategy=strategy, ticks=ticks, threads=threads, backend=backend, operator=True
        )
        self._scenario = scenario
        self._ticks_per_step = ticks_per_step
        self.universe = Universe(scenario, **self._options)
        self.view = TeamView(
            self.universe, self.team, per, weights, campaign, cuts, strategies, launch
        )
        self.groups = self.universe.groups()
        self.observation_space = self.view.observation_space
        self.action_space = self.view.action_space
        self._last_score = self.view.score(self.universe.objectives())

    def _info(self, **extra) -> dict:
        return self.view.info(self.universe, **extra)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        run_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        self.universe = Universe(self._scenario, seed=run_seed, **self._options)
        self._last_score = self.view.score(self.universe.objectives())
        return self.view.observe(self.universe), self._info(seed=run_seed)

    def step(self, action):
        queued = self.view.act(self.universe, action)
        self.universe.step(self._ticks_per_step)
        objectives = self.universe.objectives()
        score = self.view.score(objectives)
        reward = -(score - self._last_score)
        self._last_score = score
        info = self._info(node_actions=queued, objectives=objectives)
        return self.view.observe(self.universe), float(reward), self.universe.done, False, info


class BlueEnv(TeamEnv):
    """The blue team (defender) as a Gymnasium environment.

    Observation: ``Box(0, 1, (groups, 4), float32)``: per group (``universe.groups()``
    order), the shares of its nodes alerted, quarantined, patched and out of service
    (encrypted or overwhelmed), as :data:`OBSERVATION_FEATURES`. The same size at any
    network size. With ``per="node"`` (networks up to :data:`MAX_NODES_PER_NODE` nodes),
    one row per node, each feature 0 or 1.

    Action: ``MultiDiscrete([6] * groups)``: per group, 0 nothing, 1 quarantine its
    alerted nodes, 2 release (rebuild) its quarantined nodes, 3 patch its unpatched nodes,
    4 harden its nodes (replace default credentials), 5 revoke its users' credentials
    (an account taken over is lost to the attacker; every user re-enrols, which costs
    friction) (:data:`paraverse.GROUP_ACTIONS`). With ``per="node"``,
    ``MultiDiscrete([6] * nodes)``: per node, nothing, quarantine, release, patch, harden,
    revoke (``NODE_ACTIONS``). ``info["action_mask"]`` (rows × 6, int8) says which would
    do anything.

    Policy-level actions (levers), after the rows: ``cuts=True`` (every pair of the
    scenario's zones) or a list of ``(zone, zone)`` names adds one component per pair, 1 =
    cut the two zones apart (no connection either way), 0 = connected;
    ``strategies=["zero-trust", "ddos-shield", "my.toml", ...]`` adds one component, k =
    deploy the k-th (0 = the strategy the episode started with): raising zero trust or
    turning scrubbing on is deploying a strategy that does. Each component states the
    wanted state, so zeros change nothing; a component whose state holds gives no order.
    A cut acts from the next tick, a strategy from the next tick on (the universe is
    rebuilt under it, its state and records kept). ``info["levers"]`` is the state in
    force (as the action's lever part; the strategy -1 if another was deployed by
    ``universe.command``), ``info["lever_orders"]`` how many orders the step gave.
    ``env.view.levers.names`` says what each component is. Levers are always valid (the
    mask covers the rows).

    Reward: minus the change of the lab's score over the step, ``score = security_loss ×
    w_s + availability × w_a + cost × w_c`` with ``weights`` (default
    :data:`DEFAULT_WEIGHTS`, the lab's). Episode: the scenario's run (or ``ticks``),
    ``ticks_per_step`` ticks a step; it terminates at the end and is never truncated.
    ``reset(seed=s)`` runs the scenario with seed ``s``: the same seed and actions give
    the same episode.
    """

    team = "blue"


class RedEnv(TeamEnv):
    """The red team (attacker) as a Gymnasium environment, steering one of the scenario's
    campaigns (``campaign``: a name or index, default the first).

    Observation: ``Box(0, 1, (groups, 3), float32)``: per group, the shares of its nodes
    the campaign holds, that are isolated (silent on the network) and whose services are
    down (:data:`RED_OBSERVATION_FEATURES`); never the defenders' alerts or patch levels.
    ``per="node"`` gives one row per node.

    Action: ``MultiDiscrete([2] * groups)``: per group, 0 nothing, 1 exploit one node of
    it that the campaign neither holds nor sees isolated (drawn from the seed, tick and
    group; it is taken if exposed: unpatched, not isolated, held by nobody). Per node, 1
    exploits that node. A node taken is the campaign's: a worm spreads from it from the
    campaign's start on, the defenders' detectors can see it, and its compromised hours
    count in the security loss. ``info["action_mask"]`` (rows × 2) says where a target is
    left. ``launch=True`` adds one component: 1 = start the campaign now, ahead of its
    schedule (a launch is never taken back; ``info["levers"]`` says whether it is under
    way).

    Reward: the security loss added over the step (``weights`` default
    :data:`RED_WEIGHTS`). Episodes as :class:`BlueEnv`'s.
    """

    team = "red"


gym.register(id="paraverse/Blue-v0", entry_point="paraverse.envs:BlueEnv")
gym.register(id="paraverse/Red-v0", entry_point="paraverse.envs:RedEnv")
