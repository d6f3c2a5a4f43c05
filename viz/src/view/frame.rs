//! What the GPU viewer draws at one tick: each node's state and each link's load, as
//! plain arrays read from a universe (never stepping it).

use paraverse_sim::topology::Topology;
use paraverse_sim::universe::Universe;
use paraverse_sim::world::Security;

use crate::View;

/// A node's state as drawn, in increasing severity: where nodes share a pixel, the most
/// severe is the one shown, so a compromised node is never hidden by healthy ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum NodeState {
    /// Exposed: neither patched nor hardened, nothing wrong.
    Healthy = 0,
    /// Patched or hardened.
    Protected = 1,
    /// Under an open alert.
    Alerted = 2,
    /// Quarantined.
    Quarantined = 3,
    /// Encrypted by ransomware or overwhelmed by a flood: not serving.
    Down = 4,
    /// Held by an attacker.
    Compromised = 5,
}

impl NodeState {
    /// Every state, by severity.
    pub const ALL: [NodeState; 6] = [
        NodeState::Healthy,
        NodeState::Protected,
        NodeState::Alerted,
        NodeState::Quarantined,
        NodeState::Down,
        NodeState::Compromised,
    ];

    /// The state of a node's security flags (ground truth: the red team's view).
    pub fn of(s: &Security) -> Self {
        if s.compromised {
            NodeState::Compromised
        } else if s.encrypted || s.overwhelmed {
            NodeState::Down
        } else if s.quarantined {
            NodeState::Quarantined
        } else if s.alerted {
            NodeState::Alerted
        } else if s.patched || s.hardened {
            NodeState::Protected
        } else {
            NodeState::Healthy
        }
    }

    /// The state as one team sees it: red sees ground truth; blue sees only what its
    /// sensors report (alerts, quarantines, outages, its own patching), never which
    /// nodes are really compromised.
    pub fn seen_by(s: &Security, team: View) -> Self {
        match team {
            View::Red => Self::of(s),
            View::Blue => {
                if s.encrypted || s.overwhelmed {
                    NodeState::Down
                } else if s.quarantined {
                    NodeState::Quarantined
                } else if s.alerted {
                    NodeState::Alerted
                } else if s.patched || s.hardened {
                    NodeState::Protected
                } else {
                    NodeState::Healthy
                }
            }
        }
    }

    /// Its colour (sRGB, opaque).
    pub fn color(self) -> [u8; 4] {
        match self {
            NodeState::Healthy => [96, 128, 168, 255],
            NodeState::Protected => [56, 170, 96, 255],
            NodeState::Alerted => [235, 200, 40, 255],
            NodeState::Quarantined => [160, 90, 220, 255],
            NodeState::Down => [255, 140, 0, 255],
            NodeState::Compromised => [235, 30, 30, 255],
        }
    }

    /// Its name, for legends and clicks.
    pub fn name(self) -> &'static str {
        match self {
            NodeState::Healthy => "healthy",
            NodeState::Protected => "patched/hardened",
            NodeState::Alerted => "alerted",
            NodeState::Quarantined => "quarantined",
            NodeState::Down => "down (encrypted or flooded)",
            NodeState::Compromised => "compromised",
        }
    }
}

/// One tick's picture data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkFrame {
    /// Tick.
    pub tick: u32,
    /// Per node, its state.
    pub states: Vec<NodeState>,
    /// Per link, utilisation of its busier direction, permille (0 without traffic).
    pub link_util_permille: Vec<u16>,
    /// Per link, whether an attack flow (DDoS, exfiltration, scans) crosses it now.
    pub link_attack: Vec<bool>,
}

impl NetworkFrame {
    /// Reads a universe's current state as the red team sees it (ground truth).
    pub fn of_universe(u: &Universe) -> Self {
        Self::of_universe_as(u, View::Red)
    }

    /// Reads a universe's current state as `team` sees it (never steps it): blue sees
    /// its sensors' picture and link loads, but not which flows are attacks.
    pub fn of_universe_as(u: &Universe, team: View) -> Self {
        let world = u.world();
        let mut states = Vec::with_capacity(u.scenario().node_count as usize);
        if let Some(mut q) = world.try_query::<&Security>() {
            // Nodes share one table in id order (see sim::world): iteration order is id order.
            states.extend(q.iter(world).map(|s| NodeState::seen_by(s, team)));
        }
        let links = world
            .get_resource::<Topology>()
            .map_or(0, Topology::link_count);
        let mut util = vec![0u16; links];
        let mut attack = vec![false; links];
        if let Some(t) = u.traffic() {
            let used = t.used_channels();
            for (dense, &channel) in used.iter().enumerate() {
                let cap = u64::from(t.used_capacity()[dense]).max(1);
                let load = t.state.load.get(dense).copied().unwrap_or(0);
                let permille = (load.saturating_mul(1000) / cap).min(1000) as u16;
                let link = channel as usize / 2;
                if link < links {
                    util[link] = util[link].max(permille);
                }
            }
            let f = &t.flows;
            for i in (0..f.len()).filter(|_| team == View::Red) {
                if f.class[i].is_attack() && t.state.rate.get(i).copied().unwrap_or(0) > 0 {
                    let (a, b) = (f.path_offsets[i] as usize, f.path_offsets[i + 1] as usize);
                    for &channel in &f.path_links[a..b] {
                        if let Some(l) = attack.get_mut(channel as usize / 2) {
                            *l = true;
                        }
                    }
                }
            }
        }
        NetworkFrame {
            tick: u.clock().tick,
            states,
            link_util_permille: util,
            link_attack: attack,
        }
    }

    /// Nodes in each state, by [`NodeState::ALL`].
    pub fn counts(&self) -> [u64; 6] {
        let mut c = [0u64; 6];
        for &s in &self.states {
            c[s as usize] += 1;
        }
        c
    }
}
