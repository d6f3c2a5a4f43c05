//! Continuous biometric authentication: periodic re-authentication of users, whose
//! liveness detection decides whether a deepfake passes.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    frac(
        "biometric.liveness",
        0.05,
        "chance liveness detection rejects a deepfake",
    ),
    dur(
        "biometric.reverify_interval",
        1.0,
        86_400.0,
        60.0,
        "time between continuous biometric re-authentications",
    ),
];

/// Resolved continuous biometric authentication.
#[derive(Debug, Clone, Copy)]
pub struct Biometric {
    /// Chance liveness detection rejects a deepfake.
    pub liveness: Chance,
    /// Ticks between re-authentications.
    pub interval_ticks: u32,
}

impl Section for Biometric {
    type Spec = BiometricSpec;

    fn resolve(v: &mut Validator<'_>, b: &BiometricSpec, cx: &Context<'_>) -> Self {
        Biometric {
            liveness: Chance::new(v.in_space("biometric.liveness", b.liveness)),
            interval_ticks: v
                .ticks_in_space(
                    "biometric.reverify_interval",
                    b.reverify_interval.unwrap_or(SimDuration::from_secs(600)),
                    cx.tick,
                )
                .max(1),
        }
    }
}
