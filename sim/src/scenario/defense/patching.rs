//! Patching: rounds that fix a share of the unpatched nodes in the covered zones.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    dur(
        "patching.interval",
        1.0,
        604_800.0,
        600.0,
        "time between patch rounds",
    ),
    frac(
        "patching.coverage",
        0.05,
        "share of unpatched nodes patched per round",
    ),
];

/// Resolved patching.
#[derive(Debug, Clone)]
pub struct Patching {
    /// Ticks between rounds.
    pub interval_ticks: u32,
    /// Chance an unpatched node is patched in a round.
    pub coverage: Chance,
    /// Zones covered (empty: all).
    pub zones: Vec<ZoneId>,
}

impl Section for Patching {
    type Spec = PatchingSpec;

    fn resolve(v: &mut Validator<'_>, p: &PatchingSpec, cx: &Context<'_>) -> Self {
        let (interval_ticks, coverage, zones) =
            v.round("patching", p.interval, p.coverage, &p.zones, cx);
        Patching {
            interval_ticks,
            coverage,
            zones,
        }
    }
}
