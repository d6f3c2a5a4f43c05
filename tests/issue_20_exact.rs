//! Exact max-min allocation (#20), through the binary: the rounding-remainder known answer
//! as a scenario (`tests/oracles/maxmin-remainder.toml`) on both backends and at 1 and 2
//! threads, and `bench --traffic`'s deviation from exact.

mod common;

use std::path::{Path, PathBuf};

use common::{paraverse, repo, skip_unless_required, text};

fn run(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let scenario = repo().join("tests/oracles/maxmin-remainder.toml");
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = paraverse(&args, dir);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    out
}

/// Rates per tick by destination node name, from flows.csv.
fn rates(run: &Path) -> Vec<(u64, String, u64)> {
    let csv = std::fs::read_to_string(run.join("flows.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[5].to_string(),
                f[7].parse().unwrap(),
            )
        })
        .collect()
}

/// The trunk's last flow gets what max-min gives it (700 kbit/s), not the 730 that
/// whole-kbit/s rounding gave, every tick; each user gets 10/3, read as 3; the thin
/// uplinks are full. The same bytes at 1 and 2 threads and on the GPU.
#[test]
fn rounding_remainders_stay_with_their_bottleneck_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let one = run(dir.path(), "one", &["--threads", "1"]);
    let rates = rates(&one);
    assert_eq!(rates.len(), 3 * 91, "91 flows over 3 ticks");
    for (tick, dst, rate) in &rates {
        if dst == "bulk-0" {
            assert_eq!(*rate, 700, "tick {tick}: the bulk client's max-min rate");
        } else {
            assert!(dst.starts_with("users-"), "{dst}");
            assert_eq!(*rate, 3, "tick {tick}: {dst} gets 10/3 kbit/s, read as 3");
        }
    }
    let summary = std::fs::read_to_string(one.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        summary["gauges"]["max_link_util_permille"]["max"], 1000,
        "a full bottleneck reads 100 %: {summary}"
    );

    let same = |other: &Path| {
        for file in ["flows.csv", "timeseries.csv", "summary.json"] {
            assert_eq!(
                std::fs::read(one.join(file)).unwrap(),
                std::fs::read(other.join(file)).unwrap(),
                "{file} differs from the 1-thread CPU run in {}",
                other.display()
            );
        }
    };
    same(&run(dir.path(), "two", &["--threads", "2"]));
    let gpu = dir.path().join("gpu");
    let scenario = repo().join("tests/oracles/maxmin-remainder.toml");
    let o = paraverse(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            gpu.to_str().unwrap(),
            "--quiet",
            "--backend",
            "gpu",
        ],
        dir.path(),
    );
    if o.status.success() {
        same(&gpu);
    } else {
        skip_unless_required(
            "PARAVERSE_REQUIRE_GPU",
            &format!("no GPU backend: {}", text(&o.stderr)),
        );
    }
}

/// `bench --traffic` reports, per backend, whether it agrees with the 1-thread CPU answer
/// and how far it is from exact max-min; both hold on a small problem. The CPU backend
/// (filling) runs at each thread count and the GPU's round algorithm beside it on the CPU.
#[test]
fn traffic_bench_reports_the_deviation_from_exact() {
    let dir = tempfile::tempdir().unwrap();
    let o = paraverse(
        &[
            "bench",
            "--traffic",
            "--flows",
            "3000,20000",
            "--threads",
            "1,2",
            "--backend",
            "cpu",
            "--json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let figures = figures.as_array().unwrap();
    assert_eq!(
        figures.len(),
        6,
        "2 sizes × (2 thread counts + the rounds): {figures:?}"
    );
    for f in figures {
        assert_eq!(f["identical_to_cpu_1_thread"], true, "{f}");
        let deviation = f["max_deviation_kbps"].as_f64().unwrap();
        assert!(deviation < 1e-6, "{f}");
        assert!(f["steps"].as_u64().unwrap() > 1, "{f}");
        assert!(f["ms_first_allocation"].as_f64().unwrap() > 0.0, "{f}");
    }
    let rounds: Vec<_> = figures
        .iter()
        .filter(|f| f["backend"].as_str().unwrap().starts_with("cpu rounds"))
        .collect();
    assert_eq!(rounds.len(), 2, "{figures:?}");
    // The filling's rows say where its time went: counts, sort, paths, steps (most of it).
    for f in figures
        .iter()
        .filter(|f| f["backend"].as_str().unwrap().starts_with("cpu, "))
    {
        let phases: Vec<f64> = f["phases_ms"]
            .as_array()
            .unwrap_or_else(|| panic!("phases_ms in {f}"))
            .iter()
            .map(|ms| ms.as_f64().unwrap())
            .collect();
        assert_eq!(phases.len(), 4, "{f}");
        assert!(phases.iter().all(|&ms| ms >= 0.0), "{f}");
        assert!(phases[2] > 0.0 && phases[3] > 0.0, "{f}");
        assert!(f["first_counts_ms"].as_f64().unwrap() > 0.0, "{f}");
    }
    for f in &rounds {
        assert!(f.get("phases_ms").is_none(), "{f}");
    }
    // The table names the column and what it means.
    let o = paraverse(
        &["bench", "--traffic", "--flows", "1000", "--backend", "cpu"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    assert!(
        table.contains("max dev kbit/s") && table.contains("exact max-min"),
        "{table}"
    );
    assert!(
        table.contains("steps: cpu = progressive-filling steps")
            && table.contains("1000 flows: filling is")
            && table.contains("1000 flows, cpu, 1 thread: ")
            && table.contains("ms in the filling's steps"),
        "{table}"
    );
}

/// `bench --traffic --dump DIR` writes each problem and the CPU's rates as text, and
/// `benches/simgrid_maxmin.py` solves them with SimGrid and agrees within 1 kbit/s per
/// flow (where python3-simgrid is installed: `.ci/run` installs it where it can; set
/// PARAVERSE_REQUIRE_SIMGRID=1 to fail instead of skipping without it).
#[test]
fn dumped_problems_are_solved_by_simgrid_alike() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let o = paraverse(
        &[
            "bench",
            "--traffic",
            "--flows",
            "400",
            "--backend",
            "cpu",
            "--json",
            "--dump",
            dump.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let problem = std::fs::read_to_string(dump.join("problem-400.txt")).unwrap();
    let lines: Vec<&str> = problem.lines().filter(|l| !l.starts_with('#')).collect();
    let links: usize = lines[0].strip_prefix("links ").unwrap().parse().unwrap();
    assert_eq!(lines[1 + links], "flows 400", "{problem}");
    assert_eq!(lines.len(), 2 + links + 400);
    for flow in &lines[2 + links..] {
        let fields: Vec<u64> = flow.split(' ').map(|x| x.parse().unwrap()).collect();
        assert!(
            fields.len() >= 3 && fields[0] <= 1,
            "class, demand, links: {flow}"
        );
        assert!(fields[2..].iter().all(|&l| (l as usize) < links), "{flow}");
    }
    let rates = std::fs::read_to_string(dump.join("rates-400.txt")).unwrap();
    assert!(rates.contains("# ms_per_allocation "), "{rates}");
    let rates: Vec<f64> = rates
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(rates.len(), 400);
    assert!(rates.iter().all(|&r| r >= 0.0) && rates.iter().any(|&r| r > 0.0));
    let python = "/usr/bin/python3";
    let has_simgrid = std::process::Command::new(python)
        .args(["-c", "import simgrid"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_simgrid {
        skip_unless_required(
            "PARAVERSE_REQUIRE_SIMGRID",
            "python3-simgrid is not installed",
        );
        return;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/simgrid_maxmin.py");
    let o = std::process::Command::new(python)
        .arg(&script)
        .arg(&dump)
        .output()
        .unwrap();
    let table = text(&o.stdout);
    assert!(o.status.success(), "{table}{}", text(&o.stderr));
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("400 "))
        .unwrap_or_else(|| panic!("no row for 400 flows: {table}"));
    let diff: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(
        diff < 1e-2,
        "SimGrid within 10^-2 kbit/s of paraverse: {row}"
    );
}
