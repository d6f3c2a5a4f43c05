//! The Kubernetes export: one NetworkPolicy per group (default deny in both directions,
//! then its own segment on its services' ports and other segments on the service ports
//! the strategy admits between them) and one that isolates quarantined pods.
//!
//! NetworkPolicies only ever add allowances, so quarantine works by exclusion: every
//! group policy selects, and admits as peers, only pods *without* the quarantine label;
//! a labelled pod is selected by the quarantine policy alone, which allows nothing.
//! Pods are selected by one label key (`paraverse.io/group` unless the mapping says
//! otherwise) whose value names their group. NetworkPolicy has no rate limits: a
//! strategy's DDoS limits are noted in annotations and enforced by the nftables export.
//!
//! [`read_back`] parses the YAML again and evaluates it with NetworkPolicy semantics
//! (a connection needs the source's egress and the destination's ingress), the round trip
//! of the export's tests; CI validates the manifests against the official schemas.

use std::collections::BTreeMap;

use paraverse_sim::scenario::Protocol;
use serde::{Deserialize, Serialize};

use super::matrix::{FlowMatrix, Probe};
use super::{Plan, k8s_name};

/// A NetworkPolicy, as much of it as the export writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    /// `networking.k8s.io/v1`.
    pub api_version: String,
    /// `NetworkPolicy`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    pub metadata: Metadata,
    /// The policy.
    pub spec: Spec,
}

/// Object metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// NetworkPolicySpec.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Pods the policy applies to.
    pub pod_selector: LabelSelector,
    /// `Ingress`, `Egress`.
    pub policy_types: Vec<String>,
    /// Allowed ingress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<IngressRule>,
    /// Allowed egress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressRule>,
}

/// A label selector.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must be equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

/// A label selector requirement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values (for `In`, `NotIn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// An ingress rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressRule {
    /// Sources (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<Peer>,
    /// Ports (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PolicyPort>,
}

/// An egress rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EgressRule {
    /// Destinations (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Peer>,
    /// Ports (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PolicyPort>,
}

/// A peer: pods (in the policy's namespace, or in the namespaces selected).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Peer {
    /// Namespaces (absent: the policy's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// A port.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyPort {
    /// `TCP` or `UDP`.
    pub protocol: String,
    /// Port number.
    pub port: u16,
}

fn protocol(p: Protocol) -> String {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
    .to_owned()
}

/// The policies of a plan.
pub fn policies(plan: &Plan) -> Vec<NetworkPolicy> {
    let policy = Policies { plan };
    // A segment without groups (all attacker infrastructure, or zones the scenario does
    // not have) selects no pod: no policy, and no peer (`In` needs values). One policy
    // per deployed group: its own segment and other segments on the services they may
    // reach (a segment-wide port list would open a port of one group on its neighbours
    // that run the same service).
    let mut out: Vec<NetworkPolicy> = (0..plan.segments.len())
        .filter(|&s| policy.deployed(s))
        .flat_map(|s| {
            plan.segments[s]
                .groups
                .iter()
                .map(move |&g| policy.group_policy(s, g))
        })
        .collect();
    out.push(policy.quarantine());
    out
}

/// The pieces of a plan's NetworkPolicies: selectors, peers, ports, metadata.
#[derive(Clone, Copy)]
struct Policies<'a> {
    plan: &'a Plan,
}

impl Policies<'_> {
    /// Pods not in quarantine.
    fn not_quarantined(&self) -> Requirement {
        Requirement {
            key: self.plan.k8s.quarantine_label.clone(),
            operator: "DoesNotExist".to_owned(),
            values: Vec::new(),
        }
    }

    /// The pods of segment `s` (not in quarantine).
    fn members(&self, s: usize) -> LabelSelector {
        let plan = self.plan;
        LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![
                Requirement {
                    key: plan.k8s.group_label.clone(),
                    operator: "In".to_owned(),
                    values: plan.segments[s]
                        .groups
                        .iter()
                        .map(|&g| plan.groups[g].label.clone())
                        .collect(),
                },
                self.not_quarantined(),
            ],
        }
    }

    /// Segment `s` as a peer.
    fn peer(&self, s: usize) -> Peer {
        Peer {
            namespace_selector: None,
            pod_selector: Some(self.members(s)),
        }
    }

    /// The pods of one group (not in quarantine).
    fn group_pods(&self, g: usize) -> LabelSelector {
        LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![
                Requirement {
                    key: self.plan.k8s.group_label.clone(),
                    operator: "In".to_owned(),
                    values: vec![self.plan.groups[g].label.clone()],
                },
                self.not_quarantined(),
            ],
        }
    }

    /// Group `g`'s pods as a peer.
    fn group_peer(&self, g: usize) -> Peer {
        Peer {
            namespace_selector: None,
            pod_selector: Some(self.group_pods(g)),
        }
    }

    /// What a segment may reach on a group (its own or another segment's): `None` for
    /// nothing, else the ports (empty: every port).
    fn ports(&self, from: usize, g: usize) -> Option<Vec<PolicyPort>> {
        let a = self.plan.reach(from, g);
        if !a.any() {
            return None;
        }
        Some(if a.every_port {
            Vec::new()
        } else {
            a.ports
                .iter()
                .map(|p| PolicyPort {
                    protocol: protocol(p.protocol),
                    port: p.port,
                })
                .collect()
        })
    }

    /// Whether segment `s` has pods.
    fn deployed(&self, s: usize) -> bool {
        !self.plan.segments[s].groups.is_empty()
    }

    /// A policy's metadata: its name, the namespace, paraverse's labels.
    fn meta(&self, name: String, annotations: BTreeMap<String, String>) -> Metadata {
        Metadata {
            name,
            namespace: self.plan.k8s.namespace.clone(),
            labels: BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    "paraverse".to_owned(),
                ),
                (
                    "paraverse.io/strategy".to_owned(),
                    self.plan.strategy.clone(),
                ),
            ]),
            annotations,
        }
    }

    /// Group `g` of segment `s`: from its own segment and the segments allowed to reach
    /// it, to its segment's groups and the groups it may reach elsewhere.
    fn group_policy(&self, s: usize, g: usize) -> NetworkPolicy {
        let plan = self.plan;
        let seg = &plan.segments[s];
        let group = &plan.groups[g];
        let mut ingress = vec![IngressRule {
            from: vec![self.peer(s)],
            ports: self.ports(s, g).unwrap_or_default(),
        }];
        let mut egress: Vec<EgressRule> = seg
            .groups
            .iter()
            .map(|&h| EgressRule {
                to: vec![self.group_peer(h)],
                ports: self.ports(s, h).unwrap_or_default(),
            })
            .collect();
        let mut from_names = Vec::new();
        let mut to_names = Vec::new();
        for o in (0..plan.segments.len()).filter(|&o| o != s && self.deployed(o)) {
            if let Some(ports) = self.ports(o, g) {
                from_names.push(plan.segments[o].name.clone());
                ingress.push(IngressRule {
                    from: vec![self.peer(o)],
                    ports,
                });
            }
            for &h in &plan.segments[o].groups {
                if let Some(ports) = self.ports(s, h) {
                    to_names.push(plan.groups[h].name.clone());
                    egress.push(EgressRule {
                        to: vec![self.group_peer(h)],
                        ports,
                    });
                }
            }
        }
        if plan.k8s.allow_dns {
            egress.push(dns_egress());
        }
        let annotations = self.annotations(s, g, &from_names, &to_names);
        NetworkPolicy {
            api_version: "networking.k8s.io/v1".to_owned(),
            kind: "NetworkPolicy".to_owned(),
            metadata: self.meta(
                format!(
                    "paraverse-{}-group-{}",
                    k8s_name(&plan.strategy),
                    k8s_name(&group.name)
                ),
                annotations,
            ),
            spec: Spec {
                pod_selector: self.group_pods(g),
                policy_types: vec!["Ingress".to_owned(), "Egress".to_owned()],
                ingress,
                egress,
            },
        }
    }

    /// What a group's policy says of itself: its source, its segment and what it admits
    /// and reaches, and the rate limits it cannot enforce.
    fn annotations(
        &self,
        s: usize,
        g: usize,
        from_names: &[String],
        to_names: &[String],
    ) -> BTreeMap<String, String> {
        let plan = self.plan;
        let (seg, group) = (&plan.segments[s], &plan.groups[g]);
        let mut annotations = BTreeMap::from([
            ("paraverse.io/source".to_owned(), plan.source()),
            (
                "paraverse.io/segment".to_owned(),
                if plan.segmented {
                    format!(
                        "group {} in segment {} (groups {}); admitted from segments {}; reaches groups {} of other segments, on the services the strategy admits",
                        group.name,
                        seg.name,
                        seg.groups
                            .iter()
                            .map(|&g| plan.groups[g].name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        list_or_none(from_names),
                        list_or_none(to_names)
                    )
                } else {
                    "no segmentation in the strategy: every group may reach every other".to_owned()
                },
            ),
        ]);
        let limits: Vec<String> = plan
            .rate_limits
            .iter()
            .filter(|r| r.group == g)
            .map(|r| format!("{} kbit/s per source toward {}", r.kbps, group.name))
            .collect();
        if !limits.is_empty() {
            annotations.insert(
                "paraverse.io/not-enforced-here".to_owned(),
                format!(
                    "[defense.ddos] rate limits ({}): NetworkPolicy has none; the nftables export enforces them",
                    limits.join("; ")
                ),
            );
        }
        annotations
    }

    /// Pods labelled as quarantined are cut off, both ways.
    fn quarantine(&self) -> NetworkPolicy {
        let plan = self.plan;
        NetworkPolicy {
            api_version: "networking.k8s.io/v1".to_owned(),
            kind: "NetworkPolicy".to_owned(),
            metadata: self.meta(
                format!("paraverse-{}-quarantine", k8s_name(&plan.strategy)),
                BTreeMap::from([(
                    "paraverse.io/quarantine".to_owned(),
                    format!(
                        "pods labelled {}=true are cut off; the strategy isolates with: {}",
                        plan.k8s.quarantine_label,
                        list_or_none(
                            &plan
                                .isolating
                                .iter()
                                .map(|s| (*s).to_owned())
                                .collect::<Vec<_>>()
                        )
                    ),
                )]),
            ),
            spec: Spec {
                pod_selector: LabelSelector {
                    match_labels: BTreeMap::new(),
                    match_expressions: vec![Requirement {
                        key: plan.k8s.quarantine_label.clone(),
                        operator: "Exists".to_owned(),
                        values: Vec::new(),
                    }],
                },
                policy_types: vec!["Ingress".to_owned(), "Egress".to_owned()],
                ingress: Vec::new(),
                egress: Vec::new(),
            },
        }
    }
}

/// Egress to the cluster DNS (kube-dns in kube-system, port 53).
fn dns_egress() -> EgressRule {
    EgressRule {
        to: vec![Peer {
            namespace_selector: Some(LabelSelector {
                match_labels: BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_owned(),
                    "kube-system".to_owned(),
                )]),
                match_expressions: Vec::new(),
            }),
            pod_selector: Some(LabelSelector {
                match_labels: BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]),
                match_expressions: Vec::new(),
            }),
        }],
        ports: vec![
            PolicyPort {
                protocol: "UDP".to_owned(),
                port: 53,
            },
            PolicyPort {
                protocol: "TCP".to_owned(),
                port: 53,
            },
        ],
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Writes the manifests: YAML documents separated by `---`.
pub fn write(plan: &Plan) -> String {
    let mut s = format!(
        "# paraverse export: strategy `{}` for scenario `{}`: Kubernetes NetworkPolicies.\n# Apply: kubectl apply -f networkpolicy.yaml   Quarantine a pod: kubectl label pod POD {}=true\n# Pods are selected by the label {}=GROUP; give each group's real label in a mapping file.\n",
        plan.strategy, plan.scenario, plan.k8s.quarantine_label, plan.k8s.group_label
    );
    for (i, p) in policies(plan).iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&yaml_serde::to_string(p).expect("plain data serialises"));
    }
    s
}

fn matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (k, v) in &sel.match_labels {
        if labels.get(k) != Some(v) {
            return Ok(false);
        }
    }
    for r in &sel.match_expressions {
        let value = labels.get(&r.key);
        let ok = match r.operator.as_str() {
            "In" => value.is_some_and(|v| r.values.contains(v)),
            "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => return Err(format!("unknown operator `{other}`")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A pod: namespace and labels.
struct Pod {
    namespace: String,
    labels: BTreeMap<String, String>,
}

fn peer_matches(policy: &NetworkPolicy, peer: &Peer, pod: &Pod) -> Result<bool, String> {
    let ns_ok = match &peer.namespace_selector {
        None => pod.namespace == policy.metadata.namespace,
        Some(sel) => matches(
            sel,
            &BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                pod.namespace.clone(),
            )]),
        )?,
    };
    Ok(ns_ok
        && match &peer.pod_selector {
            None => true,
            Some(sel) => matches(sel, &pod.labels)?,
        })
}

fn port_ok(ports: &[PolicyPort], p: &Probe) -> bool {
    ports.is_empty()
        || ports
            .iter()
            .any(|q| q.port == p.port && q.protocol == protocol(p.protocol))
}

/// A side of a connection a NetworkPolicy can restrict.
#[derive(Clone, Copy)]
enum Direction {
    /// Leaving the selected pod.
    Egress,
    /// Reaching the selected pod.
    Ingress,
}

/// Whether the policies let `pod` send (egress) or receive (ingress) the probe's
/// connection with `other` at the far end: a pod no policy of that type selects is not
/// isolated; a selected one needs a rule whose peers and ports match.
fn admits(
    docs: &[NetworkPolicy],
    direction: Direction,
    pod: &Pod,
    other: &Pod,
    probe: &Probe,
) -> Result<bool, String> {
    let kind = match direction {
        Direction::Egress => "Egress",
        Direction::Ingress => "Ingress",
    };
    let mut isolated = false;
    for p in docs {
        if p.metadata.namespace != pod.namespace
            || !matches(&p.spec.pod_selector, &pod.labels)?
            || !p.spec.policy_types.iter().any(|t| t == kind)
        {
            continue;
        }
        isolated = true;
        let rules: Vec<(&[Peer], &[PolicyPort])> = match direction {
            Direction::Egress => p
                .spec
                .egress
                .iter()
                .map(|r| (&r.to[..], &r.ports[..]))
                .collect(),
            Direction::Ingress => p
                .spec
                .ingress
                .iter()
                .map(|r| (&r.from[..], &r.ports[..]))
                .collect(),
        };
        for (peers, ports) in rules {
            let mut peer_ok = peers.is_empty();
            for peer in peers {
                peer_ok |= peer_matches(p, peer, other)?;
            }
            if peer_ok && port_ok(ports, probe) {
                return Ok(true);
            }
        }
    }
    Ok(!isolated)
}

/// Reads the manifests back and answers the probes with NetworkPolicy semantics, the
/// probes' quarantined pods carrying the quarantine label.
pub fn read_back(text: &str, plan: &Plan, probes: &[Probe]) -> Result<FlowMatrix, String> {
    let mut docs = Vec::new();
    for chunk in text.split("\n---\n") {
        let p: NetworkPolicy = yaml_serde::from_str(chunk).map_err(|e| e.to_string())?;
        if p.api_version != "networking.k8s.io/v1" || p.kind != "NetworkPolicy" {
            return Err(format!("unexpected object {} {}", p.api_version, p.kind));
        }
        docs.push(p);
    }
    let pod = |(g, k): (usize, u32), probe: &Probe| {
        let mut labels =
            BTreeMap::from([(plan.k8s.group_label.clone(), plan.groups[g].label.clone())]);
        if probe.isolated(plan, (g, k)) {
            labels.insert(plan.k8s.quarantine_label.clone(), "true".to_owned());
        }
        Pod {
            namespace: plan.k8s.namespace.clone(),
            labels,
        }
    };
    let mut allowed = Vec::with_capacity(probes.len());
    for probe in probes {
        let (src, dst) = (pod(probe.from, probe), pod(probe.to, probe));
        let egress = admits(&docs, Direction::Egress, &src, &dst, probe)?;
        let ingress = admits(&docs, Direction::Ingress, &dst, &src, probe)?;
        allowed.push(egress && ingress);
    }
    Ok(FlowMatrix {
        probes: probes.to_vec(),
        allowed,
    })
}
