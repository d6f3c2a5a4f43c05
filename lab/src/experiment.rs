//! Experiment files: what to run, parsed, checked and expanded into points.
//!
//! ```toml
//! [experiment]
//! name = "zt-interval"
//! scenario = "campaign-exfiltration"          # bundled name, or a path relative to this file
//! strategy = "../strategies/zero-trust.toml"  # optional; default: the scenario's [defense]
//! replicas = 3                                # seeds per point: seed, seed + 1, ...
//! seed = 1
//!
//! [[vary]]                                    # a defense parameter (see `paraverse space`)
//! param = "zero_trust.reverify_interval"
//! values = ["30 s", "5 min"]
//!
//! [[axis]]                                    # a scenario field, by its dotted path:
//! field = "campaign.0.start"                  # a threat (not chosen by the defender)
//! values = ["5 min", "30 min"]                # unless `decision = true`
//!
//! [score]                                     # weights of the objectives; lowest wins
//! security_loss = 1.0
//! availability = -100000.0
//! cost = 1.0
//! risk = "mean"                               # over the threats: mean, worst, cvar:0.9
//! ```
//!
//! `replicas = "auto"` with an optional `[auto]` table (`batch`, `max`, `confidence`,
//! `width`) adds replicas in batches until the best decision is separated or its interval
//! narrow enough ([`crate::auto`]). Decisions and threats: [`crate::decision`].
//!
//! Instead of `[[vary]]`, `[random] points = N, seed = S` with `[[random.param]] name,
//! min, max` draws N joint samples uniformly within the bounds (from the simulator's
//! counter-based RNG, so the same file gives the same points everywhere).
//!
//! `design = "saltelli"` in `[random]` makes Saltelli's design instead, and the sweep
//! reports first-order and total Sobol indices of every parameter ([`crate::sensitivity`]).
//!
//! Points are the defense settings (the Cartesian product of every `vary` list, or the
//! random samples) times the product of the `axis` lists, in file order (the last list
//! varies fastest). Each point's scenario and strategy are built and validated
//! when the experiment loads, so a bad value fails before any run, naming the point.

use std::path::{Path, PathBuf};

use paraverse_sim::bundled;
use paraverse_sim::scenario::{
    Diagnostic, Locator, Scenario, ScenarioError, Seg, is_folder_name, param, parse_toml,
    read_input,
};
use serde::{Deserialize, Serialize};

use crate::LabError;

/// An experiment file as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    /// What to run.
    pub experiment: Meta,
    /// Defense parameters to vary.
    #[serde(default)]
    pub vary: Vec<Vary>,
    /// Scenario fields to vary (threat, entry zone, start time...).
    #[serde(default, rename = "axis")]
    pub axes: Vec<Axis>,
    /// Weights of the objectives in the score (lowest score wins).
    #[serde(default)]
    pub score: Score,
    /// What the CI regression gate compares with the baseline.
    #[serde(default)]
    pub check: CheckSpec,
    /// What `paraverse optimise` searches.
    #[serde(default)]
    pub optimise: Option<OptimiseSpec>,
    /// Random points instead of a `[[vary]]` grid.
    #[serde(default)]
    pub random: Option<RandomSpec>,
    /// The stopping rule of `replicas = "auto"`.
    #[serde(default)]
    pub auto: Option<AutoSpec>,
}

/// The `[random]` table: `points` joint samples of the parameters, uniform within their
/// bounds (as `[[optimise.param]]`), drawn from the simulator's counter-based RNG.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSpec {
    /// Samples.
    pub points: usize,
    /// Seed of the samples (default 1).
    #[serde(default = "one")]
    pub seed: u64,
    /// `uniform` (default): `points` independent samples. `saltelli`: the Saltelli
    /// design for Sobol indices: `points` base samples A and B, and for each parameter
    /// A with that parameter's column from B, so `points × (parameters + 2)` settings
    /// in all ([`crate::sensitivity`]).
    #[serde(default)]
    pub design: Design,
    /// Parameters sampled.
    #[serde(rename = "param")]
    pub params: Vec<OptimiseParam>,
}

/// How `[random]` draws its samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Design {
    /// Independent uniform samples.
    #[default]
    Uniform,
    /// Saltelli's A, B, AB_i matrices, for first-order and total Sobol indices.
    Saltelli,
}

impl RandomSpec {
    /// The settings rows the design makes: `points`, or `points × (parameters + 2)`
    /// for Saltelli's design.
    pub fn rows(&self) -> usize {
        match self.design {
            Design::Uniform => self.points,
            Design::Saltelli => self.points.saturating_mul(self.params.len() + 2),
        }
    }

    /// The unit-cube coordinates of every row: uniform draws from the simulator's
    /// counter-based RNG. Saltelli rows come in blocks of `parameters + 2` per base
    /// sample j: A_j, B_j, then A_j with column i taken from B_j, for each i.
    pub fn unit_rows(&self) -> Vec<Vec<f64>> {
        let rng = paraverse_sim::rng::SimRng::new(self.seed);
        let k = self.params.len();
        let u = |stream: &str, i: usize, matrix: u32, d: usize| {
            let s = paraverse_sim::rng::Stream::named(stream);
            rng.uniform(s, i as u32, matrix, d as u32)
        };
        match self.design {
            Design::Uniform => (0..self.points)
                .map(|i| (0..k).map(|d| u("lab.random", i, 0, d)).collect())
                .collect(),
            Design::Saltelli => {
                let mut rows = Vec::with_capacity(self.rows());
                for j in 0..self.points {
                    let a: Vec<f64> = (0..k).map(|d| u("lab.saltelli", j, 0, d)).collect();
                    let b: Vec<f64> = (0..k).map(|d| u("lab.saltelli", j, 1, d)).collect();
                    rows.push(a.clone());
                    rows.push(b.clone());
                    for i in 0..k {
                        let mut ab = a.clone();
                        ab[i] = b[i];
                        rows.push(ab);
                    }
                }
                rows
            }
        }
    }
}

/// The `[optimise]` table: NSGA-II over defense parameters at the base scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptimiseSpec {
    /// Parameters searched, within their ranges from `paraverse space` (or narrower).
    #[serde(rename = "param")]
    pub params: Vec<OptimiseParam>,
    /// Candidates evaluated in all (each runs every replica), default 60.
    #[serde(default = "sixty")]
    pub budget: usize,
    /// Population size, default 12.
    #[serde(default = "twelve")]
    pub population: usize,
    /// Seed of the optimiser's choices, default 1.
    #[serde(default = "one")]
    pub seed: u64,
}

/// A searched parameter.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptimiseParam {
    /// `section.field`.
    pub name: String,
    /// Lower bound (the range's unit: seconds, kbit/s, share...), default the range's.
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper bound, default the range's.
    #[serde(default)]
    pub max: Option<f64>,
}

fn sixty() -> usize {
    60
}

fn twelve() -> usize {
    12
}

/// The regression gate's declared bands: a metric regresses when its mean over the
/// replicas moves from the baseline's by more than `max(absolute, relative × |baseline|)`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Metrics compared (default: the three objectives).
    #[serde(default = "objective_metrics")]
    pub metrics: Vec<String>,
    /// Relative band (default 0.05).
    #[serde(default = "five_percent")]
    pub relative: f64,
    /// Absolute band (default 1e-9, i.e. none).
    #[serde(default = "tiny")]
    pub absolute: f64,
}

fn objective_metrics() -> Vec<String> {
    crate::runner::OBJECTIVES.map(str::to_owned).to_vec()
}

fn five_percent() -> f64 {
    0.05
}

fn tiny() -> f64 {
    1e-9
}

impl Default for CheckSpec {
    fn default() -> Self {
        Self {
            metrics: objective_metrics(),
            relative: five_percent(),
            absolute: tiny(),
        }
    }
}

/// The `[experiment]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Name; results go to `results/<name>/`. Letters, digits, `-` and `_`.
    pub name: String,
    /// What it is about.
    #[serde(default)]
    pub description: String,
    /// Base scenario: a bundled name or a path relative to the experiment file.
    pub scenario: String,
    /// Base strategy file, relative to the experiment file (default: the scenario's).
    #[serde(default)]
    pub strategy: Option<String>,
    /// Replicas (seeds) per point (default 3), or `"auto"`: batches of replicas until the
    /// `[auto]` rule is met (see [`AutoSpec`]).
    #[serde(default)]
    pub replicas: Replicas,
    /// First seed (default 1).
    #[serde(default = "one")]
    pub seed: u64,
    /// Ticks per run (default: the scenario's stop time).
    #[serde(default)]
    pub ticks: Option<u32>,
}

/// How many replicas each point gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicas {
    /// This many.
    Fixed(u32),
    /// As many as the `[auto]` stopping rule needs.
    Auto,
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas::Fixed(3)
    }
}

impl Serialize for Replicas {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Replicas::Fixed(n) => s.serialize_u32(*n),
            Replicas::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Replicas {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Replicas;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of replicas (e.g. 3) or \"auto\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Replicas, E> {
                u32::try_from(v)
                    .map(Replicas::Fixed)
                    .map_err(|_| E::custom(format!("{v} replicas: expected at most {}", u32::MAX)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Replicas, E> {
                u64::try_from(v)
                    .map_err(|_| {
                        E::custom(format!(
                            "{v}: expected a number of replicas ≥ 1 or \"auto\""
                        ))
                    })
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Replicas, E> {
                match v {
                    "auto" => Ok(Replicas::Auto),
                    _ => Err(E::custom(format!(
                        "`{v}`: expected a number of replicas (e.g. 3) or \"auto\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The `[auto]` table of `replicas = "auto"`: add `batch` replicas to every point per
/// round until the best decision is separated from the others at `confidence` (its paired
/// comparison's p-value below 1 − confidence), or, with `width`, until the best
/// decision's score interval is narrower than that share of its score; at most `max`
/// replicas. The sweep says which rule stopped it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutoSpec {
    /// Replicas added per round (default 5, at least 2).
    #[serde(default = "five")]
    pub batch: u32,
    /// Most replicas per point (default 50).
    #[serde(default = "fifty")]
    pub max: u32,
    /// Confidence at which the best decision counts as separated (default 0.95).
    #[serde(default = "ninety_five")]
    pub confidence: f64,
    /// Stop also when the best decision's 95 % score interval is narrower than this
    /// share of its score's magnitude (e.g. 0.05); off by default.
    #[serde(default)]
    pub width: Option<f64>,
}

fn five() -> u32 {
    5
}

fn fifty() -> u32 {
    50
}

fn ninety_five() -> f64 {
    0.95
}

impl Default for AutoSpec {
    fn default() -> Self {
        Self {
            batch: five(),
            max: fifty(),
            confidence: ninety_five(),
            width: None,
        }
    }
}

fn one() -> u64 {
    1
}

/// A defense parameter and its values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Vary {
    /// `section.field`, as listed by `paraverse space`.
    pub param: String,
    /// Values, as they would be written in the strategy file.
    pub values: Vec<toml::Value>,
}

/// A scenario field and its values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Dotted path into the scenario file, array indices as numbers: `campaign.0.start`.
    pub field: String,
    /// Values, as they would be written in the scenario file.
    pub values: Vec<toml::Value>,
    /// Whether the defender decides this field (e.g. a group's authentication method).
    /// By default an axis is a *threat*: something the defender does not control (the
    /// campaign, its entry, start or intensity), over which each decision's score is
    /// aggregated by the score's risk measure rather than optimised.
    #[serde(default)]
    pub decision: bool,
}

/// How a decision's scores over the threat axes combine into one (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Risk {
    /// The mean over the threats (each threat equally likely).
    #[default]
    Mean,
    /// The worst threat.
    Worst,
    /// Conditional value at risk: the mean of the worst `1 − α` share of the threats
    /// (at least one), e.g. `cvar:0.9`.
    Cvar(f64),
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Risk::Mean => f.write_str("mean"),
            Risk::Worst => f.write_str("worst"),
            Risk::Cvar(a) => write!(f, "cvar:{a}"),
        }
    }
}

impl std::str::FromStr for Risk {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mean" => Ok(Risk::Mean),
            "worst" => Ok(Risk::Worst),
            _ => match s.strip_prefix("cvar:").map(str::parse::<f64>) {
                Some(Ok(a)) if (0.0..1.0).contains(&a) => Ok(Risk::Cvar(a)),
                _ => Err(format!(
                    "`{s}`: expected a risk measure: mean, worst or cvar:ALPHA with 0 <= ALPHA < 1 (e.g. cvar:0.9)"
                )),
            },
        }
    }
}

impl Risk {
    /// Combines a decision's per-threat scores.
    pub fn of(&self, scores: &[f64]) -> f64 {
        if scores.is_empty() {
            return f64::NAN;
        }
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        match *self {
            Risk::Mean => sorted.iter().sum::<f64>() / sorted.len() as f64,
            Risk::Worst => sorted[sorted.len() - 1],
            Risk::Cvar(a) => {
                let tail = ((1.0 - a) * sorted.len() as f64).ceil().max(1.0) as usize;
                let worst = &sorted[sorted.len() - tail..];
                worst.iter().sum::<f64>() / worst.len() as f64
            }
        }
    }
}

impl Serialize for Risk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Risk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Weights of the three objectives in the score.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Score {
    /// Weight of the security loss (default 1).
    #[serde(default = "unit")]
    pub security_loss: f64,
    /// Weight of availability (default -100,000: availability is good).
    #[serde(default = "minus_availability")]
    pub availability: f64,
    /// Weight of cost (default 1).
    #[serde(default = "unit")]
    pub cost: f64,
    /// How a decision's scores over the threat axes combine: `mean` (default), `worst`
    /// or `cvar:0.9`.
    #[serde(default)]
    pub risk: Risk,
}

fn unit() -> f64 {
    1.0
}

fn minus_availability() -> f64 {
    -100_000.0
}

impl Score {
    /// The largest weight, either way: with the objectives the simulator produces, every
    /// score stays a finite number (a NaN or infinite score has no order to rank by).
    pub const MAX_WEIGHT: f64 = 1e12;

    /// The weights, by the names the `[score]` table and `--weights` give them.
    pub fn weights(&self) -> [(&'static str, f64); 3] {
        [
            ("security_loss", self.security_loss),
            ("availability", self.availability),
            ("cost", self.cost),
        ]
    }

    /// What is wrong with a weight, if anything: not a number, infinite, or beyond
    /// ±[`Score::MAX_WEIGHT`].
    pub fn weight_problem(weight: f64) -> Option<String> {
        (!(weight.is_finite() && weight.abs() <= Self::MAX_WEIGHT))
            .then(|| format!("found {weight}: expected a finite weight from -1e12 to 1e12"))
    }

    /// Each weight with a problem ([`Score::weight_problem`]), by name, in order.
    pub fn weight_problems(&self) -> impl Iterator<Item = (&'static str, String)> {
        self.weights()
            .into_iter()
            .filter_map(|(name, w)| Some((name, Self::weight_problem(w)?)))
    }

    /// The weighted score of a run's objectives (lower is better): the one formula the
    /// forecast, the twin and the agent environments' rewards share.
    pub fn of(&self, o: &paraverse_sim::objectives::Objectives) -> f64 {
        self.weigh([o.security_loss, o.availability, o.cost])
    }

    /// The same formula over metrics by their paths ([`crate::runner::OBJECTIVES`]): a
    /// run's, or a point's means.
    pub fn of_metrics(&self, metric: impl Fn(&str) -> f64) -> f64 {
        self.weigh(crate::runner::OBJECTIVES.map(metric))
    }

    /// The formula: security loss, availability and cost, weighted and summed.
    fn weigh(&self, [security_loss, availability, cost]: [f64; 3]) -> f64 {
        self.security_loss * security_loss + self.availability * availability + self.cost * cost
    }
}

impl Default for Score {
    fn default() -> Self {
        Self {
            security_loss: 1.0,
            availability: minus_availability(),
            cost: 1.0,
            risk: Risk::Mean,
        }
    }
}

/// One point of the grid: its settings, scenario and strategy.
#[derive(Debug, Clone)]
pub struct Point {
    /// Index in the grid.
    pub index: usize,
    /// `name = value` of each varied parameter and axis, in file order.
    pub settings: Vec<(String, String)>,
    /// The scenario with the axes applied and the strategy in force (seed set per run).
    pub scenario: Scenario,
    /// The decision it evaluates: index of its defender-controlled settings (every
    /// `[[vary]]` or `[random]` parameter and `decision = true` axis), in order of first
    /// appearance.
    pub decision: usize,
    /// The threat it faces: index of its threat-axis settings, likewise.
    pub threat: usize,
}

impl Point {
    /// Whether setting `k` of this experiment's points is a decision (else a threat).
    pub fn is_decision(file: &ExperimentFile, k: usize) -> bool {
        let defense = file.random.as_ref().map_or(0, |r| r.params.len()) + file.vary.len();
        k < defense || file.axes.get(k - defense).is_some_and(|a| a.decision)
    }
}

/// A loaded, checked experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The file as written.
    pub file: ExperimentFile,
    /// Where it came from.
    pub origin: String,
    /// FNV-1a of the experiment text, for provenance.
    pub hash: u64,
    /// The points.
    pub points: Vec<Point>,
    /// The base scenario (ticks applied, no axes).
    pub base: Scenario,
    /// The base strategy, as a TOML table.
    pub strategy: toml::Table,
    /// Replicas per point now: the file's number, or with `replicas = "auto"` the
    /// replicas of the current round (the sweep raises it batch by batch).
    pub replicas: u32,
}

/// Every problem of an experiment file that can be found before anything is built, in
/// the file's order: `[experiment]` and `[auto]`, the varied lists, `[random]`,
/// `[optimise]`, `[check]`, the axes and the grid's size.
fn check(file: &ExperimentFile, auto: &AutoSpec, locator: &Locator<'_>) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    check_experiment(file, auto, locator, &mut diags);
    check_lists(file, locator, &mut diags);
    if let Some(r) = &file.random {
        check_random(file, r, locator, &mut diags);
    }
    if let Some(o) = &file.optimise {
        check_optimise(o, locator, &mut diags);
    }
    for (name, problem) in file.score.weight_problems() {
        diags.push(locator.at_path(&[key("score"), key(name)], problem));
    }
    check_bands(&file.check, locator, &mut diags);
    for (i, m) in file.check.metrics.iter().enumerate() {
        if !crate::runner::METRICS.contains(&m.as_str()) {
            diags.push(locator.at_path(
                &[key("check"), key("metrics"), Seg::Index(i)],
                format!(
                    "unknown metric `{m}`; expected one of: {}",
                    crate::runner::METRICS.join(", ")
                ),
            ));
        }
    }
    for (i, a) in file.axes.iter().enumerate() {
        if a.values.is_empty() {
            diags.push(locator.at_path(
                &[key("axis"), Seg::Index(i), key("values")],
                "expected at least one value",
            ));
        }
    }
    check_size(file, auto, locator, &mut diags);
    diags
}

/// `[experiment]`'s name and replicas, and `[auto]`, the stopping rule of automatic
/// replicas.
fn check_experiment(
    file: &ExperimentFile,
    auto: &AutoSpec,
    locator: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let m = &file.experiment;
    if !is_folder_name(&m.name) {
        diags.push(locator.at_path(
            &[key("experiment"), key("name")],
            format!(
                "`{}`: expected letters, digits, `-` and `_` (it names the results folder)",
                m.name
            ),
        ));
    }
    if m.replicas == Replicas::Fixed(0) {
        diags.push(locator.at_path(
            &[key("experiment"), key("replicas")],
            "expected at least 1 replica",
        ));
    }
    if file.auto.is_some() && m.replicas != Replicas::Auto {
        diags.push(locator.at_path(
            &[key("auto")],
            "[auto] is the stopping rule of replicas = \"auto\": set that, or remove [auto]",
        ));
    }
    if auto.batch < 2 || auto.max < auto.batch || auto.max > 10_000 {
        diags.push(locator.at_path(
            &[key("auto")],
            format!(
                "batch = {}, max = {}: expected 2 ≤ batch ≤ max ≤ 10000",
                auto.batch, auto.max
            ),
        ));
    }
    if !(0.5..1.0).contains(&auto.confidence) {
        diags.push(locator.at_path(
            &[key("auto"), key("confidence")],
            format!(
                "found {}: expected a confidence from 0.5 to below 1",
                auto.confidence
            ),
        ));
    }
    if auto.width.is_some_and(|w| !(w.is_finite() && w > 0.0)) {
        diags.push(locator.at_path(
            &[key("auto"), key("width")],
            "expected a share of the score above 0, e.g. 0.05",
        ));
    }
}

/// `[[vary]]`: known parameters with values; and no parameter or field varied twice.
fn check_lists(file: &ExperimentFile, locator: &Locator<'_>, diags: &mut Vec<Diagnostic>) {
    for (i, v) in file.vary.iter().enumerate() {
        if param(&v.param).is_none() {
            diags.push(locator.at_path(
                &[key("vary"), Seg::Index(i), key("param")],
                format!(
                    "unknown defense parameter `{}`; `paraverse space` lists them (e.g. zero_trust.threshold)",
                    v.param
                ),
            ));
        }
        if v.values.is_empty() {
            diags.push(locator.at_path(
                &[key("vary"), Seg::Index(i), key("values")],
                "expected at least one value",
            ));
        }
    }
    // One parameter or field in two lists would make points whose settings disagree
    // with what ran (the later list wins silently).
    let mut seen: std::collections::HashMap<&str, Vec<Seg>> = std::collections::HashMap::new();
    let named = file
        .vary
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                v.param.as_str(),
                vec![key("vary"), Seg::Index(i), key("param")],
            )
        })
        .chain(file.axes.iter().enumerate().map(|(i, a)| {
            (
                a.field.as_str(),
                vec![key("axis"), Seg::Index(i), key("field")],
            )
        }))
        .chain(file.random.iter().flat_map(|r| {
            r.params.iter().enumerate().map(|(i, p)| {
                (
                    p.name.as_str(),
                    vec![key("random"), key("param"), Seg::Index(i), key("name")],
                )
            })
        }));
    for (name, path) in named {
        if let Some(first) = seen.get(name) {
            diags.push(locator.at_path(
                &path,
                format!(
                    "`{name}` is varied twice (first at {}): list all its values in one place",
                    paraverse_sim::scenario::error::path_string(first)
                ),
            ));
        } else {
            seen.insert(name, path);
        }
    }
}

/// `[random]`: a design the sampler can run over known parameters.
fn check_random(
    file: &ExperimentFile,
    r: &RandomSpec,
    locator: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    if !file.vary.is_empty() {
        diags.push(locator.at_path(
            &[key("random")],
            "use either [random] or [[vary]], not both",
        ));
    }
    if r.points > MAX_POINTS {
        diags.push(locator.at_path(
        &[key("random"), key("points")],
        format!(
            "{} points: an experiment may have at most {MAX_POINTS} (each holds a built scenario); split it into several",
            r.points
        ),
    ));
    }
    if r.points == 0 || r.params.is_empty() {
        diags.push(locator.at_path(
            &[key("random")],
            "expected points ≥ 1 and at least one [[random.param]]",
        ));
    }
    if r.design == Design::Saltelli && r.points < 2 {
        diags.push(locator.at_path(
        &[key("random"), key("points")],
        "the saltelli design needs at least 2 base samples (64 or more give usable Sobol intervals)",
    ));
    }
    if r.design == Design::Saltelli && file.axes.iter().any(|a| a.decision) {
        diags.push(locator.at_path(
        &[key("random"), key("design")],
        "the saltelli design analyses the [[random.param]] parameters over the threats; an axis with decision = true would be a parameter outside the design: sample it as a [[random.param]] or drop decision = true",
    ));
    }
    for (i, p) in r.params.iter().enumerate() {
        if param(&p.name).is_none() {
            diags.push(locator.at_path(
                &[key("random"), key("param"), Seg::Index(i), key("name")],
                format!(
                    "unknown defense parameter `{}`; `paraverse space` lists them",
                    p.name
                ),
            ));
        }
    }
}

/// `[optimise]`: at least one known parameter.
fn check_optimise(o: &OptimiseSpec, locator: &Locator<'_>, diags: &mut Vec<Diagnostic>) {
    for (i, p) in o.params.iter().enumerate() {
        if param(&p.name).is_none() {
            diags.push(locator.at_path(
                &[key("optimise"), key("param"), Seg::Index(i), key("name")],
                format!(
                    "unknown defense parameter `{}`; `paraverse space` lists them",
                    p.name
                ),
            ));
        }
    }
    if o.params.is_empty() {
        diags.push(locator.at_path(
            &[key("optimise")],
            "expected at least one [[optimise.param]]",
        ));
    }
}

/// The grid's size, counted without overflow before anything is built.
fn check_size(
    file: &ExperimentFile,
    auto: &AutoSpec,
    locator: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    // The grid's size, counted without overflow before anything is built.
    let mut lengths = file
        .vary
        .iter()
        .map(|v| v.values.len())
        .chain(file.axes.iter().map(|a| a.values.len()));
    let points = lengths.try_fold(file.random.as_ref().map_or(1, RandomSpec::rows), |n, k| {
        n.checked_mul(k)
    });
    let most = match file.experiment.replicas {
        Replicas::Fixed(n) => n,
        Replicas::Auto => auto.max,
    };
    let runs = points.and_then(|p| p.checked_mul(most as usize));
    match (points, runs) {
        (Some(p), Some(r)) if p <= MAX_POINTS && r <= MAX_RUNS => {}
        _ => diags.push(locator.at_path(
            &[key("experiment")],
            format!(
                "the grid has {} points × {} replicas: an experiment may have at most {MAX_POINTS} points and {MAX_RUNS} runs; vary fewer values or split it into several experiments",
                points.map_or("more than 2^64".to_owned(), |p| p.to_string()),
                most
            ),
        )),
    }
}

/// The base scenario: a path relative to the experiment file, else a bundled name.
fn base_scenario(
    m: &Meta,
    scenario_path: &Path,
    origin: &str,
    locator: &Locator<'_>,
) -> Result<Scenario, LabError> {
    let base = if scenario_path.exists() {
        Scenario::load(scenario_path)?
    } else {
        bundled::load(Some(&m.scenario)).map_err(|e| {
            invalid(
                origin,
                vec![locator.at_path(&[key("experiment"), key("scenario")], format!("{e}"))],
            )
        })?
    };
    let base = match m.ticks {
        Some(t) => base.with_ticks(t),
        None => base,
    };
    Ok(base)
}

/// The base strategy as a TOML table: a file, or the scenario's own defenses, named
/// after the experiment.
fn base_strategy(
    m: &Meta,
    base: &Scenario,
    resolve: impl Fn(&str) -> PathBuf,
) -> Result<toml::Table, LabError> {
    // The base strategy as a TOML table: a file, or the scenario's own defenses.
    let mut strategy: toml::Table = match &m.strategy {
        Some(s) => {
            let p = resolve(s);
            let text = read_input(&p)?;
            text.parse().map_err(|e: toml::de::Error| {
                invalid(
                    &p.display().to_string(),
                    vec![Locator::new(&text).at_span(
                        e.span(),
                        String::new(),
                        e.message().to_owned(),
                    )],
                )
            })?
        }
        None => {
            let mut t = toml::Table::new();
            let defense = base
                .source
                .parse::<toml::Table>()
                .ok()
                .and_then(|s| s.get("defense").cloned())
                .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
            t.insert("defense".into(), defense);
            t
        }
    };
    let mut meta = toml::Table::new();
    meta.insert("name".into(), toml::Value::String(m.name.clone()));
    strategy.insert("strategy".into(), toml::Value::Table(meta));
    Ok(strategy)
}

/// `[random]`'s joint samples, as one list of values per parameter.
fn sampled(r: &RandomSpec, origin: &str) -> Result<Vec<(String, Vec<toml::Value>)>, LabError> {
    let dims = crate::optimise::experiment::dimensions_of(&r.params, origin)?;
    let xs: Vec<Vec<f64>> = r
        .unit_rows()
        .into_iter()
        .map(|u| {
            dims.iter()
                .zip(u)
                .map(|(dim, u)| dim.bounds.0 + (dim.bounds.1 - dim.bounds.0) * u)
                .collect()
        })
        .collect();
    let per_sample: Vec<Vec<(String, toml::Value)>> = xs
        .iter()
        .map(|x| crate::optimise::experiment::values(&dims, x))
        .collect();
    Ok(dims
        .iter()
        .enumerate()
        .map(|(d, dim)| {
            (
                dim.name.clone(),
                per_sample.iter().map(|s| s[d].1.clone()).collect(),
            )
        })
        .collect())
}

/// The grid: defense settings (a `[[vary]]` product, or `[random]`'s joint samples) ×
/// the product of the axes. Point `index` is a mixed-radix number over the lists.
struct Grid<'a> {
    file: &'a ExperimentFile,
    locator: &'a Locator<'a>,
    origin: &'a str,
    base: &'a Scenario,
    strategy: &'a toml::Table,
    /// Every varied list: the joint samples first, then `[[vary]]`, then the axes.
    lists: Vec<(String, &'a Vec<toml::Value>)>,
    /// How many lists are `[random]`'s joint samples (they share one index).
    joint: usize,
    /// How many lists set the defense (the rest set scenario fields).
    n_defense: usize,
    /// Points in all.
    total: usize,
}

impl<'a> Grid<'a> {
    fn new(
        file: &'a ExperimentFile,
        sampled: &'a [(String, Vec<toml::Value>)],
        locator: &'a Locator<'a>,
        origin: &'a str,
        base: &'a Scenario,
        strategy: &'a toml::Table,
    ) -> Self {
        let joint = sampled.len();
        let samples = file.random.as_ref().map_or(1, RandomSpec::rows);
        let lists: Vec<(String, &Vec<toml::Value>)> = sampled
            .iter()
            .map(|(n, v)| (n.clone(), v))
            .chain(file.vary.iter().map(|v| (v.param.clone(), &v.values)))
            .chain(file.axes.iter().map(|a| (a.field.clone(), &a.values)))
            .collect();
        let total: usize = samples
            * lists[joint..]
                .iter()
                .map(|(_, v)| v.len())
                .product::<usize>();
        Grid {
            file,
            locator,
            origin,
            base,
            strategy,
            n_defense: joint + file.vary.len(),
            lists,
            joint,
            total,
        }
    }

    /// Point `index`'s settings (name, value as written) and its scenario.
    fn point(&self, index: usize) -> Result<(Vec<(String, String)>, Scenario), LabError> {
        let (lists, joint, n_defense) = (&self.lists, self.joint, self.n_defense);
        let (locator, origin, base) = (self.locator, self.origin, self.base);
        let mut rest = index;
        let mut choice = vec![0; lists.len()];
        for (k, (_, values)) in lists.iter().enumerate().skip(joint).rev() {
            choice[k] = rest % values.len();
            rest /= values.len();
        }
        for c in choice.iter_mut().take(joint) {
            *c = rest;
        }
        let mut settings = Vec::new();
        let mut strat = self.strategy.clone();
        let mut scenario_table: Option<toml::Table> = None;
        for (k, (name, values)) in lists.iter().enumerate() {
            let value = values[choice[k]].clone();
            settings.push((
                name.clone(),
                match &value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            ));
            let fail = |msg: String| {
                invalid(
                    origin,
                    vec![locator.at_path(
                        &value_path(k, joint, n_defense, choice[k]),
                        format!("point {index}: {msg}"),
                    )],
                )
            };
            if k < n_defense {
                set_defense(&mut strat, name, value).map_err(fail)?;
            } else {
                let t = scenario_table.get_or_insert_with(|| {
                    base.source
                        .parse()
                        .expect("the scenario parsed once already")
                });
                set_path(t, name, value).map_err(fail)?;
            }
        }
        let relocate =
            |e: ScenarioError, defense: bool| self.relocate(e, defense, index, &choice, &settings);
        let scenario = match &scenario_table {
            Some(t) => {
                let s = Scenario::from_toml_str(&t.to_string(), &format!("{origin} point {index}"))
                    .map_err(|e| relocate(e, false))?;
                match self.file.experiment.ticks {
                    Some(ticks) => s.with_ticks(ticks),
                    None => s.with_ticks(base.ticks),
                }
            }
            None => base.clone(),
        };
        let scenario = scenario
            .with_strategy(
                &strat.to_string(),
                &format!("{origin} point {index} strategy"),
            )
            .map_err(|e| relocate(e, true))?;
        Ok((settings, scenario))
    }

    /// A value that the scenario or strategy refuses is reported at its line in this
    /// file (the setting whose field the problem names), not in generated text.
    fn relocate(
        &self,
        e: ScenarioError,
        defense: bool,
        index: usize,
        choice: &[usize],
        settings: &[(String, String)],
    ) -> LabError {
        let (lists, joint, n_defense) = (&self.lists, self.joint, self.n_defense);
        let ScenarioError::Invalid { diagnostics, .. } = e else {
            return e.into();
        };
        let diagnostics = diagnostics
            .into_iter()
            .map(|d| {
                let field = d.field.replace('[', ".").replace(']', "");
                let range = if defense {
                    0..n_defense
                } else {
                    n_defense..lists.len()
                };
                let k = range
                    .clone()
                    .find(|&k| {
                        let name = if defense {
                            format!("defense.{}", lists[k].0)
                        } else {
                            lists[k].0.clone()
                        };
                        field == name || field.starts_with(&format!("{name}."))
                    })
                    .or_else(|| range.clone().next());
                match k {
                    Some(k) => self.locator.at_path(
                        &value_path(k, joint, n_defense, choice[k]),
                        format!(
                            "point {index} ({} = {}): field `{}`: {}",
                            settings[k].0, settings[k].1, d.field, d.message
                        ),
                    ),
                    None => d,
                }
            })
            .collect();
        invalid(self.origin, diagnostics)
    }
}

fn invalid(origin: &str, diagnostics: Vec<Diagnostic>) -> LabError {
    LabError::Invalid(ScenarioError::Invalid {
        origin: origin.to_owned(),
        diagnostics,
    })
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

/// Sets defense parameter `name` (`section.field`) to `value` in a strategy table.
fn set_defense(strategy: &mut toml::Table, name: &str, value: toml::Value) -> Result<(), String> {
    let (section, field) = name
        .split_once('.')
        .ok_or_else(|| format!("`{name}` is not section.field"))?;
    let defense = strategy
        .entry("defense")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(defense) = defense else {
        return Err("the strategy's `defense` is not a table".into());
    };
    let sec = defense
        .entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(sec) = sec else {
        return Err(format!("`defense.{section}` is not a table"));
    };
    sec.insert(field.to_owned(), value);
    Ok(())
}

/// Sets `value` at a dotted path in a TOML table (numbers index arrays).
fn set_path(root: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, init) = parts.split_last().ok_or("empty path")?;
    let mut cur: &mut toml::Value = root
        .get_mut(init.first().copied().unwrap_or(last))
        .ok_or_else(|| format!("the scenario has no `{}`", parts[0]))?;
    if init.is_empty() {
        *cur = value;
        return Ok(());
    }
    for p in &init[1..] {
        cur = match (cur, p.parse::<usize>()) {
            (toml::Value::Array(a), Ok(i)) => {
                let n = a.len();
                a.get_mut(i)
                    .ok_or_else(|| format!("`{path}`: index {i} is past the {n} entries"))?
            }
            (toml::Value::Table(t), _) => t
                .get_mut(*p)
                .ok_or_else(|| format!("`{path}`: no `{p}` there"))?,
            _ => return Err(format!("`{path}`: `{p}` is not a table or array index")),
        };
    }
    match (cur, last.parse::<usize>()) {
        (toml::Value::Array(a), Ok(i)) if i < a.len() => a[i] = value,
        (toml::Value::Table(t), _) => {
            t.insert((*last).to_owned(), value);
        }
        _ => return Err(format!("`{path}`: cannot set `{last}` there")),
    }
    Ok(())
}

/// The field path of the value that setting `k` takes at a point: a `[[vary]]` or
/// `[[axis]]` value, or a `[[random.param]]`.
fn value_path(k: usize, joint: usize, n_defense: usize, choice: usize) -> Vec<Seg> {
    if k < joint {
        vec![key("random"), key("param"), Seg::Index(k)]
    } else if k < n_defense {
        vec![
            key("vary"),
            Seg::Index(k - joint),
            key("values"),
            Seg::Index(choice),
        ]
    } else {
        vec![
            key("axis"),
            Seg::Index(k - n_defense),
            key("values"),
            Seg::Index(choice),
        ]
    }
}

/// The most points an experiment may have: each holds a built scenario in memory.
pub const MAX_POINTS: usize = 10_000;
/// The most runs (points × replicas) an experiment may have.
pub const MAX_RUNS: usize = 1_000_000;
/// The widest relative band the gate accepts: 100 % already passes a metric that fell to
/// zero or doubled.
pub const MAX_RELATIVE_BAND: f64 = 1.0;

/// The gate's bands must be able to fail: a metric list, finite non-negative bands, a
/// relative band of at most [`MAX_RELATIVE_BAND`].
fn check_bands(spec: &CheckSpec, locator: &Locator<'_>, diags: &mut Vec<Diagnostic>) {
    if spec.metrics.is_empty() {
        diags.push(locator.at_path(
            &[key("check"), key("metrics")],
            "expected at least one metric: a gate that compares nothing passes vacuously",
        ));
    }
    if !(spec.relative.is_finite() && (0.0..=MAX_RELATIVE_BAND).contains(&spec.relative)) {
        diags.push(locator.at_path(
            &[key("check"), key("relative")],
            format!(
                "found {}: expected a relative band from 0 to {MAX_RELATIVE_BAND} (0.05 is ±5 %)",
                spec.relative
            ),
        ));
    }
    if !(spec.absolute.is_finite() && spec.absolute >= 0.0) {
        diags.push(locator.at_path(
            &[key("check"), key("absolute")],
            format!(
                "found {}: expected a finite absolute band ≥ 0",
                spec.absolute
            ),
        ));
    }
}

impl Experiment {
    /// Loads and checks an experiment file.
    pub fn load(path: &Path) -> Result<Self, LabError> {
        let text = read_input(path)?;
        Self::from_str(&text, &path.display().to_string(), path.parent())
    }

    /// Parses and checks experiment text; relative paths resolve against `dir`. Every
    /// problem of the file is reported at once; then the grid's points are built, and a
    /// value the scenario or strategy refuses is reported at its line in this file.
    pub fn from_str(text: &str, origin: &str, dir: Option<&Path>) -> Result<Self, LabError> {
        let locator = Locator::new(text);
        let file: ExperimentFile = parse_toml(text, origin, &locator)?;
        // `[auto]`, the stopping rule of automatic replicas (its defaults when absent).
        let auto = file.auto.clone().unwrap_or_default();
        let diags = check(&file, &auto, &locator);
        if !diags.is_empty() {
            return Err(invalid(origin, diags));
        }
        let m = &file.experiment;
        let resolve = |p: &str| -> PathBuf {
            match dir {
                Some(d) if !Path::new(p).is_absolute() => d.join(p),
                _ => PathBuf::from(p),
            }
        };
        let base = base_scenario(m, &resolve(&m.scenario), origin, &locator)?;
        let strategy = base_strategy(m, &base, resolve)?;
        let sampled = match &file.random {
            Some(r) => sampled(r, origin)?,
            None => Vec::new(),
        };
        let grid = Grid::new(&file, &sampled, &locator, origin, &base, &strategy);
        let mut points = Vec::with_capacity(grid.total);
        let (mut decisions_seen, mut threats_seen) = (
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
        );
        for index in 0..grid.total {
            let (settings, scenario) = grid.point(index)?;
            let key = |decision: bool| -> Vec<String> {
                settings
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| Point::is_decision(&file, *k) == decision)
                    .map(|(_, (_, v))| v.clone())
                    .collect()
            };
            let index_of = |seen: &mut std::collections::HashMap<Vec<String>, usize>,
                            k: Vec<String>| {
                let next = seen.len();
                *seen.entry(k).or_insert(next)
            };
            let decision = index_of(&mut decisions_seen, key(true));
            let threat = index_of(&mut threats_seen, key(false));
            points.push(Point {
                index,
                settings,
                scenario,
                decision,
                threat,
            });
        }
        let replicas = match m.replicas {
            Replicas::Fixed(n) => n,
            Replicas::Auto => auto.batch.min(auto.max),
        };
        Ok(Self {
            replicas,
            hash: paraverse_sim::rng::fnv1a(text.as_bytes()),
            origin: origin.to_owned(),
            file,
            points,
            base,
            strategy,
        })
    }

    /// The base scenario with defense parameters set to `values` (`section.field`,
    /// value), as the optimiser's candidates are.
    pub fn candidate(&self, values: &[(String, toml::Value)]) -> Result<Scenario, LabError> {
        let mut strat = self.strategy.clone();
        for (name, value) in values {
            set_defense(&mut strat, name, value.clone()).map_err(LabError::Mismatch)?;
        }
        Ok(self
            .base
            .clone()
            .with_strategy(&strat.to_string(), &format!("{} candidate", self.origin))?)
    }

    /// The experiment file's hash as results files record it (16 hex digits).
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// The experiment file's absolute path (for provenance that holds from any working
    /// directory), or its origin as given when it is not a file here.
    pub fn absolute_origin(&self) -> String {
        std::fs::canonicalize(&self.origin)
            .map_or_else(|_| self.origin.clone(), |p| p.display().to_string())
    }

    /// Total runs: points × replicas.
    pub fn runs(&self) -> usize {
        self.points.len() * self.replicas as usize
    }

    /// The seed of replica `r`.
    pub fn seed(&self, replica: u32) -> u64 {
        self.file.experiment.seed.wrapping_add(u64::from(replica))
    }
}
