//! The approach every targeted kind shares: initial access to the entry group, then
//! lateral movement (discovery, credential reuse, exploitation, escalation) toward the
//! target group. Kinds differ only in what they do once they hold target nodes (their
//! [`Objective`](super::Objective)); how they get there is here, once.
//!
//! The chances are settled per group when the campaign is built (`access_chance`,
//! [`credential_chance`]) and per node each attempt (patched, hardened, quarantined,
//! what the access policy admits, decoys).

use std::collections::VecDeque;

use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{AccessMethod, AuthMethod, Group};

use super::{CAMPAIGN, Stage, TargetedCampaign};
use crate::chain;

/// Chance the dictionary of a botnet or intruder opens a default-credential device.
pub const DICTIONARY: Chance = Chance::from_ratio(9, 10);

const DECOY: Stream = Stream::named("defense.deception.decoy");

/// Random sub-streams of a campaign's stream, one per kind of draw.
mod draw {
    // The campaign's stream itself draws the initial-access attempts of a tick.
    /// Which entry node an attempt tries.
    pub const ENTRY_NODE: u64 = 1;
    /// Whether an attempt succeeds.
    pub const ACCESS: u64 = 2;
    /// Lateral-movement attempts of a held node.
    pub const MOVES: u64 = 3;
    /// Whether a move heads for the target (¾) or anywhere.
    pub const HEADING: u64 = 4;
    /// Which of the closest neighbours.
    pub const CLOSEST: u64 = 5;
    /// Which neighbour.
    pub const ANY: u64 = 6;
    /// Whether the move succeeds.
    pub const MOVE: u64 = 7;
}

/// Hop distance from every node to the nearest node of `sources` (breadth-first).
pub(super) fn hop_distance(topology: &Topology, sources: std::ops::Range<u32>) -> Vec<u16> {
    let mut dist = vec![u16::MAX; topology.node_count()];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for n in sources {
        dist[n as usize] = 0;
        queue.push_back(n);
    }
    while let Some(n) = queue.pop_front() {
        let d = dist[n as usize].saturating_add(1);
        for &m in topology.neighbours(n) {
            if dist[m as usize] == u16::MAX {
                dist[m as usize] = d;
                queue.push_back(m);
            }
        }
    }
    dist
}

/// Chance stolen or guessed credentials open a node authenticating by `auth`.
pub fn credential_chance(auth: AuthMethod, reuse: Chance) -> Chance {
    match auth {
        AuthMethod::DefaultCredentials => DICTIONARY,
        AuthMethod::Password => reuse,
        AuthMethod::Mfa => reuse.scaled(1, 20),
        AuthMethod::Biometric | AuthMethod::Certificate => Chance::NEVER,
    }
}

/// Chance one initial-access attempt by `access` opens a node of `g` (before node state).
pub(super) fn access_chance(access: AccessMethod, g: &Group, reuse: Chance) -> Chance {
    match access {
        AccessMethod::Exploit => g.exploit_chance,
        AccessMethod::Phishing => g.susceptibility,
        AccessMethod::DefaultCredentials => {
            if g.auth == AuthMethod::DefaultCredentials {
                DICTIONARY
            } else {
                Chance::NEVER
            }
        }
        AccessMethod::ValidAccounts => credential_chance(g.auth, reuse),
    }
}

/// Initial access: this tick's attempts on random nodes of the entry group.
pub(super) fn initial_access(tc: &mut TargetedCampaign, st: &mut Stage<'_, '_>) {
    let (c, tick, rng) = (tc.campaign, st.tick, st.rng);
    let a = &tc.approach;
    let attempts = a
        .attempts_per_tick
        .sample(rng.draw(tc.stream, CAMPAIGN, tick, 0));
    let entry = &st.scenario.groups[a.entry as usize];
    for k in 0..attempts {
        let node = entry.first_node
            + rng.below(
                tc.stream.derive(draw::ENTRY_NODE),
                CAMPAIGN,
                tick,
                k,
                u64::from(entry.count),
            ) as u32;
        let s = &mut st.security[node as usize];
        let mut chance = tc.access[a.entry as usize];
        if (a.access == AccessMethod::Exploit && s.patched)
            || (a.access == AccessMethod::DefaultCredentials && s.hardened)
        {
            chance = Chance::NEVER;
        }
        if tc.held.contains_key(&node)
            || s.quarantined
            || !chance.hit(rng.draw(tc.stream.derive(draw::ACCESS), CAMPAIGN, tick, k))
        {
            continue;
        }
        s.compromise(c);
        tc.held.insert(node, (tick, s.rebuilds));
        let out = &mut *st.out;
        out.metrics.add(out.impact.footholds, 1);
        if !out
            .book
            .reach(c, chain::INITIAL_ACCESS, tick, Some(node), &mut out.log)
        {
            let mut e = RunEvent::new(tick, "foothold", node);
            e.campaign = Some(c);
            e.technique = Some(out.book.technique(c, chain::INITIAL_ACCESS));
            out.log.push(e);
        }
    }
}

/// A node taken by lateral movement: `(node, from, by exploit rather than credentials)`.
type Move = (u32, u32, bool);

/// Lateral movement: every held, unquarantined node's attempts, proposed from the state
/// at the start of the stage and committed in node order.
pub(super) fn lateral_movement(tc: &mut TargetedCampaign, st: &mut Stage<'_, '_>) {
    let held: Vec<u32> = tc.held.keys().copied().collect();
    let mut proposals: Vec<Move> = Vec::new();
    for h in held {
        propose_moves(tc, st, h, &mut proposals);
    }
    commit_moves(tc, st, proposals);
}

/// The moves of held node `h` this tick, appended to `proposals`.
fn propose_moves(tc: &TargetedCampaign, st: &mut Stage<'_, '_>, h: u32, proposals: &mut Vec<Move>) {
    let (c, tick, rng) = (tc.campaign, st.tick, st.rng);
    if st.security[h as usize].quarantined {
        return;
    }
    let a = &tc.approach;
    let moves = st.policy.attempts(
        h,
        a.lateral_per_tick
            .sample(rng.draw(tc.stream.derive(draw::MOVES), h, tick, 0)),
    );
    if moves == 0 {
        return;
    }
    let out = &mut *st.out;
    out.book
        .reach(c, chain::DISCOVERY, tick, Some(h), &mut out.log);
    let t = &mut st.telemetry[h as usize];
    t.connections = t.connections.saturating_add(moves);
    let near = st.topology.neighbours(h);
    if near.is_empty() {
        return;
    }
    let best = near
        .iter()
        .map(|&n| tc.distance[n as usize])
        .min()
        .unwrap_or(u16::MAX);
    let decoys = st.scenario.defense.deception.map(|d| d.decoys);
    for m in 0..moves {
        let d = rng.draw(tc.stream.derive(draw::HEADING), h, tick, m);
        let pick = if d & 3 != 0 {
            let closest: Vec<u32> = near
                .iter()
                .copied()
                .filter(|&n| tc.distance[n as usize] == best)
                .collect();
            closest[rng.below(
                tc.stream.derive(draw::CLOSEST),
                h,
                tick,
                m,
                closest.len() as u64,
            ) as usize]
        } else {
            near[rng.below(tc.stream.derive(draw::ANY), h, tick, m, near.len() as u64) as usize]
        };
        let s = &st.security[pick as usize];
        if tc.held.contains_key(&pick) || s.quarantined || !st.policy.allows(h, pick) {
            continue;
        }
        // A decoy: the attempt is wasted and the source is caught.
        if decoys.is_some_and(|c| c.hit(rng.draw(DECOY, h, tick, m))) {
            st.tripwires.sources.push(h);
            continue;
        }
        let (mut exploit, mut creds) = tc.lateral[st.groups[pick as usize].0 as usize];
        if st.policy.segmentation.is_some() {
            // Only the services the policy admits can be exploited.
            exploit = st.policy.exploit_chance(st.scenario, h, pick);
        }
        let exploit = if s.patched { Chance::NEVER } else { exploit };
        if s.hardened && creds == DICTIONARY {
            creds = a.credential_reuse;
        }
        let d = rng.draw(tc.stream.derive(draw::MOVE), h, tick, m);
        if exploit.max(creds).hit(d) {
            proposals.push((pick, h, exploit >= creds));
        }
    }
}

/// Takes the proposed nodes (the first proposal for a node wins), logging each move and
/// the escalation on infrastructure nodes.
fn commit_moves(tc: &mut TargetedCampaign, st: &mut Stage<'_, '_>, proposals: Vec<Move>) {
    let (c, tick) = (tc.campaign, st.tick);
    let out = &mut *st.out;
    for (node, source, by_exploit) in proposals {
        if tc.held.contains_key(&node) {
            continue;
        }
        let s = &mut st.security[node as usize];
        s.compromise(c);
        tc.held.insert(node, (tick, s.rebuilds));
        out.metrics.add(out.impact.lateral_moves, 1);
        let mut e = RunEvent::new(tick, "lateral_movement", node);
        e.source = Some(source);
        e.campaign = Some(c);
        e.technique = Some(if by_exploit { "T1210" } else { "T1078" });
        out.log.push(e);
        out.book
            .reach(c, chain::LATERAL, tick, Some(node), &mut out.log);
        if !st.kinds[node as usize].0.is_terminal() {
            out.book
                .reach(c, chain::PRIVILEGE, tick, Some(node), &mut out.log);
        }
    }
}
