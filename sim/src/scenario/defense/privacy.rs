//! Privacy-preserving computation: a share of the records of the covered data classes
//! is kept in a form that is useless to whoever steals it.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    frac(
        "privacy.coverage",
        0.05,
        "share of sensitive records in privacy-preserving form",
    ),
];

/// Resolved privacy protection.
#[derive(Debug, Clone)]
pub struct Privacy {
    /// Whether each class (in [`DataClass::ALL`] order) is covered.
    pub classes: [bool; DataClass::ALL.len()],
    /// Share of covered records protected, ppm.
    pub coverage_ppm: u64,
}

impl Privacy {
    /// Of `records` of class index `k` stolen, how many are usable to the attacker.
    pub fn exposed(&self, k: usize, records: u64) -> u64 {
        if self.classes[k] {
            records - records * self.coverage_ppm / 1_000_000
        } else {
            records
        }
    }
}

impl Section for Privacy {
    type Spec = PrivacySpec;

    fn resolve(v: &mut Validator<'_>, x: &PrivacySpec, _: &Context<'_>) -> Self {
        if x.classes.is_empty() {
            v.err(
                field_path!["defense", "privacy", "classes"],
                "expected at least one data class, e.g. [\"biometric\", \"health\"]",
            );
        }
        let mut classes = [false; DataClass::ALL.len()];
        for c in &x.classes {
            let k = DataClass::ALL
                .iter()
                .position(|a| a == c)
                .expect("every class listed");
            classes[k] = true;
        }
        Privacy {
            classes,
            coverage_ppm: (v.in_space("privacy.coverage", x.coverage) * 1e6).round() as u64,
        }
    }
}
