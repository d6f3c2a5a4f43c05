//! What each team sees of a universe and what it can do to it, as the agent environments
//! index them: one row per group (or per node), a few features per row, a small set of
//! actions per row.
//!
//! The two teams see through different sensors (per node: `sim::operator::blue_view` and
//! `red_view`, property-tested there to carry none of the other side's knowledge). Blue
//! sees what the defenders' sensors report (alerts, its own quarantines and patches,
//! services down), never which nodes are compromised. Red sees what an attacker knows: the
//! nodes its campaign holds, which nodes answer on the network at all (isolation shows as
//! silence), and which services are down; never the defenders' alerts or patch levels. Both [`PyUniverse`](crate::PyUniverse)
//! and the vectorised [`Batch`](crate::batch::Batch) read and act through these
//! functions, so a single universe and a batch of them give the same observations.

use paraverse_sim::operator::OperatorAction;
pub use paraverse_sim::operator::teams::{
    BLUE_FEATURES, BLUE_GROUP_ACTIONS, BLUE_NODE_ACTIONS, RED_ACTIONS, RED_FEATURES, Team,
    blue_applies, group_actions, named, node_action, red_target,
};
use paraverse_sim::prelude::*;

/// (first node, count) of every group, or of every node alone.
pub fn spans(u: &Universe, per_node: bool) -> Vec<(u32, u32)> {
    if per_node {
        (0..u.scenario().node_count).map(|n| (n, 1)).collect()
    } else {
        u.scenario().group_spans()
    }
}

/// Appends the team's observation to `out` as little-endian float32 bytes (what numpy
/// reads): per row (group or node), the share of its nodes showing each feature.
pub fn observe(u: &mut Universe, team: Team, per_node: bool, out: &mut Vec<u8>) {
    let spans = spans(u, per_node);
    let features = team.features();
    u.with_security(|security| {
        out.reserve(spans.len() * features * 4);
        for (first, count) in spans {
            let mut seen = [0u32; 4];
            for s in &security[first as usize..(first + count) as usize] {
                for (k, on) in team.view(s).into_iter().enumerate() {
                    seen[k] += u32::from(on);
                }
            }
            for &n in &seen[..features] {
                out.extend_from_slice(&(n as f32 / count.max(1) as f32).to_le_bytes());
            }
        }
    });
}

/// Appends which of the team's actions would do anything now, 1 or 0 per row and
/// action. Doing nothing always can. Blue: quarantine where a node is alerted (per node:
/// any node) and not isolated, release where one is isolated, patch where one is
/// unpatched, harden where one still has default credentials, revoke anywhere (blue
/// cannot see which accounts are taken, and a revocation always costs a re-enrolment).
/// Red: exploit where a node is neither held nor isolated (whether the exploit
/// works, red learns by trying).
pub fn mask(u: &mut Universe, team: Team, per_node: bool, out: &mut Vec<u8>) {
    let spans = spans(u, per_node);
    u.with_security(|security| {
        for (first, count) in spans {
            let nodes = &security[first as usize..(first + count) as usize];
            let any = |f: &dyn Fn(&Security) -> bool| u8::from(nodes.iter().any(f));
            out.push(1);
            match team {
                Team::Blue => {
                    for action in 1..BLUE_GROUP_ACTIONS.len() {
                        out.push(any(&|s| blue_applies(action, s, per_node)));
                    }
                }
                Team::Red(c) => out.push(any(&|s| red_target(s, c))),
            }
        }
    });
}

/// The node actions a whole row-indexed action vector (one action per group, or per
/// node) stands for: the environments' `step`. Fails, naming the action, if an index is
/// out of range.
pub fn row_actions(
    u: &mut Universe,
    team: Team,
    per_node: bool,
    actions: &[i64],
) -> Result<Vec<OperatorAction>, String> {
    let mut queued = Vec::new();
    for (row, &a) in actions.iter().enumerate() {
        let a = usize::try_from(a).map_err(|_| format!("action {a}: expected 0 or more"))?;
        if a == 0 {
            continue; // nothing to do, and nothing to look up
        }
        if per_node {
            queued.extend(node_action(team, row as u32, a)?);
        } else {
            queued.extend(group_actions(u, team, row, a)?);
        }
    }
    Ok(queued)
}

/// Queues a row-indexed action vector ([`row_actions`]), all or nothing; returns how
/// many node actions it queued.
pub fn act_rows(
    u: &mut Universe,
    team: Team,
    per_node: bool,
    actions: &[i64],
) -> Result<usize, String> {
    let queued = row_actions(u, team, per_node, actions)?;
    if !queued.is_empty() {
        u.act(&queued)?;
    }
    Ok(queued.len())
}
