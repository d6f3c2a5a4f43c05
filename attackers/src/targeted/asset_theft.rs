//! Asset theft: each held, active wallet node transfers its digital assets to the
//! attacker through the [`Ledger`], replaying some transfers as double spends, which the
//! ledger refuses. The goal is `goal` assets (default: all the target group holds).

use paraverse_sim::prelude::*;
use paraverse_sim::scenario::Group;

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, Out, step};
use crate::ledger::{Ledger, Refusal};

/// Transfers a node makes this tick.
const TRANSFERS: u64 = 9;
/// Whether a transfer is replayed.
const REPLAY: u64 = 11;

/// Draining wallets through the ledger.
#[derive(Debug)]
pub(super) struct AssetTheft {
    /// Transfers per tick per held wallet node.
    pub transfers_per_tick: PerTick,
    /// Chance a transfer is replayed as a double spend.
    pub double_spend: Chance,
}

impl Objective for AssetTheft {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("key_theft", "credential-access", "T1552.004"),
            step("financial_theft", "impact", "T1657"),
            step("assets_drained", "impact", "T1657"),
        ]
    }

    fn unit(&self) -> &'static str {
        "assets stolen"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let (id, tick, rng) = (c.campaign, st.tick, st.rng);
        let ledger = st
            .ledger
            .as_deref_mut()
            .expect("asset theft builds a ledger");
        let out = &mut *st.out;
        for &n in &targets.active {
            out.book
                .reach(id, chain::OBJECTIVE, tick, Some(n), &mut out.log);
            let g = &st.scenario.groups[st.groups[n as usize].0 as usize];
            let transfers =
                self.transfers_per_tick
                    .sample(rng.draw(c.stream.derive(TRANSFERS), n, tick, 0));
            let stolen = drain(
                ledger,
                &rng,
                c.stream,
                n,
                tick,
                g,
                transfers,
                self.double_spend,
                out,
            );
            if stolen > 0 {
                c.progress += stolen;
                out.book
                    .reach(id, chain::EFFECT, tick, Some(n), &mut out.log);
            }
        }
        if c.progress >= c.goal {
            out.book.reach_goal(id, tick, None, &mut out.log);
        }
    }
}

/// Transfers up to `transfers` assets of `node` to the attacker through the ledger,
/// replaying each as a double spend with chance `double_spend`; returns assets stolen.
#[expect(
    clippy::too_many_arguments,
    reason = "one transfer's context; shared by asset theft and identity campaigns"
)]
pub fn drain(
    ledger: &mut Ledger,
    rng: &SimRng,
    stream: Stream,
    node: u32,
    tick: u32,
    g: &Group,
    transfers: u32,
    double_spend: Chance,
    out: &mut Out,
) -> u64 {
    let holdings = g.assets.count;
    let cents = (g.assets.value * 100.0).round() as u64;
    let mut stolen = 0;
    for k in 0..transfers {
        let Some(asset) = ledger.next_unspent(node, holdings) else {
            break;
        };
        if ledger.transfer(node, asset, holdings).is_err() {
            break;
        }
        stolen += 1;
        out.metrics.add(out.impact.assets, 1);
        out.metrics.add(out.impact.asset_value_cents, cents);
        if double_spend.hit(rng.draw(stream.derive(REPLAY), node, tick, k))
            && ledger.transfer(node, asset, holdings) == Err(Refusal::DoubleSpend)
        {
            out.metrics.add(out.impact.double_spends, 1);
        }
    }
    stolen
}
