//! Campaign sections: resolved types and their validation.
//!
//! Every campaign kind checks its own table, and the targeted kinds share one check of
//! their approach (entry, access, target, rates), including that the topology links the
//! entry group to the target at all: a campaign that could never reach its objective is
//! an error in the file, not a quiet zero in the results.

use std::collections::{HashMap, VecDeque};

use super::*;

/// The largest record an exfiltration may steal one at a time (1 GiB): its bits must fit
/// the per-flow accounting, and no dataset keeps larger records.
pub const MAX_RECORD_BYTES: u64 = 1 << 30;

/// A resolved botnet campaign (Mirai-style recruitment, then a DDoS).
#[derive(Debug, Clone)]
pub struct Botnet {
    /// Group of the first bots.
    pub entry: GroupId,
    /// First bots.
    pub initial: u32,
    /// Login attempts per second per bot.
    pub scan_rate: f64,
    /// Login attempts per tick per bot.
    pub scans_per_tick: PerTick,
    /// Chance the dictionary opens a default-credential device.
    pub dictionary: Chance,
    /// Size of the scanned address space.
    pub address_space: u64,
    /// Group under attack.
    pub ddos_target: GroupId,
    /// Tick of the DDoS command.
    pub ddos_start_tick: u32,
    /// Flood rate per bot, kbit/s.
    pub ddos_kbps: u32,
    /// Attack traffic a target node absorbs before its service fails, kbit/s (`None`:
    /// half the capacity of its links).
    pub absorb_kbps: Option<u64>,
    /// Churn: bots dropping out on their own.
    pub recovery: Option<Recovery>,
    /// Bits of one log-in probe, when scans are traffic.
    pub probe_bits: Option<u64>,
}

/// Resolved false data injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FalseData {
    /// Offset of a compromised sensor's readings, milli-units.
    pub bias_milli: i64,
    /// Mean of the real quantity, milli-units.
    pub baseline_milli: i64,
    /// Swing of the real quantity, milli-units.
    pub amplitude_milli: i64,
    /// Period of the swing, ticks.
    pub period_ticks: u32,
    /// Alarm threshold, milli-units.
    pub threshold_milli: i64,
}

/// How a resolved takeover campaign impersonates, with its chance per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Credential stuffing: chance on a password account.
    CredentialStuffing(Chance),
    /// Deepfake: chance to pass liveness detection on a biometric account.
    Deepfake(Chance),
}

/// A resolved supply-chain campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyChain {
    /// What is trojanised.
    pub component: Component,
    /// Groups that install updates from the service, in file order.
    pub fleet: Vec<GroupId>,
    /// Ticks over which the fleet installs a pushed update.
    pub rollout_ticks: u32,
    /// Chance the trojanised build carries the vendor's valid signature.
    pub signed: Chance,
}

/// What a campaign is, with its kind-specific parameters.
#[derive(Debug, Clone)]
pub enum CampaignKind {
    /// A scanning worm.
    Worm(Worm),
    /// An IoT/XR botnet.
    Botnet(Botnet),
    /// Exploitation and lateral movement to a high-value target.
    Intrusion,
    /// Compute theft; the share of a hijacked node's compute taken, per mille.
    Cryptojacking {
        /// Share taken, per mille.
        share_permille: u64,
    },
    /// Phishing with a lure.
    Phishing {
        /// The lure.
        lure: Lure,
    },
    /// Account takeover.
    Takeover(Takeover),
    /// Exfiltration to a drop group.
    Exfiltration {
        /// Group of drop servers.
        drop: GroupId,
        /// Rate per held target node, kbit/s.
        kbps: u32,
        /// Bytes per record.
        record_bytes: u64,
    },
    /// Asset theft through the ledger.
    AssetTheft {
        /// Transfers per tick per held wallet node.
        transfers_per_tick: PerTick,
        /// Chance a transfer is replayed as a double spend.
        double_spend: Chance,
    },
    /// Ransomware.
    Ransomware {
        /// Ticks from taking a node to encrypting it.
        dwell_ticks: u32,
    },
    /// False data injection into a digital twin's sensors.
    FalseData(FalseData),
    /// Poisoning of the detection model.
    Poisoning {
        /// Samples per tick per held target node.
        samples_per_tick: PerTick,
        /// Samples for full effect.
        samples_needed: u64,
        /// Threshold inflation at full effect, parts per million.
        strength_ppm: u64,
    },
    /// A trojanised update pushed through an update service.
    SupplyChain(SupplyChain),
}

impl CampaignKind {
    /// The kind's name, as its table is called in files.
    pub fn name(&self) -> &'static str {
        match self {
            CampaignKind::Worm(_) => "worm",
            CampaignKind::Botnet(_) => "botnet",
            CampaignKind::Intrusion => "intrusion",
            CampaignKind::Cryptojacking { .. } => "cryptojacking",
            CampaignKind::Phishing { .. } => "phishing",
            CampaignKind::Takeover(_) => "takeover",
            CampaignKind::Exfiltration { .. } => "exfiltration",
            CampaignKind::AssetTheft { .. } => "asset_theft",
            CampaignKind::Ransomware { .. } => "ransomware",
            CampaignKind::FalseData(_) => "false_data",
            CampaignKind::Poisoning { .. } => "poisoning",
            CampaignKind::SupplyChain(_) => "supply_chain",
        }
    }
}

/// Where a targeted or identity campaign gets in and what it is after.
#[derive(Debug, Clone)]
pub struct Approach {
    /// Group of the initial foothold (the victims, for identity campaigns).
    pub entry: GroupId,
    /// How the foothold is taken.
    pub access: AccessMethod,
    /// Initial-access attempts per tick.
    pub attempts_per_tick: PerTick,
    /// Group of the objective.
    pub target: GroupId,
    /// Lateral-movement attempts per tick per held node.
    pub lateral_per_tick: PerTick,
    /// Chance harvested credentials open a password-protected node.
    pub credential_reuse: Chance,
}

/// A resolved campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Name.
    pub name: String,
    /// First tick on which it acts (ticks count from 1).
    pub start_tick: u32,
    /// Kind and parameters.
    pub kind: CampaignKind,
    /// Approach (targeted and identity campaigns).
    pub approach: Option<Approach>,
    /// Goal, in the kind's unit (nodes, accounts, records, assets, wrong decisions);
    /// `None` only for a worm without one (half the nodes vulnerable at the start).
    pub goal: Option<u64>,
}

/// What the validator checks a campaign against.
pub(super) struct Tables<'t> {
    pub tick: SimDuration,
    pub group_ids: &'t HashMap<String, u16>,
    pub service_ids: &'t HashMap<String, u16>,
    pub groups: &'t [Group],
    pub topology: &'t [TopologyStep],
    /// Whether every `[[topology]]` step resolved: paths between groups are known only
    /// then (a step with a problem, reported, is missing from `topology`).
    pub topology_complete: bool,
    pub node_count: u32,
    /// Whether the scenario has a traffic core (declares flows).
    pub traffic: bool,
}

impl Tables<'_> {
    /// Groups joined by some topology generator, as an adjacency list.
    fn group_graph(&self) -> Vec<Vec<GroupId>> {
        let mut adj = vec![Vec::new(); self.groups.len()];
        let mut join = |a: GroupId, b: GroupId| {
            if let (Some(x), Some(_)) = (adj.get(a as usize), adj.get(b as usize))
                && !x.contains(&b)
            {
                adj[a as usize].push(b);
                adj[b as usize].push(a);
            }
        };
        // A step may link any two of its groups (a group to itself, for peer graphs).
        for step in self.topology {
            let groups = step.groups();
            for &a in &groups {
                for &b in &groups {
                    join(a, b);
                }
            }
        }
        adj
    }

    /// Whether the topology links some node of `from` to some node of `to`; `None` when
    /// a topology step had a problem, so the links are not all known.
    pub fn reachable(&self, from: GroupId, to: GroupId) -> Option<bool> {
        if from == to {
            return Some(true);
        }
        self.topology_complete.then(|| self.linked(from, to))
    }

    /// Whether the resolved steps link `from` to `to` through a chain of groups.
    fn linked(&self, from: GroupId, to: GroupId) -> bool {
        let adj = self.group_graph();
        let mut seen = vec![false; adj.len()];
        let mut queue = VecDeque::from([from]);
        while let Some(g) = queue.pop_front() {
            let Some(next) = adj.get(g as usize) else {
                continue;
            };
            for &h in next {
                if h == to {
                    return true;
                }
                if !std::mem::replace(&mut seen[h as usize], true) {
                    queue.push_back(h);
                }
            }
        }
        false
    }
}

/// Which approach fields a kind uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Worm, botnet: their own tables.
    Scanning,
    /// Phishing, takeover: target, attempt_rate, goal.
    Identity,
    /// The rest: every approach field.
    Targeted,
}

impl Validator<'_> {
    pub(super) fn campaign(
        &mut self,
        i: usize,
        c: &CampaignSpec,
        t: &Tables<'_>,
    ) -> Option<Campaign> {
        let n = self.diagnostics.len();
        let start_tick = (c.start.ticks_ceil(t.tick) + 1).min(u64::from(u32::MAX)) as u32;
        let kind_name = self.kind_name(i, c)?;
        let shape = match kind_name {
            "worm" | "botnet" => Shape::Scanning,
            "phishing" | "takeover" => Shape::Identity,
            _ => Shape::Targeted,
        };
        let approach = self.approach(i, c, kind_name, shape, t);
        let mut goal = c.goal;
        if goal == Some(0) {
            self.err(
                field_path!["campaign", i, "goal"],
                "expected a goal of at least 1",
            );
        }
        let kind = self.kind(i, c, approach.as_ref(), t, n, &mut goal);
        // A worm's default goal (half the nodes vulnerable at the start) depends on the
        // built world; every other kind's default is settled here.
        let goal = match kind {
            Some(CampaignKind::Worm(_)) => goal,
            _ => Some(goal.unwrap_or(1).max(1)),
        };
        let kind = kind.filter(|_| self.diagnostics.len() == n)?;
        Some(Campaign {
            name: c.name.clone(),
            start_tick,
            kind,
            approach,
            goal,
        })
    }

    /// The campaign's kind: its one kind table's name (an error for none or several).
    fn kind_name(&mut self, i: usize, c: &CampaignSpec) -> Option<&'static str> {
        // Every kind table, by the name it has in files: the one list a new kind joins.
        let tables = [
            ("worm", c.worm.is_some()),
            ("botnet", c.botnet.is_some()),
            ("intrusion", c.intrusion.is_some()),
            ("cryptojacking", c.cryptojacking.is_some()),
            ("phishing", c.phishing.is_some()),
            ("takeover", c.takeover.is_some()),
            ("exfiltration", c.exfiltration.is_some()),
            ("asset_theft", c.asset_theft.is_some()),
            ("ransomware", c.ransomware.is_some()),
            ("false_data", c.false_data.is_some()),
            ("poisoning", c.poisoning.is_some()),
            ("supply_chain", c.supply_chain.is_some()),
        ];
        let kinds: Vec<&str> = tables
            .iter()
            .filter_map(|&(k, set)| set.then_some(k))
            .collect();
        match kinds.as_slice() {
            [k] => Some(*k),
            [] => {
                let all: Vec<String> = tables
                    .iter()
                    .map(|(k, _)| format!("[campaign.{k}]"))
                    .collect();
                self.err(
                    field_path!["campaign", i],
                    format!(
                        "expected a kind table for the campaign: one of {}",
                        all.join(", ")
                    ),
                );
                None
            }
            several => {
                self.err(
                    field_path!["campaign", i, several[1]],
                    format!(
                        "a campaign has one kind, found {}: split it into several [[campaign]] entries",
                        several.join(" and ")
                    ),
                );
                None
            }
        }
    }

    /// The kind's own table, resolved by its method; kinds whose goal counts what the
    /// table declares (records, assets, fleet nodes) default `goal` to it. `None` when the
    /// table names an unknown group or service (reported).
    fn kind(
        &mut self,
        i: usize,
        c: &CampaignSpec,
        approach: Option<&Approach>,
        t: &Tables<'_>,
        n: usize,
        goal: &mut Option<u64>,
    ) -> Option<CampaignKind> {
        let target_group = approach.map(|a| &t.groups[a.target as usize]);
        let kind = if let Some(w) = &c.worm {
            CampaignKind::Worm(self.worm(i, w, t, n)?)
        } else if let Some(b) = &c.botnet {
            CampaignKind::Botnet(self.botnet(i, b, t)?)
        } else if c.intrusion.is_some() {
            CampaignKind::Intrusion
        } else if let Some(cj) = &c.cryptojacking {
            self.cryptojacking(i, cj, target_group)
        } else if let Some(p) = &c.phishing {
            CampaignKind::Phishing { lure: p.lure }
        } else if let Some(tk) = &c.takeover {
            self.takeover(i, tk, target_group)
        } else if let Some(x) = &c.exfiltration {
            let (kind, records) = self.exfiltration(i, x, approach, target_group, t, n);
            *goal = goal.or(Some(records.max(1)));
            kind?
        } else if let Some(a) = &c.asset_theft {
            let (kind, assets) = self.asset_theft(i, a, target_group, t);
            *goal = goal.or(Some(assets.max(1)));
            kind
        } else if let Some(r) = &c.ransomware {
            let dwell = r.dwell.unwrap_or(SimDuration::from_secs(60));
            CampaignKind::Ransomware {
                dwell_ticks: dwell.ticks_ceil(t.tick).min(u64::from(u32::MAX)) as u32,
            }
        } else if let Some(f) = &c.false_data {
            self.false_data(i, f, target_group, t)
        } else if let Some(p) = &c.poisoning {
            self.poisoning(i, p, target_group, t, goal.is_some())
        } else if let Some(sc) = &c.supply_chain {
            let (kind, fleet_nodes) = self.supply_chain(i, sc, approach, t);
            *goal = goal.or(Some(fleet_nodes.max(1)));
            kind
        } else {
            unreachable!("one kind table is set: checked above")
        };
        Some(kind)
    }

    /// Checks a cryptojacking table: the target must have compute to steal.
    fn cryptojacking(
        &mut self,
        i: usize,
        cj: &CryptojackingSpec,
        target_group: Option<&Group>,
    ) -> CampaignKind {
        let kp = |f: &str| field_path!["campaign", i, "cryptojacking", f];
        if let Some(g) = target_group
            && !matches!(
                g.kind,
                NodeKind::GpuNode | NodeKind::EdgeServer | NodeKind::CloudVm | NodeKind::Server
            )
        {
            self.err(
                    field_path!["campaign", i, "target"],
                    format!(
                        "cryptojacking steals compute: expected a group of gpu_node, edge_server, cloud_vm or server nodes, but `{}` holds {} nodes",
                        g.name,
                        g.kind.name()
                    ),
                );
        }
        let share = self.fraction(cj.share.unwrap_or(0.8), kp("share"));
        CampaignKind::Cryptojacking {
            share_permille: (share.probability() * 1000.0).round() as u64,
        }
    }

    /// Checks a takeover table: the method must fit the target's authentication.
    fn takeover(
        &mut self,
        i: usize,
        tk: &TakeoverSpec,
        target_group: Option<&Group>,
    ) -> CampaignKind {
        let kp = |f: &str| field_path!["campaign", i, "takeover", f];
        let (auths, what): (&[AuthMethod], &str) = match tk.method {
            TakeoverMethod::CredentialStuffing => (
                &[
                    AuthMethod::Password,
                    AuthMethod::Mfa,
                    AuthMethod::DefaultCredentials,
                ],
                "password, mfa or default_credentials",
            ),
            TakeoverMethod::Deepfake => (&[AuthMethod::Biometric], "biometric"),
        };
        if let Some(g) = target_group
            && !auths.contains(&g.auth)
        {
            self.err(
                    field_path!["campaign", i, "target"],
                    format!(
                        "group `{}` authenticates by {:?}: {} takeover works only against {what} authentication, so it could take over nothing",
                        g.name,
                        g.auth,
                        kind_method_name(tk.method)
                    ),
                );
        }
        let (misplaced, field) = match tk.method {
            TakeoverMethod::CredentialStuffing => {
                (tk.deepfake_quality.is_some(), "deepfake_quality")
            }
            TakeoverMethod::Deepfake => (tk.reuse.is_some(), "reuse"),
        };
        if misplaced {
            self.err(
                kp(field),
                format!(
                    "`{field}` does not apply to method = \"{}\"",
                    kind_method_name(tk.method)
                ),
            );
        }
        CampaignKind::Takeover(match tk.method {
            TakeoverMethod::CredentialStuffing => {
                Takeover::CredentialStuffing(self.fraction(tk.reuse.unwrap_or(0.05), kp("reuse")))
            }
            TakeoverMethod::Deepfake => Takeover::Deepfake(
                self.fraction(tk.deepfake_quality.unwrap_or(0.3), kp("deepfake_quality")),
            ),
        })
    }

    /// Checks an exfiltration table: a drop reachable from the target, records to steal.
    /// Returns the kind and the default goal (every record of the target group).
    fn exfiltration(
        &mut self,
        i: usize,
        x: &ExfiltrationSpec,
        approach: Option<&Approach>,
        target_group: Option<&Group>,
        t: &Tables<'_>,
        n: usize,
    ) -> (Option<CampaignKind>, u64) {
        let kp = |f: &str| field_path!["campaign", i, "exfiltration", f];
        let drop = self.lookup(t.group_ids, "group", &x.drop, kp("drop"));
        if let (Some(a), Some(drop)) = (&approach, drop)
            && self.diagnostics.len() == n
            && t.reachable(a.target, drop) == Some(false)
        {
            self.err(
                    kp("drop"),
                    format!(
                        "no path from target group `{}` to drop group `{}`: the topology links no chain of groups between them",
                        t.groups[a.target as usize].name, x.drop
                    ),
                );
        }
        let records: u64 = target_group.map_or(0, |g| g.data.values().sum());
        if target_group.is_some() && records == 0 {
            self.err(
                field_path!["campaign", i, "target"],
                "the target group holds no records (its `data` is empty): exfiltration could steal nothing",
            );
        }
        let kbps = x.rate.bits_per_second() / 1000;
        if kbps == 0 || kbps > u64::from(u32::MAX) {
            self.err(
                kp("rate"),
                format!("expected a rate from 1 kbit/s to {} kbit/s", u32::MAX),
            );
        }
        let record_bytes = x.record_bytes.unwrap_or(4096);
        if !(1..=MAX_RECORD_BYTES).contains(&record_bytes) {
            self.err(
                kp("record_bytes"),
                format!("found {record_bytes}: expected 1 to {MAX_RECORD_BYTES} bytes (1 GiB) per record"),
            );
        }
        let kind = drop.map(|drop| CampaignKind::Exfiltration {
            drop,
            kbps: kbps.clamp(1, u64::from(u32::MAX)) as u32,
            record_bytes: record_bytes.clamp(1, MAX_RECORD_BYTES),
        });
        (kind, records)
    }

    /// Checks an asset-theft table: assets to steal. Returns the kind and the default goal
    /// (every asset of the target group).
    fn asset_theft(
        &mut self,
        i: usize,
        a: &AssetTheftSpec,
        target_group: Option<&Group>,
        t: &Tables<'_>,
    ) -> (CampaignKind, u64) {
        let kp = |f: &str| field_path!["campaign", i, "asset_theft", f];
        let assets = target_group.map_or(0, |g| u64::from(g.assets.count));
        if target_group.is_some() && assets == 0 {
            self.err(
                field_path!["campaign", i, "target"],
                "the target group holds no digital assets (`assets.count` is 0): asset theft could steal nothing",
            );
        }
        let rate = self.non_negative(
            a.transfers_per_second.unwrap_or(1.0),
            kp("transfers_per_second"),
        );
        let rate = self.per_tick_bound(rate, t.tick, kp("transfers_per_second"));
        let kind = CampaignKind::AssetTheft {
            transfers_per_tick: PerTick::from_rate(rate, t.tick.as_micros()),
            double_spend: self.fraction(a.double_spend.unwrap_or(0.2), kp("double_spend")),
        };
        (kind, assets)
    }

    /// Checks a false-data table: sensors to falsify, a finite signal, a period.
    fn false_data(
        &mut self,
        i: usize,
        f: &FalseDataSpec,
        target_group: Option<&Group>,
        t: &Tables<'_>,
    ) -> CampaignKind {
        let kp = |f: &str| field_path!["campaign", i, "false_data", f];
        if let Some(g) = target_group
            && g.kind != NodeKind::IotSensor
        {
            self.err(
                    field_path!["campaign", i, "target"],
                    format!(
                        "false data injection falsifies sensor readings: expected a group of iot_sensor nodes, but `{}` holds {} nodes",
                        g.name,
                        g.kind.name()
                    ),
                );
        }
        let mut milli = |v: Option<f64>, default: f64, field: &str| -> i64 {
            let v = v.unwrap_or(default);
            if !v.is_finite() || v.abs() > 1e12 {
                self.err(kp(field), format!("expected a finite number, found {v}"));
                return 0;
            }
            (v * 1000.0).round() as i64
        };
        let bias_milli = milli(f.bias, -10.0, "bias");
        let baseline_milli = milli(f.baseline, 20.0, "baseline");
        let amplitude_milli = milli(f.amplitude, 5.0, "amplitude");
        let threshold_milli = milli(f.alarm_threshold, 23.0, "alarm_threshold");
        if amplitude_milli < 0 {
            self.err(kp("amplitude"), "expected an amplitude ≥ 0");
        }
        let period = f.period.unwrap_or(SimDuration::from_secs(3600));
        let period_ticks = period.ticks_ceil(t.tick).min(u64::from(u32::MAX)) as u32;
        if period_ticks < 2 {
            self.err(
                kp("period"),
                format!("expected a period of at least two ticks ({} each)", t.tick),
            );
        }
        CampaignKind::FalseData(FalseData {
            bias_milli,
            baseline_milli,
            amplitude_milli,
            period_ticks: period_ticks.max(2),
            threshold_milli,
        })
    }

    /// Checks a poisoning table: a data store or SOC to poison; its goal is set by
    /// `samples_needed`, not `goal`.
    fn poisoning(
        &mut self,
        i: usize,
        p: &PoisoningSpec,
        target_group: Option<&Group>,
        t: &Tables<'_>,
        goal_set: bool,
    ) -> CampaignKind {
        let kp = |f: &str| field_path!["campaign", i, "poisoning", f];
        if let Some(g) = target_group
            && !matches!(g.kind, NodeKind::DataStore | NodeKind::Soc)
        {
            self.err(
                    field_path!["campaign", i, "target"],
                    format!(
                        "the detection model trains on data in a data_store or soc group, but `{}` holds {} nodes",
                        g.name,
                        g.kind.name()
                    ),
                );
        }
        let rate = self.non_negative(
            p.samples_per_second.unwrap_or(1.0),
            kp("samples_per_second"),
        );
        let rate = self.per_tick_bound(rate, t.tick, kp("samples_per_second"));
        let needed = p.samples_needed.unwrap_or(600);
        if needed == 0 {
            self.err(kp("samples_needed"), "expected at least 1 sample");
        }
        let strength = self.non_negative(p.strength.unwrap_or(4.0), kp("strength"));
        if strength > 1000.0 {
            self.err(
                kp("strength"),
                format!("expected at most 1000, found {strength}"),
            );
        }
        if goal_set {
            self.err(
                field_path!["campaign", i, "goal"],
                "a poisoning campaign's goal is the fully poisoned model; set `samples_needed` instead",
            );
        }
        CampaignKind::Poisoning {
            samples_per_tick: PerTick::from_rate(rate, t.tick.as_micros()),
            samples_needed: needed.max(1),
            strength_ppm: (strength.min(1000.0) * 1e6).round() as u64,
        }
    }

    /// Checks a supply-chain table: the fleet's groups exist and are not the update
    /// service itself, and the service is a server. Returns the kind and the fleet's
    /// node count (the default goal).
    fn supply_chain(
        &mut self,
        i: usize,
        sc: &SupplyChainSpec,
        approach: Option<&Approach>,
        t: &Tables<'_>,
    ) -> (CampaignKind, u64) {
        let kp = |f: &str| field_path!["campaign", i, "supply_chain", f];
        if let Some(a) = approach {
            let g = &t.groups[a.target as usize];
            if !matches!(
                g.kind,
                NodeKind::Server | NodeKind::CloudVm | NodeKind::EdgeServer
            ) {
                self.err(
                    field_path!["campaign", i, "target"],
                    format!(
                        "a supply-chain campaign's target is the update service: expected a group of server, cloud_vm or edge_server nodes, but `{}` holds {} nodes",
                        g.name,
                        g.kind.name()
                    ),
                );
            }
        }
        if sc.fleet.is_empty() {
            self.err(
                kp("fleet"),
                "expected at least one group that installs the update",
            );
        }
        let mut fleet = Vec::new();
        for (k, name) in sc.fleet.iter().enumerate() {
            let path = field_path!["campaign", i, "supply_chain", "fleet", k];
            let Some(g) = self.lookup(t.group_ids, "group", name, path.clone()) else {
                continue;
            };
            if approach.is_some_and(|a| a.target == g) {
                self.err(
                    path,
                    format!("`{name}` is the update service itself (the campaign's target)"),
                );
            } else if fleet.contains(&g) {
                self.err(path, format!("`{name}` is listed twice"));
            } else {
                fleet.push(g);
            }
        }
        let rollout = sc.rollout.unwrap_or(SimDuration::from_secs(3600));
        let rollout_ticks = rollout.ticks_ceil(t.tick).min(u64::from(u32::MAX)) as u32;
        if rollout_ticks == 0 {
            self.err(kp("rollout"), "expected a rollout of at least one tick");
        }
        let signed = self.fraction(sc.signed.unwrap_or(0.0), kp("signed"));
        let nodes = fleet
            .iter()
            .map(|&g| u64::from(t.groups[g as usize].count))
            .sum();
        let kind = CampaignKind::SupplyChain(SupplyChain {
            component: sc.component,
            fleet,
            rollout_ticks: rollout_ticks.max(1),
            signed,
        });
        (kind, nodes)
    }

    /// Checks the shared approach fields against the kind's shape; `None` for a scanning
    /// kind, or when the target or entry is missing or unknown (reported).
    fn approach(
        &mut self,
        i: usize,
        c: &CampaignSpec,
        kind: &str,
        shape: Shape,
        t: &Tables<'_>,
    ) -> Option<Approach> {
        let start = self.diagnostics.len();
        let p = |f: &str| field_path!["campaign", i, f];
        self.approach_fields(i, c, kind, shape);
        if shape == Shape::Scanning {
            return None;
        }
        let Some(target_name) = &c.target else {
            self.err(
                p("target"),
                format!("a {kind} campaign needs a `target` group (missing field)"),
            );
            return None;
        };
        let target = self.lookup(t.group_ids, "group", target_name, p("target"));
        let entry = match (&c.entry, shape) {
            (Some(e), _) => self.lookup(t.group_ids, "group", e, p("entry")),
            (None, Shape::Identity) => target,
            (None, _) => {
                self.err(
                    p("entry"),
                    format!(
                        "a {kind} campaign needs an `entry` group where the attacker gets in (missing field)"
                    ),
                );
                return None;
            }
        };
        let access = c.access.unwrap_or_default();
        if let (Some(entry), Some(target)) = (entry, target)
            && start == self.diagnostics.len()
            && shape == Shape::Targeted
        {
            self.entry_feasible(i, c, access, (entry, target), t);
        }
        let attempts = self.non_negative(c.attempt_rate.unwrap_or(0.1), p("attempt_rate"));
        let attempts = self.per_tick_bound(attempts, t.tick, p("attempt_rate"));
        let lateral = self.non_negative(c.lateral_rate.unwrap_or(0.05), p("lateral_rate"));
        let lateral = self.per_tick_bound(lateral, t.tick, p("lateral_rate"));
        if attempts == 0.0 && c.attempt_rate.is_some() {
            self.err(
                p("attempt_rate"),
                "expected a rate above 0: with no attempts the campaign never starts",
            );
        }
        Some(Approach {
            entry: entry?,
            access,
            attempts_per_tick: PerTick::from_rate(attempts, t.tick.as_micros()),
            target: target?,
            lateral_per_tick: PerTick::from_rate(lateral, t.tick.as_micros()),
            credential_reuse: self
                .fraction(c.credential_reuse.unwrap_or(0.3), p("credential_reuse")),
        })
    }

    /// The approach fields a campaign of this shape does not read are errors.
    fn approach_fields(&mut self, i: usize, c: &CampaignSpec, kind: &str, shape: Shape) {
        let p = |f: &str| field_path!["campaign", i, f];
        let used: &[&str] = match shape {
            Shape::Scanning => &["goal"],
            Shape::Identity => &["target", "attempt_rate", "goal"],
            Shape::Targeted => &[
                "entry",
                "access",
                "attempt_rate",
                "target",
                "lateral_rate",
                "credential_reuse",
                "goal",
            ],
        };
        let set = [
            ("entry", c.entry.is_some()),
            ("access", c.access.is_some()),
            ("attempt_rate", c.attempt_rate.is_some()),
            ("target", c.target.is_some()),
            ("lateral_rate", c.lateral_rate.is_some()),
            ("credential_reuse", c.credential_reuse.is_some()),
        ];
        for (field, is_set) in set {
            if is_set && !used.contains(&field) {
                let hint = if shape == Shape::Scanning {
                    format!(" (a {kind} sets its entry in [campaign.{kind}])")
                } else {
                    String::new()
                };
                self.err(
                    p(field),
                    format!("`{field}` does not apply to a {kind} campaign{hint}"),
                );
            }
        }
    }

    /// A targeted campaign's access method must be able to open its entry group, and
    /// the topology must link the entry to the target.
    fn entry_feasible(
        &mut self,
        i: usize,
        c: &CampaignSpec,
        access: AccessMethod,
        (entry, target): (GroupId, GroupId),
        t: &Tables<'_>,
    ) {
        let p = |f: &str| field_path!["campaign", i, f];
        let g = &t.groups[entry as usize];
        let impossible = match access {
            // A group with an unknown service (reported) may run a vulnerable one.
            AccessMethod::Exploit => (g.exploit_chance == Chance::NEVER && self.resolved(entry))
                .then(|| "runs no service with a known vulnerability".to_owned()),
            AccessMethod::Phishing => {
                (g.susceptibility == Chance::NEVER).then(|| "has susceptibility 0".to_owned())
            }
            AccessMethod::DefaultCredentials => (g.auth != AuthMethod::DefaultCredentials)
                .then(|| format!("authenticates by {:?}, not default credentials", g.auth)),
            AccessMethod::ValidAccounts => {
                matches!(g.auth, AuthMethod::Certificate | AuthMethod::Biometric).then(|| {
                    format!(
                        "authenticates by {:?}, which stolen passwords do not open",
                        g.auth
                    )
                })
            }
        };
        if let Some(why) = impossible {
            self.err(
                p(if c.access.is_some() {
                    "access"
                } else {
                    "entry"
                }),
                format!(
                    "access = \"{}\" cannot get into entry group `{}`: it {why}",
                    access_name(access),
                    g.name
                ),
            );
        }
        if t.reachable(entry, target) == Some(false) {
            self.err(
                p("entry"),
                format!(
                    "no path from entry group `{}` to target group `{}`: the topology links no chain of groups between them",
                    g.name, t.groups[target as usize].name
                ),
            );
        }
    }

    /// Checks a worm table; `None` when it names an unknown group or service (reported).
    fn worm(&mut self, i: usize, w: &WormSpec, t: &Tables<'_>, n: usize) -> Option<Worm> {
        let p = |f: &str| field_path!["campaign", i, "worm", f];
        let entry = self.lookup(t.group_ids, "group", &w.entry, p("entry"));
        if let Some(entry_count) = entry.map(|g| t.groups[g as usize].count)
            && (w.initial == 0 || w.initial > entry_count)
        {
            self.err(
                p("initial"),
                format!(
                    "expected 1 to {entry_count} initial infections (the size of group `{}`), found {}",
                    w.entry, w.initial
                ),
            );
        }
        let scan_rate = self.non_negative(w.scan_rate, p("scan_rate"));
        let scan_rate = self.per_tick_bound(scan_rate, t.tick, p("scan_rate"));
        let local_bias = match (w.strategy, w.local_bias) {
            (ScanStrategy::LocalPreference, bias) => {
                self.fraction(bias.unwrap_or(0.5), p("local_bias"))
            }
            (ScanStrategy::Random | ScanStrategy::Contact, Some(_)) => {
                self.err(
                    p("local_bias"),
                    "`local_bias` applies only to strategy = \"local_preference\"",
                );
                Chance::NEVER
            }
            (ScanStrategy::Random | ScanStrategy::Contact, None) => Chance::NEVER,
        };
        if w.strategy == ScanStrategy::Contact && t.topology.is_empty() {
            self.err(
                p("strategy"),
                "strategy = \"contact\" spreads along the topology's links, but the scenario has no [[topology]]",
            );
        }
        if w.strategy == ScanStrategy::Contact && w.address_space.is_some() {
            self.err(
                p("address_space"),
                "`address_space` applies to scanning strategies; \"contact\" reaches neighbours, not addresses",
            );
        }
        let address_space = self.address_space(w.address_space, t.node_count, p("address_space"));
        // `None`: a service named and unknown (reported); `Some(None)`: any service.
        let service = match &w.service {
            None => Some(None),
            Some(s) => {
                let id = self.lookup(t.service_ids, "service", s, p("service"));
                // A group with an unknown service (reported) may run it.
                let exploitable = |id| {
                    t.groups
                        .iter()
                        .any(|g| g.services.contains(&id) && g.exploit_chance > Chance::NEVER)
                };
                if let Some(id) = id
                    && self.diagnostics.len() == n
                    && self.unresolved_groups.is_empty()
                    && !exploitable(id)
                {
                    self.err(
                        p("service"),
                        format!(
                            "no group runs service `{s}` with a vulnerability: the worm could infect nothing"
                        ),
                    );
                }
                id.map(Some)
            }
        };
        if let Some(service) = service
            && w.strategy == ScanStrategy::Random
        {
            // Open nodes weighted by their exploit chance: Σ count × chance over the
            // groups the worm can exploit.
            let open: f64 = t
                .groups
                .iter()
                .filter(|g| service.is_none_or(|s| g.services.contains(&s)))
                .map(|g| f64::from(g.count) * g.exploit_chance.probability())
                .sum();
            self.coarse_tick(
                scan_rate * open / address_space as f64,
                t.tick,
                p("scan_rate"),
            );
        }
        Some(Worm {
            entry: entry?,
            initial: w.initial,
            scan_rate,
            scans_per_tick: PerTick::from_rate(scan_rate, t.tick.as_micros()),
            strategy: w.strategy,
            local_bias,
            address_space,
            service: service?,
            recovery: self.recovery(w.recovery.as_ref(), t.tick, p("recovery")),
            probe_bits: self.probe_bits(w.probe_bytes, t, p("probe_bytes")),
        })
    }

    /// Resolves a probe size: scans as traffic need a traffic core.
    fn probe_bits(&mut self, bytes: Option<u32>, t: &Tables<'_>, path: Vec<Seg>) -> Option<u64> {
        let bytes = bytes?;
        if bytes == 0 {
            self.err(path, "expected a probe of at least 1 byte");
            return None;
        }
        if !t.traffic {
            self.err(
                path,
                "scans as traffic need the traffic core, which runs only when the scenario declares [[flow]]s",
            );
            return None;
        }
        Some(u64::from(bytes) * 8)
    }

    /// Resolves a recovery section: the per-tick chance of an exponential duration.
    fn recovery(
        &mut self,
        r: Option<&RecoverySpec>,
        tick: SimDuration,
        path: Vec<Seg>,
    ) -> Option<Recovery> {
        let r = r?;
        let mean_s = r.mean.as_secs_f64();
        if mean_s <= 0.0 {
            let mut path = path;
            path.push(Seg::Key("mean".into()));
            self.err(path, "expected a mean duration above 0 s");
            return None;
        }
        Some(Recovery {
            per_tick: Chance::new(crate::math::at_least_once(1.0 / mean_s, tick.as_secs_f64())),
            immune: r.into == RecoveredState::Immune,
        })
    }

    fn address_space(&mut self, space: Option<u64>, node_count: u32, path: Vec<Seg>) -> u64 {
        let address_space = space.unwrap_or(u64::from(node_count));
        if address_space < u64::from(node_count) || address_space == 0 {
            self.err(
                path,
                format!(
                    "expected an address space of at least the {node_count} nodes, found {address_space}"
                ),
            );
        }
        address_space.max(1)
    }

    /// Checks a botnet table; `None` when it names an unknown group (reported).
    fn botnet(&mut self, i: usize, b: &BotnetSpec, t: &Tables<'_>) -> Option<Botnet> {
        let p = |f: &str| field_path!["campaign", i, "botnet", f];
        let entry = self.lookup(t.group_ids, "group", &b.entry, p("entry"));
        let ddos_target = self.lookup(t.group_ids, "group", &b.ddos_target, p("ddos_target"));
        if let Some(entry_count) = entry.map(|g| t.groups[g as usize].count)
            && (b.initial == 0 || b.initial > entry_count)
        {
            self.err(
                p("initial"),
                format!(
                    "expected 1 to {entry_count} first bots (the size of group `{}`), found {}",
                    b.entry, b.initial
                ),
            );
        }
        if !t
            .groups
            .iter()
            .any(|g| g.auth == AuthMethod::DefaultCredentials)
        {
            self.err(
                p("entry"),
                "no group uses auth = \"default_credentials\": the botnet could recruit nothing",
            );
        }
        if let (Some(entry), Some(ddos_target)) = (entry, ddos_target)
            && t.reachable(entry, ddos_target) == Some(false)
        {
            self.err(
                p("ddos_target"),
                format!(
                    "no path from entry group `{}` to DDoS target group `{}`: the topology links no chain of groups between them",
                    b.entry, b.ddos_target
                ),
            );
        }
        let scan_rate = self.non_negative(b.scan_rate, p("scan_rate"));
        let scan_rate = self.per_tick_bound(scan_rate, t.tick, p("scan_rate"));
        let kbps = b.ddos_rate.bits_per_second() / 1000;
        if kbps == 0 || kbps > u64::from(u32::MAX) {
            self.err(
                p("ddos_rate"),
                format!("expected a rate from 1 kbit/s to {} kbit/s", u32::MAX),
            );
        }
        let absorb_kbps = b.absorb.map(|a| a.bits_per_second() / 1000);
        if absorb_kbps == Some(0) {
            self.err(p("absorb"), "expected at least 1 kbit/s");
        }
        let dictionary = self.fraction(b.dictionary.unwrap_or(0.9), p("dictionary"));
        let address_space = self.address_space(b.address_space, t.node_count, p("address_space"));
        let open: u64 = t
            .groups
            .iter()
            .filter(|g| g.auth == AuthMethod::DefaultCredentials)
            .map(|g| u64::from(g.count))
            .sum();
        self.coarse_tick(
            scan_rate * dictionary.probability() * open as f64 / address_space as f64,
            t.tick,
            p("scan_rate"),
        );
        Some(Botnet {
            entry: entry?,
            initial: b.initial,
            scan_rate,
            scans_per_tick: PerTick::from_rate(scan_rate, t.tick.as_micros()),
            dictionary,
            address_space,
            ddos_target: ddos_target?,
            ddos_start_tick: (b.ddos_start.ticks_ceil(t.tick) + 1).min(u64::from(u32::MAX)) as u32,
            ddos_kbps: kbps.clamp(1, u64::from(u32::MAX)) as u32,
            absorb_kbps: absorb_kbps.map(|k| k.max(1)),
            recovery: self.recovery(b.recovery.as_ref(), t.tick, p("recovery")),
            probe_bits: self.probe_bits(b.probe_bytes, t, p("probe_bytes")),
        })
    }
}

fn kind_method_name(m: TakeoverMethod) -> &'static str {
    match m {
        TakeoverMethod::CredentialStuffing => "credential_stuffing",
        TakeoverMethod::Deepfake => "deepfake",
    }
}

fn access_name(a: AccessMethod) -> &'static str {
    match a {
        AccessMethod::Exploit => "exploit",
        AccessMethod::Phishing => "phishing",
        AccessMethod::DefaultCredentials => "default_credentials",
        AccessMethod::ValidAccounts => "valid_accounts",
    }
}
