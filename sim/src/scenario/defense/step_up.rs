//! Step-up authentication: the risk engine demands a second factor of a risky log-in
//! or transfer, per identity; impostors are challenged, fatigued users approve anyway,
//! and benign users are prompted too (friction).

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    frac(
        "step_up.detect",
        0.05,
        "chance the risk engine demands a second factor of an impostor",
    ),
    frac(
        "step_up.false_prompts",
        0.01,
        "benign log-ins flagged per user per hour",
    ),
];

/// Resolved step-up authentication.
#[derive(Debug, Clone, Copy)]
pub struct StepUp {
    /// Chance an impostor's log-in or transfer is challenged.
    pub detect: Chance,
    /// Chance a challenged user approves anyway.
    pub fatigue: Chance,
    /// Benign log-ins flagged per user per hour.
    pub false_prompts_per_hour: f64,
}

impl Section for StepUp {
    type Spec = StepUpSpec;

    fn resolve(v: &mut Validator<'_>, x: &StepUpSpec, _: &Context<'_>) -> Self {
        StepUp {
            detect: Chance::new(v.in_space("step_up.detect", x.detect)),
            fatigue: v.fraction(
                x.fatigue.unwrap_or(0.05),
                field_path!["defense", "step_up", "fatigue"],
            ),
            false_prompts_per_hour: v
                .in_space("step_up.false_prompts", x.false_prompts.unwrap_or(0.02)),
        }
    }
}
