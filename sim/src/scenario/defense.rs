//! Defense sections: resolved types, their validation, and the search space.
//!
//! Every tunable parameter of every defense is declared once in [`SPACE`], with its
//! range and step: validation rejects values outside it (naming the field and the
//! range), and the lab explores inside it (`paraverse space` prints it as JSON). A defense
//! strategy is the `[defense.*]` sections of a scenario, or a strategy file that replaces
//! them ([`Scenario::with_strategy`]).

use std::collections::HashMap;

use serde::Serialize;

use super::*;

/// The range of a tunable parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamRange {
    /// A share or chance.
    Fraction {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// A duration, in seconds (written `"30 s"`, `"5 min"` in files).
    Duration {
        /// Shortest.
        min_s: f64,
        /// Longest.
        max_s: f64,
    },
    /// A rate per second.
    Rate {
        /// Smallest.
        min: f64,
        /// Largest.
        max: f64,
    },
    /// A bandwidth, in kbit/s (written `"2 Mbit/s"` in files).
    Bandwidth {
        /// Smallest.
        min_kbps: f64,
        /// Largest.
        max_kbps: f64,
    },
    /// One of a few named choices.
    Choice {
        /// The choices, as written in files.
        options: &'static [&'static str],
    },
}

impl ParamRange {
    /// Lowest and highest value, in the range's unit (a choice: its option indices).
    pub fn bounds(&self) -> (f64, f64) {
        match *self {
            ParamRange::Fraction { min, max } | ParamRange::Rate { min, max } => (min, max),
            ParamRange::Duration { min_s, max_s } => (min_s, max_s),
            ParamRange::Bandwidth { min_kbps, max_kbps } => (min_kbps, max_kbps),
            ParamRange::Choice { options } => (0.0, options.len().saturating_sub(1) as f64),
        }
    }

    /// The unit written after a value in messages.
    pub fn unit(&self) -> &'static str {
        match self {
            ParamRange::Duration { .. } => " s",
            ParamRange::Bandwidth { .. } => " kbit/s",
            _ => "",
        }
    }
}

/// One tunable defense parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Param {
    /// `section.field`, as under `[defense.section]`.
    pub name: &'static str,
    /// Allowed values.
    pub range: ParamRange,
    /// Step the lab's grids use.
    pub step: f64,
    /// What it does.
    pub help: &'static str,
}

const fn frac(name: &'static str, step: f64, help: &'static str) -> Param {
    Param {
        name,
        range: ParamRange::Fraction { min: 0.0, max: 1.0 },
        step,
        help,
    }
}

const fn dur(name: &'static str, min_s: f64, max_s: f64, step: f64, help: &'static str) -> Param {
    Param {
        name,
        range: ParamRange::Duration { min_s, max_s },
        step,
        help,
    }
}

/// The search space of every defense parameter.
pub const SPACE: &[Param] = &[
    dur(
        "patching.interval",
        1.0,
        604_800.0,
        600.0,
        "time between patch rounds",
    ),
    frac(
        "patching.coverage",
        0.05,
        "share of unpatched nodes patched per round",
    ),
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
    dur(
        "quarantine.delay",
        0.0,
        86_400.0,
        10.0,
        "time from alert to isolation",
    ),
    dur(
        "quarantine.release_after",
        1.0,
        604_800.0,
        600.0,
        "time from isolation to a clean rebuild",
    ),
    dur(
        "zero_trust.reverify_interval",
        1.0,
        86_400.0,
        60.0,
        "time between re-verifications of a node",
    ),
    frac(
        "zero_trust.decay_per_hour",
        0.05,
        "trust lost per hour without verification",
    ),
    frac(
        "zero_trust.threshold",
        0.05,
        "trust below which a node gets no access",
    ),
    frac(
        "zero_trust.attestation",
        0.05,
        "chance attestation finds a compromised device",
    ),
    frac(
        "zero_trust.behavioural",
        0.05,
        "chance behavioural checks find a compromised device or account",
    ),
    frac(
        "biometric.liveness",
        0.05,
        "chance liveness detection rejects a deepfake",
    ),
    dur(
        "biometric.reverify_interval",
        1.0,
        86_400.0,
        60.0,
        "time between continuous biometric re-authentications",
    ),
    dur(
        "backups.interval",
        1.0,
        604_800.0,
        900.0,
        "time between backups",
    ),
    dur(
        "backups.restore_time",
        0.0,
        604_800.0,
        300.0,
        "time to restore an encrypted node",
    ),
    Param {
        name: "ddos.rate_limit",
        range: ParamRange::Bandwidth {
            min_kbps: 1.0,
            max_kbps: 100_000_000.0,
        },
        step: 1000.0,
        help: "largest rate one source may send to a protected node",
    },
    Param {
        name: "ddos.scrubbing",
        range: ParamRange::Bandwidth {
            min_kbps: 0.0,
            max_kbps: 4_000_000_000.0,
        },
        step: 1_000_000.0,
        help: "attack traffic the scrubbing centre can remove, in all",
    },
    frac(
        "deception.decoys",
        0.01,
        "chance a lateral-movement attempt lands on a decoy",
    ),
    frac(
        "privacy.coverage",
        0.05,
        "share of sensitive records in privacy-preserving form",
    ),
    frac(
        "poison_filter.catch",
        0.05,
        "share of poisoned training samples rejected",
    ),
    frac(
        "step_up.detect",
        0.05,
        "chance the risk engine demands a second factor of an impostor",
    ),
    frac(
        "step_up.false_prompts",
        0.01,
        "benign log-ins flagged per user per hour",
    ),
    frac(
        "code_signing.coverage",
        0.05,
        "share of nodes that install only validly signed updates",
    ),
    dur(
        "hardening.interval",
        1.0,
        604_800.0,
        600.0,
        "time between hardening rounds",
    ),
    Param {
        name: "adaptive.throttle_at",
        range: RISK,
        step: 1.0,
        help: "risk from which an alerted node is throttled",
    },
    Param {
        name: "adaptive.revoke_at",
        range: RISK,
        step: 1.0,
        help: "risk from which an alerted node's credentials are revoked",
    },
    Param {
        name: "adaptive.quarantine_at",
        range: RISK,
        step: 1.0,
        help: "risk from which an alerted node is quarantined",
    },
    dur(
        "adaptive.throttle_delay",
        0.0,
        86_400.0,
        10.0,
        "time from alert to throttling",
    ),
    dur(
        "adaptive.throttle_for",
        1.0,
        604_800.0,
        300.0,
        "how long a throttle lasts",
    ),
    dur(
        "adaptive.revoke_delay",
        0.0,
        86_400.0,
        30.0,
        "time from alert to revocation",
    ),
    frac(
        "hardening.coverage",
        0.05,
        "share of default-credential devices hardened per round",
    ),
];

/// Risk levels of the adaptive response: severity (1 or 3) × criticality (1 to 3).
const RISK: ParamRange = ParamRange::Rate { min: 1.0, max: 9.0 };

/// The declared parameter of that name.
pub fn param(name: &str) -> Option<&'static Param> {
    SPACE.iter().find(|p| p.name == name)
}

/// Resolved zero trust.
#[derive(Debug, Clone)]
pub struct ZeroTrust {
    /// Ticks between re-verifications of a node.
    pub interval_ticks: u32,
    /// Trust lost per tick, ppm of full trust.
    pub decay_ppm_per_tick: u64,
    /// Access threshold, ppm.
    pub threshold_ppm: u64,
    /// Attestation's chance to find a compromised device with a root of trust.
    pub attestation: Chance,
    /// Behavioural checks' chance (devices without a root of trust, accounts).
    pub behavioural: Chance,
    /// Zones enforced (empty: all).
    pub zones: Vec<ZoneId>,
}

/// The ids a strategy's names resolve to.
pub(super) struct Names<'a> {
    /// Zones.
    pub zones: &'a HashMap<String, u16>,
    /// Groups.
    pub groups: &'a HashMap<String, u16>,
    /// Services.
    pub services: &'a HashMap<String, u16>,
}

/// What one segment may reach on one group of another segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    /// Every port (an allow of `"*"`, or a flow, to a group that declares no service).
    pub every_port: bool,
    /// The group's services it may reach, sorted.
    pub services: Vec<ServiceId>,
}

impl Admitted {
    /// Admits a service (`None`: every port).
    fn admit(&mut self, service: Option<ServiceId>) {
        match service {
            None => self.every_port = true,
            Some(s) => {
                if let Err(k) = self.services.binary_search(&s) {
                    self.services.insert(k, s);
                }
            }
        }
    }

    /// Whether anything at all is admitted.
    pub fn any(&self) -> bool {
        self.every_port || !self.services.is_empty()
    }

    /// Whether a connection to `service` (`None`: a port in no declared service) is.
    pub fn admits(&self, service: Option<ServiceId>) -> bool {
        self.every_port || service.is_some_and(|s| self.services.contains(&s))
    }
}

/// Resolved micro-segmentation: segments, the allowed segment pairs, and per pair the
/// services admitted on each group of the responding segment. Within a segment every
/// connection is allowed; across segments only an admitted service.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// Segment names.
    pub names: Vec<String>,
    /// Segment of each group.
    pub segment_of_group: Vec<u16>,
    /// Segment pairs with an allow rule, row-major `from × segments + to`.
    pub allowed: Vec<bool>,
    /// What each segment may reach on each group, row-major `segment × groups + group`
    /// (unused for a group of the same segment: everything is allowed there).
    pub admitted: Vec<Admitted>,
}

impl Segmentation {
    /// What segment `segment` may reach on group `to` (everything within a segment).
    pub fn admitted(&self, segment: usize, to: GroupId) -> Option<&Admitted> {
        (self.segment_of_group[to as usize] as usize != segment)
            .then(|| &self.admitted[segment * self.segment_of_group.len() + to as usize])
    }

    /// Whether a node of `from` may open a connection to some service of a node of `to`.
    #[inline]
    pub fn allows(&self, from: GroupId, to: GroupId) -> bool {
        self.admitted(self.segment_of_group[from as usize] as usize, to)
            .is_none_or(Admitted::any)
    }

    /// Whether a node of `from` may open a connection to `service` of a node of `to`
    /// (`None`: a port in no declared service).
    #[inline]
    pub fn allows_service(&self, from: GroupId, to: GroupId, service: Option<ServiceId>) -> bool {
        self.admitted(self.segment_of_group[from as usize] as usize, to)
            .is_none_or(|a| a.admits(service))
    }
}

/// Resolved continuous biometric authentication.
#[derive(Debug, Clone, Copy)]
pub struct Biometric {
    /// Chance liveness detection rejects a deepfake.
    pub liveness: Chance,
    /// Ticks between re-authentications.
    pub interval_ticks: u32,
}

/// Resolved backups.
#[derive(Debug, Clone, Copy)]
pub struct Backups {
    /// Ticks between backups.
    pub interval_ticks: u32,
    /// Ticks to restore an encrypted node.
    pub restore_ticks: u32,
}

/// Resolved DDoS protection.
#[derive(Debug, Clone)]
pub struct DdosProtection {
    /// Protected groups.
    pub protect: Vec<GroupId>,
    /// Per-source limit toward a protected node, kbit/s.
    pub rate_limit_kbps: Option<u32>,
    /// Scrubbing capacity in all, kbit/s.
    pub scrubbing_kbps: Option<u64>,
}

/// Resolved deception.
#[derive(Debug, Clone, Copy)]
pub struct Deception {
    /// Chance a lateral-movement attempt lands on a decoy.
    pub decoys: Chance,
}

/// Resolved privacy protection.
#[derive(Debug, Clone)]
pub struct Privacy {
    /// Whether each class (in [`DataClass::ALL`] order) is covered.
    pub classes: [bool; DataClass::ALL.len()],
    /// Share of covered records protected, ppm.
    pub coverage_ppm: u64,
}

impl Privacy {
    /// Of `records` of class index `k` stolen, how many are usable to the attacker.
    pub fn exposed(&self, k: usize, records: u64) -> u64 {
        if self.classes[k] {
            records - records * self.coverage_ppm / 1_000_000
        } else {
            records
        }
    }
}

/// Resolved poisoned-data filter.
#[derive(Debug, Clone, Copy)]
pub struct PoisonFilter {
    /// Share of poisoned samples rejected.
    pub catch: Chance,
}

/// Resolved step-up authentication.
#[derive(Debug, Clone, Copy)]
pub struct StepUp {
    /// Chance an impostor's log-in or transfer is challenged.
    pub detect: Chance,
    /// Chance a challenged user approves anyway.
    pub fatigue: Chance,
    /// Benign log-ins flagged per user per hour.
    pub false_prompts_per_hour: f64,
}

/// Resolved code signing.
#[derive(Debug, Clone, Copy)]
pub struct CodeSigning {
    /// Chance a node verifies signatures before installing (drawn once per node).
    pub coverage: Chance,
}

/// Resolved hardening.
#[derive(Debug, Clone)]
pub struct Hardening {
    /// Ticks between rounds.
    pub interval_ticks: u32,
    /// Chance a default-credential device is hardened per round.
    pub coverage: Chance,
    /// Zones covered (empty: all).
    pub zones: Vec<ZoneId>,
}

/// Resolved adaptive response.
#[derive(Debug, Clone, Copy)]
pub struct Adaptive {
    /// Risk levels of throttling, revocation, quarantine.
    pub throttle_at: u32,
    /// Risk level of revocation.
    pub revoke_at: u32,
    /// Risk level of quarantine.
    pub quarantine_at: u32,
    /// Ticks from alert to throttling.
    pub throttle_delay_ticks: u32,
    /// Ticks a throttle lasts.
    pub throttle_ticks: u32,
    /// Ticks from alert to revocation.
    pub revoke_delay_ticks: u32,
}

impl Adaptive {
    /// Criticality of a node kind: 1 terminals, 2 infrastructure, 3 trust services.
    pub fn criticality(kind: NodeKind) -> u32 {
        match kind {
            k if k.is_terminal() => 1,
            NodeKind::Gateway
            | NodeKind::EdgeServer
            | NodeKind::CloudVm
            | NodeKind::GpuNode
            | NodeKind::Server
            | NodeKind::FileServer => 2,
            _ => 3,
        }
    }
}

/// The resolved defense strategy.
#[derive(Debug, Clone, Default)]
pub struct Defense {
    /// The strategy's name, when it came from a strategy file.
    pub strategy: Option<String>,
    /// Patching.
    pub patching: Option<Patching>,
    /// Detection.
    pub detection: Option<Detection>,
    /// Quarantine.
    pub quarantine: Option<Quarantine>,
    /// Zero trust.
    pub zero_trust: Option<ZeroTrust>,
    /// Micro-segmentation.
    pub segmentation: Option<Segmentation>,
    /// Continuous biometric authentication.
    pub biometric: Option<Biometric>,
    /// Backups.
    pub backups: Option<Backups>,
    /// DDoS protection.
    pub ddos: Option<DdosProtection>,
    /// Deception.
    pub deception: Option<Deception>,
    /// Privacy-preserving computation.
    pub privacy: Option<Privacy>,
    /// Poisoned-data filter.
    pub poison_filter: Option<PoisonFilter>,
    /// Code signing of updates.
    pub code_signing: Option<CodeSigning>,
    /// Step-up authentication.
    pub step_up: Option<StepUp>,
    /// Hardening.
    pub hardening: Option<Hardening>,
    /// Adaptive response.
    pub adaptive: Option<Adaptive>,
}

impl Defense {
    /// Names of the defenses switched on, for reports.
    pub fn active(&self) -> Vec<&'static str> {
        [
            ("patching", self.patching.is_some()),
            ("detection", self.detection.is_some()),
            ("quarantine", self.quarantine.is_some()),
            ("zero_trust", self.zero_trust.is_some()),
            ("segmentation", self.segmentation.is_some()),
            ("biometric", self.biometric.is_some()),
            ("backups", self.backups.is_some()),
            ("ddos", self.ddos.is_some()),
            ("deception", self.deception.is_some()),
            ("privacy", self.privacy.is_some()),
            ("poison_filter", self.poison_filter.is_some()),
            ("code_signing", self.code_signing.is_some()),
            ("step_up", self.step_up.is_some()),
            ("hardening", self.hardening.is_some()),
            ("adaptive", self.adaptive.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect()
    }
}

fn path(name: &str) -> Vec<Seg> {
    let (section, field) = name.split_once('.').expect("section.field");
    field_path!["defense", section, field]
}

impl Validator<'_> {
    /// Checks a number against its declared range.
    fn in_space(&mut self, name: &str, value: f64) -> f64 {
        let p = param(name).expect("declared in SPACE");
        let ((min, max), unit) = (p.range.bounds(), p.range.unit());
        if !value.is_finite() || value < min || value > max {
            self.err(
                path(name),
                format!(
                    "expected {min}{unit} to {max}{unit} (the range of defense.{name}), found {value}{unit}"
                ),
            );
            return min;
        }
        value
    }

    fn ticks_in_space(&mut self, name: &str, d: SimDuration, tick: SimDuration) -> u32 {
        self.in_space(name, d.as_secs_f64());
        d.ticks_ceil(tick).min(u64::from(u32::MAX)) as u32
    }

    fn zones(
        &mut self,
        names: &[String],
        zone_ids: &HashMap<String, u16>,
        section: &str,
    ) -> Vec<ZoneId> {
        names
            .iter()
            .enumerate()
            .map(|(j, z)| {
                self.lookup(
                    zone_ids,
                    "zone",
                    z,
                    field_path!["defense", section, "zones", j],
                )
            })
            .collect()
    }

    pub(super) fn defense(
        &mut self,
        d: &DefenseSpec,
        tick: SimDuration,
        names: &Names<'_>,
        groups: &[Group],
        flows: &[Flow],
        strategy: Option<String>,
    ) -> Defense {
        let (zone_ids, group_ids) = (names.zones, names.groups);
        let patching = d.patching.as_ref().map(|p| Patching {
            interval_ticks: self
                .ticks_in_space("patching.interval", p.interval, tick)
                .max(1),
            coverage: Chance::new(self.in_space("patching.coverage", p.coverage)),
            zones: self.zones(&p.zones, zone_ids, "patching"),
        });
        let detection = d.detection.as_ref().map(|det| {
            let field = |f: &str| field_path!["defense", "detection", f];
            let (threshold, sensitivity, learning) = (
                det.threshold.is_some(),
                det.sensitivity.is_some(),
                det.learning_rate.is_some(),
            );
            match det.method {
                DetectionMethod::Threshold if !threshold => self.err(
                    field("threshold"),
                    "method = \"threshold\" needs a `threshold` (connections per second; missing field)",
                ),
                DetectionMethod::Threshold if sensitivity || learning => self.err(
                    field(if sensitivity { "sensitivity" } else { "learning_rate" }),
                    "`sensitivity` and `learning_rate` apply to method = \"ueba\"",
                ),
                DetectionMethod::Ueba if threshold => self.err(
                    field("threshold"),
                    "`threshold` applies to method = \"threshold\"; UEBA learns each node's baseline",
                ),
                _ => {}
            }
            let k = self.in_space("detection.sensitivity", det.sensitivity.unwrap_or(4.0));
            let alpha = self.in_space("detection.learning_rate", det.learning_rate.unwrap_or(0.05));
            let per_second = self.in_space("detection.threshold", det.threshold.unwrap_or(0.0));
            // Exact per-tick threshold from the per-second one: floor(rate × tick).
            let per_tick = (per_second * tick.as_micros() as f64 / 1e6).floor();
            Detection {
                method: det.method,
                sensitivity_milli: (k * 1000.0).round() as u64,
                learning_q16: ((alpha * 65536.0).round() as u64).max(1),
                threshold_per_tick: per_tick.min(f64::from(u32::MAX)) as u32,
                threshold_per_second: per_second,
                zones: self.zones(&det.zones, zone_ids, "detection"),
            }
        });
        let quarantine = d.quarantine.as_ref().map(|q| {
            if d.detection.is_none()
                && d.deception.is_none()
                && d.zero_trust.is_none()
                && d.code_signing.is_none()
            {
                self.err(
                    field_path!["defense", "quarantine"],
                    "quarantine acts on alerts: expected a [defense.detection], [defense.deception], [defense.zero_trust] or [defense.code_signing] section too",
                );
            }
            Quarantine {
                delay_ticks: self.ticks_in_space("quarantine.delay", q.delay, tick),
                release_ticks: q.release_after.map(|r| {
                    self.ticks_in_space("quarantine.release_after", r, tick)
                        .max(1)
                }),
                release_patched: {
                    if q.release_patched.is_some() && q.release_after.is_none() {
                        self.err(
                            field_path!["defense", "quarantine", "release_patched"],
                            "`release_patched` applies only with `release_after` (nodes are never released without it)",
                        );
                    }
                    q.release_patched.unwrap_or(true)
                },
            }
        });
        let zero_trust = d.zero_trust.as_ref().map(|z| {
            let hours_per_tick = tick.as_secs_f64() / 3600.0;
            let decay = self.in_space("zero_trust.decay_per_hour", z.decay_per_hour.unwrap_or(0.5));
            ZeroTrust {
                interval_ticks: self
                    .ticks_in_space("zero_trust.reverify_interval", z.reverify_interval, tick)
                    .max(1),
                decay_ppm_per_tick: (decay * hours_per_tick * 1e6).round() as u64,
                threshold_ppm: (self.in_space("zero_trust.threshold", z.threshold.unwrap_or(0.5))
                    * 1e6)
                    .round() as u64,
                attestation: Chance::new(
                    self.in_space("zero_trust.attestation", z.attestation.unwrap_or(0.9)),
                ),
                behavioural: Chance::new(
                    self.in_space("zero_trust.behavioural", z.behavioural.unwrap_or(0.3)),
                ),
                zones: self.zones(&z.zones, zone_ids, "zero_trust"),
            }
        });
        let segmentation = d
            .segmentation
            .as_ref()
            .map(|s| self.segmentation(s, names, groups, flows));
        let biometric = d.biometric.as_ref().map(|b| Biometric {
            liveness: Chance::new(self.in_space("biometric.liveness", b.liveness)),
            interval_ticks: self
                .ticks_in_space(
                    "biometric.reverify_interval",
                    b.reverify_interval.unwrap_or(SimDuration::from_secs(600)),
                    tick,
                )
                .max(1),
        });
        let backups = d.backups.as_ref().map(|b| Backups {
            interval_ticks: self
                .ticks_in_space("backups.interval", b.interval, tick)
                .max(1),
            restore_ticks: self.ticks_in_space("backups.restore_time", b.restore_time, tick),
        });
        let ddos = d.ddos.as_ref().map(|x| {
            let protect = x
                .protect
                .iter()
                .enumerate()
                .map(|(j, g)| {
                    self.lookup(group_ids, "group", g, field_path!["defense", "ddos", "protect", j])
                })
                .collect();
            if x.rate_limit.is_none() && x.scrubbing.is_none() {
                self.err(
                    field_path!["defense", "ddos"],
                    "expected `rate_limit`, `scrubbing` or both: without them the section does nothing",
                );
            }
            let kbps = |b: Bandwidth| (b.bits_per_second() / 1000) as f64;
            DdosProtection {
                protect,
                rate_limit_kbps: x
                    .rate_limit
                    .map(|r| self.in_space("ddos.rate_limit", kbps(r)) as u32),
                scrubbing_kbps: x
                    .scrubbing
                    .map(|r| self.in_space("ddos.scrubbing", kbps(r)) as u64),
            }
        });
        let deception = d.deception.as_ref().map(|x| Deception {
            decoys: Chance::new(self.in_space("deception.decoys", x.decoys)),
        });
        let privacy = d.privacy.as_ref().map(|x| {
            if x.classes.is_empty() {
                self.err(
                    field_path!["defense", "privacy", "classes"],
                    "expected at least one data class, e.g. [\"biometric\", \"health\"]",
                );
            }
            let mut classes = [false; DataClass::ALL.len()];
            for c in &x.classes {
                let k = DataClass::ALL
                    .iter()
                    .position(|a| a == c)
                    .expect("every class listed");
                classes[k] = true;
            }
            Privacy {
                classes,
                coverage_ppm: (self.in_space("privacy.coverage", x.coverage) * 1e6).round() as u64,
            }
        });
        let poison_filter = d.poison_filter.as_ref().map(|x| PoisonFilter {
            catch: Chance::new(self.in_space("poison_filter.catch", x.catch)),
        });
        let code_signing = d.code_signing.as_ref().map(|x| CodeSigning {
            coverage: Chance::new(self.in_space("code_signing.coverage", x.coverage)),
        });
        let step_up = d.step_up.as_ref().map(|x| StepUp {
            detect: Chance::new(self.in_space("step_up.detect", x.detect)),
            fatigue: self.fraction(
                x.fatigue.unwrap_or(0.05),
                field_path!["defense", "step_up", "fatigue"],
            ),
            false_prompts_per_hour: self
                .in_space("step_up.false_prompts", x.false_prompts.unwrap_or(0.02)),
        });
        let hardening = d.hardening.as_ref().map(|h| Hardening {
            interval_ticks: self
                .ticks_in_space("hardening.interval", h.interval, tick)
                .max(1),
            coverage: Chance::new(self.in_space("hardening.coverage", h.coverage)),
            zones: self.zones(&h.zones, zone_ids, "hardening"),
        });
        let adaptive = d.adaptive.as_ref().map(|a| {
            if d.quarantine.is_none() {
                self.err(
                    field_path!["defense", "adaptive"],
                    "the adaptive response quarantines with [defense.quarantine]'s delay and release: expected that section too",
                );
            }
            let level = |v: &mut Self, name: &str, x: Option<f64>, default: f64| {
                v.in_space(name, x.unwrap_or(default)).round() as u32
            };
            Adaptive {
                throttle_at: level(self, "adaptive.throttle_at", a.throttle_at, 1.0),
                revoke_at: level(self, "adaptive.revoke_at", a.revoke_at, 2.0),
                quarantine_at: level(self, "adaptive.quarantine_at", a.quarantine_at, 3.0),
                throttle_delay_ticks: self.ticks_in_space(
                    "adaptive.throttle_delay",
                    a.throttle_delay.unwrap_or(SimDuration::from_secs(10)),
                    tick,
                ),
                throttle_ticks: self
                    .ticks_in_space(
                        "adaptive.throttle_for",
                        a.throttle_for.unwrap_or(SimDuration::from_secs(600)),
                        tick,
                    )
                    .max(1),
                revoke_delay_ticks: self.ticks_in_space(
                    "adaptive.revoke_delay",
                    a.revoke_delay.unwrap_or(SimDuration::from_secs(60)),
                    tick,
                ),
            }
        });
        Defense {
            strategy,
            adaptive,
            patching,
            detection,
            quarantine,
            zero_trust,
            segmentation,
            biometric,
            backups,
            ddos,
            deception,
            privacy,
            poison_filter,
            code_signing,
            step_up,
            hardening,
        }
    }

    fn segmentation(
        &mut self,
        s: &SegmentationSpec,
        names: &Names<'_>,
        groups: &[Group],
        flows: &[Flow],
    ) -> Segmentation {
        let (zone_ids, group_ids) = (names.zones, names.groups);
        let mut ids: HashMap<String, u16> = HashMap::new();
        let mut segment_of_group: Vec<Option<u16>> = vec![None; groups.len()];
        for (i, seg) in s.segments.iter().enumerate() {
            let p = |f: &str, j: usize| field_path!["defense", "segmentation", "segment", i, f, j];
            if ids.insert(seg.name.clone(), i as u16).is_some() {
                self.err(
                    field_path!["defense", "segmentation", "segment", i, "name"],
                    format!("duplicate segment name `{}`", seg.name),
                );
            }
            let mut members: Vec<(GroupId, Vec<Seg>)> = Vec::new();
            for (j, z) in seg.zones.iter().enumerate() {
                let zone = self.lookup(zone_ids, "zone", z, p("zones", j));
                for (g, group) in groups.iter().enumerate() {
                    if group.zone == zone && zone_ids.contains_key(z) {
                        members.push((g as GroupId, p("zones", j)));
                    }
                }
            }
            for (j, g) in seg.groups.iter().enumerate() {
                let id = self.lookup(group_ids, "group", g, p("groups", j));
                if group_ids.contains_key(g) {
                    members.push((id, p("groups", j)));
                }
            }
            for (g, at) in members {
                match segment_of_group[g as usize] {
                    Some(other) if other != i as u16 => self.err(
                        at,
                        format!(
                            "group `{}` is already in segment `{}`: a group belongs to one segment",
                            groups[g as usize].name, s.segments[other as usize].name
                        ),
                    ),
                    _ => segment_of_group[g as usize] = Some(i as u16),
                }
            }
        }
        for (g, seg) in segment_of_group.iter().enumerate() {
            if seg.is_none() {
                self.err(
                    field_path!["defense", "segmentation", "segment"],
                    format!(
                        "group `{}` is in no segment: add its zone or its name to one (unsegmented nodes would bypass the policy)",
                        groups[g].name
                    ),
                );
            }
        }
        let segment_of_group: Vec<u16> = segment_of_group
            .into_iter()
            .map(|s| s.unwrap_or(0))
            .collect();
        let (allowed, admitted) =
            self.allow_rules(s, &ids, &segment_of_group, names, groups, flows);
        Segmentation {
            names: s.segments.iter().map(|x| x.name.clone()).collect(),
            segment_of_group,
            allowed,
            admitted,
        }
    }

    /// The allow rules: which segment pairs have one, and what each segment may reach on
    /// each group of another, row-major `segment × groups + group`: the services the
    /// flows use between the two segments, or the services the rule lists.
    fn allow_rules(
        &mut self,
        s: &SegmentationSpec,
        ids: &HashMap<String, u16>,
        segment_of_group: &[u16],
        names: &Names<'_>,
        groups: &[Group],
        flows: &[Flow],
    ) -> (Vec<bool>, Vec<Admitted>) {
        let n = s.segments.len();
        let mut allowed = vec![false; n * n];
        let mut admitted = vec![Admitted::default(); n * groups.len()];
        for (j, a) in s.allow.iter().enumerate() {
            let from = self.lookup(
                ids,
                "segment",
                &a.from,
                field_path!["defense", "segmentation", "allow", j, "from"],
            );
            let to = self.lookup(
                ids,
                "segment",
                &a.to,
                field_path!["defense", "segmentation", "allow", j, "to"],
            );
            if (from as usize) >= n || (to as usize) >= n {
                continue;
            }
            let mut pairs = vec![(from, to)];
            if a.both_ways {
                pairs.push((to, from));
            }
            for &(f, t) in &pairs {
                allowed[f as usize * n + t as usize] = true;
            }
            let Some(list) = &a.services else {
                // What the flows need, from each segment to each group of the other.
                for &(f, t) in &pairs {
                    for flow in flows {
                        let server = flow.servers as usize;
                        if segment_of_group.get(flow.clients as usize) == Some(&f)
                            && segment_of_group.get(server) == Some(&t)
                        {
                            admitted[f as usize * groups.len() + server].admit(flow.service);
                        }
                    }
                }
                continue;
            };
            for (k, name) in list.iter().enumerate() {
                let at = field_path!["defense", "segmentation", "allow", j, "services", k];
                let every = name == "*";
                let service = if every {
                    None
                } else {
                    let id = self.lookup(names.services, "service", name, at.clone());
                    if !names.services.contains_key(name) {
                        continue;
                    }
                    Some(id)
                };
                let mut found = false;
                for &(f, t) in &pairs {
                    for (g, group) in groups.iter().enumerate() {
                        if segment_of_group[g] != t {
                            continue;
                        }
                        let adm = &mut admitted[f as usize * groups.len() + g];
                        match service {
                            None if group.services.is_empty() => adm.admit(None),
                            None => group.services.iter().for_each(|&x| adm.admit(Some(x))),
                            Some(x) if group.services.contains(&x) => adm.admit(Some(x)),
                            Some(_) => continue,
                        }
                        found = true;
                    }
                }
                if !found && !every {
                    self.err(
                        at,
                        format!(
                            "no group of segment `{}`{} runs `{name}`: list services its groups run, or \"*\" for all",
                            a.to,
                            if a.both_ways {
                                format!(" or `{}`", a.from)
                            } else {
                                String::new()
                            }
                        ),
                    );
                }
            }
        }
        (allowed, admitted)
    }
}

impl Scenario {
    /// Replaces the scenario's defenses with those of a strategy file's text; `origin`
    /// names the file in errors, which point into it.
    pub fn with_strategy(mut self, text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let locator = Locator::new(text);
        let invalid = |diagnostics| ScenarioError::Invalid {
            origin: origin.to_owned(),
            diagnostics,
        };
        let file: StrategyFile = parse_toml(text, origin, &locator)?;
        let mut v = Validator {
            locator: &locator,
            diagnostics: Vec::new(),
            warnings: Vec::new(),
        };
        let zone_ids: HashMap<String, u16> = self
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.clone(), i as u16))
            .collect();
        let group_ids: HashMap<String, u16> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.clone(), i as u16))
            .collect();
        if !is_folder_name(&file.strategy.name) {
            v.err(
                field_path!["strategy", "name"],
                format!(
                    "`{}` is not a valid strategy name: expected letters, digits, `-` and `_` (it names the results folder)",
                    file.strategy.name
                ),
            );
        }
        let service_ids: HashMap<String, u16> = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i as u16))
            .collect();
        let defense = v.defense(
            &file.defense,
            self.tick,
            &Names {
                zones: &zone_ids,
                groups: &group_ids,
                services: &service_ids,
            },
            &self.groups,
            &self.flows,
            Some(file.strategy.name.clone()),
        );
        if !v.diagnostics.is_empty() {
            v.diagnostics.sort_by_key(|d| (d.line, d.column));
            return Err(invalid(v.diagnostics));
        }
        self.defense = defense;
        self.strategy_source = Some(text.to_owned());
        self.strategy_origin = Some(origin.to_owned());
        Ok(self)
    }
}
