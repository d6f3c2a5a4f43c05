//! Detection: alerts on nodes whose outbound behaviour is anomalous, by a fixed
//! connection-rate rule or by UEBA (each node's own moving baselines).

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    Param {
        name: "detection.threshold",
        range: ParamRange::Rate {
            min: 0.0,
            max: 1000.0,
        },
        step: 0.05,
        help: "outbound connections per second above which a node raises an alert",
    },
    Param {
        name: "detection.method",
        range: ParamRange::Choice {
            options: &["threshold", "ueba"],
        },
        step: 1.0,
        help: "how detection finds anomalies: a fixed rule or per-entity baselines",
    },
    Param {
        name: "detection.sensitivity",
        range: ParamRange::Rate {
            min: 0.5,
            max: 50.0,
        },
        step: 0.5,
        help: "UEBA: standard deviations above a node's own baseline that raise an alert",
    },
    Param {
        name: "detection.learning_rate",
        range: ParamRange::Fraction {
            min: 0.001,
            max: 0.5,
        },
        step: 0.01,
        help: "UEBA: weight of each new tick in the moving baselines",
    },
];

/// Resolved scan detection.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Method.
    pub method: DetectionMethod,
    /// `ueba`: standard deviations, thousandths.
    pub sensitivity_milli: u64,
    /// `ueba`: EWMA weight in 16.16 fixed point.
    pub learning_q16: u64,
    /// Alert when a node's connection attempts in one tick exceed this.
    pub threshold_per_tick: u32,
    /// The threshold as written, per second.
    pub threshold_per_second: f64,
    /// Zones monitored (empty: all).
    pub zones: Vec<ZoneId>,
}

impl Section for Detection {
    type Spec = DetectionSpec;

    fn resolve(v: &mut Validator<'_>, det: &DetectionSpec, cx: &Context<'_>) -> Self {
        let field = |f: &str| field_path!["defense", "detection", f];
        let (threshold, sensitivity, learning) = (
            det.threshold.is_some(),
            det.sensitivity.is_some(),
            det.learning_rate.is_some(),
        );
        match det.method {
            DetectionMethod::Threshold if !threshold => v.err(
                field("threshold"),
                "method = \"threshold\" needs a `threshold` (connections per second; missing field)",
            ),
            DetectionMethod::Threshold if sensitivity || learning => v.err(
                field(if sensitivity { "sensitivity" } else { "learning_rate" }),
                "`sensitivity` and `learning_rate` apply to method = \"ueba\"",
            ),
            DetectionMethod::Ueba if threshold => v.err(
                field("threshold"),
                "`threshold` applies to method = \"threshold\"; UEBA learns each node's baseline",
            ),
            _ => {}
        }
        let k = v.in_space("detection.sensitivity", det.sensitivity.unwrap_or(4.0));
        let alpha = v.in_space("detection.learning_rate", det.learning_rate.unwrap_or(0.05));
        let per_second = v.in_space("detection.threshold", det.threshold.unwrap_or(0.0));
        // Exact per-tick threshold from the per-second one: floor(rate × tick).
        let per_tick = (per_second * cx.tick.as_micros() as f64 / 1e6).floor();
        Detection {
            method: det.method,
            sensitivity_milli: (k * 1000.0).round() as u64,
            learning_q16: ((alpha * 65536.0).round() as u64).max(1),
            threshold_per_tick: per_tick.min(f64::from(u32::MAX)) as u32,
            threshold_per_second: per_second,
            zones: v.zones(&det.zones, cx, "detection"),
        }
    }
}
