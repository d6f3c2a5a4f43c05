"""The paraverse Python package against the simulator's own outputs (#21, item 1).

Run by `cargo test --workspace` (tests/python_package.rs puts the freshly built native
module on the path) or, after `pip install ./py`, by `python -m pytest py/tests`.
"""

import json
import os
import subprocess
import threading
import time

import pyarrow as pa
import pytest

import paraverse

BIN = os.environ.get("PARAVERSE_BIN")


def test_bundled_names_and_repr():
    assert "metaverse-campus" in paraverse.scenarios()
    assert "zero-trust" in paraverse.strategies()
    u = paraverse.Universe(seed=7, ticks=30)
    assert repr(u) == 'Universe("metaverse-campus", seed=7, nodes=3002, tick=0/30)'
    assert (u.name, u.seed, u.nodes, u.tick, u.ticks, u.done) == (
        "metaverse-campus", 7, 3002, 0, 30, False)


def test_step_run_and_tables():
    u = paraverse.Universe(seed=7, ticks=30)
    assert u.step() == 1
    assert u.step(9) == 9
    assert u.tick == 10 and u.time_s == pytest.approx(10 * 10.0)
    ts = u.timeseries()
    assert isinstance(ts, pa.Table)
    assert ts.num_rows == 11, "tick 0 (the initial state) and ten ticks"
    assert ts.column("tick").to_pylist() == list(range(11))
    assert ts.schema.field("compromised").type == pa.int64()
    assert u.run() == 20 and u.done
    assert u.step(5) == 0, "nothing runs after the end"
    assert u.events().num_rows > 0
    zones = u.zones()
    assert zones.num_rows % 31 == 0 and zones.num_rows > 0, "a row per tick and zone"
    assert zones.column("tick").to_pylist()[: zones.num_rows // 31] == [0] * (zones.num_rows // 31)
    assert u.flows() is None, "flows are recorded only with [recording] flows = true"


def test_same_seed_same_results_at_any_thread_count():
    one = paraverse.Universe(seed=3, ticks=40, threads=1)
    two = paraverse.Universe(seed=3, ticks=40, threads=2)
    other = paraverse.Universe(seed=4, ticks=40, threads=2)
    for u in (one, two, other):
        u.run()
    assert one.summary() == two.summary()
    assert one.timeseries().equals(two.timeseries())
    assert one.summary() != other.summary()


@pytest.mark.skipif(BIN is None, reason="PARAVERSE_BIN names the CLI binary to compare with")
def test_summary_and_series_equal_the_cli_run(tmp_path):
    out = tmp_path / "run"
    subprocess.run(
        [BIN, "run", "--seed", "9", "--ticks", "60", "--out", str(out), "--quiet",
         "--format", "csv,parquet"],
        check=True,
    )
    u = paraverse.Universe(seed=9, ticks=60)
    u.run()
    assert u.summary() == json.loads((out / "summary.json").read_text())
    import pyarrow.parquet as pq
    assert u.timeseries().equals(pq.read_table(out / "timeseries.parquet"))
    assert u.events().equals(pq.read_table(out / "events.parquet"))


def test_strategy_replaces_the_defenses():
    u = paraverse.Universe("campaign-exfiltration", strategy="zero-trust", ticks=20)
    u.run()
    summary = u.summary()
    assert summary["strategy"] == "zero-trust"
    assert "zero_trust" in summary["defenses"]


def test_bad_input_raises_scenario_error_with_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[general]\nname = "x"\nseed = "seven"\n')
    with pytest.raises(paraverse.ScenarioError) as e:
        paraverse.Universe(str(bad))
    message = str(e.value)
    assert "bad.toml:3" in message and "seed" in message, message
    assert isinstance(e.value, ValueError)
    with pytest.raises(paraverse.ScenarioError, match="no bundled strategy|strateg"):
        paraverse.Universe(strategy="no-such-strategy")
    with pytest.raises(paraverse.ScenarioError, match="did you mean `zero-trust`"):
        paraverse.Universe(strategy="zero-trst")
    with pytest.raises(ValueError, match="did you mean `metaverse-campus`"):
        paraverse.scenario_text("metaverse-campsu")
    with pytest.raises(ValueError):
        paraverse.Universe(backend="quantum")
    with pytest.raises(ValueError):
        paraverse.Universe(ticks=0)
    for threads in (0, 4097, 60000):
        with pytest.raises(ValueError, match="expected 1 to 4096"):
            paraverse.Universe(threads=threads)


def test_the_gil_is_released_while_simulating():
    u = paraverse.Universe(seed=1, ticks=2000, threads=1)
    beats = []
    worker = threading.Thread(target=u.run)
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        beats.append(time.perf_counter())
        time.sleep(0.005)
    worker.join()
    took = time.perf_counter() - started
    assert u.done
    # Holding the GIL, the main thread would not run again until the call returned.
    assert len(beats) >= 5, f"{len(beats)} beats in {took:.2f} s"


def test_sweep_runs_resumes_and_summarises(tmp_path):
    exp = tmp_path / "tiny.toml"
    exp.write_text(
        '[experiment]\nname = "tiny"\nscenario = "metaverse-campus"\nreplicas = 2\n'
        'ticks = 30\n\n[[vary]]\nparam = "quarantine.delay"\nvalues = ["10 s", "2 min"]\n'
    )
    first = paraverse.sweep(str(exp), results=str(tmp_path / "results"), threads=2)
    assert (first["ran"], first["resumed"]) == (4, 0)
    runs, points = first["runs"], first["points"]
    assert runs.num_rows == 4 and points.num_rows == 2
    assert "objectives.security_loss" in runs.column_names
    again = paraverse.sweep(str(exp), results=str(tmp_path / "results"))
    assert (again["ran"], again["resumed"]) == (0, 4)
    assert again["runs"].equals(runs)
    assert os.path.isfile(os.path.join(first["dir"], "runs.csv"))
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "x"\nscenario = "metaverse-campus"\nreplicas = 0\n')
    with pytest.raises(paraverse.ScenarioError):
        paraverse.sweep(str(bad), results=str(tmp_path / "r2"))


def test_objectives_alone_equal_the_summarys():
    u = paraverse.Universe("campaign-ransomware", seed=7, ticks=200)
    seen = set()
    for _ in range(10):
        u.step(20)
        o = u.objectives()
        assert o == u.summary()["objectives"], u.tick
        seen.add(o["security_loss"])
    assert len(seen) > 1, "the run changes its objectives"
