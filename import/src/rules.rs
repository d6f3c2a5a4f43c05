//! Which kind of node a scanned host is: rules matched against its open ports, nmap's
//! service names and products, and whether it routes (a traceroute hop).
//!
//! A user's rules file (`--rules rules.toml`) is tried first, then the built-in rules
//! below; the first rule that matches decides. The file's format:
//!
//! ```toml
//! [[rule]]
//! kind = "data_store"           # a scenario node kind (`paraverse schema`: NodeKind)
//! auth = "password"             # optional: the group's authentication
//! ports = [5432, 3306]          # matches when any of these ports is open
//! services = ["postgresql"]     # or any of these nmap service names
//! products = ["PostgreSQL"]     # or a product containing one of these (any case)
//! router = false                # true: matches hosts seen as traceroute hops
//! no_open_ports = false         # true: matches hosts with nothing open (clients)
//! ```

use paraverse_sim::scenario::{AuthMethod, Locator, NodeKind, ScenarioError, parse_toml};
use serde::Deserialize;

use crate::nmap::OpenPort;

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The kind it gives.
    pub kind: NodeKind,
    /// The authentication it gives (default: password, certificate for routers).
    #[serde(default)]
    pub auth: Option<AuthMethod>,
    /// Any of these open ports.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Any of these nmap service names.
    #[serde(default)]
    pub services: Vec<String>,
    /// A product containing any of these, case-insensitively.
    #[serde(default)]
    pub products: Vec<String>,
    /// Matches routers (traceroute hops).
    #[serde(default)]
    pub router: bool,
    /// Matches hosts with no open port.
    #[serde(default)]
    pub no_open_ports: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

/// The built-in rules, tried after the user's.
pub const BUILT_IN: &str = r#"
[[rule]]
kind = "gateway"
auth = "certificate"
router = true

[[rule]]
kind = "data_store"
ports = [5432, 3306, 1433, 1521, 27017, 6379, 9200, 5984, 9042]
services = ["postgresql", "mysql", "ms-sql-s", "oracle-tns", "mongodb", "redis", "elasticsearch", "cassandra"]

[[rule]]
kind = "identity_provider"
auth = "certificate"
ports = [88, 389, 636, 3268, 3269]
services = ["kerberos-sec", "ldap", "ldapssl"]
products = ["keycloak", "openldap", "active directory"]

[[rule]]
kind = "ledger_node"
ports = [8545, 8546, 30303]
products = ["geth", "ethereum"]

[[rule]]
kind = "gpu_node"
ports = [8888]
products = ["jupyter"]

[[rule]]
kind = "soc"
auth = "certificate"
ports = [514, 5601, 9997, 1514, 55000]
services = ["syslog"]
products = ["wazuh", "splunk", "kibana"]

[[rule]]
kind = "edge_server"
ports = [1883, 8883, 5683]
services = ["mqtt", "secure-mqtt", "coap"]
products = ["mosquitto"]

[[rule]]
kind = "iot_sensor"
auth = "default_credentials"
ports = [23, 2323]
services = ["telnet"]

[[rule]]
kind = "phone"
no_open_ports = true
"#;

/// Rules: the user's first, then the built-in ones.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// The built-in rules only.
    pub fn built_in() -> Self {
        Self::with(None).expect("the built-in rules parse")
    }

    /// A user's rules file (text, origin) before the built-in rules.
    pub fn with(user: Option<(&str, &str)>) -> Result<Self, ScenarioError> {
        let mut rules = Vec::new();
        if let Some((text, origin)) = user {
            let file: RulesFile = parse_toml(text, origin, &Locator::new(text))?;
            rules.extend(file.rules);
        }
        let builtin: RulesFile = toml::from_str(BUILT_IN).expect("the built-in rules parse");
        rules.extend(builtin.rules);
        Ok(Self { rules })
    }

    /// The kind and authentication of a host with these open ports; `router` when it is
    /// a traceroute hop. Servers no rule names are cloud VMs.
    pub fn classify(&self, ports: &[OpenPort], router: bool) -> (NodeKind, AuthMethod) {
        for r in &self.rules {
            let hit = (r.router && router)
                || (r.no_open_ports && ports.is_empty())
                || ports.iter().any(|p| {
                    r.ports.contains(&p.port)
                        || r.services
                            .iter()
                            .any(|s| s.eq_ignore_ascii_case(&p.service))
                        || r.products.iter().any(|s| {
                            !p.product.is_empty()
                                && p.product
                                    .to_ascii_lowercase()
                                    .contains(&s.to_ascii_lowercase())
                        })
                });
            if hit {
                let auth = r.auth.unwrap_or(if router {
                    AuthMethod::Certificate
                } else {
                    AuthMethod::Password
                });
                return (r.kind, auth);
            }
        }
        (NodeKind::CloudVm, AuthMethod::Password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(p: u16, service: &str, product: &str) -> OpenPort {
        OpenPort {
            port: p,
            protocol: "tcp".into(),
            service: service.into(),
            product: product.into(),
            version: String::new(),
            cpes: Vec::new(),
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_user_rules_come_first() {
        let r = Rules::built_in();
        assert_eq!(
            r.classify(&[port(5432, "postgresql", "")], false).0,
            NodeKind::DataStore
        );
        assert_eq!(
            r.classify(&[port(1883, "mqtt", "Mosquitto")], false).0,
            NodeKind::EdgeServer
        );
        assert_eq!(r.classify(&[], false).0, NodeKind::Phone);
        assert_eq!(
            r.classify(&[port(22, "ssh", "OpenSSH")], true).0,
            NodeKind::Gateway
        );
        assert_eq!(
            r.classify(&[port(8000, "http", "SimpleHTTPServer")], false)
                .0,
            NodeKind::CloudVm
        );
        let user = "[[rule]]\nkind = \"gpu_node\"\nports = [8000]\nauth = \"mfa\"\n";
        let r = Rules::with(Some((user, "rules.toml"))).unwrap();
        assert_eq!(
            r.classify(&[port(8000, "http", "")], false),
            (NodeKind::GpuNode, AuthMethod::Mfa)
        );
        let e = Rules::with(Some(("[[rule]]\nkind = \"toaster\"\n", "rules.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rules.toml:2") && e.contains("toaster"), "{e}");
    }
}
