//! Kill chains: the steps of each campaign, tagged with MITRE ATT&CK technique ids, and
//! when each was first reached; and the impact measures campaigns feed.
//!
//! `sim` owns this book (not `attackers`) because the run summary and the viewers read
//! it: a campaign module declares its steps when it is built, then calls
//! [`CampaignBook::reach`] as the attacker progresses, which logs an event carrying the
//! technique id. The last step of every chain is its goal.
//!
//! Impact measures are plain counters and gauges with the names below, registered by the
//! campaigns that produce them; [`Impact::derive`] turns them into the summary's impact
//! section, including one weighted `security_loss` that experiments can minimise.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use serde::Serialize;

use crate::checkpoint::{CheckpointError, Persist, decode, encode, same_len};
use crate::metrics::{EventLog, Metrics, RunEvent};
use crate::scenario::DataClass;
use crate::world::{CampaignId, Clock};

/// One step of a kill chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KillStep {
    /// Short name, also the event name in `events.jsonl` (e.g. `lateral_movement`).
    pub name: &'static str,
    /// ATT&CK tactic (e.g. `initial-access`).
    pub tactic: &'static str,
    /// ATT&CK technique id (e.g. `T1190`; `AML.T0020` is from MITRE ATLAS, ATT&CK's
    /// sister matrix for attacks on machine learning).
    pub technique: &'static str,
}

impl KillStep {
    /// A step.
    pub const fn new(name: &'static str, tactic: &'static str, technique: &'static str) -> Self {
        Self {
            name,
            tactic,
            technique,
        }
    }
}

/// A campaign's chain and progress.
#[derive(Debug, Clone)]
pub struct CampaignTrack {
    /// Campaign name.
    pub name: String,
    /// Campaign kind (`worm`, `ransomware`, ...).
    pub kind: &'static str,
    /// Steps in order; the last is the goal.
    pub steps: Vec<KillStep>,
    /// Tick each step was first reached.
    pub reached: Vec<Option<u32>>,
    /// The goal in the kind's unit, for display.
    pub goal: u64,
    /// What `goal` counts (e.g. `nodes encrypted`).
    pub goal_unit: &'static str,
}

/// Every campaign's kill chain, indexed like the scenario's campaigns.
#[derive(Resource, Debug, Clone, Default)]
pub struct CampaignBook {
    /// Tracks; campaigns without behaviour have none (the list may be shorter).
    pub tracks: Vec<Option<CampaignTrack>>,
}

/// Chains are declared by the build; which steps were reached when, and goals set from
/// the initial state, are state.
impl Persist for CampaignBook {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let progress: Vec<_> = self
            .tracks
            .iter()
            .map(|t| t.as_ref().map(|t| (&t.reached, t.goal)))
            .collect();
        encode::<Self, _>(&progress, out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let progress: Vec<Option<(Vec<Option<u32>>, u64)>> = decode::<Self, _>(bytes)?;
        same_len("campaign tracks", progress.len(), self.tracks.len())?;
        for (track, saved) in self.tracks.iter_mut().zip(progress) {
            match (track, saved) {
                (Some(t), Some((reached, goal))) => {
                    same_len("kill-chain steps", reached.len(), t.reached.len())?;
                    (t.reached, t.goal) = (reached, goal);
                }
                (None, None) => {}
                _ => {
                    return Err(CheckpointError::Mismatch(
                        "campaign tracks differ".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl CampaignBook {
    /// Declares a campaign's chain.
    pub fn declare(&mut self, campaign: CampaignId, track: CampaignTrack) {
        let i = campaign as usize;
        if self.tracks.len() <= i {
            self.tracks.resize(i + 1, None);
        }
        self.tracks[i] = Some(track);
    }

    /// Marks step `step` of `campaign` reached at `tick` (once; later calls do nothing)
    /// and logs it. Returns whether this was the first time.
    pub fn reach(
        &mut self,
        campaign: CampaignId,
        step: usize,
        tick: u32,
        node: Option<u32>,
        log: &mut EventLog,
    ) -> bool {
        let Some(Some(track)) = self.tracks.get_mut(campaign as usize) else {
            return false;
        };
        if track.reached[step].is_some() {
            return false;
        }
        track.reached[step] = Some(tick);
        let s = track.steps[step];
        let mut e = match node {
            Some(n) => RunEvent::new(tick, s.name, n),
            None => RunEvent::global(tick, s.name, 0),
        };
        if node.is_none() {
            e.value = None;
        }
        e.campaign = Some(campaign);
        e.technique = Some(s.technique);
        log.push(e);
        true
    }

    /// Marks the goal (the last step) of `campaign` reached.
    pub fn reach_goal(
        &mut self,
        campaign: CampaignId,
        tick: u32,
        node: Option<u32>,
        log: &mut EventLog,
    ) -> bool {
        let Some(Some(track)) = self.tracks.get(campaign as usize) else {
            return false;
        };
        let last = track.steps.len() - 1;
        self.reach(campaign, last, tick, node, log)
    }

    /// The technique id of a step (empty if the campaign is not tracked).
    pub fn technique(&self, campaign: CampaignId, step: usize) -> &'static str {
        self.tracks
            .get(campaign as usize)
            .and_then(Option::as_ref)
            .and_then(|t| t.steps.get(step))
            .map_or("", |s| s.technique)
    }

    /// The tick a step was first reached, if it has been.
    pub fn reached_at(&self, campaign: CampaignId, step: usize) -> Option<u32> {
        self.tracks
            .get(campaign as usize)
            .and_then(Option::as_ref)
            .and_then(|t| t.reached.get(step).copied().flatten())
    }

    /// Whether a step has been reached.
    pub fn reached(&self, campaign: CampaignId, step: usize) -> bool {
        self.tracks
            .get(campaign as usize)
            .and_then(Option::as_ref)
            .is_some_and(|t| t.reached[step].is_some())
    }

    /// Whether a campaign has reached its goal (its last step).
    pub fn goal_reached(&self, campaign: CampaignId) -> bool {
        self.tracks
            .get(campaign as usize)
            .and_then(Option::as_ref)
            .is_some_and(|t| t.reached.last().copied().flatten().is_some())
    }

    /// The outcome of every tracked campaign, for the summary.
    pub fn outcomes(&self, clock: &Clock) -> Vec<CampaignOutcome> {
        self.tracks
            .iter()
            .flatten()
            .map(|t| CampaignOutcome {
                name: t.name.clone(),
                kind: t.kind,
                goal: t.goal,
                goal_unit: t.goal_unit,
                goal_reached_s: t
                    .reached
                    .last()
                    .copied()
                    .flatten()
                    .map(|k| clock.seconds_at(k)),
                steps: t
                    .steps
                    .iter()
                    .zip(&t.reached)
                    .map(|(s, r)| StepOutcome {
                        step: *s,
                        reached_s: r.map(|k| clock.seconds_at(k)),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A step and when it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    /// The step.
    #[serde(flatten)]
    pub step: KillStep,
    /// Simulated seconds at which it was first reached; `null` if never.
    pub reached_s: Option<f64>,
}

/// How a campaign went.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignOutcome {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: &'static str,
    /// Goal, in `goal_unit`.
    pub goal: u64,
    /// What the goal counts.
    pub goal_unit: &'static str,
    /// When the goal was reached, seconds; `null` if never.
    pub goal_reached_s: Option<f64>,
    /// The kill chain.
    pub steps: Vec<StepOutcome>,
}

/// Counter prefix of records stolen, by class: `records_stolen:<class>`.
pub const RECORDS_STOLEN: &str = "records_stolen";
/// Counter: digital assets stolen.
pub const ASSETS_STOLEN: &str = "assets_stolen";
/// Counter: value of the assets stolen, in hundredths of the scenario's currency unit.
pub const ASSET_VALUE_STOLEN_CENTS: &str = "asset_value_stolen_cents";
/// Counter: transfers the ledger refused as double spends.
pub const DOUBLE_SPENDS_REFUSED: &str = "double_spends_refused";
/// Counter: compute taken by miners, node-milliseconds.
pub const COMPUTE_STOLEN_NODE_MS: &str = "compute_stolen_node_ms";
/// Gauge: share of GPU, edge and cloud compute available to its owners, ppm.
pub const COMPUTE_AVAILABLE_PPM: &str = "compute_available_ppm";
/// Counter: node-ticks during which a service node was down (encrypted or overwhelmed).
pub const SERVICE_DOWN_NODE_TICKS: &str = "service_down_node_ticks";
/// Counter: distinct accounts taken over (an account taken again after its revocation is
/// not counted again: it is the same account, and its credentials leaked once).
pub const ACCOUNTS_TAKEN_OVER: &str = "accounts_taken_over";
/// Counter: takeover events (an account taken again counts again).
pub const ACCOUNT_TAKEOVERS: &str = "account_takeovers";
/// Gauge: divergence of the digital twin from the real value, milli-units.
pub const TWIN_DIVERGENCE_MILLI: &str = "twin_divergence_milli";
/// Counter: decisions the twin got wrong (alarm or no alarm against the real value).
pub const WRONG_DECISIONS: &str = "wrong_decisions";
/// Gauge: the detection model's threshold multiplier, ppm (1,000,000 is intact).
pub const DETECTOR_THRESHOLD_SCALE_PPM: &str = "detector_threshold_scale_ppm";

/// Weight of one record of a class in [`Impact::security_loss`]. Biometric templates
/// weigh most: a leaked face or iris cannot be changed like a password.
pub fn record_weight(class: DataClass) -> f64 {
    match class {
        DataClass::Biometric => 20.0,
        DataClass::Health => 5.0,
        DataClass::AssetKeys => 5.0,
        DataClass::Credentials => 2.0,
        DataClass::Behavioural => 1.0,
        DataClass::TwinData => 1.0,
        DataClass::Financial => 5.0,
        DataClass::Pii => 2.0,
    }
}

/// Weight of one account taken over in [`Impact::security_loss`].
pub const ACCOUNT_WEIGHT: f64 = 10.0;
/// Weight of one compromised node-hour in [`Impact::security_loss`].
pub const COMPROMISED_NODE_HOUR_WEIGHT: f64 = 1.0;
/// Weight of one wrong digital-twin decision in [`Impact::security_loss`].
pub const WRONG_DECISION_WEIGHT: f64 = 10.0;

/// What the campaigns cost the defenders, for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Impact {
    /// Records stolen by class.
    pub records_stolen: BTreeMap<String, u64>,
    /// Digital assets stolen.
    pub assets_stolen: u64,
    /// Their value, in the scenario's currency unit.
    pub asset_value_stolen: f64,
    /// Double spends the ledger refused.
    pub double_spends_refused: u64,
    /// Compute taken by miners, node-seconds.
    pub compute_stolen_node_s: f64,
    /// Lowest share of GPU/edge/cloud compute left to its owners (`null` without
    /// cryptojacking).
    pub compute_available_min: Option<f64>,
    /// Service node-seconds lost to encryption or DDoS.
    pub service_down_s: f64,
    /// Distinct accounts taken over (each once, however often it was taken again).
    pub accounts_taken_over: u64,
    /// Takeover events (an account taken again after a revocation counts again).
    pub account_takeovers: u64,
    /// Largest divergence of a digital twin from the real value (`null` without false
    /// data injection).
    pub twin_divergence_max: Option<f64>,
    /// Mean divergence.
    pub twin_divergence_mean: Option<f64>,
    /// Wrong decisions of digital twins.
    pub wrong_decisions: u64,
    /// Highest detection-threshold multiplier reached by poisoning (`null` without it).
    pub detector_threshold_scale_max: Option<f64>,
    /// Node-hours under an attacker's control (compromised nodes summed over ticks).
    pub compromised_node_hours: f64,
    /// Campaign goals reached.
    pub goals_reached: u64,
    /// Weighted loss: records × class weight (biometric 20, health 5, asset keys 5,
    /// credentials 2, behavioural 1, twin data 1) + asset value + 10 per account taken
    /// over + 10 per wrong twin decision + 1 per compromised node-hour. Availability
    /// (service down, XR quality) and compute are separate objectives.
    pub security_loss: f64,
}

impl Impact {
    /// Derives the impact from the metrics, the campaign book and the compromised
    /// node-ticks of the run.
    pub fn derive(
        metrics: &Metrics,
        book: &CampaignBook,
        tick_s: f64,
        compromised_node_ticks: u64,
    ) -> Self {
        let compromised_node_hours = compromised_node_ticks as f64 * tick_s / 3600.0;
        let total = |name: &str| metrics.total(name).unwrap_or(0);
        let mut records_stolen = BTreeMap::new();
        let mut weighted = 0.0;
        for class in DataClass::ALL {
            if let Some(n) = metrics.total(&format!("{RECORDS_STOLEN}:{}", class.name())) {
                records_stolen.insert(class.name().to_owned(), n);
                weighted += n as f64 * record_weight(class);
            }
        }
        let asset_value_stolen = total(ASSET_VALUE_STOLEN_CENTS) as f64 / 100.0;
        let accounts = total(ACCOUNTS_TAKEN_OVER);
        let wrong = total(WRONG_DECISIONS);
        let twin = metrics.gauge_stats(TWIN_DIVERGENCE_MILLI);
        Impact {
            records_stolen,
            assets_stolen: total(ASSETS_STOLEN),
            asset_value_stolen,
            double_spends_refused: total(DOUBLE_SPENDS_REFUSED),
            compute_stolen_node_s: total(COMPUTE_STOLEN_NODE_MS) as f64 / 1000.0,
            compute_available_min: metrics
                .gauge_stats(COMPUTE_AVAILABLE_PPM)
                .map(|g| g.min as f64 / 1e6),
            service_down_s: total(SERVICE_DOWN_NODE_TICKS) as f64 * tick_s,
            accounts_taken_over: accounts,
            account_takeovers: total(ACCOUNT_TAKEOVERS),
            twin_divergence_max: twin.map(|g| g.max as f64 / 1000.0),
            twin_divergence_mean: twin.map(|g| g.mean / 1000.0),
            wrong_decisions: wrong,
            detector_threshold_scale_max: metrics
                .gauge_stats(DETECTOR_THRESHOLD_SCALE_PPM)
                .map(|g| g.max as f64 / 1e6),
            compromised_node_hours,
            goals_reached: (0..book.tracks.len())
                .filter(|&c| book.goal_reached(c as CampaignId))
                .count() as u64,
            security_loss: weighted
                + asset_value_stolen
                + accounts as f64 * ACCOUNT_WEIGHT
                + wrong as f64 * WRONG_DECISION_WEIGHT
                + compromised_node_hours * COMPROMISED_NODE_HOUR_WEIGHT,
        }
    }
}
