"""paraverse from Python: deterministic metaverse network twins, runs and sweeps.

    >>> import paraverse
    >>> u = paraverse.Universe("metaverse-campus", seed=7)
    >>> u.step(100)                      # ticks, with the GIL released
    >>> u.summary()["objectives"]        # the same JSON as the CLI's summary.json
    >>> u.timeseries().to_pandas()       # pyarrow Tables, typed as the CLI's Parquet files

Everything here is the simulator itself (the Rust `paraverse._core` module), not a
re-implementation: the same scenario, seed and strategy give the same bytes as
`paraverse run`, at any thread count. Bad input raises :class:`ScenarioError` (a
``ValueError``) with the CLI's message: file, line, column and field.

Agent environments: :mod:`paraverse.envs` (Gymnasium, blue or red), :mod:`paraverse.parallel`
(PettingZoo, red and blue together), :mod:`paraverse.vector` (many universes stepped at
once in Rust).
"""

from ._core import (
    Batch,
    Levers,
    ParaverseError,
    ScenarioError,
    Universe,
    __version__,
    scenario_text,
    scenarios,
    strategies,
    sweep,
)

__all__ = [
    "Batch",
    "Levers",
    "ParaverseError",
    "ScenarioError",
    "Universe",
    "__version__",
    "scenario_text",
    "scenarios",
    "strategies",
    "sweep",
]
