//! Hardening: rounds that remove default credentials from a share of the devices that
//! still have them.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    dur(
        "hardening.interval",
        1.0,
        604_800.0,
        600.0,
        "time between hardening rounds",
    ),
    frac(
        "hardening.coverage",
        0.05,
        "share of default-credential devices hardened per round",
    ),
];

/// Resolved hardening.
#[derive(Debug, Clone)]
pub struct Hardening {
    /// Ticks between rounds.
    pub interval_ticks: u32,
    /// Chance a default-credential device is hardened per round.
    pub coverage: Chance,
    /// Zones covered (empty: all).
    pub zones: Vec<ZoneId>,
}

impl Section for Hardening {
    type Spec = HardeningSpec;

    fn resolve(v: &mut Validator<'_>, h: &HardeningSpec, cx: &Context<'_>) -> Self {
        let (interval_ticks, coverage, zones) =
            v.round("hardening", h.interval, h.coverage, &h.zones, cx);
        Hardening {
            interval_ticks,
            coverage,
            zones,
        }
    }
}
