//! The kill chains of every campaign kind, as ATT&CK-tagged step lists, and the shared
//! system parameters and impact counters of the attack stage.
//!
//! Step lists are data: a campaign module reaches steps by index (the constants below)
//! and [`CampaignBook::reach`] logs each the first time. The last step of every list is
//! the campaign's goal. Ids are MITRE ATT&CK Enterprise techniques, except
//! `AML.T0020` (MITRE ATLAS: poison training data), ATT&CK's sister matrix for attacks on
//! machine learning, which has no Enterprise equivalent.

use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemParam;
use paraverse_sim::killchain::{self as kc, CampaignTrack};
use paraverse_sim::operator::Launches;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{
    AccessMethod, Campaign, CampaignKind, DataClass, Lure, Scenario, Takeover,
};

/// Scanning campaigns: the footholds.
pub const FOOTHOLD: usize = 0;
/// Scanning campaigns: the first scans or login attempts.
pub const SCANNING: usize = 1;
/// Scanning campaigns: the first infection or recruit.
pub const SPREAD: usize = 2;
/// Botnet: the DDoS command.
pub const COMMAND: usize = 3;
/// Botnet: the first flood traffic.
pub const FLOOD: usize = 4;

/// Targeted campaigns: the first foothold in the entry group.
pub const INITIAL_ACCESS: usize = 0;
/// Targeted campaigns: the first lateral-movement attempt.
pub const DISCOVERY: usize = 1;
/// Targeted campaigns: the first node taken by lateral movement.
pub const LATERAL: usize = 2;
/// Targeted campaigns: the first infrastructure (non-terminal) node taken.
pub const PRIVILEGE: usize = 3;
/// Targeted campaigns: the first kind-specific step (a target node held).
pub const OBJECTIVE: usize = 4;
/// Targeted campaigns: the second kind-specific step (the first effect), where the kind
/// has one before its goal.
pub const EFFECT: usize = 5;

/// Identity campaigns: the first attempt (lure, stuffing, deepfake).
pub const ATTEMPT: usize = 0;
/// Identity campaigns: the first success.
pub const HARVEST: usize = 1;
/// Identity campaigns: the first wallet drained (where the kind drains wallets).
pub const DRAIN: usize = 2;

/// A kill-chain step: its name in reports, its ATT&CK tactic and technique id.
pub const fn step(name: &'static str, tactic: &'static str, technique: &'static str) -> KillStep {
    KillStep::new(name, tactic, technique)
}
use step as s;

/// The kill chain of a campaign and what its goal counts.
pub fn steps(c: &Campaign) -> (Vec<KillStep>, &'static str) {
    let access = c.approach.as_ref().map(|a| match a.access {
        AccessMethod::Exploit => s("initial_access", "initial-access", "T1190"),
        AccessMethod::Phishing => s("initial_access", "initial-access", "T1566"),
        AccessMethod::DefaultCredentials => s("initial_access", "initial-access", "T1078.001"),
        AccessMethod::ValidAccounts => s("initial_access", "initial-access", "T1078"),
    });
    let targeted = |tail: &[KillStep]| {
        let mut v = vec![
            access.expect("targeted campaigns have an approach"),
            s("discovery", "discovery", "T1018"),
            s("lateral_movement", "lateral-movement", "T1021"),
            s("privilege_escalation", "privilege-escalation", "T1068"),
        ];
        v.extend_from_slice(tail);
        v
    };
    let identity = |first: KillStep, drain: bool| {
        let mut v = vec![
            first,
            s("credential_harvest", "credential-access", "T1056.003"),
        ];
        if drain {
            v.push(s("wallet_drain", "impact", "T1657"));
        }
        v.push(s("accounts_taken_over", "initial-access", "T1078"));
        v
    };
    if let Some(objective) = crate::targeted::objective(&c.kind) {
        return (targeted(&objective.steps()), objective.unit());
    }
    match &c.kind {
        CampaignKind::Worm(_) => (crate::worm::WORM_STEPS.to_vec(), "nodes infected"),
        CampaignKind::Botnet(_) => (
            vec![
                s("initial_compromise", "initial-access", "T1078.001"),
                s("dictionary_attack", "credential-access", "T1110.001"),
                s("recruitment", "resource-development", "T1584.005"),
                s("command_and_control", "command-and-control", "T1071"),
                s("flood", "impact", "T1498.001"),
                s("service_down", "impact", "T1498"),
            ],
            "target nodes overwhelmed",
        ),
        CampaignKind::Phishing { lure } => (
            match lure {
                Lure::Link => identity(s("lure_delivery", "initial-access", "T1566.002"), false),
                Lure::FakeApp => identity(s("fake_app_install", "execution", "T1204.002"), true),
            },
            "accounts taken over",
        ),
        CampaignKind::Takeover(t) => (
            match t {
                Takeover::CredentialStuffing(_) => identity(
                    s("credential_stuffing", "credential-access", "T1110.004"),
                    true,
                ),
                Takeover::Deepfake(_) => identity(
                    s("deepfake_impersonation", "defense-evasion", "T1656"),
                    true,
                ),
            },
            "accounts taken over",
        ),
        other => unreachable!(
            "`{}` is a targeted kind: its objective gives its steps",
            other.name()
        ),
    }
}

/// Declares every campaign's chain in the book.
pub fn declare_all(scenario: &Scenario, book: &mut CampaignBook, goals: &[u64]) {
    for (i, c) in scenario.campaigns.iter().enumerate() {
        let (steps, unit) = steps(c);
        book.declare(
            i as CampaignId,
            CampaignTrack {
                name: c.name.clone(),
                kind: c.kind.name(),
                reached: vec![None; steps.len()],
                steps,
                goal: goals[i],
                goal_unit: unit,
            },
        );
    }
}

/// Read-only context of attack systems.
#[derive(SystemParam)]
pub struct Ctx<'w> {
    /// The scenario.
    pub scenario: Res<'w, ScenarioRes>,
    /// The topology.
    pub topology: Res<'w, Topology>,
    /// Randomness.
    pub rng: Res<'w, SimRng>,
    /// The clock.
    pub clock: Res<'w, Clock>,
    /// Campaigns the red operator launched ahead of schedule (with an operator only).
    pub launches: Option<Res<'w, Launches>>,
}

impl Ctx<'_> {
    /// The tick a phase of `campaign` scheduled at `scheduled` starts ([`Launches`]).
    pub fn start(&self, campaign: CampaignId, scheduled: u32) -> u32 {
        Launches::start_of(self.launches.as_deref(), campaign, scheduled)
    }
}

/// What attack systems write besides node state.
#[derive(SystemParam)]
pub struct Out<'w> {
    /// Counters.
    pub metrics: ResMut<'w, Metrics>,
    /// Events.
    pub log: ResMut<'w, EventLog>,
    /// Kill chains.
    pub book: ResMut<'w, CampaignBook>,
    /// Impact counters.
    pub impact: Res<'w, ImpactCounters>,
}

/// The impact counters (see [`paraverse_sim::killchain`] for their meaning).
#[derive(Resource, Debug, Clone)]
pub struct ImpactCounters {
    /// Records stolen, by class in [`DataClass::ALL`] order.
    pub records: [CounterId; DataClass::ALL.len()],
    /// Assets stolen.
    pub assets: CounterId,
    /// Their value, cents.
    pub asset_value_cents: CounterId,
    /// Double spends refused.
    pub double_spends: CounterId,
    /// Accounts taken over: distinct accounts (nodes), each counted once however often
    /// it is taken again after a revocation.
    pub accounts: CounterId,
    /// Takeover events, an account taken again counted again (identity campaigns only).
    pub takeovers: Option<CounterId>,
    /// Footholds taken by targeted campaigns.
    pub footholds: CounterId,
    /// Nodes taken by lateral movement.
    pub lateral_moves: CounterId,
    /// Compute stolen (cryptojacking only).
    pub compute_stolen: Option<CounterId>,
    /// Compute left (cryptojacking only).
    pub compute_available: Option<CounterId>,
    /// Service node-ticks down (ransomware or botnet only).
    pub service_down: Option<CounterId>,
    /// Twin divergence (false data only).
    pub twin_divergence: Option<CounterId>,
    /// Wrong decisions (false data only).
    pub wrong_decisions: Option<CounterId>,
    /// Detector threshold scale (poisoning only).
    pub detector_scale: Option<CounterId>,
    /// Attack traffic scrubbed, Mbit (DDoS scrubbing only; an operations cost).
    pub scrubbed_mbit: Option<CounterId>,
}

impl ImpactCounters {
    /// Registers the counters the scenario's campaigns feed.
    pub fn register(scenario: &Scenario, m: &mut Metrics) -> Self {
        let has = |f: fn(&CampaignKind) -> bool| scenario.campaigns.iter().any(|c| f(&c.kind));
        let records = DataClass::ALL.map(|c| {
            m.register(
                format!("{}:{}", kc::RECORDS_STOLEN, c.name()),
                "records stolen, by data class",
            )
        });
        Self {
            records,
            assets: m.register(kc::ASSETS_STOLEN, "digital assets stolen"),
            asset_value_cents: m.register(
                kc::ASSET_VALUE_STOLEN_CENTS,
                "value of the assets stolen, hundredths of the currency unit",
            ),
            double_spends: m.register(
                kc::DOUBLE_SPENDS_REFUSED,
                "transfers the ledger refused as double spends",
            ),
            accounts: m.register(
                kc::ACCOUNTS_TAKEN_OVER,
                "distinct accounts taken over (each counted once)",
            ),
            takeovers: has(|k| {
                matches!(k, CampaignKind::Phishing { .. } | CampaignKind::Takeover(_))
            })
            .then(|| {
                m.register(
                    kc::ACCOUNT_TAKEOVERS,
                    "takeover events (an account taken again after a revocation counts again)",
                )
            }),
            footholds: m.register(
                "footholds",
                "nodes taken by initial access (targeted campaigns)",
            ),
            lateral_moves: m.register("lateral_moves", "nodes taken by lateral movement"),
            compute_stolen: has(|k| matches!(k, CampaignKind::Cryptojacking { .. })).then(|| {
                m.register(
                    kc::COMPUTE_STOLEN_NODE_MS,
                    "compute taken by miners, node-ms",
                )
            }),
            compute_available: has(|k| matches!(k, CampaignKind::Cryptojacking { .. })).then(
                || {
                    m.register_gauge(
                        kc::COMPUTE_AVAILABLE_PPM,
                        "share of GPU/edge/cloud compute left to its owners, ppm",
                    )
                },
            ),
            service_down: has(|k| {
                matches!(k, CampaignKind::Ransomware { .. } | CampaignKind::Botnet(_))
            })
            .then(|| {
                m.register(
                    kc::SERVICE_DOWN_NODE_TICKS,
                    "node-ticks of service nodes down (encrypted or overwhelmed)",
                )
            }),
            twin_divergence: has(|k| matches!(k, CampaignKind::FalseData(_))).then(|| {
                m.register_gauge(
                    kc::TWIN_DIVERGENCE_MILLI,
                    "digital twin's divergence from the real value, milli-units",
                )
            }),
            wrong_decisions: has(|k| matches!(k, CampaignKind::FalseData(_)))
                .then(|| m.register(kc::WRONG_DECISIONS, "wrong digital-twin decisions")),
            scrubbed_mbit: scenario
                .defense
                .ddos
                .as_ref()
                .is_some_and(|d| d.scrubbing_kbps.is_some())
                .then(|| {
                    m.register(
                        "scrubbed_mbit",
                        "DDoS traffic scrubbed, Mbit (operations cost)",
                    )
                }),
            detector_scale: has(|k| matches!(k, CampaignKind::Poisoning { .. })).then(|| {
                m.register_gauge(
                    kc::DETECTOR_THRESHOLD_SCALE_PPM,
                    "detection threshold multiplier after poisoning, ppm",
                )
            }),
        }
    }
}
