//! The allowed-flow matrix: which connections a policy admits, probed node to node.
//!
//! An export is only right if the real tool, enforcing it, would admit exactly the
//! connections the simulator admitted. Both sides answer the same probes: a connection
//! from a node of one group to a listening port of a node of another (the first and
//! last node of each group, every port each group serves, or one arbitrary port where a
//! group declares no service), once with nobody isolated and once with the last node of
//! every group in quarantine. The simulator answers with its own [`AccessPolicy`] and the
//! traffic core's rule that quarantined nodes leave the network; the exporters answer by
//! reading their text back ([`super::nftables::read_back`], [`super::k8s::read_back`]).

use paraverse_sim::policy::AccessPolicy;
use paraverse_sim::scenario::{Protocol, Scenario, ServiceId};

use super::{Plan, proto_name};

/// The port probed on a group that declares no service (every port is open to it).
pub const ANY_PORT_PROBE: u16 = 65_000;

/// One connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Source: group and node index within it.
    pub from: (usize, u32),
    /// Destination: group and node index within it.
    pub to: (usize, u32),
    /// Transport protocol.
    pub protocol: Protocol,
    /// Destination port.
    pub port: u16,
    /// Whether the last node of every group is in quarantine for this probe.
    pub quarantine: bool,
}

impl Probe {
    /// Whether node `(group, k)` is isolated under this probe's case.
    pub fn isolated(&self, plan: &Plan, node: (usize, u32)) -> bool {
        self.quarantine && node.1 + 1 == plan.groups[node.0].count.max(1)
    }
}

/// The probes for a plan: between every two groups of the deployment (attacker
/// infrastructure is left out: every export denies it outright).
pub fn probes(plan: &Plan) -> Vec<Probe> {
    let reps = |g: usize| {
        let n = plan.groups[g].count.max(1);
        if n == 1 { vec![0] } else { vec![0, n - 1] }
    };
    let mut out = Vec::new();
    for quarantine in [false, true] {
        let ours: Vec<usize> = (0..plan.groups.len())
            .filter(|&g| !plan.groups[g].is_attacker())
            .collect();
        for &a in &ours {
            for &b in &ours {
                let ports: Vec<(Protocol, u16)> = if plan.groups[b].ports.is_empty() {
                    vec![(Protocol::Tcp, ANY_PORT_PROBE)]
                } else {
                    plan.groups[b]
                        .ports
                        .iter()
                        .map(|p| (p.protocol, p.port))
                        .collect()
                };
                for &ka in &reps(a) {
                    for &kb in &reps(b) {
                        if a == b && ka == kb {
                            continue;
                        }
                        for &(protocol, port) in &ports {
                            out.push(Probe {
                                from: (a, ka),
                                to: (b, kb),
                                protocol,
                                port,
                                quarantine,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// The answers of one policy to the probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMatrix {
    /// The probes.
    pub probes: Vec<Probe>,
    /// Whether each was admitted.
    pub allowed: Vec<bool>,
}

impl FlowMatrix {
    /// How many probes `other` answers differently, and the first, in words.
    pub fn difference(&self, other: &FlowMatrix, plan: &Plan) -> Option<(usize, String)> {
        let differ: Vec<usize> = (0..self.allowed.len())
            .filter(|&i| {
                self.allowed[i] != other.allowed.get(i).copied().unwrap_or(!self.allowed[i])
            })
            .collect();
        let &i = differ.first()?;
        let p = self.probes[i];
        let name = |(g, k): (usize, u32)| format!("{}#{k}", plan.groups[g].name);
        Some((
            differ.len(),
            format!(
                "{} -> {} {}/{}{}: simulator {}, export {}",
                name(p.from),
                name(p.to),
                proto_name(p.protocol),
                p.port,
                if p.quarantine {
                    " (with quarantine)"
                } else {
                    ""
                },
                verdict(self.allowed[i]),
                verdict(other.allowed.get(i).copied().unwrap_or(false)),
            ),
        ))
    }

    /// The probes `keep` selects, with their answers.
    pub fn only(&self, keep: impl Fn(&Probe) -> bool) -> FlowMatrix {
        let (probes, allowed) = self
            .probes
            .iter()
            .zip(&self.allowed)
            .filter(|(p, _)| keep(p))
            .map(|(p, a)| (*p, *a))
            .unzip();
        FlowMatrix { probes, allowed }
    }

    /// Admitted probes.
    pub fn admitted(&self) -> usize {
        self.allowed.iter().filter(|&&a| a).count()
    }
}

fn verdict(a: bool) -> &'static str {
    if a { "allows" } else { "refuses" }
}

/// The simulator's answers: its access policy at the start of a run, and quarantined
/// nodes out of the network (as the traffic core takes them out).
pub fn simulated(scenario: &Scenario, plan: &Plan, probes: &[Probe]) -> FlowMatrix {
    let policy = AccessPolicy::new(scenario);
    let node = |(g, k): (usize, u32)| scenario.groups[g].first_node + k;
    let allowed = probes
        .iter()
        .map(|p| {
            let (from, to) = (node(p.from), node(p.to));
            // The services of the destination on the probed port (mapped ports), or a
            // port in no declared service.
            let services: Vec<Option<ServiceId>> = plan.groups[p.to.0]
                .service_ports
                .iter()
                .filter(|&&(_, proto, port)| proto == p.protocol && port == p.port)
                .map(|&(s, _, _)| Some(s))
                .collect();
            let services = if services.is_empty() {
                vec![None]
            } else {
                services
            };
            !p.isolated(plan, p.from)
                && !p.isolated(plan, p.to)
                && services.iter().any(|&s| policy.allows_service(from, to, s))
        })
        .collect();
    FlowMatrix {
        probes: probes.to_vec(),
        allowed,
    }
}
