"""Many universes stepped at once inside Rust: a ``gymnasium.vector.VectorEnv``.

A vector environment built from N single ones (Gymnasium's ``SyncVectorEnv``) pays
Python's overhead N times a step. :class:`TeamVectorEnv` hands the whole batch's actions
to the Rust ``Batch`` in one call, which queues them, steps every universe in parallel on
the rayon pool with the GIL released, and returns all observations as one buffer copied
into a preallocated numpy array. Member ``i`` of ``reset(seed=s)`` is seeded ``s + i``
and runs exactly as ``BlueEnv``/``RedEnv`` with ``reset(seed=s + i)`` and the same
actions: bit for bit, at any thread count.

Autoreset is Gymnasium's default (``AutoresetMode.NEXT_STEP``): the step after a member's
episode ends resets it (with a seed drawn from the vector env's generator), ignores its
action and returns its first observation with reward 0.

    >>> from paraverse.vector import TeamVectorEnv
    >>> envs = TeamVectorEnv("metaverse-campus", num_envs=8, ticks=120, ticks_per_step=10)
    >>> observations, infos = envs.reset(seed=1)          # (8, groups, 4) float32
    >>> observations, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
"""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._core import Batch, Universe
from .envs import TeamView


class TeamVectorEnv(VectorEnv):
    """``num_envs`` universes of one scenario for one team (``team="blue"`` or ``"red"``,
    with ``campaign`` for red), stepped together in Rust.

    Spaces are the single environment's, batched: observations ``(num_envs, rows,
    features)`` float32, actions ``(num_envs, rows)`` int64. ``infos["action_mask"]``
    is ``(num_envs, rows, actions)`` int8, ``infos["tick"]`` each member's tick. With
    levers (``cuts``, ``strategies``, ``launch``) each member's actions are its rows then
    its levers, and ``infos["levers"]`` is ``(num_envs, levers)`` int64. Other
    keywords are :class:`paraverse.envs.BlueEnv`'s. With ``copy=False`` every call returns
    the same preallocated observation array, overwritten by the next step.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        scenario: str = "metaverse-campus",
        num_envs: int = 8,
        *,
        team: str = "blue",
        campaign: str | int | None = None,
        strategy: str | None = None,
        ticks: int | None = None,
        ticks_per_step: int = 1,
        weights: dict | None = None,
        threads: int | None = None,
        backend: str = "cpu",
        per: str = "group",
        cuts: bool | list = False,
        strategies: list[str] | None = None,
        launch: bool = False,
        copy: bool = True,
    ):
        if num_envs < 1:
            raise ValueError("num_envs: expected at least 1")
        if ticks_per_step < 1:
            raise ValueError("ticks_per_step: expected at least 1")
        probe = Universe(scenario, strategy=strategy, ticks=1, operator=True)
        self.view = TeamView(probe, team, per, weights, campaign, cuts, strategies, launch)
        self.num_envs = num_envs
        self.single_observation_space = self.view.observation_space
        self.single_action_space = self.view.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._make = lambda seeds: Batch(
            scenario,
            seeds,
            strategy=strategy,
            ticks=ticks,
            backend=backend,
            threads=threads,
            team=team,
            campaign=self.view.campaign,
            per_node=self.view.per_node,
            ticks_per_step=ticks_per_step,
            weights=list(self.view.weights.items()),
            levers=self.view.levers,
        )
        self._shape = (num_envs, *self.single_observation_space.shape)
        self._observations = np.zeros(self._shape, dtype=np.float32)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self.batch = None
        self.copy = copy

    def _seeds(self, seed) -> list[int]:
        if seed is None:
            return [int(s) for s in self.np_random.integers(0, 2**63 - 1, self.num_envs)]
        if isinstance(seed, int):
            return [seed + i for i in range(self.num_envs)]
        if len(seed) != self.num_envs:
            raise ValueError(f"seed: expected {self.num_envs} seeds, got {len(seed)}")
        return [int(s) for s in seed]

    def _fill(self, data: bytes) -> np.ndarray:
        np.copyto(self._observations, np.frombuffer(data, dtype="<f4").reshape(self._shape))
        return self._observations.copy() if self.copy else self._observations

    def _infos(self, **extra) -> dict:
        mask = np.frombuffer(self.batch.action_mask(), dtype=np.int8)
        infos = {
            "tick": np.asarray(self.batch.ticks(), dtype=np.int64),
            "action_mask": mask.reshape(self.num_envs, self.view.rows, len(self.view.actions)),
        }
        if self.view.levers:
            infos["levers"] = np.asarray(self.batch.lever_state(), dtype=np.int64)
        return {**infos, **extra}

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        seeds = self._seeds(seed)
        if self.batch is None:
            self.batch = self._make(seeds)
            data = self.batch.observe()
        else:
            data = self.batch.reset(seeds)
        self._autoreset[:] = False
        return self._fill(data), self._infos(seed=np.asarray(seeds, dtype=np.uint64))

    def step(self, actions):
        if self.batch is None:
            raise RuntimeError("call reset() first")
        actions = np.ascontiguousarray(actions, dtype="<i8")
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions: expected shape {self.action_space.shape}, not {actions.shape}")
        skip = np.flatnonzero(self._autoreset).tolist()
        for i in skip:
            self.batch.reset_member(i, int(self.np_random.integers(0, 2**63 - 1)))
        # The batch checks every member's indices before stepping any: a ValueError names
        # the member and the action.
        data, rewards, done = self.batch.step(actions.tobytes(), skip)
        terminated = np.asarray(done, dtype=bool)
        terminated[skip] = False
        self._autoreset = terminated.copy()
        return (
            self._fill(data),
            np.asarray(rewards, dtype=np.float64),
            terminated,
            np.zeros(self.num_envs, dtype=bool),
            self._infos(),
        )
