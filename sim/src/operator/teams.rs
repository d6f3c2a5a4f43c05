//! The two teams as agents and players address them: what each sees of a node, which
//! actions it has, and what an action on a whole group stands for.
//!
//! Python's environments (rows of groups or nodes, an action index per row) and the
//! terminal exercise (commands such as `quarantine lobby-headsets`) both act through these
//! functions, so an agent's `quarantine_alerted` on a group and a player's `quarantine` of
//! that group queue the same node actions.

use crate::operator::{OperatorAction, blue_view, red_view};
use crate::rng::{fnv1a, mix64};
use crate::universe::Universe;
use crate::world::{CampaignId, Security};

/// Blue's features per row, in observation order.
pub const BLUE_FEATURES: [&str; 4] = ["alerted", "quarantined", "patched", "out_of_service"];

/// Red's features per row, in observation order.
pub const RED_FEATURES: [&str; 3] = ["held", "isolated", "out_of_service"];

/// Blue's group-level actions, in the order agents index them.
pub const BLUE_GROUP_ACTIONS: [&str; 6] = [
    "none",
    "quarantine_alerted",
    "release",
    "patch",
    "harden",
    "revoke",
];

/// Blue's node-level actions, in the order agents index them (`act` takes the names).
pub const BLUE_NODE_ACTIONS: [&str; 6] =
    ["none", "quarantine", "release", "patch", "harden", "revoke"];

/// Red's actions, per group (exploit one node of it) or per node (exploit that node).
pub const RED_ACTIONS: [&str; 2] = ["none", "exploit"];

/// Whose eyes and hands: the defenders, or the attacker steering one campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Team {
    /// The defenders.
    Blue,
    /// The attacker, acting for the scenario's campaign of this index.
    Red(CampaignId),
}

impl Team {
    /// Parses `blue` or `red` (with the campaign red steers).
    pub fn parse(name: &str, campaign: CampaignId) -> Result<Self, String> {
        match name {
            "blue" => Ok(Self::Blue),
            "red" => Ok(Self::Red(campaign)),
            other => Err(format!("team `{other}`: expected blue or red")),
        }
    }

    /// Features per row.
    pub fn features(self) -> usize {
        match self {
            Self::Blue => BLUE_FEATURES.len(),
            Self::Red(_) => RED_FEATURES.len(),
        }
    }

    /// Actions per row (the same at group and node level).
    pub fn actions(self) -> usize {
        match self {
            Self::Blue => BLUE_GROUP_ACTIONS.len(),
            Self::Red(_) => RED_ACTIONS.len(),
        }
    }

    /// This team's view of one node ([`blue_view`], [`red_view`]; red's padded).
    pub fn view(self, s: &Security) -> [bool; 4] {
        match self {
            Self::Blue => blue_view(s),
            Self::Red(c) => {
                let [held, isolated, down] = red_view(s, c);
                [held, isolated, down, false]
            }
        }
    }
}

/// A node red may try: not its own and not isolated.
pub fn red_target(s: &Security, c: CampaignId) -> bool {
    let [held, isolated, _] = red_view(s, c);
    !held && !isolated
}

/// Whether blue's action (an index of [`BLUE_GROUP_ACTIONS`]) would change this node:
/// quarantine an alerted node not yet isolated (per node, any node not isolated), release
/// an isolated one, patch an unpatched one, harden one with default credentials, revoke
/// any. The group actions act on these nodes; the mask allows an action where one is.
pub fn blue_applies(action: usize, s: &Security, per_node: bool) -> bool {
    match action {
        1 => (per_node || s.alerted) && !s.quarantined,
        2 => s.quarantined,
        3 => !s.patched,
        4 => !s.hardened,
        5 => true,
        _ => false,
    }
}

/// The node actions one group-level action stands for. Blue: quarantine every alerted
/// node not yet isolated, release every isolated node, patch every unpatched node. Red:
/// exploit one node of the group that it neither holds nor sees isolated, drawn from the
/// scenario's seed, the tick and the group (so the same run and actions pick the same
/// node). Blue's `harden` hardens every node not yet hardened, `revoke` revokes every
/// node's credentials.
pub fn group_actions(
    u: &mut Universe,
    team: Team,
    group: usize,
    action: usize,
) -> Result<Vec<OperatorAction>, String> {
    if action >= team.actions() {
        let names: &[&str] = match team {
            Team::Blue => &BLUE_GROUP_ACTIONS,
            Team::Red(_) => &RED_ACTIONS,
        };
        return Err(format!(
            "action {action}: expected 0 to {} ({})",
            names.len() - 1,
            names.join(", ")
        ));
    }
    let Some(g) = u.scenario().groups.get(group) else {
        return Err(format!(
            "group {group}: the scenario has {}",
            u.scenario().groups.len()
        ));
    };
    let (first, count) = (g.first_node, g.count);
    let draw = mix64(
        u.scenario().seed
            ^ fnv1a(b"red operator")
            ^ mix64((u64::from(u.clock().tick) << 32) | group as u64),
    );
    Ok(u.with_security(|security| {
        let nodes = first..first + count;
        match (team, action) {
            (_, 0) => Vec::new(),
            (Team::Red(c), _) => {
                let targets: Vec<u32> = nodes
                    .filter(|&n| red_target(&security[n as usize], c))
                    .collect();
                targets
                    .get((draw % targets.len().max(1) as u64) as usize)
                    .map(|&node| OperatorAction::Exploit { node, campaign: c })
                    .into_iter()
                    .collect()
            }
            (Team::Blue, _) => nodes
                .filter(|&n| blue_applies(action, &security[n as usize], false))
                // The index was checked above: every node maps to an action.
                .filter_map(|n| node_action(team, n, action).ok().flatten())
                .collect(),
        }
    }))
}

/// The team and node-action index an action's name stands for: blue's `quarantine`,
/// `release`, `patch`, `harden`, `revoke` ([`BLUE_NODE_ACTIONS`]) or red's `exploit` for
/// `campaign` ([`RED_ACTIONS`]).
pub fn named(kind: &str, campaign: CampaignId) -> Result<(Team, usize), String> {
    let index = |names: &[&str]| names.iter().skip(1).position(|n| *n == kind).map(|i| i + 1);
    index(&BLUE_NODE_ACTIONS)
        .map(|i| (Team::Blue, i))
        .or_else(|| index(&RED_ACTIONS).map(|i| (Team::Red(campaign), i)))
        .ok_or_else(|| {
            format!("`{kind}`: expected quarantine, release, patch, harden, revoke or exploit")
        })
}

/// The node action a per-node agent's `action` index stands for, or None for `none`.
pub fn node_action(team: Team, node: u32, action: usize) -> Result<Option<OperatorAction>, String> {
    Ok(match (team, action) {
        (_, 0) => None,
        (Team::Blue, 1) => Some(OperatorAction::Quarantine(node)),
        (Team::Blue, 2) => Some(OperatorAction::Release(node)),
        (Team::Blue, 3) => Some(OperatorAction::Patch(node)),
        (Team::Blue, 4) => Some(OperatorAction::Harden(node)),
        (Team::Blue, 5) => Some(OperatorAction::Revoke(node)),
        (Team::Red(campaign), 1) => Some(OperatorAction::Exploit { node, campaign }),
        _ => {
            return Err(format!(
                "action {action}: expected 0 to {}",
                team.actions() - 1
            ));
        }
    })
}
