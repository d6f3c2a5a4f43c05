//! What the network allows, as defenses set it: micro-segmentation (which segment may
//! open connections to which services of which other segment's groups) and zero trust (nodes below the trust threshold get no
//! access at all). The traffic core drops flows it refuses, and attackers cannot scan or
//! move across it; both read this one resource, so the policy the simulator enforces is
//! the policy export writes out.
//!
//! The blue operator's zone cuts live here as well ([`AccessPolicy::cut`]): an emergency
//! isolation of two zones from each other, both ways, on top of whatever the strategy
//! allows, that stays until the operator reconnects them (a strategy deployed mid-run
//! keeps it).
//!
//! Deception tripwires live here too: attackers report touching a decoy, defenders turn
//! it into an alert.

use bevy_ecs::prelude::*;

use crate::checkpoint::{CheckpointError, Persist, decode, encode, same_len};
use crate::rng::Chance;
use crate::scenario::{Scenario, Segmentation, ServiceId};

/// The access policy in force.
#[derive(Resource, Debug, Clone, Default)]
pub struct AccessPolicy {
    /// Segmentation, if any.
    pub segmentation: Option<Segmentation>,
    /// Group of each node (filled when segmentation is on).
    group: Vec<u16>,
    /// Nodes denied all access by zero trust (empty when zero trust is off).
    pub denied: Vec<bool>,
    /// Nodes throttled by the adaptive response (empty when it is off).
    pub throttled: Vec<bool>,
    /// Zone pairs cut by the blue operator, (lower, higher), sorted.
    cuts: Vec<(u16, u16)>,
    /// Each group's first node and zone, to find a node's zone while cuts are in force.
    zones: Vec<(u32, u16)>,
}

/// Outbound attempts (scans, lateral moves) a throttled node may make per tick.
pub const THROTTLE_ATTEMPTS: u32 = 1;
/// Largest rate of a flow a throttled node opens, kbit/s.
pub const THROTTLE_KBPS: u32 = 256;

impl AccessPolicy {
    /// The policy of a scenario's defenses at the start of a run (nobody denied yet).
    pub fn new(scenario: &Scenario) -> Self {
        let segmentation = scenario.defense.segmentation.clone();
        let mut group = Vec::new();
        if segmentation.is_some() {
            group.reserve(scenario.node_count as usize);
            for (i, g) in scenario.groups.iter().enumerate() {
                group.extend(std::iter::repeat_n(i as u16, g.count as usize));
            }
        }
        Self {
            segmentation,
            group,
            denied: if scenario.defense.zero_trust.is_some() {
                vec![false; scenario.node_count as usize]
            } else {
                Vec::new()
            },
            throttled: if scenario.defense.adaptive.is_some() {
                vec![false; scenario.node_count as usize]
            } else {
                Vec::new()
            },
            cuts: Vec::new(),
            zones: scenario
                .groups
                .iter()
                .map(|g| (g.first_node, g.zone))
                .collect(),
        }
    }

    /// Cuts (`cut`) or restores the connections between zones `a` and `b`, both ways;
    /// returns whether that changed anything. A zone is never cut from itself.
    pub fn cut(&mut self, a: u16, b: u16, cut: bool) -> bool {
        let pair = (a.min(b), a.max(b));
        match (self.cuts.binary_search(&pair), cut) {
            _ if a == b => false,
            (Err(at), true) => {
                self.cuts.insert(at, pair);
                true
            }
            (Ok(at), false) => {
                self.cuts.remove(at);
                true
            }
            _ => false,
        }
    }

    /// The zone pairs cut now, (lower, higher), sorted.
    pub fn cuts(&self) -> &[(u16, u16)] {
        &self.cuts
    }

    /// Whether a cut separates the zones of `from` and `to`.
    #[inline]
    fn severed(&self, from: u32, to: u32) -> bool {
        if self.cuts.is_empty() {
            return false;
        }
        let zone = |node: u32| {
            let g = self.zones.partition_point(|&(first, _)| first <= node);
            self.zones[g.saturating_sub(1)].1
        };
        let (a, b) = (zone(from), zone(to));
        a != b && self.cuts.binary_search(&(a.min(b), a.max(b))).is_ok()
    }

    /// Whether a node is throttled.
    #[inline]
    pub fn is_throttled(&self, node: u32) -> bool {
        !self.throttled.is_empty() && self.throttled[node as usize]
    }

    /// How many of `attempts` outbound attempts a node may make this tick.
    #[inline]
    pub fn attempts(&self, node: u32, attempts: u32) -> u32 {
        if self.is_throttled(node) {
            attempts.min(THROTTLE_ATTEMPTS)
        } else {
            attempts
        }
    }

    /// Whether the policy restricts anything.
    pub fn restricts(&self) -> bool {
        self.segmentation.is_some() || !self.denied.is_empty() || !self.cuts.is_empty()
    }

    /// Whether `from` may open a connection to some service of `to` (an attacker with
    /// credentials logs in through whichever service is admitted).
    #[inline]
    pub fn allows(&self, from: u32, to: u32) -> bool {
        if self.denies(from, to) || self.severed(from, to) {
            return false;
        }
        match &self.segmentation {
            Some(s) => s.allows(self.group[from as usize], self.group[to as usize]),
            None => true,
        }
    }

    /// Whether `from` may open a connection to `service` of `to` (`None`: a port in no
    /// declared service, as on a group that declares none).
    #[inline]
    pub fn allows_service(&self, from: u32, to: u32, service: Option<ServiceId>) -> bool {
        if self.denies(from, to) || self.severed(from, to) {
            return false;
        }
        match &self.segmentation {
            Some(s) => {
                s.allows_service(self.group[from as usize], self.group[to as usize], service)
            }
            None => true,
        }
    }

    /// The best chance one exploit attempt from `from` has against `to` (unpatched),
    /// through the services of `to`'s group that the policy admits from `from`: a
    /// vulnerable service behind the segment boundary cannot be reached. Zero trust and
    /// the other checks of [`Self::allows`] are the caller's.
    pub fn exploit_chance(&self, scenario: &Scenario, from: u32, to: u32) -> Chance {
        let group = &scenario.groups[self.group_of(scenario, to) as usize];
        match &self.segmentation {
            Some(s) => {
                let (a, b) = (self.group[from as usize], self.group[to as usize]);
                if s.segment_of_group[a as usize] == s.segment_of_group[b as usize] {
                    return group.exploit_chance;
                }
                group
                    .services
                    .iter()
                    .filter(|&&x| s.allows_service(a, b, Some(x)))
                    .map(|&x| scenario.services[x as usize].exploit_chance())
                    .max()
                    .unwrap_or(Chance::NEVER)
            }
            None => group.exploit_chance,
        }
    }

    fn group_of(&self, scenario: &Scenario, node: u32) -> u16 {
        match self.group.get(node as usize) {
            Some(&g) => g,
            None => scenario.group_of(node),
        }
    }

    /// Whether zero trust denies either end.
    #[inline]
    fn denies(&self, from: u32, to: u32) -> bool {
        !self.denied.is_empty() && (self.denied[from as usize] || self.denied[to as usize])
    }
}

/// The saved part of an [`AccessPolicy`]: denials, throttles, cuts.
type SavedPolicy = (Vec<bool>, Vec<bool>, Vec<(u16, u16)>);

/// Segmentation is a parameter; who is denied or throttled, and which zones are cut, is
/// state.
impl Persist for AccessPolicy {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        encode::<Self, _>(&(&self.denied, &self.throttled, &self.cuts), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let (denied, throttled, cuts): SavedPolicy = decode::<Self, _>(bytes)?;
        same_len("zero-trust denials", denied.len(), self.denied.len())?;
        same_len("throttles", throttled.len(), self.throttled.len())?;
        (self.denied, self.throttled, self.cuts) = (denied, throttled, cuts);
        Ok(())
    }
    /// Denials carry over where both strategies run zero trust, throttles where both run
    /// the adaptive response; otherwise nobody starts denied or throttled. The operator's
    /// cuts always carry over.
    fn carry(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let (denied, throttled, cuts): SavedPolicy = decode::<Self, _>(bytes)?;
        if denied.len() == self.denied.len() {
            self.denied = denied;
        }
        if throttled.len() == self.throttled.len() {
            self.throttled = throttled;
        }
        self.cuts = cuts;
        Ok(())
    }
}

/// Decoys touched this tick: the attacker's source node of each.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Tripwires {
    /// Sources, in the order they were caught.
    pub sources: Vec<u32>,
}

crate::persist_whole!(Tripwires);

/// Step-up challenges this tick: identity campaigns record them where the log-in happens,
/// the step-up defense counts them.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StepUps {
    /// Impostor log-ins or transfers challenged.
    pub challenged: u32,
    /// Of them, stopped by the second factor.
    pub blocked: u32,
}

crate::persist_whole!(StepUps);
