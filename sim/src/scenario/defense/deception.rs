//! Deception: decoys on which lateral movement may land, raising an alert.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    frac(
        "deception.decoys",
        0.01,
        "chance a lateral-movement attempt lands on a decoy",
    ),
];

/// Resolved deception.
#[derive(Debug, Clone, Copy)]
pub struct Deception {
    /// Chance a lateral-movement attempt lands on a decoy.
    pub decoys: Chance,
}

impl Section for Deception {
    type Spec = DeceptionSpec;

    fn resolve(v: &mut Validator<'_>, x: &DeceptionSpec, _: &Context<'_>) -> Self {
        Deception {
            decoys: Chance::new(v.in_space("deception.decoys", x.decoys)),
        }
    }
}
