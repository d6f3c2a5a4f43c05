//! The poisoned-data filter: rejects a share of the poisoned samples before they reach
//! the detection model's training.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    frac(
        "poison_filter.catch",
        0.05,
        "share of poisoned training samples rejected",
    ),
];

/// Resolved poisoned-data filter.
#[derive(Debug, Clone, Copy)]
pub struct PoisonFilter {
    /// Share of poisoned samples rejected.
    pub catch: Chance,
}

impl Section for PoisonFilter {
    type Spec = PoisonFilterSpec;

    fn resolve(v: &mut Validator<'_>, x: &PoisonFilterSpec, _: &Context<'_>) -> Self {
        PoisonFilter {
            catch: Chance::new(v.in_space("poison_filter.catch", x.catch)),
        }
    }
}
