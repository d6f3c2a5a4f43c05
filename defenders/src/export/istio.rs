//! The Istio export: zero trust as a service mesh enforces it, by workload identity.
//!
//! NetworkPolicies and nftables admit addresses; a mesh admits *identities*: every pod
//! proves who it is with its workload certificate (mutual TLS, required by one
//! `PeerAuthentication` in STRICT mode), and an `AuthorizationPolicy` per group admits,
//! on its service ports that the strategy admits (all of them to its own segment), only
//! the identities (service accounts) of the groups allowed to reach it. Quarantined pods (the zero-trust denial, quarantine,
//! adaptive response) are refused by a DENY policy on their label. The strategy's
//! zero-trust parameters (re-verification interval, trust decay, threshold) ride along
//! as annotations with the deployment setting they map to: the workload certificate's
//! lifetime (`SECRET_TTL`), which bounds how long an identity stays valid without being
//! re-issued.
//!
//! A mesh authorizes at the receiving end and sees TCP only, so two things are the
//! other exports' job and are left out of this export's round trip: a quarantined pod's
//! *outgoing* connections (the NetworkPolicy export cuts them) and UDP services.
//! [`read_back`] evaluates the YAML with Istio's semantics (DENY first, then: no ALLOW
//! policy selects the pod, or one of its rules matches); CI also validates each
//! document against the published CRD schema.
//!
//! Identities: a group's pods run as the mapping's `[groups.NAME] service_account`
//! (default: their label value), in the mapping's namespace and `[kubernetes]
//! trust_domain` (default `cluster.local`): `TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT`.

use std::collections::BTreeMap;

use paraverse_sim::scenario::Protocol;
use serde::{Deserialize, Serialize};

use super::matrix::{FlowMatrix, Probe};
use super::{Plan, k8s_name};

/// An Istio security resource (AuthorizationPolicy or PeerAuthentication).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource {
    /// `security.istio.io/v1`.
    pub api_version: String,
    /// `AuthorizationPolicy` or `PeerAuthentication`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    pub metadata: super::k8s::Metadata,
    /// The spec.
    pub spec: Spec,
}

/// The spec of either kind (the fields of the other stay empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The workloads it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
    /// `ALLOW` or `DENY` (AuthorizationPolicy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Rules (AuthorizationPolicy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Mutual TLS (PeerAuthentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<Mtls>,
}

/// A workload selector.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// Labels that must be equal.
    pub match_labels: BTreeMap<String, String>,
}

/// `mtls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mtls {
    /// `STRICT`.
    pub mode: String,
}

/// A rule: sources and operations (an empty field matches everything).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<From>,
    /// Operations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<To>,
}

/// `from`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct From {
    /// The source.
    pub source: Source,
}

/// A source: peer identities.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Principals (`TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT`).
    pub principals: Vec<String>,
}

/// `to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct To {
    /// The operation.
    pub operation: Operation,
}

/// An operation: destination ports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// Ports, as strings (Istio's type).
    pub ports: Vec<String>,
}

/// The identity of a group's pods.
pub fn principal(plan: &Plan, group: usize) -> String {
    format!(
        "{}/ns/{}/sa/{}",
        plan.k8s.trust_domain, plan.k8s.namespace, plan.groups[group].service_account
    )
}

/// Whether the mesh can decide a probe: TCP, from a pod not in quarantine.
pub fn decides(plan: &Plan, p: &Probe) -> bool {
    p.protocol == Protocol::Tcp && !p.isolated(plan, p.from)
}

/// The resources of a plan.
pub fn resources(plan: &Plan) -> Vec<Resource> {
    let k = &plan.k8s;
    let strategy = k8s_name(&plan.strategy);
    let zero_trust = zero_trust_note(plan);
    let meta = |name: String, annotations: BTreeMap<String, String>| {
        metadata(plan, zero_trust.as_deref(), name, annotations)
    };
    let resource = |kind: &str, metadata, spec| Resource {
        api_version: "security.istio.io/v1".to_owned(),
        kind: kind.to_owned(),
        metadata,
        spec,
    };
    let mut out = vec![resource(
        "PeerAuthentication",
        meta(
            format!("paraverse-{strategy}-mtls"),
            BTreeMap::from([(
                "paraverse.io/why".to_owned(),
                "identities are workload certificates: plain-text peers are refused".to_owned(),
            )]),
        ),
        Spec {
            mtls: Some(Mtls {
                mode: "STRICT".to_owned(),
            }),
            ..Spec::default()
        },
    )];
    let n = plan.segments.len();
    for s in 0..n {
        for &g in &plan.segments[s].groups {
            let group = &plan.groups[g];
            let rules = group_rules(plan, g);
            out.push(resource(
                "AuthorizationPolicy",
                meta(
                    format!("paraverse-{strategy}-group-{}", k8s_name(&group.name)),
                    BTreeMap::from([(
                        "paraverse.io/group".to_owned(),
                        format!(
                            "{} (segment {}): its identities' peers, on the service ports the strategy admits",
                            group.name, plan.segments[s].name
                        ),
                    )]),
                ),
                Spec {
                    selector: Some(Selector {
                        match_labels: BTreeMap::from([(
                            k.group_label.clone(),
                            group.label.clone(),
                        )]),
                    }),
                    action: Some("ALLOW".to_owned()),
                    rules,
                    mtls: None,
                },
            ));
        }
    }
    out.push(resource(
        "AuthorizationPolicy",
        meta(
            format!("paraverse-{strategy}-quarantine"),
            BTreeMap::from([(
                "paraverse.io/quarantine".to_owned(),
                format!(
                    "pods labelled {}=true receive nothing (their own connections are cut by the NetworkPolicy export)",
                    k.quarantine_label
                ),
            )]),
        ),
        Spec {
            selector: Some(Selector {
                match_labels: BTreeMap::from([(k.quarantine_label.clone(), "true".to_owned())]),
            }),
            action: Some("DENY".to_owned()),
            rules: vec![Rule::default()],
            mtls: None,
        },
    ));
    out
}

/// A resource's metadata: its name, the namespace, paraverse's labels, and annotations
/// saying where it came from (and what zero trust the mesh cannot enforce).
fn metadata(
    plan: &Plan,
    zero_trust: Option<&str>,
    name: String,
    mut annotations: BTreeMap<String, String>,
) -> super::k8s::Metadata {
    annotations.insert("paraverse.io/source".to_owned(), plan.source());
    if let Some(z) = zero_trust {
        annotations.insert("paraverse.io/zero-trust".to_owned(), z.to_owned());
    }
    super::k8s::Metadata {
        name,
        namespace: plan.k8s.namespace.clone(),
        labels: BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_owned(),
                "paraverse".to_owned(),
            ),
            ("paraverse.io/strategy".to_owned(), plan.strategy.clone()),
        ]),
        annotations,
    }
}

/// Who may call group `g`: its own segment on its services, each other segment on what
/// it is admitted to; TCP only (a mesh does not see UDP).
fn group_rules(plan: &Plan, g: usize) -> Vec<Rule> {
    let n = plan.segments.len();
    let principals = |seg: usize| -> Vec<String> {
        plan.segments[seg]
            .groups
            .iter()
            .map(|&h| principal(plan, h))
            .collect()
    };
    let mut rules = Vec::new();
    for o in (0..n).filter(|&o| !plan.segments[o].groups.is_empty()) {
        let a = plan.reach(o, g);
        let ports = a.ports_of(Protocol::Tcp);
        if !a.every_port && ports.is_empty() {
            continue; // nothing, or UDP only
        }
        rules.push(Rule {
            from: vec![From {
                source: Source {
                    principals: principals(o),
                },
            }],
            to: if a.every_port {
                Vec::new()
            } else {
                vec![To {
                    operation: Operation {
                        ports: ports.iter().map(ToString::to_string).collect(),
                    },
                }]
            },
        });
    }
    rules
}

/// The strategy's zero-trust parameters, and the mesh setting they map to.
fn zero_trust_note(plan: &Plan) -> Option<String> {
    let z = plan.zero_trust.as_ref()?;
    Some(format!(
        "re-verify every {} s (set the workload certificate lifetime to it: proxy.istio.io/config proxyMetadata SECRET_TTL=\"{}s\"); trust decays {} per hour; below {} a workload is denied (label it {}=true)",
        z.reverify_s, z.reverify_s, z.decay_per_hour, z.threshold, plan.k8s.quarantine_label
    ))
}

/// Writes the resources: YAML documents separated by `---`.
pub fn write(plan: &Plan) -> String {
    let mut s = format!(
        "# paraverse export: strategy `{}` for scenario `{}`: Istio security policies (mesh-wide\n# mutual TLS, an ALLOW policy per group by workload identity, a DENY for quarantine).\n# Apply: kubectl apply -f authorizationpolicy.yaml, beside networkpolicy.yaml (the mesh\n# sees TCP only and authorizes at the receiver). Identities: {}/ns/{}/sa/ACCOUNT, a\n# service account per group ([groups.NAME] service_account in the mapping, default the\n# value of its {} label).\n",
        plan.strategy,
        plan.scenario,
        plan.k8s.trust_domain,
        plan.k8s.namespace,
        plan.k8s.group_label
    );
    for (i, r) in resources(plan).iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&yaml_serde::to_string(r).expect("plain data serialises"));
    }
    s
}

/// Reads the resources back and answers the probes the mesh decides ([`decides`]) with
/// Istio's semantics: a DENY policy that selects the destination and has a matching
/// rule refuses; otherwise, if no ALLOW policy selects it, it is admitted, else one of
/// their rules must match (source principal and port).
pub fn read_back(text: &str, plan: &Plan, probes: &[Probe]) -> Result<FlowMatrix, String> {
    let mut docs = Vec::new();
    for chunk in text.split("\n---\n") {
        let r: Resource = yaml_serde::from_str(chunk).map_err(|e| e.to_string())?;
        if r.api_version != "security.istio.io/v1" {
            return Err(format!("unexpected apiVersion {}", r.api_version));
        }
        match r.kind.as_str() {
            "AuthorizationPolicy" => docs.push(r),
            "PeerAuthentication" => {}
            other => return Err(format!("unexpected kind {other}")),
        }
    }
    let labels = |(g, k): (usize, u32), probe: &Probe| {
        let mut l = BTreeMap::from([(plan.k8s.group_label.clone(), plan.groups[g].label.clone())]);
        if probe.isolated(plan, (g, k)) {
            l.insert(plan.k8s.quarantine_label.clone(), "true".to_owned());
        }
        l
    };
    let mut allowed = Vec::with_capacity(probes.len());
    for p in probes.iter().filter(|p| decides(plan, p)) {
        let dst = labels(p.to, p);
        let source = principal(plan, p.from.0);
        let selects = |r: &Resource| {
            r.metadata.namespace == plan.k8s.namespace
                && r.spec
                    .selector
                    .as_ref()
                    .is_none_or(|s| s.match_labels.iter().all(|(k, v)| dst.get(k) == Some(v)))
        };
        let matches = |rule: &Rule| {
            (rule.from.is_empty()
                || rule
                    .from
                    .iter()
                    .any(|f| f.source.principals.contains(&source)))
                && (rule.to.is_empty()
                    || rule
                        .to
                        .iter()
                        .any(|t| t.operation.ports.contains(&p.port.to_string())))
        };
        let action = |r: &Resource, a: &str| r.spec.action.as_deref().unwrap_or("ALLOW") == a;
        let denied = docs
            .iter()
            .filter(|r| selects(r) && action(r, "DENY"))
            .any(|r| r.spec.rules.iter().any(matches));
        let allows: Vec<&Resource> = docs
            .iter()
            .filter(|r| selects(r) && action(r, "ALLOW"))
            .collect();
        allowed.push(
            !denied
                && (allows.is_empty() || allows.iter().any(|r| r.spec.rules.iter().any(matches))),
        );
    }
    Ok(FlowMatrix {
        probes: probes
            .iter()
            .filter(|p| decides(plan, p))
            .copied()
            .collect(),
        allowed,
    })
}
