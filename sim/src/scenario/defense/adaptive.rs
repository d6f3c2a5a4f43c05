//! The adaptive response: an alerted node is throttled, its credentials revoked or it
//! is quarantined, by its risk (the alert's severity × the node's criticality).

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    Param {
        name: "adaptive.throttle_at",
        range: RISK,
        step: 1.0,
        help: "risk from which an alerted node is throttled",
    },
    Param {
        name: "adaptive.revoke_at",
        range: RISK,
        step: 1.0,
        help: "risk from which an alerted node's credentials are revoked",
    },
    Param {
        name: "adaptive.quarantine_at",
        range: RISK,
        step: 1.0,
        help: "risk from which an alerted node is quarantined",
    },
    dur(
        "adaptive.throttle_delay",
        0.0,
        86_400.0,
        10.0,
        "time from alert to throttling",
    ),
    dur(
        "adaptive.throttle_for",
        1.0,
        604_800.0,
        300.0,
        "how long a throttle lasts",
    ),
    dur(
        "adaptive.revoke_delay",
        0.0,
        86_400.0,
        30.0,
        "time from alert to revocation",
    ),
];

/// Risk levels of the adaptive response: severity (1 or 3) × criticality (1 to 3).
const RISK: ParamRange = ParamRange::Rate { min: 1.0, max: 9.0 };

/// Resolved adaptive response.
#[derive(Debug, Clone, Copy)]
pub struct Adaptive {
    /// Risk levels of throttling, revocation, quarantine.
    pub throttle_at: u32,
    /// Risk level of revocation.
    pub revoke_at: u32,
    /// Risk level of quarantine.
    pub quarantine_at: u32,
    /// Ticks from alert to throttling.
    pub throttle_delay_ticks: u32,
    /// Ticks a throttle lasts.
    pub throttle_ticks: u32,
    /// Ticks from alert to revocation.
    pub revoke_delay_ticks: u32,
}

impl Adaptive {
    /// Criticality of a node kind: 1 terminals, 2 infrastructure, 3 trust services.
    pub fn criticality(kind: NodeKind) -> u32 {
        match kind {
            k if k.is_terminal() => 1,
            NodeKind::Gateway
            | NodeKind::EdgeServer
            | NodeKind::CloudVm
            | NodeKind::GpuNode
            | NodeKind::Server
            | NodeKind::FileServer => 2,
            _ => 3,
        }
    }
}

impl Section for Adaptive {
    type Spec = AdaptiveSpec;

    fn resolve(v: &mut Validator<'_>, a: &AdaptiveSpec, cx: &Context<'_>) -> Self {
        if cx.spec.quarantine.is_none() {
            v.err(
                field_path!["defense", "adaptive"],
                "the adaptive response quarantines with [defense.quarantine]'s delay and release: expected that section too",
            );
        }
        let tick = cx.tick;
        let level = |v: &mut Validator<'_>, name: &str, x: Option<f64>, default: f64| {
            v.in_space(name, x.unwrap_or(default)).round() as u32
        };
        Adaptive {
            throttle_at: level(v, "adaptive.throttle_at", a.throttle_at, 1.0),
            revoke_at: level(v, "adaptive.revoke_at", a.revoke_at, 2.0),
            quarantine_at: level(v, "adaptive.quarantine_at", a.quarantine_at, 3.0),
            throttle_delay_ticks: v.ticks_in_space(
                "adaptive.throttle_delay",
                a.throttle_delay.unwrap_or(SimDuration::from_secs(10)),
                tick,
            ),
            throttle_ticks: v
                .ticks_in_space(
                    "adaptive.throttle_for",
                    a.throttle_for.unwrap_or(SimDuration::from_secs(600)),
                    tick,
                )
                .max(1),
            revoke_delay_ticks: v.ticks_in_space(
                "adaptive.revoke_delay",
                a.revoke_delay.unwrap_or(SimDuration::from_secs(60)),
                tick,
            ),
        }
    }
}
