//! Scenarios shipped inside the binary, so `paraverse run` works with no files at hand.
//!
//! The files live in the repository's `scenarios/` folder; this module embeds them and
//! resolves a command-line argument that is either a path or a bundled name.

use std::path::Path;

use crate::scenario::{Scenario, ScenarioError, closest, read_input};

/// A scenario shipped with paraverse.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    /// Name (the file name without `.toml`).
    pub name: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

/// The scenario `paraverse run` uses when given none.
pub const DEFAULT: &str = "metaverse-campus";

/// Every bundled scenario.
pub const ALL: &[Bundled] = &[
    Bundled {
        name: "metaverse-campus",
        text: include_str!("../../scenarios/metaverse-campus.toml"),
    },
    Bundled {
        name: "smart-city-1m",
        text: include_str!("../../scenarios/smart-city-1m.toml"),
    },
    Bundled {
        name: "worm-logistic",
        text: include_str!("../../scenarios/worm-logistic.toml"),
    },
    Bundled {
        name: "campaign-intrusion",
        text: include_str!("../../scenarios/campaign-intrusion.toml"),
    },
    Bundled {
        name: "campaign-botnet-ddos",
        text: include_str!("../../scenarios/campaign-botnet-ddos.toml"),
    },
    Bundled {
        name: "campaign-cryptojacking",
        text: include_str!("../../scenarios/campaign-cryptojacking.toml"),
    },
    Bundled {
        name: "campaign-phishing",
        text: include_str!("../../scenarios/campaign-phishing.toml"),
    },
    Bundled {
        name: "campaign-takeover",
        text: include_str!("../../scenarios/campaign-takeover.toml"),
    },
    Bundled {
        name: "campaign-exfiltration",
        text: include_str!("../../scenarios/campaign-exfiltration.toml"),
    },
    Bundled {
        name: "campaign-asset-theft",
        text: include_str!("../../scenarios/campaign-asset-theft.toml"),
    },
    Bundled {
        name: "campaign-ransomware",
        text: include_str!("../../scenarios/campaign-ransomware.toml"),
    },
    Bundled {
        name: "campaign-supply-chain",
        text: include_str!("../../scenarios/campaign-supply-chain.toml"),
    },
    Bundled {
        name: "campaign-false-data",
        text: include_str!("../../scenarios/campaign-false-data.toml"),
    },
    Bundled {
        name: "campaign-poisoning",
        text: include_str!("../../scenarios/campaign-poisoning.toml"),
    },
    Bundled {
        name: "metaverse-under-siege",
        text: include_str!("../../scenarios/metaverse-under-siege.toml"),
    },
    Bundled {
        name: "enterprise-office",
        text: include_str!("../../scenarios/enterprise-office.toml"),
    },
    Bundled {
        name: "cage4-like",
        text: include_str!("../../scenarios/cage4-like.toml"),
    },
];

/// Every bundled defense strategy (the repository's `strategies/` folder), usable by name:
/// `--strategy zero-trust`. They are written for the venue of the `campaign-*` scenarios
/// and `metaverse-under-siege` (they name its zones and groups).
pub const STRATEGIES: &[Bundled] = &[
    Bundled {
        name: "adaptive",
        text: include_str!("../../strategies/adaptive.toml"),
    },
    Bundled {
        name: "backups",
        text: include_str!("../../strategies/backups.toml"),
    },
    Bundled {
        name: "ddos-shield",
        text: include_str!("../../strategies/ddos-shield.toml"),
    },
    Bundled {
        name: "deception",
        text: include_str!("../../strategies/deception.toml"),
    },
    Bundled {
        name: "full-stack",
        text: include_str!("../../strategies/full-stack.toml"),
    },
    Bundled {
        name: "hardening",
        text: include_str!("../../strategies/hardening.toml"),
    },
    Bundled {
        name: "liveness",
        text: include_str!("../../strategies/liveness.toml"),
    },
    Bundled {
        name: "code-signing",
        text: include_str!("../../strategies/code-signing.toml"),
    },
    Bundled {
        name: "step-up",
        text: include_str!("../../strategies/step-up.toml"),
    },
    Bundled {
        name: "poison-filter",
        text: include_str!("../../strategies/poison-filter.toml"),
    },
    Bundled {
        name: "privacy",
        text: include_str!("../../strategies/privacy.toml"),
    },
    Bundled {
        name: "segmented",
        text: include_str!("../../strategies/segmented.toml"),
    },
    Bundled {
        name: "ueba",
        text: include_str!("../../strategies/ueba.toml"),
    },
    Bundled {
        name: "zero-trust",
        text: include_str!("../../strategies/zero-trust.toml"),
    },
];

/// The scenario bundled strategies are checked against when no other is named.
pub const STRATEGY_VENUE: &str = "metaverse-under-siege";

/// `scenario` with the strategy given as a path or a bundled name ([`strategy_text`])
/// in place of its defenses ([`Scenario::with_strategy`]).
pub fn with_strategy(scenario: Scenario, arg: &Path) -> Result<Scenario, ScenarioError> {
    let (text, origin) = strategy_text(arg)?;
    scenario.with_strategy(&text, &origin)
}

/// The text of a strategy given as a path (if a file exists there) or a bundled name,
/// with where it came from for messages.
pub fn strategy_text(arg: &Path) -> Result<(String, String), ScenarioError> {
    if arg.exists() {
        return Ok((read_input(arg)?, arg.display().to_string()));
    }
    let name = arg.to_string_lossy();
    match named(STRATEGIES, &name, "strategies/") {
        Some(b) => Ok((b.text.to_owned(), format!("<bundled strategy:{}>", b.name))),
        None => Err(ScenarioError::StrategyNotFound {
            closest: closest(&name, STRATEGIES.iter().map(|b| b.name)).map(str::to_owned),
            name: name.into_owned(),
            known: names(STRATEGIES),
        }),
    }
}

/// The entry of `list` that `arg` names: its name, optionally as `FOLDER/NAME.toml` (the
/// repository path it was embedded from).
fn named<'a>(list: &'a [Bundled], arg: &str, folder: &str) -> Option<&'a Bundled> {
    let stem = arg.strip_suffix(".toml").unwrap_or(arg);
    let stem = stem.strip_prefix(folder).unwrap_or(stem);
    list.iter().find(|b| b.name == stem)
}

/// The names of `list`, for messages.
fn names(list: &[Bundled]) -> String {
    list.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

/// The bundled scenario of that name.
pub fn get(name: &str) -> Option<&'static Bundled> {
    ALL.iter().find(|b| b.name == name)
}

/// Loads `arg` as a file if one exists at that path, else as a bundled name; `None` loads
/// the default.
pub fn load(arg: Option<&str>) -> Result<Scenario, ScenarioError> {
    let arg = arg.unwrap_or(DEFAULT);
    let path = Path::new(arg);
    if path.exists() {
        return Scenario::load(path);
    }
    match named(ALL, arg, "scenarios/") {
        Some(b) => Scenario::from_toml_str(b.text, &format!("<bundled:{}>", b.name)),
        None => Err(ScenarioError::NotFound {
            closest: closest(arg, ALL.iter().map(|b| b.name)).map(str::to_owned),
            name: arg.to_owned(),
            known: names(ALL),
        }),
    }
}
