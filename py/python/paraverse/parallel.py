"""Red and blue together: a PettingZoo ``ParallelEnv`` (needs ``pettingzoo``).

Both agents act at once on one universe: each step, blue's and red's actions are queued
(blue's first, so a node blue isolates cannot be exploited in the same tick), the universe
advances ``ticks_per_step`` ticks, and each agent sees its own team's sensors
(:class:`paraverse.envs.BlueEnv` and :class:`paraverse.envs.RedEnv` describe them).
Rewards: blue's is minus the change of the lab's score, red's the security loss it adds
(weights as the single environments'). The scenario's scripted campaigns and defenses keep
running: they are the default policy of each side, which the agents steer and add to.

    >>> from paraverse.parallel import RedBlueEnv
    >>> env = RedBlueEnv("metaverse-campus", ticks=120, ticks_per_step=10)
    >>> observations, infos = env.reset(seed=1)
    >>> actions = {a: env.action_space(a).sample() for a in env.agents}
    >>> observations, rewards, terminations, truncations, infos = env.step(actions)
"""

from __future__ import annotations

import functools

from pettingzoo import ParallelEnv

from ._core import Universe
from .envs import TeamView


class RedBlueEnv(ParallelEnv):
    """Agents ``red`` and ``blue`` on one scenario; see the module docs.

    ``campaign`` names the campaign red steers (default the scenario's first); ``cuts``
    and ``strategies`` are blue's levers, ``launch`` red's (see
    :class:`paraverse.envs.BlueEnv` and :class:`paraverse.envs.RedEnv`);
    ``blue_weights`` and ``red_weights`` override the score weights; the rest are
    :class:`paraverse.envs.BlueEnv`'s. Every agent's ``infos[agent]["action_mask"]`` says
    which of its actions would do anything. Episodes end for both at the scenario's end
    (terminated, never truncated).
    """

    metadata = {"name": "paraverse_red_blue_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        scenario: str = "metaverse-campus",
        *,
        campaign: str | int | None = None,
        strategy: str | None = None,
        ticks: int | None = None,
        ticks_per_step: int = 1,
        blue_weights: dict | None = None,
        red_weights: dict | None = None,
        threads: int | None = None,
        backend: str = "cpu",
        per: str = "group",
        cuts: bool | list = False,
        strategies: list[str] | None = None,
        launch: bool = False,
    ):
        if ticks_per_step < 1:
            raise ValueError("ticks_per_step: expected at least 1")
        self._scenario = scenario
        self._options = dict(
            strategy=strategy, ticks=ticks, threads=threads, backend=backend, operator=True
        )
        self._ticks_per_step = ticks_per_step
        self.universe = Universe(scenario, **self._options)
        self.views = {
            "red": TeamView(self.universe, "red", per, red_weights, campaign, launch=launch),
            "blue": TeamView(
                self.universe, "blue", per, blue_weights, None, cuts=cuts, strategies=strategies
            ),
        }
        self.possible_agents = ["red", "blue"]
        self.agents = []
        self.render_mode = None

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return self.views[agent].observation_space

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return self.views[agent].action_space

    def _scores(self):
        o = self.universe.objectives()
        return o, {a: v.score(o) for a, v in self.views.items()}

    def _infos(self, **extra):
        return {a: self.views[a].info(self.universe, **extra) for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is None:
            import random

            seed = random.SystemRandom().randrange(2**63 - 1)
        self.universe = Universe(self._scenario, seed=seed, **self._options)
        self.agents = list(self.possible_agents)
        _, self._last = self._scores()
        observations = {a: self.views[a].observe(self.universe) for a in self.agents}
        return observations, self._infos(seed=seed)

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        unknown = set(actions) - set(self.agents)
        if unknown:
            raise ValueError(f"actions for unknown agents {sorted(unknown)}")
        queued = {a: 0 for a in self.agents}
        for agent in ("blue", "red"):
            if agent in actions:
                queued[agent] = self.views[agent].act(self.universe, actions[agent])
        self.universe.step(self._ticks_per_step)
        objectives, scores = self._scores()
        rewards = {a: float(-(scores[a] - self._last[a])) for a in self.agents}
        self._last = scores
        done = self.universe.done
        observations = {a: self.views[a].observe(self.universe) for a in self.agents}
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        infos = {
            a: {**i, "node_actions": queued[a], "objectives": objectives}
            for a, i in self._infos().items()
        }
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos


def parallel_env(**kwargs) -> RedBlueEnv:
    """PettingZoo's usual constructor name."""
    return RedBlueEnv(**kwargs)
