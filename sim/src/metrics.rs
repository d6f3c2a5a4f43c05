//! What a run measures: named counters, a per-tick time series, a bounded event log, and
//! the summary derived from them; and how they are written to disk.
//!
//! `sim` owns the state counts (compromised, quarantined, patched, vulnerable); plugins
//! register their own counters (`scans`, `detections`, ...) when they are built, so new
//! campaigns and defenses add columns without `sim` knowing them. Every number is an
//! integer count, so outputs are bit-identical across thread counts.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::Path;

use bevy_ecs::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, Persist, decode, encode, same_len};

use paraverse_table::{self as table, Formats, Table, Values};

use crate::world::{CHUNK, Clock, InGroup, ScenarioRes, Security, dense};

/// Handle of a registered counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterId(usize);

/// A metric name: static for fixed metrics, owned for per-zone ones.
pub type MetricName = Cow<'static, str>;

/// Named integer metrics: a value for the current tick and a running total.
///
/// *Counters* add up over the run (scans, detections); *gauges* are a level set once per
/// tick (XR quality, link utilisation) whose summary is their mean, minimum and maximum.
#[derive(Resource, Debug, Default, Clone)]
pub struct Metrics {
    names: Vec<MetricName>,
    help: Vec<&'static str>,
    gauge: Vec<bool>,
    this_tick: Vec<u64>,
    totals: Vec<u64>,
    minima: Vec<u64>,
    maxima: Vec<u64>,
    ticks: u64,
    /// Whether each metric belongs to defenses no longer deployed ([`Metrics::adopt`]).
    retired: Vec<bool>,
    /// The hourly upkeep strategies deployed before the one in force ran up: operations
    /// units, and the simulated seconds they covered.
    earlier_upkeep: (f64, f64),
}

impl Metrics {
    /// Registers a counter (once per name; a second registration returns the same id).
    pub fn register(&mut self, name: impl Into<MetricName>, help: &'static str) -> CounterId {
        self.register_kind(name.into(), help, false)
    }

    /// Registers a gauge: a per-tick level, summarised by mean, minimum and maximum.
    pub fn register_gauge(&mut self, name: impl Into<MetricName>, help: &'static str) -> CounterId {
        self.register_kind(name.into(), help, true)
    }

    fn register_kind(&mut self, name: MetricName, help: &'static str, gauge: bool) -> CounterId {
        if let Some(i) = self.names.iter().position(|n| *n == name) {
            return CounterId(i);
        }
        self.names.push(name);
        self.help.push(help);
        self.gauge.push(gauge);
        self.this_tick.push(0);
        self.totals.push(0);
        self.minima.push(u64::MAX);
        self.maxima.push(0);
        self.retired.push(false);
        CounterId(self.names.len() - 1)
    }

    /// Sets a gauge for the current tick.
    #[inline]
    pub fn set(&mut self, id: CounterId, value: u64) {
        self.this_tick[id.0] = value;
    }

    /// Whether a metric is a gauge.
    pub fn is_gauge(&self, name: &str) -> bool {
        self.names
            .iter()
            .position(|n| n == name)
            .is_some_and(|i| self.gauge[i])
    }

    /// Mean, minimum and maximum of a gauge over the ticks recorded so far.
    pub fn gauge_stats(&self, name: &str) -> Option<GaugeStats> {
        let i = self.names.iter().position(|n| n == name)?;
        (self.gauge[i] && self.ticks > 0).then(|| GaugeStats {
            mean: self.totals[i] as f64 / self.ticks as f64,
            min: self.minima[i],
            max: self.maxima[i],
        })
    }

    /// Adds to a counter in the current tick.
    #[inline]
    pub fn add(&mut self, id: CounterId, value: u64) {
        self.this_tick[id.0] += value;
    }

    /// Metric names, in registration order.
    pub fn names(&self) -> &[MetricName] {
        &self.names
    }

    /// What each counter counts.
    pub fn help(&self) -> &[&'static str] {
        &self.help
    }

    /// The running total of a counter by name (ticks closed so far).
    pub fn total(&self, name: &str) -> Option<u64> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.totals[i])
    }

    /// Takes over the values of `old`, this run's metrics under other defenses (a strategy
    /// deployed mid-run, [`crate::universe::Universe::switch_strategy`]): a metric both
    /// have keeps its values; one only `old` has is added at the end (it stops counting);
    /// one only `self` has keeps what it has (zero: it starts counting now). Returns, for
    /// each of `old`'s metrics, its index here, to carry the time series over
    /// ([`TimeSeries::remap`]).
    pub(crate) fn adopt(&mut self, old: &Metrics) -> Vec<usize> {
        let built = self.names.len();
        let map: Vec<usize> = (0..old.names.len())
            .map(|i| {
                self.register_kind(old.names[i].clone(), old.help[i], old.gauge[i])
                    .0
            })
            .collect();
        self.retired[built..].iter_mut().for_each(|r| *r = true);
        for (i, &j) in map.iter().enumerate() {
            self.this_tick[j] = old.this_tick[i];
            self.totals[j] = old.totals[i];
            self.minima[j] = old.minima[i];
            self.maxima[j] = old.maxima[i];
        }
        self.ticks = old.ticks;
        self.earlier_upkeep = old.earlier_upkeep;
        map
    }

    /// Closes the upkeep of the strategy that was in force (`hourly` operations units per
    /// simulated hour) at `simulated_s` into the earlier strategies' ([`Metrics::earlier_upkeep`]).
    pub(crate) fn retire_upkeep(&mut self, hourly: f64, simulated_s: f64) {
        let (units, s) = self.earlier_upkeep;
        self.earlier_upkeep = (units + hourly * (simulated_s - s) / 3600.0, simulated_s);
    }

    /// The hourly upkeep of strategies deployed before the one in force: operations units,
    /// and the simulated seconds they were in force ((0, 0) in a run that kept its
    /// strategy). [`crate::objectives::Cost::derive`] adds the current strategy's for the
    /// rest.
    pub fn earlier_upkeep(&self) -> (f64, f64) {
        self.earlier_upkeep
    }

    /// Closes the tick: folds this tick's values into totals and extremes, returns them.
    fn take_tick(&mut self, initial: bool) -> Vec<u64> {
        let row = self.this_tick.clone();
        if !initial {
            self.ticks += 1;
            for (i, &v) in row.iter().enumerate() {
                self.totals[i] += v;
                self.minima[i] = self.minima[i].min(v);
                self.maxima[i] = self.maxima[i].max(v);
            }
        }
        self.this_tick.iter_mut().for_each(|v| *v = 0);
        row
    }
}

/// Names, help and kinds are registered by the build; values and totals are state. The
/// names are saved too: a run that deployed another strategy mid-run
/// ([`Universe::switch_strategy`](crate::universe::Universe::switch_strategy)) holds
/// counters its recipe's defenses do not register, and they come back after the rebuilt
/// universe's own, where they were.
impl Persist for Metrics {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let names: Vec<&str> = self.names.iter().map(|n| n.as_ref()).collect();
        encode::<Self, _>(
            &(
                (&names, &self.help, &self.gauge, &self.retired),
                self.earlier_upkeep,
                &self.this_tick,
                &self.totals,
                &self.minima,
                &self.maxima,
                self.ticks,
            ),
            out,
        )
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        type Saved = (
            (Vec<String>, Vec<String>, Vec<bool>, Vec<bool>),
            (f64, f64),
            Vec<u64>,
            Vec<u64>,
            Vec<u64>,
            Vec<u64>,
            u64,
        );
        let ((names, help, gauge, retired), earlier, this_tick, totals, minima, maxima, ticks): Saved =
            decode::<Self, _>(bytes)?;
        let kinds = help.len().min(gauge.len()).min(retired.len());
        same_len("counter kinds", kinds, names.len())?;
        for (i, name) in names.iter().enumerate() {
            if self.names.iter().any(|n| n == name) {
                continue;
            }
            // Only a retired defense's counter may be missing from the rebuilt universe;
            // any other was registered by a plugin or defense it lacks.
            if !retired[i] {
                return Err(CheckpointError::Mismatch(format!(
                    "counter `{name}`: the checkpoint counts it, the rebuilt universe does not (other plugins or defenses?)"
                )));
            }
            let help = crate::checkpoint::intern(&help[i]);
            let id = self.register_kind(MetricName::Owned(name.clone()), help, gauge[i]);
            self.retired[id.0] = true;
        }
        if self
            .names
            .iter()
            .map(|n| n.as_ref())
            .ne(names.iter().map(String::as_str))
        {
            let built: Vec<&str> = self.names.iter().map(|n| n.as_ref()).collect();
            return Err(CheckpointError::Mismatch(format!(
                "counters: the checkpoint has {names:?}, the rebuilt universe {built:?}"
            )));
        }
        let n = self.names.len();
        for (what, v) in [
            ("counters", &this_tick),
            ("counter totals", &totals),
            ("counter minima", &minima),
            ("counter maxima", &maxima),
        ] {
            same_len(what, v.len(), n)?;
        }
        self.this_tick = this_tick;
        self.totals = totals;
        self.minima = minima;
        self.maxima = maxima;
        self.ticks = ticks;
        self.earlier_upkeep = earlier;
        Ok(())
    }
}

/// Summary of a gauge over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GaugeStats {
    /// Mean over the simulated ticks.
    pub mean: f64,
    /// Lowest value.
    pub min: u64,
    /// Highest value.
    pub max: u64,
}

/// One thing that happened, for the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEvent {
    /// Tick.
    pub tick: u32,
    /// What happened, e.g. `infection`, `detection`, `quarantine`.
    pub kind: &'static str,
    /// The node it happened to.
    pub node: Option<u32>,
    /// The node that caused it (e.g. the infecting node).
    pub source: Option<u32>,
    /// The campaign involved.
    pub campaign: Option<crate::world::CampaignId>,
    /// Ground truth where it matters (e.g. whether a detection was a true positive).
    pub truth: Option<bool>,
    /// A count, for events about many nodes (e.g. nodes patched in a round).
    pub value: Option<u64>,
    /// The MITRE ATT&CK technique of an attack step.
    pub technique: Option<&'static str>,
}

/// A [`RunEvent`] as a checkpoint holds it: the code's `&'static str` names come back
/// interned ([`crate::checkpoint::intern`]).
#[derive(Deserialize)]
struct SavedEvent {
    tick: u32,
    kind: String,
    node: Option<u32>,
    source: Option<u32>,
    campaign: Option<crate::world::CampaignId>,
    truth: Option<bool>,
    value: Option<u64>,
    technique: Option<String>,
}

impl<'de> Deserialize<'de> for RunEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = SavedEvent::deserialize(d)?;
        Ok(Self {
            tick: e.tick,
            kind: crate::checkpoint::intern(&e.kind),
            node: e.node,
            source: e.source,
            campaign: e.campaign,
            truth: e.truth,
            value: e.value,
            technique: e.technique.as_deref().map(crate::checkpoint::intern),
        })
    }
}

impl RunEvent {
    /// An event about `node` at `tick`.
    pub fn new(tick: u32, kind: &'static str, node: u32) -> Self {
        Self {
            tick,
            kind,
            node: Some(node),
            source: None,
            campaign: None,
            truth: None,
            value: None,
            technique: None,
        }
    }

    /// An event about no single node (e.g. a patch round).
    pub fn global(tick: u32, kind: &'static str, value: u64) -> Self {
        Self {
            node: None,
            value: Some(value),
            ..Self::new(tick, kind, 0)
        }
    }
}

/// The event log, bounded: past `max` events, they are counted but not kept.
#[derive(Resource, Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventLog {
    events: Vec<RunEvent>,
    max: u64,
    dropped: u64,
}

impl EventLog {
    /// A log keeping at most `max` events.
    pub fn new(max: u64) -> Self {
        Self {
            events: Vec::new(),
            max,
            dropped: 0,
        }
    }

    /// Records an event (or counts it as dropped if the log is full).
    pub fn push(&mut self, event: RunEvent) {
        if (self.events.len() as u64) < self.max {
            self.events.push(event);
        } else {
            self.dropped += 1;
        }
    }

    /// The kept events, in the order they happened.
    pub fn events(&self) -> &[RunEvent] {
        &self.events
    }

    /// How many events did not fit.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// State counts that `sim` takes of every node at the end of each tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Compromised now.
    pub compromised: u64,
    /// Quarantined now.
    pub quarantined: u64,
    /// Patched now.
    pub patched: u64,
    /// Unpatched nodes that run a vulnerable service and are not yet compromised.
    pub vulnerable: u64,
    /// Compromised at some point so far.
    pub ever_compromised: u64,
}

impl StateCounts {
    /// Column names of the state counts.
    pub const COLUMNS: [&'static str; 5] = [
        "compromised",
        "quarantined",
        "patched",
        "vulnerable",
        "ever_compromised",
    ];

    /// The counts, in [`StateCounts::COLUMNS`] order.
    pub fn values(&self) -> [u64; 5] {
        [
            self.compromised,
            self.quarantined,
            self.patched,
            self.vulnerable,
            self.ever_compromised,
        ]
    }

    fn merge(a: Self, b: Self) -> Self {
        Self {
            compromised: a.compromised + b.compromised,
            quarantined: a.quarantined + b.quarantined,
            patched: a.patched + b.patched,
            vulnerable: a.vulnerable + b.vulnerable,
            ever_compromised: a.ever_compromised + b.ever_compromised,
        }
    }
}

/// The per-tick time series: a row per tick (tick 0 is the initial state).
#[derive(Resource, Debug, Clone, Default, Serialize, Deserialize)]
pub struct TimeSeries {
    /// State counts per tick.
    pub states: Vec<StateCounts>,
    /// Per tick, per zone: [compromised, quarantined, alerted] nodes.
    pub zones: Vec<Vec<[u64; 3]>>,
    /// Counter values per tick, in [`Metrics::names`] order.
    pub counters: Vec<Vec<u64>>,
}

/// What the per-zone columns count, in order.
pub const ZONE_COLUMNS: [&str; 3] = ["compromised", "quarantined", "alerted"];

impl TimeSeries {
    /// Moves each row's counter values to the columns `map` gives (old index → new), in
    /// rows `width` wide; a column no old value maps to is zero.
    pub(crate) fn remap(&mut self, map: &[usize], width: usize) {
        for row in &mut self.counters {
            let mut moved = vec![0; width];
            for (&v, &j) in row.iter().zip(map) {
                moved[j] = v;
            }
            *row = moved;
        }
    }

    /// The tick with the most compromised nodes (the first such) and their number.
    fn peak(&self) -> (usize, u64) {
        self.states
            .iter()
            .enumerate()
            .fold((0, 0), |(bt, bv), (t, s)| {
                if s.compromised > bv {
                    (t, s.compromised)
                } else {
                    (bt, bv)
                }
            })
    }

    /// Seconds until half the initially vulnerable nodes had been compromised (`None`
    /// with none vulnerable, or never).
    fn time_to_half(&self, clock: &Clock) -> Option<f64> {
        let first = self.states.first().copied().unwrap_or_default();
        let half = first.vulnerable.div_ceil(2).max(1);
        (first.vulnerable > 0)
            .then(|| {
                self.states
                    .iter()
                    .position(|s| s.ever_compromised >= half)
                    .map(|t| clock.seconds_at(clock.start + t as u32))
            })
            .flatten()
    }

    /// Column names of a row: `tick`-less, as in `timeseries.csv` after `tick,time_s`.
    pub fn columns(zones: &[String], counters: &[MetricName]) -> Vec<String> {
        let mut cols: Vec<String> = StateCounts::COLUMNS.iter().map(|c| c.to_string()).collect();
        for z in zones {
            for c in ZONE_COLUMNS {
                cols.push(format!("{c}:{z}"));
            }
        }
        cols.extend(counters.iter().map(|c| c.to_string()));
        cols
    }

    /// The values of tick `t`, in [`TimeSeries::columns`] order.
    pub fn row(&self, t: usize) -> Vec<u64> {
        let mut row = self.states[t].values().to_vec();
        for z in &self.zones[t] {
            row.extend_from_slice(z);
        }
        row.extend_from_slice(&self.counters[t]);
        row
    }

    /// Ticks recorded (tick 0 included).
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// Account stage: counts node states (in parallel; integer sums are order-free) and closes
/// the tick's row of the time series.
pub fn account(
    nodes: Query<(&InGroup, &Security)>,
    scenario: Res<ScenarioRes>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut series: ResMut<TimeSeries>,
) {
    let (groups, security) = dense(nodes.contiguous_iter().expect("node query is dense"));
    let exploitable: Vec<bool> = scenario
        .groups
        .iter()
        .map(|g| g.exploit_chance.threshold() > 0)
        .collect();
    let zone_of: Vec<usize> = scenario.groups.iter().map(|g| g.zone as usize).collect();
    let zones = scenario.zones.len();
    let (counts, per_zone) = security
        .par_chunks(CHUNK)
        .zip(groups.par_chunks(CHUNK))
        .map(|(sec, grp)| {
            let mut c = StateCounts::default();
            let mut z = vec![[0u64; 3]; zones];
            // Runs of one group (groups are mostly long runs of nodes): counts in
            // registers over the run, then added to the group's totals.
            let mut start = 0;
            while start < sec.len() {
                let g = grp[start].0;
                let len = grp[start..].iter().take_while(|x| x.0 == g).count();
                let mut n = [0u32; 6];
                for s in &sec[start..start + len] {
                    n[0] += u32::from(s.compromised);
                    n[1] += u32::from(s.quarantined);
                    n[2] += u32::from(s.patched);
                    n[3] += u32::from(s.ever_compromised);
                    n[4] += u32::from(s.exposed());
                    n[5] += u32::from(s.alerted);
                }
                let n = n.map(u64::from);
                c.compromised += n[0];
                c.quarantined += n[1];
                c.patched += n[2];
                c.ever_compromised += n[3];
                if exploitable[g as usize] {
                    c.vulnerable += n[4];
                }
                let zc = &mut z[zone_of[g as usize]];
                zc[0] += n[0];
                zc[1] += n[1];
                zc[2] += n[5];
                start += len;
            }
            (c, z)
        })
        .reduce(
            || (StateCounts::default(), vec![[0u64; 3]; zones]),
            |(a, mut za), (b, zb)| {
                for (x, y) in za.iter_mut().zip(zb) {
                    for k in 0..3 {
                        x[k] += y[k];
                    }
                }
                (StateCounts::merge(a, b), za)
            },
        );
    series.states.push(counts);
    series.zones.push(per_zone);
    series
        .counters
        .push(metrics.take_tick(clock.tick == clock.start));
}

/// The headline numbers of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Where the scenario came from.
    pub origin: String,
    /// FNV-1a of the scenario text, hex.
    pub scenario_hash: String,
    /// Seed.
    pub seed: u64,
    /// paraverse version.
    pub paraverse_version: &'static str,
    /// Ticks simulated (in a forecast branch: since `first_tick`).
    pub ticks: u32,
    /// The tick the records start at: absent (0) for a run, the branching tick for a
    /// forecast branch.
    #[serde(skip_serializing_if = "is_zero")]
    pub first_tick: u32,
    /// Tick length, seconds.
    pub tick_s: f64,
    /// Simulated time, seconds.
    pub simulated_s: f64,
    /// Nodes.
    pub nodes: u32,
    /// Terminals among them.
    pub terminals: u32,
    /// Links.
    pub links: u64,
    /// Vulnerable (unpatched, running a vulnerable service) at the start.
    pub vulnerable_initial: u64,
    /// Most nodes compromised at once.
    pub compromised_peak: u64,
    /// When that peak was first reached, seconds.
    pub compromised_peak_s: f64,
    /// Compromised at the end.
    pub compromised_final: u64,
    /// Compromised at some point.
    pub compromised_ever: u64,
    /// First time at which half the initially vulnerable nodes had been compromised,
    /// seconds; `null` if never.
    pub time_to_half_vulnerable_s: Option<f64>,
    /// Quarantined at the end.
    pub quarantined_final: u64,
    /// Patched at the end.
    pub patched_final: u64,
    /// Totals of every registered counter (e.g. `detections`, `quarantines`).
    pub counters: std::collections::BTreeMap<String, u64>,
    /// Mean, minimum and maximum of every gauge (e.g. `xr_quality_ppm`).
    pub gauges: std::collections::BTreeMap<String, GaugeStats>,
    /// Share of XR stream flow-ticks that met their rate and latency budget (`null`
    /// without XR traffic).
    pub xr_quality: Option<f64>,
    /// The same, per zone of the XR client.
    pub xr_quality_by_zone: std::collections::BTreeMap<String, f64>,
    /// What the campaigns took: records, assets, compute, availability, accounts,
    /// twin integrity, and a weighted security loss.
    pub impact: crate::killchain::Impact,
    /// Each campaign's kill chain: steps with ATT&CK ids, when reached, and its goal.
    pub campaigns: Vec<crate::killchain::CampaignOutcome>,
    /// The defense strategy's name, when a strategy file set it.
    pub strategy: Option<String>,
    /// The defenses in force.
    pub defenses: Vec<&'static str>,
    /// What the defenses cost.
    pub cost: crate::objectives::Cost,
    /// The three objectives: security loss, availability, cost.
    pub objectives: crate::objectives::Objectives,
    /// Events kept in the log.
    pub events_logged: u64,
    /// Events that did not fit in the bounded log.
    pub events_dropped: u64,
}

/// Everything a finished run produced.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Headline numbers.
    pub summary: Summary,
    /// Per-tick series.
    pub series: TimeSeries,
    /// Metric names (columns of `series.counters`).
    pub counter_names: Vec<MetricName>,
    /// Which of them are gauges (levels measured during a tick: none at tick 0).
    pub gauges: Vec<bool>,
    /// Zone names (of `series.zones`).
    pub zone_names: Vec<String>,
    /// The event log.
    pub events: Vec<RunEvent>,
    /// Tick length in seconds, for the time column.
    pub tick_s: f64,
    /// The tick of the first row (0, or a forecast branch's branching tick).
    pub first_tick: u32,
    /// Node names by id, for the event log (group name and index).
    pub node_names: NodeNamer,
    /// Campaign names by index.
    pub campaign_names: Vec<String>,
    /// Each flow's demand and rate per tick, with `[recording] flows = true`.
    pub flows: Option<Table>,
}

/// Names nodes `<group>-<index>` without storing a string per node.
#[derive(Debug, Clone)]
pub struct NodeNamer {
    groups: Vec<(u32, String)>,
}

impl NodeNamer {
    /// From (first node id, group name) pairs in id order.
    pub fn new(groups: Vec<(u32, String)>) -> Self {
        Self { groups }
    }

    /// The name of a node.
    pub fn name(&self, node: u32) -> String {
        let i = self
            .groups
            .partition_point(|(first, _)| *first <= node)
            .saturating_sub(1);
        let (first, name) = &self.groups[i];
        format!("{name}-{}", node - first)
    }
}

/// Counter of XR stream flow-ticks within rate and latency budget (traffic core).
pub const XR_OK: &str = "xr_flow_ticks_ok";
/// Counter of active XR stream flow-ticks (traffic core).
pub const XR_TOTAL: &str = "xr_flow_ticks";

fn ratio(metrics: &Metrics, num: &str, den: &str) -> Option<f64> {
    let d = metrics.total(den)?;
    (d > 0).then(|| metrics.total(num).unwrap_or(0) as f64 / d as f64)
}

/// What the three objectives are made of, derived from the records alone: the part of a
/// [`Summary`] an agent's reward reads every step, without the rest (peaks, counters,
/// campaign outcomes), whose cost grows with the run.
struct Assessed {
    simulated_s: f64,
    impact: crate::killchain::Impact,
    xr_quality: Option<f64>,
    cost: crate::objectives::Cost,
    objectives: crate::objectives::Objectives,
}

impl Assessed {
    fn of(
        scenario: &crate::scenario::Scenario,
        clock: &Clock,
        series: &TimeSeries,
        metrics: &Metrics,
        book: &crate::killchain::CampaignBook,
    ) -> Self {
        // Tick 0 is the initial state; the simulated ticks are 1..
        let compromised_node_ticks = series.states.iter().skip(1).map(|s| s.compromised).sum();
        let impact = crate::killchain::Impact::derive(
            metrics,
            book,
            clock.seconds_at(1),
            compromised_node_ticks,
        );
        let simulated_s = clock.seconds_at(clock.tick - clock.start);
        let xr_quality = ratio(metrics, XR_OK, XR_TOTAL);
        let cost = crate::objectives::Cost::derive(metrics, scenario, simulated_s);
        let objectives = crate::objectives::Objectives::derive(
            &impact,
            xr_quality,
            &cost,
            scenario.node_count,
            simulated_s,
        );
        Self {
            simulated_s,
            impact,
            xr_quality,
            cost,
            objectives,
        }
    }
}

/// The three objectives so far, exactly as [`Summary::derive`] computes them, without
/// deriving the rest of the summary.
pub fn objectives(
    scenario: &crate::scenario::Scenario,
    clock: &Clock,
    series: &TimeSeries,
    metrics: &Metrics,
    book: &crate::killchain::CampaignBook,
) -> crate::objectives::Objectives {
    Assessed::of(scenario, clock, series, metrics, book).objectives
}

impl Summary {
    /// Derives the summary from the series and counters.
    pub fn derive(
        scenario: &crate::scenario::Scenario,
        links: u64,
        clock: &Clock,
        series: &TimeSeries,
        metrics: &Metrics,
        log: &EventLog,
        book: &crate::killchain::CampaignBook,
    ) -> Self {
        let first = series.states.first().copied().unwrap_or_default();
        let last = series.states.last().copied().unwrap_or_default();
        let (peak_tick, peak) = series.peak();
        let Assessed {
            simulated_s,
            impact,
            xr_quality,
            cost,
            objectives,
        } = Assessed::of(scenario, clock, series, metrics, book);
        let time_to_half = series.time_to_half(clock);
        Summary {
            scenario: scenario.name.clone(),
            origin: scenario.origin.clone(),
            scenario_hash: format!("{:016x}", scenario.source_hash),
            seed: scenario.seed,
            paraverse_version: env!("CARGO_PKG_VERSION"),
            ticks: clock.tick - clock.start,
            first_tick: clock.start,
            tick_s: clock.seconds_at(1),
            simulated_s,
            nodes: scenario.node_count,
            terminals: scenario.terminal_count,
            links,
            vulnerable_initial: first.vulnerable,
            compromised_peak: peak,
            compromised_peak_s: clock.seconds_at(clock.start + peak_tick as u32),
            compromised_final: last.compromised,
            compromised_ever: last.ever_compromised,
            time_to_half_vulnerable_s: time_to_half,
            quarantined_final: last.quarantined,
            patched_final: last.patched,
            counters: metrics
                .names()
                .iter()
                .filter(|n| !metrics.is_gauge(n))
                .map(|n| (n.to_string(), metrics.total(n).unwrap_or(0)))
                .collect(),
            gauges: metrics
                .names()
                .iter()
                .filter_map(|n| metrics.gauge_stats(n).map(|g| (n.to_string(), g)))
                .collect(),
            xr_quality,
            xr_quality_by_zone: scenario
                .zones
                .iter()
                .filter_map(|z| {
                    ratio(metrics, &format!("{XR_OK}:{z}"), &format!("{XR_TOTAL}:{z}"))
                        .map(|q| (z.clone(), q))
                })
                .collect(),
            impact,
            campaigns: book.outcomes(clock),
            strategy: scenario.defense.strategy.clone(),
            defenses: scenario.defense.active(),
            cost,
            objectives,
            events_logged: log.events().len() as u64,
            events_dropped: log.dropped(),
        }
    }
}

/// One event as the JSON object written to `events.jsonl` (and shown by viewers).
pub fn event_json(
    e: &RunEvent,
    tick_s: f64,
    names: &NodeNamer,
    campaigns: &[String],
) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("tick".into(), e.tick.into());
    obj.insert("time_s".into(), (f64::from(e.tick) * tick_s).into());
    obj.insert("event".into(), e.kind.into());
    if let Some(n) = e.node {
        obj.insert("node".into(), names.name(n).into());
    }
    if let Some(n) = e.source {
        obj.insert("source".into(), names.name(n).into());
    }
    if let Some(c) = e.campaign {
        let name = campaigns.get(c as usize).cloned().unwrap_or_default();
        obj.insert("campaign".into(), name.into());
    }
    if let Some(t) = e.truth {
        obj.insert("true_positive".into(), t.into());
    }
    if let Some(v) = e.value {
        obj.insert("count".into(), v.into());
    }
    if let Some(t) = e.technique {
        obj.insert("technique".into(), t.into());
    }
    serde_json::Value::Object(obj)
}

/// Files a run writes into its output folder.
pub const SUMMARY_FILE: &str = "summary.json";
/// Per-tick time series.
pub const SERIES_FILE: &str = "timeseries.csv";
/// Event log, one JSON object per line.
pub const EVENTS_FILE: &str = "events.jsonl";
/// Copy of the scenario text, for provenance.
pub const SCENARIO_FILE: &str = "scenario.toml";
/// The per-zone series as a tidy long table (a row per tick and zone).
pub const ZONES_FILE: &str = "zones.csv";
/// [`SERIES_FILE`] as Parquet (`--format parquet`).
pub const SERIES_PARQUET: &str = "timeseries.parquet";
/// [`ZONES_FILE`] as Parquet.
pub const ZONES_PARQUET: &str = "zones.parquet";
/// [`EVENTS_FILE`] as Parquet.
pub const EVENTS_PARQUET: &str = "events.parquet";
/// Each flow's demand and granted rate per tick (`[recording] flows = true`).
pub const FLOWS_FILE: &str = "flows.csv";
/// [`FLOWS_FILE`] as Parquet.
pub const FLOWS_PARQUET: &str = "flows.parquet";

impl RunRecord {
    /// The time series as a typed table: `tick`, `time_s`, the state columns, the
    /// per-zone columns and every metric. Gauges (levels measured during a tick) are
    /// missing at tick 0, the initial state, when nothing has been measured yet; counters
    /// are 0 there (nothing has happened).
    pub fn series_table(&self) -> Table {
        let ticks = self.series.len();
        let mut t = Table::new();
        let first = u64::from(self.first_tick);
        t.push("tick", table::ints(first..first + ticks as u64));
        t.push(
            "time_s",
            table::floats((first..first + ticks as u64).map(|i| i as f64 * self.tick_s)),
        );
        let columns = TimeSeries::columns(&self.zone_names, &self.counter_names);
        let rows: Vec<Vec<u64>> = (0..ticks).map(|i| self.series.row(i)).collect();
        let first_metric = columns.len() - self.counter_names.len();
        for (c, name) in columns.into_iter().enumerate() {
            let gauge = c >= first_metric && self.gauges.get(c - first_metric) == Some(&true);
            t.push(
                name,
                Values::Int(
                    rows.iter()
                        .enumerate()
                        .map(|(i, r)| (!(gauge && i == 0)).then(|| r[c] as i64))
                        .collect(),
                ),
            );
        }
        t.meta("paraverse:scenario", &self.summary.scenario)
            .meta("paraverse:seed", self.summary.seed.to_string())
            .meta("paraverse:tick_s", self.tick_s.to_string());
        t
    }

    /// The time series as CSV (see [`RunRecord::series_table`]).
    pub fn series_csv(&self) -> String {
        self.series_table().csv()
    }

    /// The per-zone series as a tidy long table: one row per tick and zone, with the
    /// zone's state counts and every per-zone metric (`name:zone` in the wide series)
    /// as its own column under the metric's base name.
    pub fn zones_table(&self) -> Table {
        let ticks = self.series.len();
        let zones = &self.zone_names;
        // Per-zone metrics: (base name, gauge, index per zone).
        let mut per_zone: Vec<(String, bool, Vec<Option<usize>>)> = Vec::new();
        for (i, name) in self.counter_names.iter().enumerate() {
            let Some((base, zone)) = name.rsplit_once(':') else {
                continue;
            };
            let Some(z) = zones.iter().position(|n| n == zone) else {
                continue;
            };
            let slot = match per_zone.iter().position(|(b, _, _)| b == base) {
                Some(s) => s,
                None => {
                    per_zone.push((
                        base.to_owned(),
                        self.gauges.get(i) == Some(&true),
                        vec![None; zones.len()],
                    ));
                    per_zone.len() - 1
                }
            };
            per_zone[slot].2[z] = Some(i);
        }
        let cells = ticks * zones.len();
        let at = |k: usize| (k / zones.len().max(1), k % zones.len().max(1));
        let mut t = Table::new();
        let first = u64::from(self.first_tick);
        t.push(
            "tick",
            table::ints((0..cells).map(|k| first + at(k).0 as u64)),
        );
        t.push(
            "time_s",
            table::floats((0..cells).map(|k| (first + at(k).0 as u64) as f64 * self.tick_s)),
        );
        t.push(
            "zone",
            table::texts((0..cells).map(|k| zones[at(k).1].clone())),
        );
        for (c, name) in ZONE_COLUMNS.iter().enumerate() {
            t.push(
                *name,
                table::ints((0..cells).map(|k| {
                    let (tick, z) = at(k);
                    self.series.zones[tick][z][c]
                })),
            );
        }
        for (base, gauge, index) in per_zone {
            t.push(
                base,
                Values::Int(
                    (0..cells)
                        .map(|k| {
                            let (tick, z) = at(k);
                            let i = index[z]?;
                            (!(gauge && tick == 0)).then(|| self.series.counters[tick][i] as i64)
                        })
                        .collect(),
                ),
            );
        }
        t
    }

    /// The event log as a typed table (the columns of `events.jsonl`, missing where an
    /// event has no such field).
    pub fn events_table(&self) -> Table {
        let e = &self.events;
        let name = |n: Option<u32>| n.map(|n| self.node_names.name(n));
        let mut t = Table::new();
        t.push("tick", table::ints(e.iter().map(|e| u64::from(e.tick))));
        t.push(
            "time_s",
            table::floats(e.iter().map(|e| f64::from(e.tick) * self.tick_s)),
        );
        t.push("event", table::texts(e.iter().map(|e| e.kind)));
        t.push(
            "node",
            Values::Text(e.iter().map(|e| name(e.node)).collect()),
        );
        t.push(
            "source",
            Values::Text(e.iter().map(|e| name(e.source)).collect()),
        );
        t.push(
            "campaign",
            Values::Text(
                e.iter()
                    .map(|e| {
                        e.campaign.map(|c| {
                            self.campaign_names
                                .get(c as usize)
                                .cloned()
                                .unwrap_or_default()
                        })
                    })
                    .collect(),
            ),
        );
        t.push(
            "true_positive",
            Values::Bool(e.iter().map(|e| e.truth).collect()),
        );
        t.push(
            "count",
            Values::Int(e.iter().map(|e| e.value.map(|v| v as i64)).collect()),
        );
        t.push(
            "technique",
            Values::Text(e.iter().map(|e| e.technique.map(str::to_owned)).collect()),
        );
        t
    }

    /// The event log as JSON lines.
    pub fn events_jsonl(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            out.push_str(
                &event_json(e, self.tick_s, &self.node_names, &self.campaign_names).to_string(),
            );
            out.push('\n');
        }
        out
    }

    /// The summary as pretty JSON.
    pub fn summary_json(&self) -> String {
        serde_json::to_string_pretty(&self.summary).expect("summary serialises") + "\n"
    }

    /// Writes summary, time series, per-zone table, events and the scenario into `dir`
    /// (created if needed), and their Parquet twins where `formats` asks.
    pub fn write(&self, dir: &Path, scenario_text: &str, formats: Formats) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let zones = self.zones_table();
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            (SUMMARY_FILE, self.summary_json().into_bytes()),
            (SERIES_FILE, self.series_csv().into_bytes()),
            (ZONES_FILE, zones.csv().into_bytes()),
            (EVENTS_FILE, self.events_jsonl().into_bytes()),
            (SCENARIO_FILE, scenario_text.as_bytes().to_vec()),
        ];
        if formats.parquet {
            let parquet = |t: Table| t.parquet().map_err(std::io::Error::other);
            files.push((SERIES_PARQUET, parquet(self.series_table())?));
            files.push((ZONES_PARQUET, parquet(zones)?));
            files.push((EVENTS_PARQUET, parquet(self.events_table())?));
        }
        if let Some(flows) = &self.flows {
            files.push((FLOWS_FILE, flows.csv().into_bytes()));
            if formats.parquet {
                files.push((
                    FLOWS_PARQUET,
                    flows.parquet().map_err(std::io::Error::other)?,
                ));
            }
        }
        for (name, content) in files {
            // Write to a temporary name, then rename: a killed run never leaves a
            // half-written file that looks complete.
            let tmp = dir.join(format!(".{name}.tmp"));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&content)?;
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(name))?;
        }
        Ok(())
    }
}

crate::persist_whole!(EventLog, TimeSeries);

fn is_zero(v: &u32) -> bool {
    *v == 0
}
