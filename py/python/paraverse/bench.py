"""Environment steps per second, serial and vectorised, beside NASim's: ``python -m
paraverse.bench``.

For each network size it times the blue environment (one ``BlueEnv``, one Python call per
step) and the vector environment (``TeamVectorEnv``, member steps per second across the
batch), one tick per step, uniformly random actions among nothing, quarantine, release and
patch, episodes reset as they end; and, where
``nasim`` is installed, NASim's generated scenario with as many hosts as the network has nodes (5
services, random flat actions), in the same process, so the ratio is measured on the same
machine at the same moment. Sizes up to 10^4 are the bundled campus with every group scaled
to the size (the same services, topology rules, flows, worm and defenses); 10^6 is the
bundled ``smart-city-1m``.

    python -m paraverse.bench                       # 16, 100, 1000, 10^4 and 10^6 nodes
    python -m paraverse.bench --sizes 16 1000 --seconds 3 --members 16

Build the package in release mode for figures (``pip install ./py`` does); a debug build
measures the debug build.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time

import numpy as np

from . import scenario_text
from .envs import BlueEnv
from .vector import TeamVectorEnv

CAMPUS = "metaverse-campus"
CITY = "smart-city-1m"


def scaled_campus(nodes: int) -> str:
    """The campus's TOML with every group's count scaled so the network has about
    ``nodes`` nodes (each group at least one, so never fewer than its 14 groups), the
    worm's first footholds capped to its entry group, and below 1,000 nodes one
    attachment and one uplink per node (its groups are too small for more)."""
    text = scenario_text(CAMPUS)
    counts = [int(c) for c in re.findall(r"(?m)^count = (\d+)$", text)]
    total = sum(counts)
    scaled = iter(max(1, round(c * nodes / total)) for c in counts)
    text = re.sub(r"(?m)^count = \d+$", lambda m: f"count = {next(scaled)}", text)
    sensors = max(1, round(counts[4] * nodes / total))
    text = re.sub(r"(?m)^initial = \d+$", f"initial = {min(3, sensors)}", text)
    if nodes < 1000:  # groups of one or two nodes: one attachment, one uplink each
        text = re.sub(r"(?m)^(m|uplinks) = \d+$", r"\1 = 1", text)
    return text.replace(f'name = "{CAMPUS}"', f'name = "campus-{nodes}"', 1)


def scenario_for(nodes: int, folder: str) -> str:
    if nodes >= 1_000_000:
        return CITY
    path = os.path.join(folder, f"campus-{nodes}.toml")
    with open(path, "w") as f:
        f.write(scaled_campus(nodes))
    return path


def timed(step, seconds: float) -> float:
    """Calls ``step()`` (returning the steps it made) for about ``seconds``; steps/s."""
    step()  # warm up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        n += step()
    return n / elapsed


def serial(scenario: str, seconds: float) -> tuple[float, int]:
    env = BlueEnv(scenario, ticks_per_step=1)
    rng = np.random.default_rng(0)
    env.reset(seed=1)

    def step():
        _, _, done, _, _ = env.step(rng.integers(0, 4, env.action_space.shape))
        if done:
            env.reset(seed=int(rng.integers(1 << 30)))
        return 1

    return timed(step, seconds), env.universe.nodes


def vectorised(scenario: str, members: int, seconds: float) -> float:
    envs = TeamVectorEnv(scenario, members, ticks_per_step=1)
    envs.reset(seed=1)
    rng = np.random.default_rng(0)

    def step():
        envs.step(rng.integers(0, 4, envs.action_space.shape))
        return members

    return timed(step, seconds)


def nasim_rate(hosts: int, seconds: float) -> float | None:
    try:
        import nasim
    except ImportError:
        return None
    env = nasim.generate(hosts, 5, seed=1)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    n_actions = env.action_space.n

    def step():
        _, _, term, trunc, _ = env.step(int(rng.integers(n_actions)))
        if term or trunc:
            env.reset()
        return 1

    return timed(step, seconds)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m paraverse.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 100, 1000, 10_000, 1_000_000],
                   help="network sizes in nodes (default: 16 100 1000 10000 1000000)")
    p.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default 2)")
    p.add_argument("--members", type=int, default=16, help="vector environment size (default 16; 2 at 10^6 nodes)")
    p.add_argument("--nasim-max", type=int, default=10_000, help="largest NASim network to build (default 10000)")
    args = p.parse_args(argv)
    print(f"{'nodes':>9} {'serial steps/s':>15} {'vector steps/s':>15} {'NASim steps/s':>14} {'serial/NASim':>13} {'vector/NASim':>13}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            scenario = scenario_for(size, folder)
            one, nodes = serial(scenario, args.seconds)
            members = args.members if size < 1_000_000 else 2
            many = vectorised(scenario, members, args.seconds)
            other = nasim_rate(nodes, args.seconds) if nodes <= args.nasim_max else None
            ratio = lambda x: f"{x / other:13.2f}" if other else f"{'-':>13}"
            nasim_col = f"{other:14.0f}" if other else f"{'-':>14}"
            print(f"{nodes:>9} {one:15.1f} {many:15.1f} {nasim_col} {ratio(one)} {ratio(many)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
