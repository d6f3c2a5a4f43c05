//! Issue 14: a fuzzing harness that runs on stable Rust, in the test suite. Every parser
//! of user input (scenario, strategy, experiment, mapping) and every reader of results
//! that resume, merge and report trust (runs.jsonl with its series, the results
//! manifest, baselines) gets mutated versions of the bundled files: bytes flipped, ranges
//! deleted or repeated, TOML and JSON tokens and hostile values spliced in, lines swapped,
//! text cut short. None may panic; each must return a value or an error.
//!
//! The mutations come from a seeded SplitMix64, so a failure reproduces from the case
//! number it prints. `PARAVERSE_FUZZ_CASES` sets the cases per target (default 3,000, a
//! few seconds for all targets in the test profile); `PARAVERSE_FUZZ_SEED` picks another
//! sequence. The README states the executions run so far and the crashes found.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use paraverse_defenders::export::Mapping;
use paraverse_lab::Experiment;
use paraverse_lab::runner::{self, Manifest, RunResult};
use paraverse_sim::scenario::Scenario;

/// SplitMix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that break parsers in interesting ways, and hostile values.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\n",
    "#",
    "\\",
    "\"\"\"",
    "-1",
    "0",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "4294967296",
    "65536",
    "99999999999",
    "0.0",
    "true",
    "null",
    "\"x\"",
    "\"\"",
    "\"0 s\"",
    "\"1e308 s\"",
    "\"0.5 bit/s\"",
    "\"99999999999 d\"",
    "[[group]]",
    "[[campaign]]",
    "[[vary]]",
    "[[axis]]",
    "[defense.zero_trust]",
    "count = ",
    "values = []",
    "\u{202e}",
    "é",
    "\u{0}",
    "\"dmz; flush ruleset\"",
    "{\"point\":",
    "\"check\":\"0\"",
    ",\"metrics\":{}",
    "\"replica\":4294967296",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(64).min(len - i);
                b.drain(i..i + n);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(256).min(len - i);
                let piece: Vec<u8> = b[i..i + n].to_vec();
                let at = rng.below(len);
                b.splice(at..at, piece);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len + 1);
                b.splice(at..at, t.iter().copied());
            }
            4 if len > 0 => {
                // Replace a number or a value after `=` with a hostile one.
                let at = rng.below(len);
                if let Some(eq) = b[at..].iter().position(|&c| c == b'=') {
                    let start = at + eq + 1;
                    let end = b[start..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(b.len(), |e| start + e);
                    let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                    b.splice(start..end, [b' '].iter().chain(t).copied());
                }
            }
            6 if len > 0 => {
                // A long line: a short piece repeated up to ~100 kB (errors past column
                // 65,535 once panicked).
                let i = rng.below(len);
                let n = (1 + rng.below(8)).min(len - i);
                let piece: Vec<u8> = b[i..i + n].to_vec();
                let times = rng.below(100_000 / n);
                let at = rng.below(len);
                b.splice(at..at, piece.iter().copied().cycle().take(n * times));
            }
            5 => {
                let mut lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
                if lines.len() > 1 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(i, j);
                }
                b = lines.join(&b'\n');
            }
            _ => b.truncate(rng.below(len + 1)),
        }
    }
    b
}

fn cases() -> u64 {
    std::env::var("PARAVERSE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("PARAVERSE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(14)
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus(folder: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join(folder))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Runs `target` on `cases()` mutations of the corpus; fails listing every case that
/// panicked (its number reproduces it with the same seed).
fn fuzz(name: &str, corpus: &[Vec<u8>], target: &dyn Fn(&[u8])) {
    assert!(!corpus.is_empty(), "{name}: empty corpus");
    let n = cases();
    let mut rng = Rng(seed() ^ paraverse_sim::rng::fnv1a(name.as_bytes()));
    let mut crashes = Vec::new();
    for case in 0..n {
        let seed_file = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, seed_file);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            crashes.push(case);
        }
    }
    eprintln!(
        "fuzz {name}: {n} executions, {} crashes (seed {})",
        crashes.len(),
        seed()
    );
    assert!(
        crashes.is_empty(),
        "{name}: cases {crashes:?} panicked (PARAVERSE_FUZZ_SEED={})",
        seed()
    );
}

/// Renders an error as the CLI would print it (rendering once panicked on wide columns).
fn shown<T, E: std::fmt::Display>(result: Result<T, E>) {
    if let Err(e) = result {
        let _ = e.to_string();
    }
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[test]
fn fuzz_scenario_parser() {
    let corpus: Vec<Vec<u8>> = corpus("scenarios")
        .into_iter()
        // The 1M city validates in milliseconds too, but builds nothing here.
        .collect();
    fuzz("scenario", &corpus, &|input| {
        shown(Scenario::from_toml_str(&text(input), "fuzz.toml"));
    });
}

#[test]
fn fuzz_strategy_parser() {
    let base = Scenario::from_toml_str(
        &std::fs::read_to_string(repo().join("scenarios/metaverse-under-siege.toml")).unwrap(),
        "siege",
    )
    .unwrap();
    fuzz("strategy", &corpus("strategies"), &|input| {
        shown(base.clone().with_strategy(&text(input), "fuzz.toml"));
    });
}

#[test]
fn fuzz_experiment_parser() {
    let mut seeds = corpus("experiments");
    seeds.extend(corpus("experiments/ci"));
    let dir = repo().join("experiments/ci");
    fuzz("experiment", &seeds, &|input| {
        shown(Experiment::from_str(&text(input), "fuzz.toml", Some(&dir)));
    });
}

#[test]
fn fuzz_mapping_parser() {
    fuzz("mapping", &corpus("mappings"), &|input| {
        shown(Mapping::parse(&text(input), "fuzz.toml"));
    });
}

/// The results readers: runs.jsonl (with the series files its lines name), the results
/// manifest and baselines, from a real small sweep's files.
#[test]
fn fuzz_results_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = Experiment::from_str(
        "[experiment]\nname = \"f\"\nscenario = \"campaign-exfiltration\"\nreplicas = 2\nticks = 10\n[[vary]]\nparam = \"zero_trust.reverify_interval\"\nvalues = [\"30 s\", \"2 min\"]\n",
        "f.toml",
        None,
    )
    .unwrap();
    let made = tmp.path().join("made");
    runner::sweep(&exp, &made, None, &|_, _| {}).unwrap();
    let seeds: Vec<Vec<u8>> = [runner::RUNS_JSONL, runner::MANIFEST, "runs.csv"]
        .iter()
        .map(|f| std::fs::read(made.join(f)).unwrap())
        .collect();
    let dir = tmp.path().join("fuzzed");
    std::fs::create_dir_all(dir.join(runner::SERIES_DIR)).unwrap();
    for e in std::fs::read_dir(made.join(runner::SERIES_DIR))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), dir.join(runner::SERIES_DIR).join(e.file_name())).unwrap();
    }
    let baseline = dir.join("baseline.json");
    fuzz("results", &seeds, &|input| {
        std::fs::write(dir.join(runner::RUNS_JSONL), input).unwrap();
        std::fs::write(dir.join(runner::MANIFEST), input).unwrap();
        std::fs::write(&baseline, input).unwrap();
        if let Ok(loaded) = runner::load_runs(&dir) {
            for r in &loaded.runs {
                let _ = runner::belongs(&exp, None, r);
            }
            let _ = runner::dropped_note(&loaded.dropped, "run");
        }
        for line in text(input).lines() {
            let _ = RunResult::from_json_line(line);
        }
        shown(Manifest::read(&dir));
        shown(paraverse_lab::check::read_baseline(&baseline));
    });
}

/// The importer's inputs: nmap XML, Kubernetes manifests, an NVD feed, a rules file and flow records, each mutated in turn
/// while the others stay valid; every import that parses must produce a scenario that
/// validates (the importer checks it, and would report a bug as an error).
#[test]
fn fuzz_import_inputs() {
    let fixture =
        |name: &str| std::fs::read(repo().join("import/tests/fixtures").join(name)).unwrap();
    let (scan, nvd, k8s, records) = (
        fixture("scan.xml"),
        fixture("nvd.json"),
        fixture("k8s.yaml"),
        fixture("flows.json"),
    );
    let rules = paraverse_import::rules::BUILT_IN.as_bytes().to_vec();
    let run_with = |s: &[u8], k: &[u8], v: &[u8], r: &[u8], f: &[u8]| {
        let (s, k, v, r, f) = (text(s), text(k), text(v), text(r), text(f));
        let input = |text| paraverse_import::Input {
            text,
            origin: "fuzz",
        };
        let manifests = [input(&k)];
        let flows = [input(&f)];
        let result = paraverse_import::import(&paraverse_import::Sources {
            name: "fuzz",
            nmap: Some(input(&s)),
            k8s: &manifests,
            flows: &flows,
            vulns: Some(input(&v)),
            rules: Some(input(&r)),
        });
        if let Err(paraverse_import::ImportError::Generated(e)) = &result {
            let e = e.to_string();
            panic!(
                "an import produced an invalid scenario: {}",
                &e[..e.len().min(300)]
            );
        }
        shown(result);
    };
    let run = |s: &[u8], k: &[u8], v: &[u8], r: &[u8]| run_with(s, k, v, r, &records);
    fuzz("flows", std::slice::from_ref(&records), &|input| {
        run_with(&scan, &k8s, &nvd, &rules, input)
    });
    fuzz("nmap", std::slice::from_ref(&scan), &|input| {
        run(input, &k8s, &nvd, &rules)
    });
    fuzz("k8s", std::slice::from_ref(&k8s), &|input| {
        run(&scan, input, &nvd, &rules)
    });
    fuzz("nvd", std::slice::from_ref(&nvd), &|input| {
        run(&scan, &k8s, input, &rules)
    });
    fuzz("rules", std::slice::from_ref(&rules), &|input| {
        run(&scan, &k8s, &nvd, input)
    });
}

// Values of each type a scenario reads, at their edges: what validation accepts must
// build and run.
const INTEGERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "255",
    "65535",
    "4294967295",
    "1000000",
    "-1",
    "9223372036854775807",
];
const FLOATS: &[&str] = &[
    "0.0", "1.0", "1e-9", "0.999999", "1e6", "0.5", "nan", "inf", "-inf", "-1.0", "1e308", "-0.0",
];
const MAGNITUDES: &[&str] = &[
    "0", "1", "0.001", "1000000", "4294967", "0.5", "1e308", "-1",
];

/// `text` (a TOML file) with one or two of its `key = value` lines' values replaced by an
/// extreme of their own type: an integer, a float, or the number of a quantity like
/// "10 Mbit/s". Names and sections stay as they are.
fn with_extreme_values(rng: &mut Rng, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let values: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let l = lines[i].trim_start();
            !l.starts_with(['#', '[']) && !l.starts_with("name") && l.contains(" = ")
        })
        .collect();
    let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    for _ in 0..1 + rng.below(2) {
        let at = values[rng.below(values.len())];
        let (key, value) = edited[at].split_once(" = ").expect("a value line");
        let value = value.trim();
        let pick = |rng: &mut Rng, from: &[&str]| from[rng.below(from.len())].to_owned();
        let new = if value.parse::<i64>().is_ok() {
            pick(rng, INTEGERS)
        } else if value.parse::<f64>().is_ok() {
            pick(rng, FLOATS)
        } else if let Some((_, unit)) = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .and_then(|q| q.split_once(' '))
            .filter(|(number, _)| number.parse::<f64>().is_ok())
        {
            format!("\"{} {unit}\"", pick(rng, MAGNITUDES))
        } else {
            continue;
        };
        edited[at] = format!("{key} = {new}");
    }
    edited.join("\n")
}

/// One value of a bundled file's `key = value` lines replaced by an extreme of its own
/// type (an integer, a float, the number of a quantity like "10 Mbit/s"), one or two at
/// a time: validation must refuse it, or the world must build and run up to 150 ticks
/// (25 minutes of 10 s ticks: past the campaigns' starts) without panicking. The
/// parsers' fuzzing above stops at validation; this goes on into the world. `resolve`
/// makes the scenario of an edited file; worlds above 20,000 nodes are skipped.
fn fuzz_extreme_values(
    name: &str,
    corpus: &[&paraverse_sim::bundled::Bundled],
    resolve: &dyn Fn(&str, &str) -> Option<Scenario>,
) {
    use paraverse_lab::plugins::plugins;
    use paraverse_sim::universe::Universe;

    let n = cases() / 3;
    let mut rng = Rng(seed() ^ paraverse_sim::rng::fnv1a(name.as_bytes()));
    let (mut ran, mut crashes) = (0, Vec::new());
    for case in 0..n {
        let b = corpus[rng.below(corpus.len())];
        let edited = with_extreme_values(&mut rng, b.text);
        let Some(scenario) = resolve(&edited, b.name) else {
            continue;
        };
        if scenario.node_count > 20_000 {
            continue;
        }
        ran += 1;
        let ticks = scenario.ticks.min(150);
        let scenario = scenario.with_ticks(ticks);
        let run = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(mut u) = Universe::build(scenario, &plugins()) {
                u.run(|_| {});
                let _ = u.finish().summary_json();
            }
        }));
        if run.is_err() {
            crashes.push(case);
        }
    }
    eprintln!(
        "fuzz {name}: {n} cases, {ran} valid runs, {} crashes (seed {})",
        crashes.len(),
        seed()
    );
    assert!(
        ran > n / 4,
        "{name}: only {ran} of {n} cases were valid: the mutation is off"
    );
    assert!(
        crashes.is_empty(),
        "{name}: cases {crashes:?} panicked (PARAVERSE_FUZZ_SEED={})",
        seed()
    );
}

/// Extreme values in every bundled scenario but the 1M city: `cases() / 3` cases (1,000
/// by default), most of them valid.
#[test]
fn fuzz_extreme_values_run() {
    let corpus: Vec<_> = paraverse_sim::bundled::ALL
        .iter()
        .filter(|b| b.name != "smart-city-1m")
        .collect();
    fuzz_extreme_values("extreme values", &corpus, &|text, origin| {
        Scenario::from_toml_str(text, origin).ok()
    });
}

/// Extreme values in every bundled strategy, on the venue they are written for (the
/// defenses' intervals, thresholds, rates and budgets at their edges).
#[test]
fn fuzz_extreme_strategy_values_run() {
    let venue = paraverse_sim::bundled::load(Some("metaverse-under-siege")).unwrap();
    let corpus: Vec<_> = paraverse_sim::bundled::STRATEGIES.iter().collect();
    fuzz_extreme_values("extreme strategy values", &corpus, &|text, origin| {
        venue.clone().with_strategy(text, origin).ok()
    });
}

/// Extreme values in every bundled experiment file (replicas, seeds, ranges, score
/// weights, risk, stopping rules, bands) past validation: an experiment that validates
/// must summarise, decide and state its decision on any results its runs could give,
/// without panicking. The runs are synthetic (a random value, or none, for every metric),
/// so each case costs milliseconds where a sweep would cost minutes; experiments of more
/// than 400 points or 2,000 runs are skipped.
#[test]
fn fuzz_extreme_experiment_values_decide() {
    use paraverse_lab::{decision, sensitivity, stats, tables};

    let files: Vec<std::path::PathBuf> = ["experiments", "experiments/ci"]
        .iter()
        .flat_map(|d| std::fs::read_dir(repo().join(d)).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    let texts: Vec<(String, std::path::PathBuf)> = files
        .iter()
        .map(|p| {
            (
                std::fs::read_to_string(p).unwrap(),
                p.parent().unwrap().to_owned(),
            )
        })
        .collect();
    // What a metric of a run can be: ordinary, at the edges, or missing.
    const METRIC_VALUES: &[Option<f64>] = &[
        Some(0.0),
        Some(1.0),
        Some(0.5),
        Some(1e-9),
        Some(1e6),
        Some(1e12),
        Some(-0.0),
        None,
    ];
    let n = cases() / 3;
    let mut rng = Rng(seed() ^ paraverse_sim::rng::fnv1a(b"extreme experiment values"));
    let (mut decided, mut crashes) = (0, Vec::new());
    for case in 0..n {
        let (text, dir) = &texts[rng.below(texts.len())];
        let edited = with_extreme_values(&mut rng, text);
        let Ok(exp) = Experiment::from_str(&edited, "fuzz.toml", Some(dir)) else {
            continue;
        };
        if exp.points.len() > 400 || exp.runs() > 2_000 {
            continue;
        }
        let runs: Vec<RunResult> = runner::runs_of(&exp, None)
            .into_iter()
            .map(|(point, replica)| RunResult {
                point,
                replica,
                seed: u64::from(replica),
                settings: exp.points[point].settings.clone(),
                scenario_hash: String::new(),
                metrics: runner::METRICS
                    .iter()
                    .map(|m| {
                        (
                            (*m).to_owned(),
                            METRIC_VALUES[rng.below(METRIC_VALUES.len())],
                        )
                    })
                    .collect(),
                experiment_hash: exp.hash_hex(),
                series_hash: String::new(),
            })
            .collect();
        decided += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let kinds = tables::SettingKinds::of(&exp);
            let points = stats::summarise(&runs, &exp.file.score);
            let _ = tables::points(&kinds, &points).csv();
            let decisions = decision::decide(&exp, &points, &runs);
            let _ = tables::decisions(&kinds, &decisions).csv();
            let _ = decisions.statement();
            let _ = sensitivity::main_effects(&exp, &points);
            let _ = sensitivity::sobol(&exp, &points);
        }));
        if outcome.is_err() {
            crashes.push(case);
        }
    }
    eprintln!(
        "fuzz extreme experiment values: {n} cases, {decided} decided, {} crashes (seed {})",
        crashes.len(),
        seed()
    );
    assert!(
        decided > n / 4,
        "only {decided} of {n} cases were valid: the mutation is off"
    );
    assert!(
        crashes.is_empty(),
        "extreme experiment values: cases {crashes:?} panicked (PARAVERSE_FUZZ_SEED={})",
        seed()
    );
}
