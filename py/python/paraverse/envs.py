"""Gymnasium environments on any paraverse scenario (needs ``gymnasium`` and ``numpy``).

:class:`BlueEnv` makes the defender an agent. It sees what the defenders' sensors see, per
group of nodes, never which nodes are compromised; it acts per group through the
simulator's operator actions, which count in the cost exactly as the scripted defenses'
do; its reward is minus the change in the lab's score, so an episode's rewards add up to
minus the score the lab would give the run. The scenario's own defenses (or a
``strategy``'s) keep running beside the agent.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ._core import BLUE_FEATURES, GROUP_ACTIONS, NODE_ACTIONS, Universe

#: The lab's default score weights (``[score]`` in an experiment file): lower is better.
DEFAULT_WEIGHTS = {"security_loss": 1.0, "availability": -100_000.0, "cost": 1.0}

#: What each observation column means, per group (shares) or per node (0 or 1).
OBSERVATION_FEATURES = ("alerted", "quarantined", "patched", "out_of_service")

#: The largest network ``per="node"`` takes: one observation row and action per node.
MAX_NODES_PER_NODE = 10_000


class BlueEnv(gym.Env):
    """The blue team (defender) as a Gymnasium environment.

    Observation: ``Box(0, 1, (groups, 4), float32)``: per group (``universe.groups()``
    order), the shares of its nodes alerted, quarantined, patched and out of service
    (encrypted or overwhelmed), as :data:`OBSERVATION_FEATURES`. The same size at any
    network size. With ``per="node"`` (networks up to :data:`MAX_NODES_PER_NODE` nodes),
    one row per node, each feature 0 or 1.

    Action: ``MultiDiscrete([4] * groups)``: per group, 0 nothing, 1 quarantine its
    alerted nodes, 2 release (rebuild) its quarantined nodes, 3 patch its unpatched nodes
    (:data:`paraverse.GROUP_ACTIONS`). With ``per="node"``, ``MultiDiscrete([4] *
    nodes)``: per node, nothing, quarantine, release, patch (``NODE_ACTIONS``).
    ``info["action_mask"]`` (rows × 4, int8) says which would do anything.

    Reward: minus the change of the lab's score over the step, ``score = security_loss ×
    w_s + availability × w_a + cost × w_c`` with ``weights`` (default
    :data:`DEFAULT_WEIGHTS`, the lab's). Episode: the scenario's run (or ``ticks``),
    ``ticks_per_step`` ticks a step; it terminates at the end and is never truncated.
    ``reset(seed=s)`` runs the scenario with seed ``s``: the same seed and actions give
    the same episode.
    """

    metadata = {"render_modes": []}

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
    ):
        if per not in ("group", "node"):
            raise ValueError(f"per: expected 'group' or 'node', not {per!r}")
        self._per_node = per == "node"
        if ticks_per_step < 1:
            raise ValueError("ticks_per_step: expected at least 1")
        self._options = dict(
            strategy=strategy, ticks=ticks, threads=threads, backend=backend, operator=True
        )
        self._scenario = scenario
        self._ticks_per_step = ticks_per_step
        self._weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(self._weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"weights: unknown objectives {sorted(unknown)}")
        self.universe = Universe(scenario, **self._options)
        self.groups = self.universe.groups()
        n = self.universe.nodes if self._per_node else len(self.groups)
        if self._per_node and n > MAX_NODES_PER_NODE:
            raise ValueError(
                f"per='node': {scenario} has {n} nodes, more than {MAX_NODES_PER_NODE}; "
                "use per='group'"
            )
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n, BLUE_FEATURES), dtype=np.float32)
        self.action_space = spaces.MultiDiscrete([len(GROUP_ACTIONS)] * n)
        self._rows = n
        self._last_score = self._score()

    def _score(self) -> float:
        o = self.universe.objectives()
        return sum(w * o[k] for k, w in self._weights.items())

    def _observation(self) -> np.ndarray:
        b = self.universe.blue_observation(per_node=self._per_node)
        return np.frombuffer(b, dtype="<f4").reshape(self.observation_space.shape).copy()

    def _info(self, **extra) -> dict:
        mask = np.frombuffer(self.universe.action_mask(per_node=self._per_node), dtype=np.int8)
        return {
            "tick": self.universe.tick,
            "action_mask": mask.reshape(self._rows, len(GROUP_ACTIONS)).copy(),
            **extra,
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        run_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        self.universe = Universe(self._scenario, seed=run_seed, **self._options)
        self._last_score = self._score()
        return self._observation(), self._info(seed=run_seed)

    def step(self, action):
        action = np.asarray(action, dtype=np.int64)
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        if self._per_node:
            queued = 0
            for code in range(1, len(NODE_ACTIONS)):
                nodes = np.flatnonzero(action == code).tolist()
                if nodes:
                    self.universe.act(NODE_ACTIONS[code], nodes)
                    queued += len(nodes)
        else:
            queued = sum(
                self.universe.act_group(g, int(a)) for g, a in enumerate(action) if a != 0
            )
        self.universe.step(self._ticks_per_step)
        score = self._score()
        reward = -(score - self._last_score)
        self._last_score = score
        info = self._info(node_actions=queued, objectives=self.universe.objectives())
        return self._observation(), float(reward), self.universe.done, False, info


gym.register(id="paraverse/Blue-v0", entry_point="paraverse.envs:BlueEnv")
