//! Zero trust: every node's trust decays between re-verifications (attestation for
//! devices with a root of trust, behavioural checks for the rest); below the threshold a
//! node gets no access.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    dur(
        "zero_trust.reverify_interval",
        1.0,
        86_400.0,
        60.0,
        "time between re-verifications of a node",
    ),
    frac(
        "zero_trust.decay_per_hour",
        0.05,
        "trust lost per hour without verification",
    ),
    frac(
        "zero_trust.threshold",
        0.05,
        "trust below which a node gets no access",
    ),
    frac(
        "zero_trust.attestation",
        0.05,
        "chance attestation finds a compromised device",
    ),
    frac(
        "zero_trust.behavioural",
        0.05,
        "chance behavioural checks find a compromised device or account",
    ),
];

/// Resolved zero trust.
#[derive(Debug, Clone)]
pub struct ZeroTrust {
    /// Ticks between re-verifications of a node.
    pub interval_ticks: u32,
    /// Trust lost per tick, ppm of full trust.
    pub decay_ppm_per_tick: u64,
    /// Access threshold, ppm.
    pub threshold_ppm: u64,
    /// Attestation's chance to find a compromised device with a root of trust.
    pub attestation: Chance,
    /// Behavioural checks' chance (devices without a root of trust, accounts).
    pub behavioural: Chance,
    /// Zones enforced (empty: all).
    pub zones: Vec<ZoneId>,
}

impl Section for ZeroTrust {
    type Spec = ZeroTrustSpec;

    fn resolve(v: &mut Validator<'_>, z: &ZeroTrustSpec, cx: &Context<'_>) -> Self {
        let hours_per_tick = cx.tick.as_secs_f64() / 3600.0;
        let decay = v.in_space("zero_trust.decay_per_hour", z.decay_per_hour.unwrap_or(0.5));
        ZeroTrust {
            interval_ticks: v
                .ticks_in_space("zero_trust.reverify_interval", z.reverify_interval, cx.tick)
                .max(1),
            decay_ppm_per_tick: (decay * hours_per_tick * 1e6).round() as u64,
            threshold_ppm: (v.in_space("zero_trust.threshold", z.threshold.unwrap_or(0.5)) * 1e6)
                .round() as u64,
            attestation: Chance::new(
                v.in_space("zero_trust.attestation", z.attestation.unwrap_or(0.9)),
            ),
            behavioural: Chance::new(
                v.in_space("zero_trust.behavioural", z.behavioural.unwrap_or(0.3)),
            ),
            zones: v.zones(&z.zones, cx, "zero_trust"),
        }
    }
}
