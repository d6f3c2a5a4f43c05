//! Quarantine: alerted nodes are taken off the network after a delay, and optionally
//! rebuilt and released. It acts on alerts, so it needs a section that raises them.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    dur(
        "quarantine.delay",
        0.0,
        86_400.0,
        10.0,
        "time from alert to isolation",
    ),
    dur(
        "quarantine.release_after",
        1.0,
        604_800.0,
        600.0,
        "time from isolation to a clean rebuild",
    ),
];

/// Resolved quarantine.
#[derive(Debug, Clone)]
pub struct Quarantine {
    /// Ticks from alert to isolation.
    pub delay_ticks: u32,
    /// Ticks from isolation to release, if nodes are rebuilt.
    pub release_ticks: Option<u32>,
    /// Whether a rebuilt node comes back patched.
    pub release_patched: bool,
}

impl Section for Quarantine {
    type Spec = QuarantineSpec;

    fn resolve(v: &mut Validator<'_>, q: &QuarantineSpec, cx: &Context<'_>) -> Self {
        let d = cx.spec;
        if d.detection.is_none()
            && d.deception.is_none()
            && d.zero_trust.is_none()
            && d.code_signing.is_none()
        {
            v.err(
                field_path!["defense", "quarantine"],
                "quarantine acts on alerts: expected a [defense.detection], [defense.deception], [defense.zero_trust] or [defense.code_signing] section too",
            );
        }
        Quarantine {
            delay_ticks: v.ticks_in_space("quarantine.delay", q.delay, cx.tick),
            release_ticks: q.release_after.map(|r| {
                v.ticks_in_space("quarantine.release_after", r, cx.tick)
                    .max(1)
            }),
            release_patched: {
                if q.release_patched.is_some() && q.release_after.is_none() {
                    v.err(
                        field_path!["defense", "quarantine", "release_patched"],
                        "`release_patched` applies only with `release_after` (nodes are never released without it)",
                    );
                }
                q.release_patched.unwrap_or(true)
            },
        }
    }
}
