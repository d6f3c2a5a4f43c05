//! What a defense strategy costs, and the three objectives strategies are compared on:
//! security loss, availability, cost.
//!
//! Costs come from counters the defenses register (verifications, prompts, backup
//! rounds, traffic scrubbed, nodes patched, legitimate flows refused, clean nodes
//! quarantined), weighed by the default cost model below into operations and user
//! friction units. The weights are a model, not a truth: experiments that need another
//! can weigh the raw counters in `summary.json` themselves.

use serde::Serialize;

use crate::killchain::Impact;
use crate::metrics::Metrics;
use crate::scenario::Scenario;

/// Operations units per 1,000 zero-trust verifications.
pub const PER_1000_VERIFICATIONS: f64 = 1.0;
/// Operations units per 10,000 continuous biometric checks.
pub const PER_10000_BIOMETRIC_CHECKS: f64 = 1.0;
/// Operations units per backup round.
pub const PER_BACKUP_RUN: f64 = 1.0;
/// Operations units per Gbit of DDoS traffic scrubbed.
pub const PER_GBIT_SCRUBBED: f64 = 1.0;
/// Operations units per 100 nodes patched or hardened.
pub const PER_100_NODES_PATCHED: f64 = 1.0;
/// Operations units per simulated hour of decoys, per 1 % of lateral moves they catch.
pub const PER_DECOY_PERCENT_HOUR: f64 = 1.0;
/// Operations units per simulated hour per segment of micro-segmentation (rule upkeep).
pub const PER_SEGMENT_HOUR: f64 = 0.5;
/// Operations units per simulated hour of privacy-preserving computation, per class
/// covered at full coverage.
pub const PER_PRIVATE_CLASS_HOUR: f64 = 5.0;
/// Operations units per simulated hour of poisoned-data filtering at a catch rate of 1.
pub const PER_FILTER_HOUR: f64 = 10.0;
/// Operations units per simulated hour of code signing at full coverage (signing keys in an
/// HSM, verification enforced on every node).
pub const PER_SIGNING_HOUR: f64 = 2.0;
/// Friction units per 100 re-authentication prompts.
pub const PER_100_PROMPTS: f64 = 1.0;
/// Friction units per 100 legitimate flow-ticks refused (segmentation, zero trust).
pub const PER_100_BLOCKED_FLOW_TICKS: f64 = 1.0;
/// Friction units per 100 node-ticks throttled by the adaptive response.
pub const PER_100_THROTTLED_NODE_TICKS: f64 = 1.0;
/// Friction units per credential revocation (the user re-enrols).
pub const PER_REVOCATION: f64 = 0.5;
/// Cost units per clean node quarantined.
pub const PER_FALSE_QUARANTINE: f64 = 10.0;

/// The cost of a run's defenses.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cost {
    /// Operations (compute, scrubbing, backups, patching), units.
    pub ops: f64,
    /// User friction (prompts, legitimate sessions blocked), units.
    pub friction: f64,
    /// Clean nodes quarantined.
    pub false_quarantines: u64,
    /// `ops + friction + 10 × false_quarantines`.
    pub total: f64,
}

impl Cost {
    /// Derives the cost from the counters and the strategy. The hourly upkeep is the
    /// strategy's for the time it has been in force, plus what strategies deployed before
    /// it ran up ([`Metrics::earlier_upkeep`]).
    pub fn derive(metrics: &Metrics, scenario: &Scenario, simulated_s: f64) -> Self {
        let t = |n: &str| metrics.total(n).unwrap_or(0) as f64;
        let d = &scenario.defense;
        let (earlier_units, earlier_s) = metrics.earlier_upkeep();
        let hours = (simulated_s - earlier_s) / 3600.0;
        let decoys = d.deception.map_or(0.0, |d| d.decoys.probability() * 100.0);
        let upkeep = Self::upkeep_per_hour(d);
        let ops = t("verifications") / 1000.0 * PER_1000_VERIFICATIONS
            + t("biometric_checks") / 10_000.0 * PER_10000_BIOMETRIC_CHECKS
            + t("backup_runs") * PER_BACKUP_RUN
            + t("scrubbed_mbit") / 1000.0 * PER_GBIT_SCRUBBED
            + (t("patches") + t("hardened")) / 100.0 * PER_100_NODES_PATCHED
            + decoys * hours * PER_DECOY_PERCENT_HOUR
            + upkeep * hours
            + earlier_units;
        Self::of(metrics, ops)
    }

    /// A strategy's operations units per simulated hour whatever happens: decoys,
    /// segments, privacy-preserving computation, filtering, code signing.
    pub fn hourly(d: &crate::scenario::Defense) -> f64 {
        let decoys = d.deception.map_or(0.0, |d| d.decoys.probability() * 100.0);
        decoys * PER_DECOY_PERCENT_HOUR + Self::upkeep_per_hour(d)
    }

    fn upkeep_per_hour(d: &crate::scenario::Defense) -> f64 {
        d.segmentation
            .as_ref()
            .map_or(0.0, |s| s.names.len() as f64 * PER_SEGMENT_HOUR)
            + d.privacy.as_ref().map_or(0.0, |p| {
                p.classes.iter().filter(|&&c| c).count() as f64 * p.coverage_ppm as f64 / 1e6
                    * PER_PRIVATE_CLASS_HOUR
            })
            + d.poison_filter
                .map_or(0.0, |f| f.catch.probability() * PER_FILTER_HOUR)
            + d.code_signing
                .map_or(0.0, |c| c.coverage.probability() * PER_SIGNING_HOUR)
    }

    /// The cost of `ops` operations units and the counters' friction and false quarantines.
    fn of(metrics: &Metrics, ops: f64) -> Self {
        let t = |n: &str| metrics.total(n).unwrap_or(0) as f64;
        let friction = (t("reauth_prompts") + t("step_up_prompts")) / 100.0 * PER_100_PROMPTS
            + t("blocked_flow_ticks") / 100.0 * PER_100_BLOCKED_FLOW_TICKS
            + t("throttled_node_ticks") / 100.0 * PER_100_THROTTLED_NODE_TICKS
            + t("revocations") * PER_REVOCATION;
        let false_quarantines = metrics.total("false_quarantines").unwrap_or(0);
        let (ops, friction) = (micro(ops), micro(friction));
        Cost {
            ops,
            friction,
            false_quarantines,
            total: micro(ops + friction + false_quarantines as f64 * PER_FALSE_QUARANTINE),
        }
    }
}

/// A cost rounded to a millionth of a unit: far below any weight, and it keeps sums of
/// decimal weights from printing as `1829.4099999999999` in every output.
fn micro(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The three objectives of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Objectives {
    /// Security loss (lower is better): [`Impact::security_loss`].
    pub security_loss: f64,
    /// Availability (higher is better): XR quality, or 1 without XR traffic, times the
    /// share of service node-time not lost to encryption or DDoS.
    pub availability: f64,
    /// Cost (lower is better): [`Cost::total`].
    pub cost: f64,
}

impl Objectives {
    /// From a run's impact, XR quality and cost.
    pub fn derive(
        impact: &Impact,
        xr_quality: Option<f64>,
        cost: &Cost,
        nodes: u32,
        simulated_s: f64,
    ) -> Self {
        let node_s = f64::from(nodes) * simulated_s;
        let up = if node_s > 0.0 {
            1.0 - (impact.service_down_s / node_s).min(1.0)
        } else {
            1.0
        };
        Objectives {
            security_loss: impact.security_loss,
            availability: xr_quality.unwrap_or(1.0) * up,
            cost: cost.total,
        }
    }
}
