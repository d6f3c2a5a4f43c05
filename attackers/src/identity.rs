//! Identity campaigns: phishing and fake metaverse apps, credential stuffing, and
//! deepfake impersonation of a digital human. They attack accounts, not hosts: a success
//! marks the victim's account taken over ([`Security::account_taken_over`]) without
//! compromising the device.
//!
//! # Model
//!
//! Each tick a campaign makes `attempt_rate × tick` attempts on random nodes of the
//! target group (skipping accounts already taken and quarantined nodes). An attempt
//! succeeds with:
//!
//! - **phishing** (link or fake app): the users' `susceptibility`;
//! - **credential stuffing**: `reuse` on password accounts, a hundredth of it with MFA,
//!   0.9 on default credentials, never against certificates or biometrics;
//! - **deepfake**: `deepfake_quality` against biometric authentication, times
//!   `1 − liveness` where `[defense.biometric]` runs liveness detection; never otherwise.
//!
//! With step-up authentication (`[defense.step_up]`), the risk engine flags a won log-in
//! with chance `detect` and demands a second factor of the account's owner: a stolen or
//! stuffed password, or a session a fake app hijacked, gets in only if the user approves
//! the unexpected prompt (`fatigue`); a deepfake that fooled the face check fools the
//! re-check too, unless liveness detection (if deployed) catches it this time. A stopped
//! impostor is a failed log-in the account sees.
//!
//! A taken account leaks its credentials (at least one record of class `credentials`).
//! A fake app also steals the wallet connection, and a takeover gets into the wallet: the
//! victim's digital assets are transferred out through the [`Ledger`] at once.

use std::collections::BTreeSet;

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{AuthMethod, CampaignKind, DataClass, Group, Lure, Takeover};

use crate::chain::{self, Ctx, Out};
use crate::ledger::Ledger;
use crate::targeted::{CAMPAIGN, DICTIONARY, drain};

/// One identity campaign.
#[derive(Debug, Clone)]
pub struct IdentityCampaign {
    /// Index in the scenario.
    pub campaign: CampaignId,
    /// First tick.
    pub start_tick: u32,
    /// Victims.
    pub target: u16,
    /// Attempts per tick.
    pub attempts_per_tick: PerTick,
    /// Chance per attempt on a victim of the target group.
    pub chance: Chance,
    /// Whether a success drains the victim's wallet.
    pub drains_wallet: bool,
    /// Whether it impersonates by deepfake (a step-up re-check is biometric too).
    pub deepfake: bool,
    /// Accounts that reach the goal.
    pub goal: u64,
    /// Distinct accounts this campaign has taken so far (its goal counts accounts).
    pub taken: u64,
    /// The accounts (nodes) this campaign has taken, each once.
    victims: BTreeSet<u32>,
    stream: Stream,
}

/// Every identity campaign.
#[derive(Resource, Debug, Clone)]
pub struct IdentityCampaigns {
    /// The campaigns.
    pub list: Vec<IdentityCampaign>,
    /// Every account taken by any campaign, each once: the impact counts accounts, not
    /// takeover events (the siege under full-stack had 1,019 takeovers of 323 accounts).
    taken_ever: BTreeSet<u32>,
}

/// Targets and chances are rebuilt from the scenario; accounts taken are state.
impl Persist for IdentityCampaigns {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let list: Vec<_> = self.list.iter().map(|c| (c.taken, &c.victims)).collect();
        paraverse_sim::checkpoint::encode::<Self, _>(&(list, &self.taken_ever), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        type Saved = (Vec<(u64, BTreeSet<u32>)>, BTreeSet<u32>);
        let (list, taken_ever): Saved = paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("identity campaigns", list.len(), self.list.len())?;
        for (c, (taken, victims)) in self.list.iter_mut().zip(list) {
            (c.taken, c.victims) = (taken, victims);
        }
        self.taken_ever = taken_ever;
        Ok(())
    }
}

impl IdentityCampaigns {
    /// The identity campaigns of a scenario (empty if none).
    pub fn new(scenario: &Scenario) -> Self {
        let list = scenario
            .campaigns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let a = c.approach.as_ref()?;
                let g = &scenario.groups[a.target as usize];
                let (chance, drains_wallet) = match c.kind {
                    CampaignKind::Phishing { lure } => (g.susceptibility, lure == Lure::FakeApp),
                    CampaignKind::Takeover(Takeover::CredentialStuffing(reuse)) => (
                        match g.auth {
                            AuthMethod::Password => reuse,
                            AuthMethod::Mfa => reuse.scaled(1, 100),
                            AuthMethod::DefaultCredentials => DICTIONARY,
                            AuthMethod::Biometric | AuthMethod::Certificate => Chance::NEVER,
                        },
                        true,
                    ),
                    CampaignKind::Takeover(Takeover::Deepfake(quality)) => (
                        if g.auth == AuthMethod::Biometric {
                            // Liveness detection rejects a share of the deepfakes.
                            match scenario.defense.biometric {
                                Some(b) => quality.scaled(
                                    Chance::ALWAYS.threshold() - b.liveness.threshold(),
                                    Chance::ALWAYS.threshold(),
                                ),
                                None => quality,
                            }
                        } else {
                            Chance::NEVER
                        },
                        true,
                    ),
                    _ => return None,
                };
                Some(IdentityCampaign {
                    deepfake: matches!(c.kind, CampaignKind::Takeover(Takeover::Deepfake(_))),
                    campaign: i as CampaignId,
                    start_tick: c.start_tick,
                    target: a.target,
                    attempts_per_tick: a.attempts_per_tick,
                    chance,
                    drains_wallet,
                    goal: c.goal.unwrap_or(1),
                    taken: 0,
                    victims: BTreeSet::new(),
                    stream: Stream::named(&c.name).derive(0x1d),
                })
            })
            .collect();
        Self {
            list,
            taken_ever: BTreeSet::new(),
        }
    }
}

/// Step-up challenge draws (whether flagged, whether the second factor holds).
const STEP_UP: u64 = 3;

impl IdentityCampaign {
    /// Whether step-up authentication stops the impostor that just won attempt `k` on
    /// `node`; records the challenge.
    fn stopped_by_step_up(
        &self,
        scenario: &Scenario,
        step_ups: Option<&mut StepUps>,
        rng: &SimRng,
        node: u32,
        tick: u32,
        k: u32,
    ) -> bool {
        let (Some(su), Some(log)) = (scenario.defense.step_up, step_ups) else {
            return false;
        };
        let d = rng.draw(self.stream.derive(STEP_UP), node, tick, 2 * k);
        if !su.detect.hit(d) {
            return false;
        }
        log.challenged += 1;
        let second = rng.draw(self.stream.derive(STEP_UP), node, tick, 2 * k + 1);
        let passes = if self.deepfake {
            // The same fake before the same camera: only liveness detection can tell.
            scenario
                .defense
                .biometric
                .is_none_or(|b| !b.liveness.hit(second))
        } else {
            su.fatigue.hit(second)
        };
        if !passes {
            log.blocked += 1;
        }
        !passes
    }
}

/// Attack stage: every identity campaign makes its attempts.
pub fn identity_step(
    mut nodes: Query<(&mut Security, &mut Telemetry)>,
    mut campaigns: ResMut<IdentityCampaigns>,
    ctx: Ctx,
    mut out: Out,
    mut ledger: Option<ResMut<Ledger>>,
    mut step_ups: Option<ResMut<StepUps>>,
) {
    let (mut security, mut telemetry) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let telemetry = telemetry.bypass_change_detection();
    let tick = ctx.clock.tick;
    let rng = *ctx.rng;
    let IdentityCampaigns { list, taken_ever } = &mut *campaigns;
    for ic in list.iter_mut() {
        if tick < ctx.start(ic.campaign, ic.start_tick) {
            continue;
        }
        let c = ic.campaign;
        let g = &ctx.scenario.groups[ic.target as usize];
        let attempts = ic
            .attempts_per_tick
            .sample(rng.draw(ic.stream, CAMPAIGN, tick, 0));
        if attempts > 0 {
            out.book.reach(c, chain::ATTEMPT, tick, None, &mut out.log);
        }
        for k in 0..attempts {
            let node = g.first_node
                + rng.below(ic.stream.derive(1), CAMPAIGN, tick, k, u64::from(g.count)) as u32;
            let s = &mut security[node as usize];
            if s.account_taken_over || s.quarantined {
                continue;
            }
            if !ic
                .chance
                .hit(rng.draw(ic.stream.derive(2), CAMPAIGN, tick, k))
                || ic.stopped_by_step_up(
                    &ctx.scenario,
                    step_ups.as_deref_mut(),
                    &rng,
                    node,
                    tick,
                    k,
                )
            {
                // A failed log-in (stuffing, a rejected deepfake, a second factor that
                // held): the account sees it.
                let t = &mut telemetry[node as usize];
                t.auth_failures = t.auth_failures.saturating_add(1);
                continue;
            }
            s.account_taken_over = true;
            take_over(
                ic,
                (node, tick),
                g,
                taken_ever,
                &rng,
                ledger.as_deref_mut(),
                &mut out,
            );
        }
        if ic.taken >= ic.goal {
            out.book.reach_goal(c, tick, None, &mut out.log);
        }
    }
}

/// An account the campaign got into: counted once per account (its credentials leak
/// once), logged, and its wallet drained if the campaign does that.
fn take_over(
    ic: &mut IdentityCampaign,
    (node, tick): (u32, u32),
    g: &Group,
    taken_ever: &mut BTreeSet<u32>,
    rng: &SimRng,
    ledger: Option<&mut Ledger>,
    out: &mut Out,
) {
    let c = ic.campaign;
    if ic.victims.insert(node) {
        ic.taken += 1;
    }
    if let Some(events) = out.impact.takeovers {
        out.metrics.add(events, 1);
    }
    // The account and its credentials count once: taken again after a revocation, it
    // is the same account and nothing new leaks.
    if taken_ever.insert(node) {
        let credentials = DataClass::ALL
            .iter()
            .position(|&c| c == DataClass::Credentials)
            .expect("listed");
        out.metrics.add(out.impact.accounts, 1);
        let leaked = g
            .data
            .get(&DataClass::Credentials)
            .copied()
            .unwrap_or(0)
            .max(1);
        out.metrics.add(out.impact.records[credentials], leaked);
    }
    let mut e = RunEvent::new(tick, "account_takeover", node);
    e.campaign = Some(c);
    e.technique = Some(out.book.technique(c, chain::ATTEMPT));
    out.log.push(e);
    out.book
        .reach(c, chain::HARVEST, tick, Some(node), &mut out.log);
    if ic.drains_wallet && g.assets.count > 0 {
        let ledger = ledger.expect("wallet-draining campaigns build a ledger");
        let stolen = drain(
            ledger,
            rng,
            ic.stream,
            node,
            tick,
            g,
            g.assets.count,
            Chance::NEVER,
            out,
        );
        if stolen > 0 {
            out.book
                .reach(c, chain::DRAIN, tick, Some(node), &mut out.log);
        }
    }
}
