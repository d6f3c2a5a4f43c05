#!/usr/bin/python3
"""Solve the problems `paraverse bench --traffic --dump DIR` wrote with SimGrid, and compare.

SimGrid (https://simgrid.org) is the reference simulator for flow-level bandwidth sharing;
its LMM solver computes max-min fair rates. This script rebuilds each dumped problem as an
s4u platform and lets SimGrid share the links, then prints SimGrid's time beside
paraverse's and the largest difference between their rates.

How a problem becomes a SimGrid run (python3-simgrid, Debian's package, 3.32):
- each link is a SimGrid link of the same capacity (kbit/s x 125 bytes/s), latency 0;
- each flow is a communication from its own host to a shared sink, routed over a link of
  its own with its demand as capacity (which caps it at its demand, as max-min does; the
  Python binding's `Comm.set_rate` refuses comms made by `sendto_init`) and then the
  flow's links, payload large enough that none ends within the 1 s it runs; its rate is
  the bytes sent in that second;
- network model CM02 (plain max-min, no TCP factors), cross-traffic off, LMM precision
  1e-9;
- SimGrid has no strict priority classes, so each class is solved in its own process (one
  SimGrid engine per process) on what the classes before it left.

Usage: simgrid_maxmin.py DIR [--max-flows N]   (default N = 100000: SimGrid builds one
host and route per flow, which takes minutes and gigabytes at 10^6)
Exits 1 if a flow's rate differs by more than 1 kbit/s (a disagreement, not rounding).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

KBPS = 125.0  # bytes/s per kbit/s
PAYLOAD = 10**15  # bytes: no flow finishes within the second measured


def read_problem(path):
    """Capacities (kbit/s) and flows as (class, demand kbit/s, [links])."""
    with open(path) as f:
        lines = [l for l in (l.strip() for l in f) if l and not l.startswith("#")]
    head, count = lines[0].split()
    assert head == "links", f"{path}: expected 'links N', found {lines[0]!r}"
    n = int(count)
    capacity = [float(x) for x in lines[1 : 1 + n]]
    head, count = lines[1 + n].split()
    assert head == "flows", f"{path}: expected 'flows M', found {lines[1 + n]!r}"
    flows = []
    for line in lines[2 + n : 2 + n + int(count)]:
        fields = line.split()
        flows.append((int(fields[0]), float(fields[1]), [int(x) for x in fields[2:]]))
    return capacity, flows


def read_rates(path):
    """Paraverse's rates (kbit/s) and its time per allocation (ms), from the header."""
    ms = None
    rates = []
    with open(path) as f:
        for line in f:
            if line.startswith("# ms_per_allocation"):
                ms = float(line.split()[-1])
            elif line.strip() and not line.startswith("#"):
                rates.append(float(line))
    return rates, ms


def solve_one_class(spec_path):
    """In a child process: one SimGrid engine solves one class; prints JSON."""
    import simgrid as sg

    with open(spec_path) as f:
        spec = json.load(f)
    engine = sg.Engine(
        [
            "simgrid_maxmin",
            "--cfg=network/model:CM02",
            "--cfg=network/crosstraffic:0",
            "--cfg=maxmin/precision:1e-9",
            "--cfg=surf/precision:1e-9",
            "--log=root.thres:critical",
        ]
    )
    # A star: each host's route to the centre is its flow's links; the sink's is empty.
    zone = sg.NetZone.create_star_zone("world")
    links = [
        zone.create_link(f"l{i}", max(c, 0.0) * KBPS).set_latency(0).seal()
        for i, c in enumerate(spec["capacity"])
    ]
    sink = zone.create_host("sink", 1e9).seal()
    zone.add_route(sink.netpoint, None, None, None, [], True)
    sources = []
    for i, (demand, path) in enumerate(spec["flows"]):
        host = zone.create_host(f"f{i}", 1e9).seal()
        cap = zone.create_link(f"d{i}", demand * KBPS).set_latency(0).seal()
        zone.add_route(
            host.netpoint,
            None,
            None,
            None,
            [sg.LinkInRoute(cap)] + [sg.LinkInRoute(links[l]) for l in path],
            False,
        )
        sources.append(host)
    zone.seal()
    result = {}

    def driver():
        started = time.perf_counter()
        comms = [sg.Comm.sendto_async(host, sink, PAYLOAD) for host in sources]
        sg.this_actor.sleep_for(1.0)
        result["seconds"] = time.perf_counter() - started
        result["rates"] = [(PAYLOAD - c.remaining) / KBPS for c in comms]
        for c in comms:
            c.cancel()

    sg.Actor.create("driver", sink, driver)
    engine.run()
    json.dump(result, sys.stdout)


def simgrid_rates(capacity, flows):
    """Every flow's SimGrid rate (kbit/s), class after class, and the total seconds."""
    rates = [0.0] * len(flows)
    remaining = list(capacity)
    seconds = 0.0
    for cls in sorted({c for c, _, _ in flows}):
        ids = [f for f, (c, d, p) in enumerate(flows) if c == cls and p and d > 0]
        for f, (c, d, p) in enumerate(flows):
            if c == cls and not p:
                rates[f] = d
        if not ids:
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump(
                {"capacity": remaining, "flows": [(flows[f][1], flows[f][2]) for f in ids]},
                spec,
            )
        try:
            child = subprocess.run(
                [sys.executable, __file__, "--solve", spec.name],
                capture_output=True,
                text=True,
            )
        finally:
            os.unlink(spec.name)
        if child.returncode != 0:
            tail = "\n".join(child.stderr.strip().splitlines()[-5:])
            raise RuntimeError(
                f"SimGrid failed on class {cls} ({len(ids)} flows; exit {child.returncode}, "
                f"a negative exit is a signal, -9 often memory):\n{tail}"
            )
        out = child.stdout
        result = json.loads(out[out.index("{") :])
        seconds += result["seconds"]
        for f, r in zip(ids, result["rates"]):
            rates[f] = r
            for l in flows[f][2]:
                remaining[l] -= r
    return rates, seconds


def main():
    args = sys.argv[1:]
    if args[:1] == ["--solve"]:
        solve_one_class(args[1])
        return 0
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    directory = args[0]
    max_flows = int(args[args.index("--max-flows") + 1]) if "--max-flows" in args else 100_000
    try:
        import simgrid  # noqa: F401
    except ImportError:
        print("simgrid_maxmin: python3-simgrid is not installed (apt-get install python3-simgrid)")
        return 2
    if not os.path.isdir(directory):
        print(f"simgrid_maxmin: {directory} is not a directory (paraverse bench --traffic --dump DIR)")
        return 2
    problems = sorted(
        (int(name[len("problem-") : -len(".txt")]), name)
        for name in os.listdir(directory)
        if name.startswith("problem-") and name.endswith(".txt")
    )
    if not problems:
        print(f"simgrid_maxmin: no problem-*.txt in {directory} (paraverse bench --traffic --dump DIR)")
        return 2
    print(f"{'flows':>9} {'paraverse ms':>13} {'SimGrid ms':>11} {'max diff kbit/s':>16}")
    worst = 0.0
    for flows_count, name in problems:
        if flows_count > max_flows:
            print(f"{flows_count:>9} skipped (over --max-flows {max_flows})")
            continue
        capacity, flows = read_problem(os.path.join(directory, name))
        ours, ms = read_rates(os.path.join(directory, f"rates-{flows_count}.txt"))
        try:
            theirs, seconds = simgrid_rates(capacity, flows)
        except RuntimeError as e:
            print(f"simgrid_maxmin: {e}")
            return 1
        diff = max((abs(a - b) for a, b in zip(ours, theirs)), default=0.0)
        worst = max(worst, diff)
        print(f"{flows_count:>9} {ms:>13.2f} {seconds * 1e3:>11.1f} {diff:>16.2e}")
    print(
        "SimGrid ms: from Python, starting the flows' communications and SimGrid sharing "
        "the links (its LMM solve), classes summed: not SimGrid's solver alone; paraverse "
        "ms: one allocation (bench --traffic)"
    )
    return 1 if worst > 1.0 else 0


if __name__ == "__main__":
    sys.exit(main())
