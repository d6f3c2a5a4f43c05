//! Kubernetes manifests (a folder of YAML files, or a `kubectl get -A -o yaml` dump):
//! workloads become groups, their container ports services.
//!
//! Deployments, StatefulSets, DaemonSets, ReplicaSets and bare Pods (those not owned by
//! another object) are workloads: a namespace, a name, replicas (a DaemonSet's count is
//! one per node, which a manifest does not say: 1, stated), the pod template's labels,
//! and each container's ports with the image as the product (so kind rules match
//! `postgres`, `mosquitto`, ...) and its tag as the version. A Service whose selector
//! matches a workload's labels names the ports it targets. Like a scan, manifests are
//! untrusted: names are sanitised, anything else stays in comments.

use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde_json::Value;

use crate::nmap::OpenPort;
use crate::{ImportError, Input};

/// A workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `Deployment`, `StatefulSet`, ...
    pub kind: String,
    /// Namespace (`default` when unset).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pods.
    pub replicas: u32,
    /// Whether the count is a guess (DaemonSet).
    pub replicas_assumed: bool,
    /// The pods' labels.
    pub labels: BTreeMap<String, String>,
    /// Container ports (product: image, version: tag), in port order.
    pub ports: Vec<OpenPort>,
    /// Named container ports (NetworkPolicies may name them).
    pub port_names: BTreeMap<String, u16>,
}

/// A label selector: `matchLabels` and `matchExpressions` (In, NotIn, Exists,
/// DoesNotExist).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    labels: BTreeMap<String, String>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn parse(v: Option<&Value>) -> Self {
        let Some(v) = v else {
            return Self::default();
        };
        Self {
            labels: labels(v.get("matchLabels")),
            expressions: v
                .get("matchExpressions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        e.get("key")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        e.get("operator")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        e.get("values")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    /// Whether labels match (an empty selector matches everything).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let v = labels.get(k);
                match op.as_str() {
                    "In" => v.is_some_and(|v| values.contains(v)),
                    "NotIn" => v.is_none_or(|v| !values.contains(v)),
                    "Exists" => v.is_some(),
                    "DoesNotExist" => v.is_none(),
                    _ => false,
                }
            })
    }
}

/// Whom a NetworkPolicy rule admits.
#[derive(Debug, Clone, PartialEq)]
pub enum Peer {
    /// Pods: in these namespaces (`None`: the policy's own), with these labels.
    Pods {
        /// Namespace names (from `kubernetes.io/metadata.name`); `Some(empty)`: all.
        namespaces: Option<Vec<String>>,
        /// The pods' selector.
        pods: Selector,
    },
    /// An `ipBlock`: addresses outside the cluster.
    Addresses,
    /// No `from`/`to`: everyone.
    Anyone,
}

/// A NetworkPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Its namespace.
    pub namespace: String,
    /// The pods it isolates.
    pub selector: Selector,
    /// Whether it isolates ingress, and whom (on which ports) its ingress rules admit.
    pub ingress: Option<Vec<Admission>>,
    /// Whether it isolates egress, and whom (on which ports) its egress rules admit.
    pub egress: Option<Vec<Admission>>,
}

/// A peer a rule admits, and on which ports (none: every port).
pub type Admission = (Peer, Vec<RulePort>);

/// A port of a NetworkPolicy rule (a rule with none admits every port).
#[derive(Debug, Clone, PartialEq)]
pub struct RulePort {
    /// `tcp`, `udp` (lower case; default `tcp`).
    pub protocol: String,
    /// The port.
    pub port: PortRef,
}

/// How a rule names a port.
#[derive(Debug, Clone, PartialEq)]
pub enum PortRef {
    /// No port: every port of the protocol.
    Every,
    /// A number, or a range up to `endPort`.
    Numbers(u16, u16),
    /// A container port's name, resolved on the pod it reaches.
    Named(String),
}

impl RulePort {
    fn parse(v: &Value) -> Option<Self> {
        let protocol = v
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_ascii_lowercase();
        let port = match v.get("port") {
            None => PortRef::Every,
            Some(Value::String(name)) => PortRef::Named(name.clone()),
            Some(n) => {
                let first = u16::try_from(n.as_u64()?).ok()?;
                let end = v
                    .get("endPort")
                    .and_then(Value::as_u64)
                    .and_then(|e| u16::try_from(e).ok())
                    .unwrap_or(first);
                PortRef::Numbers(first, end.max(first))
            }
        };
        Some(Self { protocol, port })
    }

    /// Whether it admits `protocol`/`port` on a pod with those named container ports.
    fn admits(&self, protocol: &str, port: u16, names: &BTreeMap<String, u16>) -> bool {
        self.protocol == protocol
            && match &self.port {
                PortRef::Every => true,
                PortRef::Numbers(a, b) => (*a..=*b).contains(&port),
                PortRef::Named(n) => names.get(n) == Some(&port),
            }
    }
}

fn peers(rules: Option<&Value>, key: &str) -> Vec<Admission> {
    let mut out = Vec::new();
    for rule in rules.and_then(Value::as_array).into_iter().flatten() {
        let ports: Vec<RulePort> = rule
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(RulePort::parse)
            .collect();
        match rule.get(key).and_then(Value::as_array) {
            None => out.push((Peer::Anyone, ports)),
            Some(list) if list.is_empty() => out.push((Peer::Anyone, ports)),
            Some(list) => {
                for p in list {
                    if p.get("ipBlock").is_some() {
                        out.push((Peer::Addresses, ports.clone()));
                        continue;
                    }
                    let namespaces = p.get("namespaceSelector").map(|n| {
                        labels(n.get("matchLabels"))
                            .get("kubernetes.io/metadata.name")
                            .cloned()
                            .into_iter()
                            .collect()
                    });
                    out.push((
                        Peer::Pods {
                            namespaces,
                            pods: Selector::parse(p.get("podSelector")),
                        },
                        ports.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// The NetworkPolicies among the manifests' documents.
fn policies(docs: &[Value]) -> Vec<Policy> {
    let mut out = Vec::new();
    for d in docs {
        if text(d, &["kind"]) != Some("NetworkPolicy") {
            continue;
        }
        let spec = d.get("spec");
        let types: Vec<&str> = spec
            .and_then(|s| s.get("policyTypes"))
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_else(|| {
                // Kubernetes' default: Ingress, and Egress when egress rules exist.
                let mut t = vec!["Ingress"];
                if spec.and_then(|s| s.get("egress")).is_some() {
                    t.push("Egress");
                }
                t
            });
        out.push(Policy {
            namespace: text(d, &["metadata", "namespace"])
                .unwrap_or("default")
                .to_owned(),
            selector: Selector::parse(spec.and_then(|s| s.get("podSelector"))),
            ingress: types
                .contains(&"Ingress")
                .then(|| peers(spec.and_then(|s| s.get("ingress")), "from")),
            egress: types
                .contains(&"Egress")
                .then(|| peers(spec.and_then(|s| s.get("egress")), "to")),
        });
    }
    out
}

/// Whether the policies admit a connection from `a` to `b` on `port` (protocol, number;
/// `None`: on some port) (`None` workloads: not in the cluster, e.g. a scanned host
/// outside it). A pod that no policy isolates admits everything that way.
pub fn admits(
    policies: &[Policy],
    a: Option<&Workload>,
    b: Option<&Workload>,
    port: Option<(&str, u16)>,
) -> bool {
    let no_names = BTreeMap::new();
    let names = b.map_or(&no_names, |w| &w.port_names);
    let port_ok = |ports: &[RulePort]| match port {
        None => true,
        Some((proto, n)) => ports.is_empty() || ports.iter().any(|r| r.admits(proto, n, names)),
    };
    let matches = |peer: &Peer, policy: &Policy, w: Option<&Workload>| match (peer, w) {
        (Peer::Anyone, _) => true,
        (Peer::Addresses, w) => w.is_none(),
        (Peer::Pods { .. }, None) => false,
        (Peer::Pods { namespaces, pods }, Some(w)) => {
            let ns_ok = match namespaces {
                None => w.namespace == policy.namespace,
                Some(list) => list.is_empty() || list.contains(&w.namespace),
            };
            ns_ok && pods.matches(&w.labels)
        }
    };
    let side = |w: Option<&Workload>,
                rules: fn(&Policy) -> Option<&Vec<Admission>>,
                other: Option<&Workload>| {
        let Some(w) = w else { return true };
        let isolating: Vec<&Policy> = policies
            .iter()
            .filter(|p| p.namespace == w.namespace && p.selector.matches(&w.labels))
            .filter(|p| rules(p).is_some())
            .collect();
        isolating.is_empty()
            || isolating.iter().any(|p| {
                rules(p)
                    .into_iter()
                    .flatten()
                    .any(|(peer, ports)| matches(peer, p, other) && port_ok(ports))
            })
    };
    side(b, |p| p.ingress.as_ref(), a) && side(a, |p| p.egress.as_ref(), b)
}

/// Manifests as documents, flattening `List`s.
fn documents(input: &Input<'_>) -> Result<Vec<Value>, ImportError> {
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(input.text) {
        let value = Value::deserialize(doc).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            ImportError::Input {
                origin: input.origin.to_owned(),
                line,
                column,
                message: format!("not a Kubernetes manifest (YAML): {e}"),
            }
        })?;
        match value {
            Value::Null => {}
            Value::Object(ref o) if o.get("kind").and_then(Value::as_str) == Some("List") => {
                out.extend(
                    o.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            v => out.push(v),
        }
    }
    Ok(out)
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The manifests' workloads (in (namespace, name) order) and NetworkPolicies, each
/// file parsed once.
pub fn read(inputs: &[Input<'_>]) -> Result<(Vec<Workload>, Vec<Policy>), ImportError> {
    let mut docs = Vec::new();
    for input in inputs {
        docs.extend(documents(input)?);
    }
    Ok((workloads(&docs), policies(&docs)))
}

/// The workloads among the manifests' documents, in (namespace, name) order.
fn workloads(docs: &[Value]) -> Vec<Workload> {
    let services = services(docs);
    let mut out = Vec::new();
    for d in docs {
        let kind = text(d, &["kind"]).unwrap_or("");
        let (template, replicas, assumed) = match kind {
            "Deployment" | "StatefulSet" | "ReplicaSet" => (
                d.get("spec").and_then(|s| s.get("template")),
                d.get("spec")
                    .and_then(|s| s.get("replicas"))
                    .and_then(Value::as_u64)
                    .unwrap_or(1),
                false,
            ),
            "DaemonSet" => (d.get("spec").and_then(|s| s.get("template")), 1, true),
            "Pod" => (Some(d), 1, false),
            _ => continue,
        };
        let owned = d
            .get("metadata")
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .is_some_and(|o| !o.is_empty());
        if owned || replicas == 0 {
            continue; // a controller's pods, or scaled to zero
        }
        let Some(template) = template else { continue };
        let namespace = text(d, &["metadata", "namespace"])
            .unwrap_or("default")
            .to_owned();
        let name = text(d, &["metadata", "name"]).unwrap_or("").to_owned();
        let pod_labels = labels(template.get("metadata").and_then(|m| m.get("labels")));
        let (ports, port_names) = container_ports(template, &namespace, &pod_labels, &services);
        let mut ports = ports;
        ports.sort();
        ports.dedup_by(|a, b| a.port == b.port && a.protocol == b.protocol);
        out.push(Workload {
            kind: kind.to_owned(),
            namespace,
            name,
            replicas: u32::try_from(replicas).unwrap_or(u32::MAX).min(1_000_000),
            replicas_assumed: assumed,
            labels: pod_labels,
            ports,
            port_names,
        });
    }
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

/// A Service's port: (targetPort, protocol, name).
type Target = (Value, String, String);

/// A Service: (namespace, selector, its ports).
type ServicePorts = (String, BTreeMap<String, String>, Vec<Target>);

/// The Services with a selector: they name the ports of the pods they select.
fn services(docs: &[Value]) -> Vec<ServicePorts> {
    let mut services: Vec<ServicePorts> = Vec::new();
    for d in docs {
        if text(d, &["kind"]) != Some("Service") {
            continue;
        }
        let ns = text(d, &["metadata", "namespace"])
            .unwrap_or("default")
            .to_owned();
        let selector = labels(d.get("spec").and_then(|s| s.get("selector")));
        let name = text(d, &["metadata", "name"]).unwrap_or("").to_owned();
        let ports = d
            .get("spec")
            .and_then(|s| s.get("ports"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let target = p
                    .get("targetPort")
                    .or_else(|| p.get("port"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let proto = p
                    .get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("TCP")
                    .to_ascii_lowercase();
                let pname = p
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or(name.clone(), str::to_owned);
                (target, proto, pname)
            })
            .collect();
        if !selector.is_empty() {
            services.push((ns, selector, ports));
        }
    }
    services
}

/// A pod template's container ports (TCP and UDP), each named by the Service that
/// targets it, else by its own name, else by the image; and the ports by name.
fn container_ports(
    template: &Value,
    namespace: &str,
    pod_labels: &BTreeMap<String, String>,
    services: &[ServicePorts],
) -> (Vec<OpenPort>, BTreeMap<String, u16>) {
    let mut ports = Vec::new();
    let mut port_names = BTreeMap::new();
    for c in template
        .get("spec")
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let (repo, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((r, t)) => (r, t),
            None => (image, ""),
        };
        let product = repo.rsplit('/').next().unwrap_or(repo).to_owned();
        for p in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(port) = p
                .get("containerPort")
                .and_then(Value::as_u64)
                .and_then(|v| u16::try_from(v).ok())
                .filter(|&v| v > 0)
            else {
                continue;
            };
            let protocol = p
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_ascii_lowercase();
            if protocol != "tcp" && protocol != "udp" {
                continue;
            }
            let port_name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if !port_name.is_empty() {
                port_names.insert(port_name.to_owned(), port);
            }
            // A Service selecting these pods and targeting this port names it.
            let service = services
                .iter()
                .filter(|(ns, sel, _)| {
                    ns == namespace && sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
                })
                .flat_map(|(_, _, targets)| targets)
                .find(|(target, proto, _)| {
                    *proto == protocol
                        && (target.as_u64() == Some(u64::from(port))
                            || (!port_name.is_empty() && target.as_str() == Some(port_name)))
                })
                .map(|(_, _, n)| n.clone())
                .unwrap_or_else(|| {
                    if port_name.is_empty() {
                        product.clone()
                    } else {
                        port_name.to_owned()
                    }
                });
            ports.push(OpenPort {
                port,
                protocol,
                service,
                product: product.clone(),
                version: tag.to_owned(),
                cpes: Vec::new(),
            });
        }
    }
    (ports, port_names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_ports_and_service_names_are_read() {
        let input = Input {
            text: crate::tests::K8S,
            origin: "app.yaml",
        };
        let (w, p) = read(&[input]).unwrap();
        let names: Vec<&str> = w.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            ["api", "db", "node-agent"],
            "the owned ReplicaSet is left out"
        );
        let db = &w[1];
        assert_eq!(db.kind, "StatefulSet");
        assert_eq!(db.replicas, 3);
        assert_eq!(db.ports[0].port, 5432);
        assert_eq!(db.ports[0].product, "postgres");
        assert_eq!(db.ports[0].version, "16.4");
        assert_eq!(
            db.ports[0].service, "postgres",
            "named by the Service's port"
        );
        assert!(w[2].replicas_assumed);
        assert_eq!(w[0].labels.get("app").map(String::as_str), Some("api"));
        assert_eq!(p.len(), 1, "one NetworkPolicy");
        let (api, dbw, agent) = (Some(&w[0]), Some(&w[1]), Some(&w[2]));
        let pg = Some(("tcp", 5432));
        assert!(admits(&p, api, dbw, pg), "the API reaches the database");
        assert!(
            !admits(&p, api, dbw, Some(("tcp", 9187))),
            "but not its metrics port"
        );
        assert!(!admits(&p, api, dbw, Some(("udp", 5432))));
        assert_eq!(dbw.unwrap().port_names.get("metrics"), Some(&9187));
        assert!(!admits(&p, agent, dbw, pg), "the agent does not");
        assert!(!admits(&p, agent, dbw, None));
        assert!(
            !admits(&p, None, dbw, pg),
            "nor does a host outside the cluster"
        );
        assert!(
            admits(&p, dbw, api, Some(("tcp", 8080))) && admits(&p, None, agent, None),
            "nothing else is isolated"
        );
        let e = read(&[Input {
            text: "kind: [",
            origin: "bad.yaml",
        }])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("bad.yaml:") && e.contains("not a Kubernetes manifest"),
            "{e}"
        );
    }
}
