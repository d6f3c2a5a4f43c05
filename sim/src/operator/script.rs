//! An exercise's actions as players type them and files keep them.
//!
//! A *command* is one line: a verb and a target, and for red the campaign it steers.
//!
//! ```text
//! quarantine lobby-headsets     blue: the group's alerted nodes not yet isolated
//! quarantine 17                 blue: node 17
//! release GROUP|NODE            blue: rebuild and reconnect isolated nodes
//! patch GROUP|NODE              blue: patch unpatched nodes
//! harden GROUP|NODE             blue: replace default credentials
//! revoke GROUP|NODE             blue: revoke the users' credentials
//! exploit GROUP|NODE [CAMPAIGN] red: one node of the group (or that node) for the campaign
//! isolate ZONE [ZONE]           blue: cut the two zones apart (one: from every other zone)
//! reconnect ZONE [ZONE]         blue: restore what isolate cut
//! strategy NAME|FILE            blue: deploy another strategy from the next tick on
//! launch CAMPAIGN               red: start a campaign of the scenario now, ahead of schedule
//! ```
//!
//! A group command means what the agent environments' group action means
//! ([`group_actions`]): blue acts on what its sensors show (a group quarantine isolates the
//! nodes that alerted), red exploits one node of the group it neither holds nor sees
//! isolated. A command is resolved into node actions when it is applied, against the world
//! as it is then, so the same commands at the same ticks give the same run.
//!
//! `isolate` and `reconnect` act on the access policy ([`crate::policy::AccessPolicy::cut`]):
//! no flow, scan or lateral move crosses a cut, whatever the strategy allows; the benign
//! flows it refuses count as friction (`blocked_flow_ticks`), as segmentation's do.
//!
//! `strategy` is a policy-level order: the defenses in force are replaced by a bundled
//! strategy's (by name) or a strategy file's, as
//! [`Universe::switch_strategy`] does, and the run goes on under them (see
//! [`crate::operator::deploy`]). Raising zero trust, for instance, is deploying a strategy
//! with stricter `[defense.zero_trust]`.
//!
//! A *script* (`paraverse run --actions`, `watch --actions`, written by `watch --record`)
//! is a text file of commands, one per line after the tick at whose end it was given:
//! `120 quarantine lobby-headsets`. `#` starts a comment. Its actions are applied at the
//! start of the next tick, as every operator action is ([`crate::operator`]).

use crate::operator::teams::{Team, group_actions, named, node_action};
use crate::operator::{Launches, OperatorAction};
use crate::scenario::Scenario;
use crate::universe::Universe;
use crate::world::CampaignId;

/// The verbs, in the order `help` lists them.
pub const VERBS: [&str; 10] = [
    "quarantine",
    "release",
    "patch",
    "harden",
    "revoke",
    "exploit",
    "isolate",
    "reconnect",
    "strategy",
    "launch",
];

/// What a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A group, by its index in the scenario.
    Group(usize),
    /// One node.
    Node(u32),
}

/// What a command orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// A node action on a group or a node.
    Nodes {
        /// The action's index among the team's
        /// ([`crate::operator::teams::BLUE_NODE_ACTIONS`],
        /// [`crate::operator::teams::RED_ACTIONS`]).
        action: usize,
        /// On what.
        target: Target,
    },
    /// Cut zones apart, or reconnect them (blue).
    Zones {
        /// The zone pairs.
        pairs: Vec<(u16, u16)>,
        /// Cut, or reconnect.
        cut: bool,
    },
    /// Start a campaign ahead of its schedule (red).
    Launch(CampaignId),
    /// Deploy another strategy (blue).
    Strategy {
        /// The strategy file's text.
        text: String,
        /// Where it came from (a path or `<bundled strategy:NAME>`).
        origin: String,
    },
}

/// One command, checked against a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Who acts (red with the campaign it steers).
    pub team: Team,
    /// What it orders.
    pub order: Order,
    /// The command in its canonical words (group and campaign by name), as a script keeps
    /// it.
    pub text: String,
}

impl Command {
    /// Parses `line` against `scenario`'s groups, nodes and campaigns.
    pub fn parse(line: &str, scenario: &Scenario) -> Result<Command, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&verb, rest)) = words.split_first() else {
            return Err(format!("a command is a verb and a target: {}", usage()));
        };
        if !VERBS.contains(&verb) {
            return Err(format!("`{verb}`: expected {}", VERBS.join(", ")));
        }
        if verb == "isolate" || verb == "reconnect" {
            if rest.is_empty() || rest.len() > 2 {
                return Err(format!("`{line}`: expected `{verb} ZONE [ZONE]`"));
            }
            let ids = rest
                .iter()
                .map(|w| zone_of(w, scenario))
                .collect::<Result<Vec<u16>, String>>()?;
            let pairs: Vec<(u16, u16)> = match ids[..] {
                [a, b] if a == b => {
                    return Err(format!("`{line}`: a zone is never cut from itself"));
                }
                [a, b] => vec![(a.min(b), a.max(b))],
                _ => (0..scenario.zones.len() as u16)
                    .filter(|&z| z != ids[0])
                    .map(|z| (z.min(ids[0]), z.max(ids[0])))
                    .collect(),
            };
            return Ok(Command {
                team: Team::Blue,
                order: Order::Zones {
                    pairs,
                    cut: verb == "isolate",
                },
                text: rest.iter().fold(verb.to_owned(), |t, w| format!("{t} {w}")),
            });
        }
        if verb == "launch" {
            let [name] = rest else {
                return Err(format!("`{line}`: expected `launch CAMPAIGN`"));
            };
            let campaign = campaign_of(Some(name), scenario)?;
            return Ok(Command {
                team: Team::Red(campaign),
                order: Order::Launch(campaign),
                text: format!("launch {name}"),
            });
        }
        if verb == "strategy" {
            let [name] = rest else {
                return Err(format!("`{line}`: expected `strategy NAME|FILE`"));
            };
            let (text, origin) = crate::bundled::strategy_text(std::path::Path::new(name))
                .map_err(|e| e.to_string())?;
            scenario
                .clone()
                .with_strategy(&text, &origin)
                .map_err(|e| e.to_string())?;
            return Ok(Command {
                team: Team::Blue,
                order: Order::Strategy { text, origin },
                text: format!("strategy {name}"),
            });
        }
        let red = verb == "exploit";
        let most = if red { 2 } else { 1 };
        if rest.is_empty() || rest.len() > most {
            return Err(format!(
                "`{line}`: expected `{verb} GROUP|NODE{}`",
                if red { " [CAMPAIGN]" } else { "" }
            ));
        }
        let campaign = if red {
            campaign_of(rest.get(1).copied(), scenario)?
        } else {
            CampaignId::default()
        };
        let (team, action) = named(verb, campaign)?;
        let target = target_of(rest[0], scenario)?;
        let mut text = format!("{verb} {}", rest[0]);
        if red {
            text = format!("{text} {}", scenario.campaigns[usize::from(campaign)].name);
        }
        Ok(Command {
            team,
            order: Order::Nodes { action, target },
            text,
        })
    }

    /// The node actions this command stands for in `universe` now (none for a
    /// policy-level order).
    pub fn actions(&self, universe: &mut Universe) -> Result<Vec<OperatorAction>, String> {
        match self.order {
            Order::Nodes {
                action,
                target: Target::Group(g),
            } => group_actions(universe, self.team, g, action),
            Order::Nodes {
                action,
                target: Target::Node(n),
            } => Ok(node_action(self.team, n, action)?.into_iter().collect()),
            Order::Zones { ref pairs, cut } => Ok(pairs
                .iter()
                .map(|&zones| OperatorAction::Isolate { zones, cut })
                .collect()),
            Order::Launch(c) => Ok(vec![OperatorAction::Launch(c)]),
            Order::Strategy { .. } => Ok(Vec::new()),
        }
    }

    /// Resolves the command in `universe` and queues its actions for the next tick (a
    /// strategy is deployed at once, to act from the next tick on); returns how many
    /// node actions it queued.
    pub fn queue(&self, universe: &mut Universe) -> Result<usize, String> {
        if let Order::Strategy { text, origin } = &self.order {
            let scenario = universe
                .scenario()
                .clone()
                .with_strategy(text, origin)
                .map_err(|e| e.to_string())?;
            crate::operator::deploy(universe, scenario)?;
            return Ok(0);
        }
        if let Order::Launch(c) = self.order
            && let Some(start) = Launches::under_way_next_tick(universe, c)
        {
            return Err(format!(
                "campaign `{}` is under way from tick {start}",
                universe.scenario().campaigns[usize::from(c)].name
            ));
        }
        let actions = self.actions(universe)?;
        if !actions.is_empty() {
            universe.act(&actions)?;
        }
        Ok(actions.len())
    }
}

/// The commands in one line, for prompts and errors.
pub fn usage() -> String {
    "quarantine|release|patch|harden|revoke GROUP|NODE, isolate|reconnect ZONE [ZONE], \
     strategy NAME|FILE; exploit GROUP|NODE [CAMPAIGN] or launch CAMPAIGN"
        .into()
}

fn target_of(word: &str, scenario: &Scenario) -> Result<Target, String> {
    if let Some(g) = scenario.groups.iter().position(|g| g.name == word) {
        return Ok(Target::Group(g));
    }
    let nodes = scenario.node_count;
    match word.parse::<u32>() {
        Ok(n) if n < nodes => Ok(Target::Node(n)),
        Ok(n) => Err(format!(
            "node {n}: the network has {nodes} (0 to {})",
            nodes.saturating_sub(1)
        )),
        Err(_) => Err(format!(
            "`{word}`: neither a group ({}) nor a node number",
            names(scenario.groups.iter().map(|g| g.name.as_str()))
        )),
    }
}

/// The index of the zone named `word`; the error lists the scenario's zones.
pub fn zone_of(word: &str, scenario: &Scenario) -> Result<u16, String> {
    scenario
        .zones
        .iter()
        .position(|z| z == word)
        .map(|z| z as u16)
        .ok_or_else(|| {
            format!(
                "zone `{word}`: expected {}",
                names(scenario.zones.iter().map(String::as_str))
            )
        })
}

fn campaign_of(word: Option<&str>, scenario: &Scenario) -> Result<CampaignId, String> {
    if scenario.campaigns.is_empty() {
        return Err("the scenario has no campaign for red to steer".into());
    }
    let index = match word {
        None => 0,
        Some(w) => scenario
            .campaigns
            .iter()
            .position(|c| c.name == w)
            .ok_or_else(|| {
                format!(
                    "campaign `{w}`: expected {}",
                    names(scenario.campaigns.iter().map(|c| c.name.as_str()))
                )
            })?,
    };
    CampaignId::try_from(index).map_err(|_| format!("campaign {index}: too many campaigns"))
}

/// Up to eight names, then how many more.
fn names<'a>(all: impl ExactSizeIterator<Item = &'a str>) -> String {
    let n = all.len();
    let mut shown: Vec<&str> = all.take(8).collect();
    let more = n.saturating_sub(shown.len());
    let mut text = std::mem::take(&mut shown).join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// A bad line in a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {message}")]
pub struct ScriptError {
    /// The file.
    pub origin: String,
    /// The line, from 1.
    pub line: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

/// A script's commands, by tick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// (tick, command), in the file's order, which is by tick.
    pub commands: Vec<(u32, Command)>,
}

impl Script {
    /// Parses a script (see the module docs) for `scenario`; `origin` names it in errors.
    /// Ticks never go back (a script is a log), and none is past the run's last tick.
    pub fn parse(text: &str, origin: &str, scenario: &Scenario) -> Result<Script, ScriptError> {
        let mut commands: Vec<(u32, Command)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| ScriptError {
                origin: origin.to_owned(),
                line: i + 1,
                message,
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (tick, command) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let tick: u32 = tick.parse().map_err(|_| {
                err(format!(
                    "`{tick}`: expected a tick (a whole number) and a command: {}",
                    usage()
                ))
            })?;
            if tick >= scenario.ticks {
                return Err(err(format!(
                    "tick {tick}: the run ends at tick {}, and an action given at a tick is \
                     applied at the next",
                    scenario.ticks
                )));
            }
            if let Some(&(last, _)) = commands.last()
                && tick < last
            {
                return Err(err(format!(
                    "tick {tick} comes after tick {last}: expected the commands in tick order"
                )));
            }
            let command = Command::parse(command, scenario).map_err(err)?;
            commands.push((tick, command));
        }
        Ok(Script { commands })
    }

    /// The commands given at the end of `tick`.
    pub fn at(&self, tick: u32) -> impl Iterator<Item = &Command> {
        let first = self.commands.partition_point(|(t, _)| *t < tick);
        self.commands[first..]
            .iter()
            .take_while(move |(t, _)| *t == tick)
            .map(|(_, c)| c)
    }

    /// Queues the commands given at the end of the universe's current tick.
    pub fn queue_due(&self, universe: &mut Universe) -> Result<usize, String> {
        let tick = universe.clock().tick;
        let mut queued = 0;
        for c in self.at(tick) {
            queued += c
                .queue(universe)
                .map_err(|e| format!("tick {tick}: `{}`: {e}", c.text))?;
        }
        Ok(queued)
    }

    /// One script line: what `watch --record` appends.
    pub fn line(tick: u32, command: &Command) -> String {
        format!("{tick} {}\n", command.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundled;
    use crate::operator::OperatorPlugin;
    use crate::universe::SimPlugin;

    fn campus() -> Scenario {
        bundled::load(None).unwrap().with_ticks(40)
    }

    #[test]
    fn commands_name_groups_nodes_and_campaigns() {
        let s = campus();
        let g = &s.groups[1];
        let c = Command::parse(&format!("quarantine {}", g.name), &s).unwrap();
        let nodes = |action, target| Order::Nodes { action, target };
        assert_eq!((c.team, c.order), (Team::Blue, nodes(1, Target::Group(1))));
        let c = Command::parse("patch 7", &s).unwrap();
        assert_eq!(c.order, nodes(3, Target::Node(7)));
        let c = Command::parse("strategy zero-trust", &s).unwrap();
        assert!(
            matches!(&c.order, Order::Strategy { origin, .. } if origin.contains("zero-trust")),
            "{c:?}"
        );
        assert_eq!(
            (c.team, c.text.as_str()),
            (Team::Blue, "strategy zero-trust")
        );
        let zone = |name: &str| s.zones.iter().position(|z| z == name).unwrap() as u16;
        let (edge, cloud) = (zone("edge"), zone("cloud"));
        let c = Command::parse("isolate cloud edge", &s).unwrap();
        let pair = (edge.min(cloud), edge.max(cloud));
        assert_eq!(
            c.order,
            Order::Zones {
                pairs: vec![pair],
                cut: true
            }
        );
        let c = Command::parse("reconnect edge", &s).unwrap();
        let Order::Zones { pairs, cut: false } = c.order else {
            panic!("{c:?}")
        };
        assert_eq!(pairs.len(), s.zones.len() - 1);
        assert!(
            pairs
                .iter()
                .all(|&(a, b)| a < b && (a == edge || b == edge))
        );
        let c = Command::parse("exploit 7", &s).unwrap();
        assert_eq!(c.team, Team::Red(CampaignId::default()));
        assert_eq!(c.text, format!("exploit 7 {}", s.campaigns[0].name));
        for (line, expect) in [
            ("", "a command is a verb"),
            ("contain 3", "expected quarantine, release"),
            ("patch", "expected `patch GROUP|NODE`"),
            ("patch 1 2", "expected `patch GROUP|NODE`"),
            ("patch nowhere", "neither a group"),
            ("patch 99999999", "the network has"),
            ("exploit 3 nobody", "campaign `nobody`: expected"),
            ("strategy", "expected `strategy NAME|FILE`"),
            ("isolate", "expected `isolate ZONE [ZONE]`"),
            ("isolate edge nowhere", "zone `nowhere`: expected campus-xr"),
            ("reconnect edge edge", "never cut from itself"),
            ("launch", "expected `launch CAMPAIGN`"),
            ("launch nobody", "campaign `nobody`: expected"),
            ("strategy nonesuch", "nonesuch"),
        ] {
            let e = Command::parse(line, &s).unwrap_err();
            assert!(e.contains(expect), "{line}: {e}");
        }
    }

    #[test]
    fn scripts_name_the_file_and_line_of_a_bad_command() {
        let s = campus();
        let text = "# exercise\n3 patch 1\n\n3 quarantine 2 # two at once\n9 harden 4\n";
        let script = Script::parse(text, "a.txt", &s).unwrap();
        assert_eq!(script.at(3).count(), 2);
        assert_eq!(script.at(9).count(), 1);
        assert_eq!(script.at(4).count(), 0);
        for (text, line, expect) in [
            ("3 patch 1\nsoon patch 1\n", 2, "expected a tick"),
            ("9 patch 1\n3 patch 1\n", 2, "tick order"),
            ("40 patch 1\n", 1, "the run ends at tick 40"),
            ("1 patch\n", 1, "expected `patch GROUP|NODE`"),
        ] {
            let e = Script::parse(text, "a.txt", &s).unwrap_err();
            assert_eq!((e.origin.as_str(), e.line), ("a.txt", line), "{e}");
            assert!(e.to_string().contains(expect), "{e}");
        }
    }

    /// A script's commands apply at the next tick and count as the operator's; the same
    /// script gives the same run.
    #[test]
    fn a_script_replays_to_the_same_run() {
        let s = campus();
        let script = Script::parse("2 patch 3\n2 quarantine 5\n6 release 5\n", "t", &s).unwrap();
        let run = || {
            let plugins: [&'static dyn SimPlugin; 1] = [&OperatorPlugin];
            let mut u = Universe::build(s.clone(), &plugins).unwrap();
            let mut queued = 0;
            loop {
                queued += script.queue_due(&mut u).unwrap();
                if !u.step() {
                    break;
                }
            }
            assert_eq!(queued, 3);
            u.finish()
        };
        let (a, b) = (run(), run());
        let kinds: Vec<(u32, &str)> = a
            .events
            .iter()
            .filter(|e| e.kind.starts_with("operator_"))
            .map(|e| (e.tick, e.kind))
            .collect();
        assert!(kinds.contains(&(3, "operator_quarantine")), "{kinds:?}");
        assert!(kinds.contains(&(7, "operator_release")), "{kinds:?}");
        assert_eq!(a.events, b.events);
        assert_eq!(
            serde_json::to_string(&a.summary).unwrap(),
            serde_json::to_string(&b.summary).unwrap()
        );
    }
}
