//! Defense sections: one module per `[defense.*]` section, and what they share.
//!
//! Each module holds its section's resolved type, its tunable parameters (its rows of
//! the search space) and its resolution (a [`Section`] impl that checks the table and
//! returns the resolved type); the `defenses!` list below registers it, one line each,
//! and from that list come the [`Defense`] struct, [`Defense::active`], the order in
//! which sections are resolved and [`SPACE`]. Every tunable parameter of every defense
//! is declared once, with its range and step: validation rejects values outside it
//! (naming the field and the range), and the lab explores inside it (`paraverse space`
//! prints it as JSON). A defense strategy is the `[defense.*]` sections of a scenario,
//! or a strategy file that replaces them ([`Scenario::with_strategy`]).

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

/// A `[defense.*]` section: its table as written, resolved and checked.
trait Section: Sized {
    /// The section's table in the scenario schema (`file.rs`).
    type Spec;
    /// Resolves the table; each problem goes to the validator, which points at the field.
    fn resolve(v: &mut Validator<'_>, spec: &Self::Spec, cx: &Context<'_>) -> Self;
}

/// What a section's resolution may look at besides its own table.
struct Context<'a> {
    /// The scenario's tick (durations resolve to whole ticks).
    tick: SimDuration,
    /// The ids zone, group and service names resolve to.
    names: &'a Names<'a>,
    /// The scenario's groups.
    groups: &'a [Group],
    /// The scenario's benign flows.
    flows: &'a [Flow],
    /// The whole `[defense]` table, for checks across sections.
    spec: &'a DefenseSpec,
}

/// Registers the defense sections, in the order they are resolved and reported: each
/// line is `module: ResolvedType`, where the module, the field of [`Defense`] and the
/// field of [`DefenseSpec`] share the section's name.
macro_rules! defenses {
    ($($(#[$doc:meta])* $section:ident: $resolved:ident,)*) => {
        $(mod $section;)*
        $(pub use $section::$resolved;)*

        /// The resolved defense strategy.
        #[derive(Debug, Clone, Default)]
        pub struct Defense {
            /// The strategy's name, when it came from a strategy file.
            pub strategy: Option<String>,
            $($(#[$doc])* pub $section: Option<$resolved>,)*
        }

        impl Defense {
            /// The `[defense.*]` sections, in registration order.
            pub const SECTIONS: &[&str] = &[$(stringify!($section),)*];

            /// Names of the defenses switched on, for reports.
            pub fn active(&self) -> Vec<&'static str> {
                [$((stringify!($section), self.$section.is_some()),)*]
                    .into_iter()
                    .filter_map(|(n, on)| on.then_some(n))
                    .collect()
            }
        }

        /// Each section's parameters, in registration order.
        const PARTS: &[&[Param]] = &[$($section::SPACE,)*];

        impl Validator<'_> {
            /// Resolves every section present.
            fn sections(
                &mut self,
                d: &DefenseSpec,
                cx: &Context<'_>,
                strategy: Option<String>,
            ) -> Defense {
                Defense {
                    strategy,
                    $($section: d
                        .$section
                        .as_ref()
                        .map(|s| <$resolved as Section>::resolve(self, s, cx)),)*
                }
            }
        }
    };
}

defenses! {
    /// Patching.
    patching: Patching,
    /// Detection.
    detection: Detection,
    /// Quarantine.
    quarantine: Quarantine,
    /// Zero trust.
    zero_trust: ZeroTrust,
    /// Micro-segmentation.
    segmentation: Segmentation,
    /// Continuous biometric authentication.
    biometric: Biometric,
    /// Backups.
    backups: Backups,
    /// DDoS protection.
    ddos: DdosProtection,
    /// Deception.
    deception: Deception,
    /// Privacy-preserving computation.
    privacy: Privacy,
    /// Poisoned-data filter.
    poison_filter: PoisonFilter,
    /// Code signing of updates.
    code_signing: CodeSigning,
    /// Step-up authentication.
    step_up: StepUp,
    /// Hardening.
    hardening: Hardening,
    /// Adaptive response.
    adaptive: Adaptive,
}

pub use segmentation::Admitted;

/// The search space of every defense parameter: each section's rows, in registration
/// order.
pub const SPACE: &[Param] = &concat::<{ rows(PARTS) }>(PARTS);

/// How many parameters the sections declare in all.
const fn rows(parts: &[&[Param]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

/// The sections' rows in one array (at compile time).
const fn concat<const N: usize>(parts: &[&[Param]]) -> [Param; N] {
    let mut out = [frac("", 0.0, ""); N];
    let (mut k, mut i) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

/// The declared parameter of that name.
pub fn param(name: &str) -> Option<&'static Param> {
    SPACE.iter().find(|p| p.name == name)
}

/// The ids a strategy's names resolve to.
pub(super) struct Names<'a> {
    /// Zones.
    pub zones: &'a HashMap<String, u16>,
    /// Each zone's kind, if declared, by zone id (what `kind:` selects).
    pub zone_kinds: &'a [Option<ZoneKind>],
    /// Groups.
    pub groups: &'a HashMap<String, u16>,
    /// Services.
    pub services: &'a HashMap<String, u16>,
}

/// The kinds a strategy's `kind:` selectors choose among, for zones or for groups.
struct Kinds<'a, K> {
    /// `zone` or `group`, for messages.
    what: &'static str,
    /// Whose kinds they are, for messages: `zone` or `node`.
    label: &'static str,
    /// Every kind.
    all: &'a [K],
    /// A kind's name in files.
    name: fn(K) -> &'static str,
    /// Each zone's or group's kind, by id (`None`: a zone that declares none).
    of: Vec<Option<K>>,
}

/// In a section's covered zones, where an empty list means every zone: no zone at all
/// (the list named only kinds this scenario lacks). No zone has this id.
pub const NO_ZONE: ZoneId = ZoneId::MAX;

/// The prefix that names zones or groups by kind in a strategy (`kind:iot`, `kind:gpu_node`).
pub const BY_KIND: &str = "kind:";

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

    /// A periodic round's cadence (whole ticks, at least 1), its coverage per round and
    /// the zones it covers: patching and hardening rounds resolve alike.
    fn round(
        &mut self,
        section: &str,
        interval: SimDuration,
        coverage: f64,
        zones: &[String],
        cx: &Context<'_>,
    ) -> (u32, Chance, Vec<ZoneId>) {
        let interval = self
            .ticks_in_space(&format!("{section}.interval"), interval, cx.tick)
            .max(1);
        let coverage = Chance::new(self.in_space(&format!("{section}.coverage"), coverage));
        (interval, coverage, self.zones(zones, cx, section))
    }

    /// A section's covered zones, where an empty list covers every zone: a list whose
    /// every entry selected nothing (`kind:iot` where no zone is of that kind) is
    /// [`NO_ZONE`] alone, covering none, not every zone.
    fn zones(&mut self, names: &[String], cx: &Context<'_>, section: &str) -> Vec<ZoneId> {
        let zones: Vec<ZoneId> = self
            .zone_list(names, cx, |j| field_path!["defense", section, "zones", j])
            .into_iter()
            .map(|(zone, _)| zone)
            .collect();
        if zones.is_empty() && !names.is_empty() {
            return vec![NO_ZONE];
        }
        zones
    }

    /// The zones a strategy's zone list selects, each with the index of the entry that
    /// chose it: a zone by name, or `kind:KIND` for every zone declaring that kind (a
    /// strategy written against roles applies to any scenario).
    fn zone_list(
        &mut self,
        names: &[String],
        cx: &Context<'_>,
        at: impl Fn(usize) -> Vec<Seg>,
    ) -> Vec<(ZoneId, usize)> {
        let kinds = Kinds {
            what: "zone",
            label: "zone",
            all: &ZoneKind::ALL,
            name: ZoneKind::name,
            of: cx.names.zone_kinds.to_vec(),
        };
        self.select(names, cx.names.zones, &kinds, at)
    }

    /// The groups a strategy's group list selects, each with the index of the entry that
    /// chose it: a group by name, or `kind:KIND` for every group of that node kind.
    fn group_list(
        &mut self,
        names: &[String],
        cx: &Context<'_>,
        at: impl Fn(usize) -> Vec<Seg>,
    ) -> Vec<(GroupId, usize)> {
        let kinds = Kinds {
            what: "group",
            label: "node",
            all: &NodeKind::ALL,
            name: NodeKind::name,
            of: cx.groups.iter().map(|g| Some(g.kind)).collect(),
        };
        self.select(names, cx.names.groups, &kinds, at)
    }

    /// Resolves a list of names and `kind:` selectors to ids. A kind nothing has selects
    /// nothing and says so in a warning (a strategy for any scenario meets scenarios
    /// without some roles); an unknown name or kind is an error listing the known ones.
    fn select<K: Copy + PartialEq>(
        &mut self,
        names: &[String],
        ids: &HashMap<String, u16>,
        kinds: &Kinds<'_, K>,
        at: impl Fn(usize) -> Vec<Seg>,
    ) -> Vec<(u16, usize)> {
        let what = kinds.what;
        let mut selected = Vec::new();
        for (j, entry) in names.iter().enumerate() {
            let Some(kind) = entry.strip_prefix(BY_KIND) else {
                if let Some(id) = self.lookup(ids, what, entry, at(j)) {
                    selected.push((id, j));
                }
                continue;
            };
            let Some(&kind) = kinds.all.iter().find(|&&k| (kinds.name)(k) == kind) else {
                let known: Vec<&str> = kinds.all.iter().map(|&k| (kinds.name)(k)).collect();
                self.err(
                    at(j),
                    format!(
                        "unknown {} kind `{kind}`{}; expected one of: {}",
                        kinds.label,
                        did_you_mean(closest(kind, known.iter().copied())),
                        known.join(", ")
                    ),
                );
                continue;
            };
            let before = selected.len();
            for (id, k) in kinds.of.iter().enumerate() {
                if *k == Some(kind) {
                    selected.push((id as u16, j));
                }
            }
            if selected.len() == before {
                self.warn(
                    at(j),
                    format!(
                        "`{entry}` selects no {what} here: no [[{what}]] is of kind `{}`",
                        (kinds.name)(kind)
                    ),
                );
            }
        }
        selected
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
        let cx = Context {
            tick,
            names,
            groups,
            flows,
            spec: d,
        };
        self.sections(d, &cx, strategy)
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
        let mut v = Validator::new(&locator);
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
                zone_kinds: &self.file.zones.iter().map(|z| z.kind).collect::<Vec<_>>(),
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
        v.warnings.sort_by_key(|d| (d.line, d.column));
        self.strategy_warnings = v.warnings;
        self.strategy_source = Some(text.to_owned());
        self.strategy_origin = Some(origin.to_owned());
        Ok(self)
    }
}
