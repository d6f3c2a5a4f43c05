//! False data injection: compromised sensors of the target group add `bias` to their
//! readings; the digital twin averages every reporting sensor and decides "alarm" above
//! a threshold. A decision that differs from the one on the real value is wrong
//! (`wrong_decisions`); `twin_divergence_milli` is the gap between the twin's estimate
//! and the real value. The goal is `goal` wrong decisions caused by falsified readings.

use std::collections::BTreeMap;

use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{FalseData, Group};

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, step};

const NOISE: Stream = Stream::named("false_data.sensor_noise");

/// Falsified sensor readings.
#[derive(Debug)]
pub(super) struct FalseDataInjection(pub FalseData);

impl Objective for FalseDataInjection {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("false_data_injection", "impact", "T1565.002"),
            step("wrong_decision", "impact", "T1565.002"),
        ]
    }

    fn unit(&self) -> &'static str {
        "wrong twin decisions"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let (id, tick, f) = (c.campaign, st.tick, &self.0);
        let (estimate, real, falsified) =
            twin_estimate(f, targets.group, st.security, &c.held, &st.rng, tick);
        let div = estimate.abs_diff(real);
        st.effects.divergence = Some(st.effects.divergence.map_or(div, |d| d.max(div)));
        let out = &mut *st.out;
        if falsified > 0 {
            out.book
                .reach(id, chain::OBJECTIVE, tick, None, &mut out.log);
        }
        let wrong = (estimate > f.threshold_milli) != (real > f.threshold_milli);
        if wrong {
            if let Some(w) = out.impact.wrong_decisions {
                out.metrics.add(w, 1);
            }
            let mut e = RunEvent::global(tick, "wrong_decision", 1);
            e.campaign = (falsified > 0).then_some(id);
            out.log.push(e);
            if falsified > 0 {
                c.progress += 1;
            }
        }
        if c.progress >= c.goal {
            out.book.reach_goal(id, tick, None, &mut out.log);
        }
    }
}

/// The real value of the twin's quantity at `tick`, milli-units: a triangle wave.
pub fn real_value(f: &FalseData, tick: u32) -> i64 {
    let period = i64::from(f.period_ticks);
    let phase = i64::from(tick) % period * 4000 / period; // 0..4000
    let tri = if phase < 2000 {
        phase - 1000
    } else {
        3000 - phase
    }; // -1000..=1000
    f.baseline_milli + f.amplitude_milli * tri / 1000
}

/// The twin's estimate (mean of the reporting sensors), the real value, and how many
/// reports were falsified (sent by `held` sensors). Each sensor reads the real value with
/// uniform noise of ±0.5; quarantined sensors do not report.
fn twin_estimate(
    f: &FalseData,
    sensors: &Group,
    security: &[Security],
    held: &BTreeMap<u32, (u32, u8)>,
    rng: &SimRng,
    tick: u32,
) -> (i64, i64, u64) {
    let real = real_value(f, tick);
    let (mut sum, mut count, mut falsified) = (0i128, 0i128, 0u64);
    for n in sensors.nodes() {
        let s = &security[n as usize];
        if s.quarantined {
            continue;
        }
        let noise = rng.below(NOISE, n, tick, 0, 1001) as i64 - 500;
        let mut reading = real + noise;
        if held.contains_key(&n) {
            reading += f.bias_milli;
            falsified += 1;
        }
        sum += i128::from(reading);
        count += 1;
    }
    let estimate = if count > 0 {
        (sum / count) as i64
    } else {
        real
    };
    (estimate, real, falsified)
}
