//! Code signing: covered nodes install only validly signed updates (read by the
//! supply-chain campaign; a refused update raises an alert).

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    frac(
        "code_signing.coverage",
        0.05,
        "share of nodes that install only validly signed updates",
    ),
];

/// Resolved code signing.
#[derive(Debug, Clone, Copy)]
pub struct CodeSigning {
    /// Chance a node verifies signatures before installing (drawn once per node).
    pub coverage: Chance,
}

impl Section for CodeSigning {
    type Spec = CodeSigningSpec;

    fn resolve(v: &mut Validator<'_>, x: &CodeSigningSpec, _: &Context<'_>) -> Self {
        CodeSigning {
            coverage: Chance::new(v.in_space("code_signing.coverage", x.coverage)),
        }
    }
}
