//! DDoS protection of chosen groups: a per-source rate limit toward a protected node,
//! and a scrubbing centre that removes attack traffic up to its capacity.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    Param {
        name: "ddos.rate_limit",
        range: ParamRange::Bandwidth {
            min_kbps: 1.0,
            max_kbps: 100_000_000.0,
        },
        step: 1000.0,
        help: "largest rate one source may send to a protected node",
    },
    Param {
        name: "ddos.scrubbing",
        range: ParamRange::Bandwidth {
            min_kbps: 0.0,
            max_kbps: 4_000_000_000.0,
        },
        step: 1_000_000.0,
        help: "attack traffic the scrubbing centre can remove, in all",
    },
];

/// Resolved DDoS protection.
#[derive(Debug, Clone)]
pub struct DdosProtection {
    /// Protected groups.
    pub protect: Vec<GroupId>,
    /// Per-source limit toward a protected node, kbit/s.
    pub rate_limit_kbps: Option<u32>,
    /// Scrubbing capacity in all, kbit/s.
    pub scrubbing_kbps: Option<u64>,
}

impl Section for DdosProtection {
    type Spec = DdosProtectionSpec;

    fn resolve(v: &mut Validator<'_>, x: &DdosProtectionSpec, cx: &Context<'_>) -> Self {
        let protect = v
            .group_list(&x.protect, cx, |j| field_path!["defense", "ddos", "protect", j])
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        if x.rate_limit.is_none() && x.scrubbing.is_none() {
            v.err(
                field_path!["defense", "ddos"],
                "expected `rate_limit`, `scrubbing` or both: without them the section does nothing",
            );
        }
        let kbps = |b: Bandwidth| (b.bits_per_second() / 1000) as f64;
        DdosProtection {
            protect,
            rate_limit_kbps: x
                .rate_limit
                .map(|r| v.in_space("ddos.rate_limit", kbps(r)) as u32),
            scrubbing_kbps: x
                .scrubbing
                .map(|r| v.in_space("ddos.scrubbing", kbps(r)) as u64),
        }
    }
}
