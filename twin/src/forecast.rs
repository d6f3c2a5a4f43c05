//! Forecasts: from a checkpoint, members × candidate strategies, run in parallel, and the
//! strategy to deploy.
//!
//! A *member* is one draw of the future: the checkpointed world continued with its own
//! seed for every draw after the branching tick ([`Universe::branch`]). Member 0 uses the
//! run's own seed, so under the run's own defenses it is exactly the future the run would
//! have had; members 1.. use seeds derived from the run's seed and the member number.
//! Every candidate strategy faces the *same* members (common random numbers): member m
//! under strategy A and under strategy B meet the same attacker draws until their
//! defenses make the worlds diverge, so strategies are compared member by member, which
//! needs far fewer members than comparing two independent samples.
//!
//! Each member's objectives are those of the horizon alone (security loss, availability
//! and cost accrued after the branching tick), scored with the lab's weights
//! ([`Score`]). The recommended strategy has the lowest mean score; its statement compares
//! it with the runner-up over the paired members with the lab's paired comparison
//! ([`paraverse_lab::decision::compare_paired`]: mean difference, 95 % bootstrap interval,
//! sign-flip test). Everything is deterministic: the same checkpoint, candidates and
//! member count give the same forecast at any thread count.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use paraverse_lab::charts::{Chart, Series};
use paraverse_lab::decision::{Comparison, compare_paired};
use paraverse_lab::experiment::Score;
use paraverse_lab::stats::{Estimate, predictive_quantile, quantile};
use paraverse_sim::prelude::*;
use paraverse_sim::rng::Stream;
use rayon::prelude::*;
use serde::Serialize;

use crate::doubt::{Pmf, mixture_quantile, predictive_mixture_level};

const MEMBER_SEED: Stream = Stream::named("twin.member-seed");

/// Why a forecast could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// A member could not be branched from the checkpoint.
    #[error("strategy {strategy}, member {member}: {source}")]
    Branch {
        /// The candidate.
        strategy: String,
        /// The member.
        member: u32,
        /// Why.
        source: CheckpointError,
    },
    /// A member's run stopped early (a GPU lost mid-run).
    #[error("strategy {strategy}, member {member}: the run stopped: {fault}")]
    Fault {
        /// The candidate.
        strategy: String,
        /// The member.
        member: u32,
        /// Why.
        fault: String,
    },
    /// Nothing to forecast.
    #[error("{0}")]
    Invalid(String),
    /// The caller asked it to stop (a user quit the twin screen).
    #[error("stopped on request")]
    Stopped,
    /// An output could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// A strategy to forecast: the checkpoint's scenario with that strategy's defenses.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its name in outputs (the strategy's `[strategy] name`, or `current`).
    pub name: String,
    /// The scenario with its defenses.
    pub scenario: Scenario,
}

/// Where a member of a forecast starts: a checkpoint, the factor on the campaigns' rates
/// it runs at ([`Scenario::with_attack_rates`]; 1 for a checkpoint of a run, the member's
/// own for an ensemble's member), and the nodes whose compromise the ensemble doubts
/// ([`crate::doubt`]; none for a checkpoint of a run).
#[derive(Debug, Clone)]
pub struct Start {
    /// The state.
    pub checkpoint: Checkpoint,
    /// The attack-rate factor.
    pub attack_rate: f64,
    /// The doubtful nodes and the ensemble's belief that each is compromised: the
    /// forecast's compromised count takes each one that the member has not rebuilt as a
    /// draw of its belief, not as the member holds it.
    pub doubt: Arc<[(u32, f64)]>,
}

impl From<Checkpoint> for Start {
    fn from(checkpoint: Checkpoint) -> Self {
        Self {
            checkpoint,
            attack_rate: 1.0,
            doubt: Arc::new([]),
        }
    }
}

/// What to forecast.
#[derive(Debug, Clone, Copy)]
pub struct ForecastSpec {
    /// Ticks to look ahead.
    pub horizon: u32,
    /// Members (draws of the future) per strategy.
    pub members: u32,
    /// Weights of the objectives in the score (the lab's defaults unless set).
    pub score: Score,
    /// Traffic backend of the members.
    pub backend: BackendChoice,
    /// Members run at once (bounds memory: each is a whole universe).
    pub parallel: usize,
}

/// Distribution of one objective over the members.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    /// Mean, median, quartiles, extremes and the 95 % bootstrap interval of the mean.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// 5 % quantile.
    pub q05: f64,
    /// 95 % quantile.
    pub q95: f64,
}

impl Distribution {
    fn of(values: &[f64], key: u64) -> Option<Self> {
        let estimate = Estimate::of_keyed(values, key)?;
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            estimate,
            q05: quantile(&sorted, 0.05),
            q95: quantile(&sorted, 0.95),
        })
    }
}

/// One member's outcome under one strategy.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Member number.
    pub member: u32,
    /// Its seed for the future.
    pub seed: u64,
    /// Security loss over the horizon.
    pub security_loss: f64,
    /// Availability over the horizon.
    pub availability: f64,
    /// Cost over the horizon.
    pub cost: f64,
    /// The weighted score (lower is better).
    pub score: f64,
    /// Per tick from the branching tick, each fan quantity's value (`None` where it is
    /// not measured, e.g. a gauge at the branching tick).
    #[serde(skip)]
    pub series: Vec<Vec<Option<f64>>>,
    /// Per tick from the branching tick, which of the start's doubtful nodes the member
    /// has not rebuilt yet, and how many of those it holds (empty without doubt).
    #[serde(skip)]
    pub unsettled: Vec<(Vec<bool>, u32)>,
}

/// Quantiles of a quantity over the members at one tick.
///
/// The 10 and 90 % quantiles bound a prediction interval: where one more member's value
/// (the real network's, if the members draw its future well) falls 80 % of the time
/// ([`predictive_quantile`]; the members' own 10–90 % of 16 would hold it 71 % of the
/// time). The median is the members'.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FanPoint {
    /// Tick.
    pub tick: u32,
    /// 10 % quantile of one more member.
    pub q10: f64,
    /// Median of the members.
    pub q50: f64,
    /// 90 % quantile of one more member.
    pub q90: f64,
}

/// One strategy's forecast.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyForecast {
    /// Name.
    pub name: String,
    /// Its members, in member order.
    pub members: Vec<Member>,
    /// Distribution of each objective and the score over the members.
    pub objectives: BTreeMap<String, Distribution>,
    /// Per fan quantity, its quantiles per tick.
    pub fans: BTreeMap<String, Vec<FanPoint>>,
}

/// A forecast: every strategy's members and which to deploy.
#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    /// Scenario name.
    pub scenario: String,
    /// The checkpoint's tick (the branching tick).
    pub from_tick: u32,
    /// Ticks looked ahead.
    pub horizon_ticks: u32,
    /// Tick length, seconds.
    pub tick_s: f64,
    /// Members per strategy.
    pub members: u32,
    /// The score's weights.
    pub score: Score,
    /// The strategies, in the order given.
    pub strategies: Vec<StrategyForecast>,
    /// The recommended strategy (lowest mean score; the first on a tie).
    pub recommended: String,
    /// It against the runner-up, paired by member.
    pub comparison: Option<Comparison>,
    /// The recommendation in words.
    pub statement: String,
}

/// The quantities drawn as fans, per tick: name, unit, and how to read it from a record's
/// row.
pub const FANS: [(&str, &str); 3] = [
    ("compromised", "nodes"),
    ("quarantined", "nodes"),
    ("xr_quality", "% of XR flows within budget"),
];

/// The seed of member `m` for a run of seed `seed`: the run's own for member 0.
pub fn member_seed(seed: u64, m: u32) -> u64 {
    if m == 0 {
        seed
    } else {
        SimRng::new(seed).draw(MEMBER_SEED, m, 0, 0)
    }
}

/// Runs `spec.members` members of every candidate from `starts` (member m branches from
/// `starts[m % starts.len()]`: one checkpoint, or an ensemble's members at one tick, each
/// at its attack-rate factor) and recommends one. `progress` is called after each member
/// run.
pub fn forecast(
    starts: &[Start],
    candidates: &[Candidate],
    spec: &ForecastSpec,
    plugins: &[&'static dyn SimPlugin],
    progress: &(dyn Fn() + Sync),
) -> Result<Forecast, ForecastError> {
    forecast_until(
        starts,
        candidates,
        spec,
        plugins,
        progress,
        &AtomicBool::new(false),
    )
}

/// [`forecast`] that gives up with [`ForecastError::Stopped`] within a tick of a member
/// once `stop` is set: a forecast of many members takes long, and a user who quits a
/// screen drawn between forecasts should not wait for it to finish.
pub fn forecast_until(
    starts: &[Start],
    candidates: &[Candidate],
    spec: &ForecastSpec,
    plugins: &[&'static dyn SimPlugin],
    progress: &(dyn Fn() + Sync),
    stop: &AtomicBool,
) -> Result<Forecast, ForecastError> {
    if candidates.is_empty() || spec.members == 0 || spec.horizon == 0 || starts.is_empty() {
        return Err(ForecastError::Invalid(
            "a forecast needs a checkpoint, a strategy, a member and a horizon of at least one tick"
                .into(),
        ));
    }
    let checkpoint = &starts[0].checkpoint;
    if starts.iter().any(|c| c.checkpoint.tick != checkpoint.tick) {
        return Err(ForecastError::Invalid(
            "the checkpoints of a forecast are of one tick".into(),
        ));
    }
    let jobs: Vec<(usize, u32)> = (0..candidates.len())
        .flat_map(|s| (0..spec.members).map(move |m| (s, m)))
        .collect();
    let mut outcomes: Vec<Member> = Vec::with_capacity(jobs.len());
    for batch in jobs.chunks(spec.parallel.max(1)) {
        let done: Vec<Result<Member, ForecastError>> = batch
            .par_iter()
            .map(|&(s, m)| {
                let start = &starts[m as usize % starts.len()];
                let member = run_member(start, &candidates[s], m, spec, plugins, stop);
                progress();
                member
            })
            .collect();
        for d in done {
            outcomes.push(d?);
        }
    }
    let mut by_strategy = outcomes.into_iter();
    let strategies: Vec<StrategyForecast> = candidates
        .iter()
        .map(|c| {
            let members: Vec<Member> = by_strategy.by_ref().take(spec.members as usize).collect();
            summarise(&c.name, members, checkpoint.tick, &starts[0].doubt)
        })
        .collect();
    let scenario = &candidates[0].scenario;
    let tick_s = scenario.tick.as_micros() as f64 / 1e6;
    let (recommended, comparison) = recommend(&strategies, checkpoint);
    let statement = statement(&strategies, recommended, comparison.as_ref(), spec, tick_s);
    Ok(Forecast {
        scenario: scenario.name.clone(),
        from_tick: checkpoint.tick,
        horizon_ticks: spec.horizon,
        tick_s,
        members: spec.members,
        score: spec.score,
        recommended: strategies[recommended].name.clone(),
        strategies,
        comparison,
        statement,
    })
}

fn run_member(
    start: &Start,
    candidate: &Candidate,
    m: u32,
    spec: &ForecastSpec,
    plugins: &[&'static dyn SimPlugin],
    stop: &AtomicBool,
) -> Result<Member, ForecastError> {
    let plugins = plugins.to_vec();
    let checkpoint = &start.checkpoint;
    let seed = member_seed(checkpoint.recipe.seed, m);
    let mut universe = Universe::branch(
        checkpoint,
        candidate
            .scenario
            .clone()
            .with_attack_rates(start.attack_rate),
        seed,
        spec.horizon,
        spec.backend,
        &plugins,
    )
    .map_err(|source| ForecastError::Branch {
        strategy: candidate.name.clone(),
        member: m,
        source,
    })?;
    // The doubtful nodes' rebuild counts at the branch: one that moves has been rebuilt
    // (released), and is clean in the member as in the real network.
    let doubt = &start.doubt;
    let rebuilt_at_branch: Vec<u8> =
        universe.with_security(|s| doubt.iter().map(|&(n, _)| s[n as usize].rebuilds).collect());
    let mut unsettled = Vec::new();
    let mut record_doubt = |u: &mut Universe| {
        if doubt.is_empty() {
            return;
        }
        unsettled.push(u.with_security(|s| {
            let mut held = 0;
            let mask = doubt
                .iter()
                .zip(&rebuilt_at_branch)
                .map(|(&(n, _), &r)| {
                    let s = &s[n as usize];
                    let open = s.rebuilds == r;
                    held += u32::from(open && s.compromised);
                    open
                })
                .collect();
            (mask, held)
        }));
    };
    record_doubt(&mut universe);
    while universe.step() {
        record_doubt(&mut universe);
        if stop.load(Ordering::Relaxed) {
            return Err(ForecastError::Stopped);
        }
    }
    if let Some(fault) = universe.fault() {
        return Err(ForecastError::Fault {
            strategy: candidate.name.clone(),
            member: m,
            fault: fault.to_owned(),
        });
    }
    let record = universe.finish();
    let o = &record.summary.objectives;
    let w = spec.score;
    let xr = record
        .counter_names
        .iter()
        .position(|n| n == "xr_quality_ppm");
    let series = (0..record.series.len())
        .map(|i| {
            let s = record.series.states[i];
            vec![
                Some(s.compromised as f64),
                Some(s.quarantined as f64),
                xr.filter(|_| i > 0)
                    .map(|c| record.series.counters[i][c] as f64 / 1e4),
            ]
        })
        .collect();
    Ok(Member {
        member: m,
        seed,
        security_loss: o.security_loss,
        availability: o.availability,
        cost: o.cost,
        score: w.of(o),
        series,
        unsettled,
    })
}

/// The compromised fan's point at row `i` where doubtful nodes are still unsettled in some
/// member: each member's count without the doubtful nodes it holds, plus the
/// Poisson-binomial of the beliefs of those it has not rebuilt ([`crate::doubt`]), mixed
/// over the members with equal weights, its band one more member's
/// ([`predictive_mixture_level`]). `None` where no doubt is left (the members' counts are
/// then quantiled as every other fan's).
fn doubtful_point(
    members: &[Member],
    i: usize,
    doubt: &[(u32, f64)],
    pmfs: &mut BTreeMap<Vec<bool>, Pmf>,
) -> Option<FanPoint> {
    let rows: Vec<(f64, &(Vec<bool>, u32))> = members
        .iter()
        .filter_map(|m| Some((m.series.get(i)?[0]?, m.unsettled.get(i)?)))
        .collect();
    if rows.is_empty() || rows.iter().all(|(_, (mask, _))| !mask.contains(&true)) {
        return None;
    }
    for (_, (mask, _)) in &rows {
        if !pmfs.contains_key(mask) {
            let beliefs: Vec<f64> = doubt
                .iter()
                .zip(mask)
                .filter(|(_, open)| **open)
                .map(|(&(_, b), _)| b)
                .collect();
            pmfs.insert(mask.clone(), Pmf::poisson_binomial(&beliefs));
        }
    }
    let w = 1.0 / rows.len() as f64;
    let parts: Vec<(u64, &Pmf, f64)> = rows
        .iter()
        .map(|&(count, (mask, held))| {
            (
                (count as u64).saturating_sub(u64::from(*held)),
                &pmfs[mask],
                w,
            )
        })
        .collect();
    Some(FanPoint {
        tick: 0,
        q10: mixture_quantile(&parts, predictive_mixture_level(&parts, 0.1)),
        q50: mixture_quantile(&parts, 0.5),
        q90: mixture_quantile(&parts, predictive_mixture_level(&parts, 0.9)),
    })
}

fn key(name: &str, what: &str, tick: u32) -> u64 {
    paraverse_sim::rng::fnv1a(format!("forecast/{name}/{what}/{tick}").as_bytes())
}

fn summarise(
    name: &str,
    members: Vec<Member>,
    tick: u32,
    doubt: &[(u32, f64)],
) -> StrategyForecast {
    let mut objectives = BTreeMap::new();
    type Column = (&'static str, fn(&Member) -> f64);
    let columns: [Column; 4] = [
        ("security_loss", |m| m.security_loss),
        ("availability", |m| m.availability),
        ("cost", |m| m.cost),
        ("score", |m| m.score),
    ];
    for (what, get) in columns {
        let values: Vec<f64> = members.iter().map(get).collect();
        if let Some(d) = Distribution::of(&values, key(name, what, tick)) {
            objectives.insert(what.to_owned(), d);
        }
    }
    let mut fans = BTreeMap::new();
    let rows = members.first().map_or(0, |m| m.series.len());
    let mut pmfs = BTreeMap::new();
    for (q, (fan, _)) in FANS.iter().enumerate() {
        let points: Vec<FanPoint> = (0..rows)
            .filter_map(|i| {
                let mut v: Vec<f64> = members
                    .iter()
                    .filter_map(|m| m.series.get(i).and_then(|r| r[q]))
                    .collect();
                if v.is_empty() {
                    return None;
                }
                if *fan == "compromised"
                    && let Some(point) = doubtful_point(&members, i, doubt, &mut pmfs)
                {
                    return Some(FanPoint {
                        tick: tick + i as u32,
                        ..point
                    });
                }
                v.sort_by(f64::total_cmp);
                Some(FanPoint {
                    tick: tick + i as u32,
                    q10: predictive_quantile(&v, 0.1),
                    q50: quantile(&v, 0.5),
                    q90: predictive_quantile(&v, 0.9),
                })
            })
            .collect();
        if !points.is_empty() {
            fans.insert((*fan).to_owned(), points);
        }
    }
    StrategyForecast {
        name: name.to_owned(),
        members,
        objectives,
        fans,
    }
}

fn mean_score(s: &StrategyForecast) -> f64 {
    s.members.iter().map(|m| m.score).sum::<f64>() / s.members.len().max(1) as f64
}

/// The strategy with the lowest mean score (the first of equals), and its comparison with
/// the runner-up, paired by member.
fn recommend(
    strategies: &[StrategyForecast],
    checkpoint: &Checkpoint,
) -> (usize, Option<Comparison>) {
    let mut order: Vec<usize> = (0..strategies.len()).collect();
    order.sort_by(|&a, &b| {
        mean_score(&strategies[a])
            .total_cmp(&mean_score(&strategies[b]))
            .then(a.cmp(&b))
    });
    let best = order[0];
    let comparison = order.get(1).and_then(|&r| {
        let diffs: Vec<f64> = strategies[best]
            .members
            .iter()
            .zip(&strategies[r].members)
            .map(|(b, r)| r.score - b.score)
            .collect();
        let key = paraverse_sim::rng::fnv1a(
            format!(
                "forecast/{}/{}/{}/{}",
                strategies[best].name, strategies[r].name, checkpoint.tick, checkpoint.recipe.seed
            )
            .as_bytes(),
        );
        compare_paired(&diffs, r, key, "member (the same draw of the future)")
    });
    (best, comparison)
}

fn statement(
    strategies: &[StrategyForecast],
    best: usize,
    comparison: Option<&Comparison>,
    spec: &ForecastSpec,
    tick_s: f64,
) -> String {
    let b = &strategies[best];
    let horizon = f64::from(spec.horizon) * tick_s;
    let mut s = format!(
        "Deploy {}: lowest mean score {:.1} over the next {} ({} members).",
        b.name,
        mean_score(b),
        duration(horizon),
        spec.members
    );
    if let Some(c) = comparison {
        let other = &strategies[c.runner_up].name;
        if c.is_tie() {
            s += &format!(
                " {other} scores the same in every member: the choice between them makes no difference over this horizon."
            );
        } else {
            s += &format!(
                " Against the runner-up {other}: {:.1} better per member (95 % CI [{:.1}, {:.1}]), p = {:.4} ({}).",
                c.mean_difference, c.ci_low, c.ci_high, c.p_value, c.test
            );
            if c.ci_low <= 0.0 {
                s += " The interval includes no difference: more members, or a longer horizon, would be needed to tell them apart.";
            }
        }
    }
    s
}

fn duration(s: f64) -> String {
    if s >= 3600.0 && (s / 3600.0).fract() == 0.0 {
        format!("{} h", s / 3600.0)
    } else if s >= 60.0 && (s / 60.0).fract() == 0.0 {
        format!("{} min", s / 60.0)
    } else {
        format!("{s} s")
    }
}

impl Forecast {
    /// Writes `forecast.json`, `members.csv`, `fan.csv`, `recommendation.md` and a fan
    /// chart per quantity (`fan-NAME.svg` and `.png`) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<String>, ForecastError> {
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).map_err(|e| ForecastError::Write {
                path: dir.join(name).display().to_string(),
                message: e.to_string(),
            })
        };
        let mut json = serde_json::to_string_pretty(self).map_err(|e| ForecastError::Write {
            path: "forecast.json".into(),
            message: e.to_string(),
        })?;
        json.push('\n');
        write("forecast.json", json)?;
        write("members.csv", self.members_table().csv())?;
        write("fan.csv", self.fan_table().csv())?;
        let mut files = vec![
            "forecast.json".to_owned(),
            "members.csv".to_owned(),
            "fan.csv".to_owned(),
        ];
        paraverse_lab::charts::register_font().map_err(|e| ForecastError::Write {
            path: "charts".into(),
            message: e.to_string(),
        })?;
        for (fan, unit) in FANS {
            let mut chart = Chart {
                title: format!(
                    "{} from tick {}: median of members, 80 % prediction band",
                    fan.replace('_', " "),
                    self.from_tick
                ),
                x_desc: "simulated time from the checkpoint, s".into(),
                y_desc: unit.into(),
                ..Chart::default()
            };
            for s in &self.strategies {
                if let Some(points) = s.fans.get(fan) {
                    chart.series.push(Series {
                        label: s.name.clone(),
                        points: points
                            .iter()
                            .map(|p| {
                                (
                                    f64::from(p.tick - self.from_tick) * self.tick_s,
                                    p.q50,
                                    Some((p.q10, p.q90)),
                                )
                            })
                            .collect(),
                        line: true,
                        band: true,
                        strong: false,
                    });
                }
            }
            if chart.series.is_empty() {
                continue;
            }
            let name = format!("fan-{fan}");
            chart.write(dir, &name).map_err(|e| ForecastError::Write {
                path: dir.join(&name).display().to_string(),
                message: e.to_string(),
            })?;
            files.push(format!("{name}.svg"));
            files.push(format!("{name}.png"));
        }
        write("recommendation.md", self.markdown())?;
        files.push("recommendation.md".to_owned());
        Ok(files)
    }

    fn members_table(&self) -> paraverse_table::Table {
        use paraverse_table::{floats, ints, texts};
        let rows: Vec<(&str, &Member)> = self
            .strategies
            .iter()
            .flat_map(|s| s.members.iter().map(move |m| (s.name.as_str(), m)))
            .collect();
        let mut t = paraverse_table::Table::new();
        t.push("strategy", texts(rows.iter().map(|r| r.0)));
        t.push("member", ints(rows.iter().map(|r| u64::from(r.1.member))));
        t.push("seed", texts(rows.iter().map(|r| r.1.seed.to_string())));
        t.push(
            "security_loss",
            floats(rows.iter().map(|r| r.1.security_loss)),
        );
        t.push(
            "availability",
            floats(rows.iter().map(|r| r.1.availability)),
        );
        t.push("cost", floats(rows.iter().map(|r| r.1.cost)));
        t.push("score", floats(rows.iter().map(|r| r.1.score)));
        t
    }

    fn fan_table(&self) -> paraverse_table::Table {
        use paraverse_table::{floats, ints, texts};
        let rows: Vec<(&str, &str, FanPoint)> = self
            .strategies
            .iter()
            .flat_map(|s| {
                s.fans.iter().flat_map(move |(q, points)| {
                    points
                        .iter()
                        .map(move |p| (s.name.as_str(), q.as_str(), *p))
                })
            })
            .collect();
        let mut t = paraverse_table::Table::new();
        t.push("strategy", texts(rows.iter().map(|r| r.0)));
        t.push("quantity", texts(rows.iter().map(|r| r.1)));
        t.push("tick", ints(rows.iter().map(|r| u64::from(r.2.tick))));
        t.push(
            "time_s",
            floats(rows.iter().map(|r| f64::from(r.2.tick) * self.tick_s)),
        );
        t.push("q10", floats(rows.iter().map(|r| r.2.q10)));
        t.push("q50", floats(rows.iter().map(|r| r.2.q50)));
        t.push("q90", floats(rows.iter().map(|r| r.2.q90)));
        t
    }

    /// The recommendation and each strategy's objectives, as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Forecast: {} from tick {} ({} s), {} ticks ahead\n\n{}\n\n",
            self.scenario,
            self.from_tick,
            f64::from(self.from_tick) * self.tick_s,
            self.horizon_ticks,
            self.statement
        );
        md += "| strategy | score (mean [95 % CI]) | security loss (median [5 %, 95 %]) | availability (median) | cost (median) |\n|---|---|---|---|---|\n";
        for s in &self.strategies {
            let o = |k: &str| s.objectives.get(k);
            let cell = |k: &str| {
                o(k).map_or("-".to_owned(), |d| {
                    format!("{:.1} [{:.1}, {:.1}]", d.estimate.median, d.q05, d.q95)
                })
            };
            md += &format!(
                "| {}{} | {} | {} | {} | {} |\n",
                s.name,
                if s.name == self.recommended {
                    " (recommended)"
                } else {
                    ""
                },
                o("score").map_or("-".to_owned(), |d| format!(
                    "{:.1} [{:.1}, {:.1}]",
                    d.estimate.mean, d.estimate.ci_low, d.estimate.ci_high
                )),
                cell("security_loss"),
                o("availability").map_or("-".to_owned(), |d| format!("{:.4}", d.estimate.median)),
                o("cost").map_or("-".to_owned(), |d| format!("{:.1}", d.estimate.median)),
            );
        }
        md += "\nObjectives are those of the horizon alone (from the checkpoint on). Score = ";
        md += &format!(
            "{} × security loss + {} × availability + {} × cost (lower is better). Fans: `fan-*.png`, `fan.csv`; every member: `members.csv`.\n",
            self.score.security_loss, self.score.availability, self.score.cost
        );
        md
    }
}
