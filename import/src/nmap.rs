//! nmap's XML output (`nmap -sV --traceroute -oX scan.xml ...`): the hosts that were up,
//! their IPv4 addresses, open ports with the service, product, version and CPEs that
//! version detection found, OS guesses and traceroute hops.
//!
//! Nothing in a scan is trusted as text: hostnames, products and versions end up only
//! in comments, stripped of anything but printable ASCII, and names are built from
//! parsed addresses and sanitised service names.

use std::net::Ipv4Addr;

use crate::ImportError;

/// An open port and what runs on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpenPort {
    /// Port number.
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// nmap's service name (`ssh`, `http`), empty when unknown.
    pub service: String,
    /// Product (`OpenSSH`), empty when unknown.
    pub product: String,
    /// Version (`9.2p1`), empty when unknown.
    pub version: String,
    /// Application CPEs (`cpe:/a:openbsd:openssh:9.2p1`).
    pub cpes: Vec<String>,
}

/// A host that was up.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Its IPv4 address.
    pub address: Ipv4Addr,
    /// Hostnames (PTR or user-given), as scanned (untrusted).
    pub hostnames: Vec<String>,
    /// Open ports, in port order.
    pub ports: Vec<OpenPort>,
    /// The best OS guess, if any (untrusted).
    pub os: Option<String>,
    /// Traceroute hops to it, in TTL order (the last is usually the host itself).
    pub hops: Vec<Ipv4Addr>,
}

/// A parsed scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// nmap's command line, for provenance (untrusted).
    pub args: String,
    /// Hosts that were up, by address.
    pub hosts: Vec<Host>,
}

/// Parses nmap XML; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<Scan, ImportError> {
    let options = roxmltree::ParsingOptions {
        // nmap writes `<!DOCTYPE nmaprun>`; roxmltree bounds entity expansion.
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|e| {
        let pos = e.pos();
        ImportError::Input {
            origin: origin.to_owned(),
            line: pos.row as usize,
            column: pos.col as usize,
            message: format!("not well-formed XML: {e}"),
        }
    })?;
    let root = doc.root_element();
    let at = |node: roxmltree::Node<'_, '_>, message: String| {
        let pos = doc.text_pos_at(node.range().start);
        ImportError::Input {
            origin: origin.to_owned(),
            line: pos.row as usize,
            column: pos.col as usize,
            message,
        }
    };
    if !root.has_tag_name("nmaprun") {
        return Err(at(
            root,
            format!(
                "expected nmap XML (a <nmaprun> document, from `nmap -oX`), found <{}>",
                root.tag_name().name()
            ),
        ));
    }
    let mut hosts = Vec::new();
    for h in root.children().filter(|n| n.has_tag_name("host")) {
        if let Some(host) = host(h, &at)? {
            hosts.push(host);
        }
    }
    hosts.sort_by_key(|h| h.address);
    hosts.dedup_by_key(|h| h.address);
    Ok(Scan {
        args: root.attribute("args").unwrap_or("").to_owned(),
        hosts,
    })
}

/// Locates a problem at a node of the document.
type At<'a> = dyn Fn(roxmltree::Node<'_, '_>, String) -> ImportError + 'a;

/// A `<host>` that is up with an IPv4 address (`None` otherwise): its names, open ports,
/// OS guess and traceroute hops.
fn host(h: roxmltree::Node<'_, '_>, at: &At<'_>) -> Result<Option<Host>, ImportError> {
    let up = child(h, "status").and_then(|s| s.attribute("state")) == Some("up");
    if !up {
        return Ok(None);
    }
    let Some(addr) = h
        .children()
        .filter(|n| n.has_tag_name("address"))
        .find(|n| n.attribute("addrtype") == Some("ipv4"))
    else {
        return Ok(None); // IPv6-only hosts: not imported (the README says so).
    };
    let address: Ipv4Addr = addr.attribute("addr").unwrap_or("").parse().map_err(|_| {
        at(
            addr,
            format!(
                "`{}` is not an IPv4 address",
                clean(addr.attribute("addr").unwrap_or(""))
            ),
        )
    })?;
    let hostnames = child(h, "hostnames")
        .into_iter()
        .flat_map(|hn| hn.children().filter(|n| n.has_tag_name("hostname")))
        .filter_map(|n| n.attribute("name").map(str::to_owned))
        .collect();
    let mut ports = Vec::new();
    for p in child(h, "ports")
        .into_iter()
        .flat_map(|ps| ps.children().filter(|n| n.has_tag_name("port")))
    {
        if let Some(port) = open_port(p, at)? {
            ports.push(port);
        }
    }
    ports.sort();
    ports.dedup_by(|a, b| a.port == b.port && a.protocol == b.protocol);
    let os = child(h, "os")
        .and_then(|o| o.children().find(|n| n.has_tag_name("osmatch")))
        .and_then(|m| m.attribute("name").map(str::to_owned));
    let hops = child(h, "trace")
        .into_iter()
        .flat_map(|t| t.children().filter(|n| n.has_tag_name("hop")))
        .filter_map(|n| n.attribute("ipaddr").and_then(|a| a.parse().ok()))
        .collect();
    Ok(Some(Host {
        address,
        hostnames,
        ports,
        os,
        hops,
    }))
}

/// An open TCP or UDP `<port>` (`None` for closed or other protocols) with what nmap's
/// version detection found on it.
fn open_port(p: roxmltree::Node<'_, '_>, at: &At<'_>) -> Result<Option<OpenPort>, ImportError> {
    if child(p, "state").and_then(|s| s.attribute("state")) != Some("open") {
        return Ok(None);
    }
    let port: u16 = p
        .attribute("portid")
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| at(p, "a port without a valid portid (1-65535)".to_owned()))?;
    let protocol = p
        .attribute("protocol")
        .unwrap_or("tcp")
        .to_ascii_lowercase();
    if protocol != "tcp" && protocol != "udp" {
        return Ok(None); // sctp, ip: not modelled
    }
    let service = child(p, "service");
    let attr = |k: &str| {
        service
            .and_then(|s| s.attribute(k))
            .unwrap_or("")
            .to_owned()
    };
    let cpes = service
        .into_iter()
        .flat_map(|s| s.children().filter(|n| n.has_tag_name("cpe")))
        .filter_map(|c| c.text().map(|t| t.trim().to_owned()))
        .filter(|c| c.starts_with("cpe:/a:"))
        .collect();
    Ok(Some(OpenPort {
        port,
        protocol,
        service: attr("name"),
        product: attr("product"),
        version: attr("version"),
        cpes,
    }))
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(name))
}

/// Untrusted text made safe for a one-line TOML comment or a message: printable ASCII
/// only, at most 80 characters.
pub fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_services_and_hops_are_read() {
        let scan = parse(crate::tests::SCAN, "scan.xml").unwrap();
        assert_eq!(scan.hosts.len(), 4, "the down host is left out");
        let web = &scan.hosts[1];
        assert_eq!(web.address, Ipv4Addr::new(10, 77, 1, 10));
        assert_eq!(web.ports.len(), 2, "the closed port is left out");
        assert_eq!(web.ports[0].port, 22);
        assert_eq!(web.ports[0].product, "OpenSSH");
        assert_eq!(web.ports[0].cpes, vec!["cpe:/a:openbsd:openssh:9.2p1"]);
        assert_eq!(
            web.hops,
            vec![Ipv4Addr::new(10, 77, 0, 1), Ipv4Addr::new(10, 77, 1, 10)]
        );
        assert_eq!(web.hostnames, vec!["web1.lab\n[group.x]"]);
    }

    #[test]
    fn bad_xml_and_other_documents_are_refused_with_a_position() {
        let e = parse("<nmaprun><host>", "scan.xml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("scan.xml:1:"), "{e}");
        let e = parse("<?xml version=\"1.0\"?>\n<html/>", "x.xml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.xml:2:1") && e.contains("expected nmap XML"),
            "{e}"
        );
        let bad = crate::tests::SCAN.replace("10.77.1.10\" addrtype", "10.77.1.999\" addrtype");
        let e = parse(&bad, "scan.xml").unwrap_err().to_string();
        assert!(e.contains("not an IPv4 address"), "{e}");
    }
}
