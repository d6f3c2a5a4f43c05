//! A local NVD CVE feed (JSON 2.0, as the NVD API and its feed files give it), matched
//! against the CPEs nmap's version detection reports.
//!
//! A service matches a CVE when one of the CVE's vulnerable `cpeMatch` criteria names the
//! same vendor and product and its version (exact, or within `versionStart*`/`versionEnd*`
//! bounds) covers the scanned version. Versions compare by their runs of digits
//! (numerically) and letters (as text), so `9.2p1 < 9.3p2` and `2.4.9 < 2.4.10`. A CVE's
//! configuration that also requires a platform (an AND node) is matched on the
//! application alone: the scan saw the application, and over-reporting a vulnerability
//! is the safer error for a defender's model. Only CVSS v3.1 vectors are taken (the
//! scenario's format); a matching CVE without one is listed, not guessed.

use std::cmp::Ordering;

use serde::Deserialize;

use crate::ImportError;

/// A CVE that applies to a scanned service (a vector the scenario's CVSS parser refuses
/// counts as none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    /// `CVE-2023-38408`.
    pub id: String,
    /// Its CVSS v3.1 vector, if the feed has one.
    pub cvss: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Feed {
    vulnerabilities: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    cve: Cve,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cve {
    id: String,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    configurations: Vec<Configuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cvss_metric_v31: Vec<CvssMetric>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssMetric {
    cvss_data: CvssData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    vector_string: String,
}

#[derive(Debug, Deserialize)]
struct Configuration {
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(default)]
    cpe_match: Vec<CpeMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpeMatch {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

/// A parsed feed.
#[derive(Debug)]
pub struct Vulns {
    cves: Vec<Cve>,
}

impl Vulns {
    /// Parses an NVD JSON 2.0 feed; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ImportError> {
        let feed: Feed = serde_json::from_str(text).map_err(|e| ImportError::Input {
            origin: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            message: format!(
                "not an NVD CVE JSON 2.0 feed (expected {{\"vulnerabilities\": [{{\"cve\": ...}}]}}): {e}"
            ),
        })?;
        Ok(Self {
            cves: feed.vulnerabilities.into_iter().map(|i| i.cve).collect(),
        })
    }

    /// CVEs in the feed.
    pub fn len(&self) -> usize {
        self.cves.len()
    }

    /// Whether the feed has no CVE.
    pub fn is_empty(&self) -> bool {
        self.cves.is_empty()
    }

    /// The CVEs that apply to a service nmap identified by `cpe` (`cpe:/a:vendor:product[:version]`),
    /// with `version` (nmap's version field) where the CPE has none.
    pub fn matching(&self, cpe: &str, version: &str) -> Vec<Match> {
        let Some((vendor, product, cpe_version)) = parse_cpe22(cpe) else {
            return Vec::new();
        };
        let version = if cpe_version.is_empty() {
            version.split_whitespace().next().unwrap_or("")
        } else {
            cpe_version
        };
        let mut out: Vec<Match> = self
            .cves
            .iter()
            .filter(|c| {
                c.configurations
                    .iter()
                    .flat_map(|cfg| &cfg.nodes)
                    .flat_map(|n| &n.cpe_match)
                    .any(|m| m.vulnerable && m.covers(vendor, product, version))
            })
            .map(|c| Match {
                id: c.id.clone(),
                cvss: c
                    .metrics
                    .cvss_metric_v31
                    .first()
                    .map(|m| m.cvss_data.vector_string.clone())
                    .filter(|v| {
                        v.starts_with("CVSS:3.1/")
                            && <cvss::v3::Vector as std::str::FromStr>::from_str(v).is_ok()
                    }),
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl CpeMatch {
    fn covers(&self, vendor: &str, product: &str, version: &str) -> bool {
        let f = split23(&self.criteria);
        if f.len() < 6 || f[0] != "cpe" || f[2] != "a" {
            return false;
        }
        if !f[3].eq_ignore_ascii_case(vendor) || !f[4].eq_ignore_ascii_case(product) {
            return false;
        }
        let exact = match (f[5].as_str(), f.get(6).map(String::as_str)) {
            ("*" | "-", _) => None,
            (v, Some(u)) if u != "*" && u != "-" => Some(format!("{v}{u}")),
            (v, _) => Some(v.to_owned()),
        };
        if version.is_empty() {
            // Unknown version: only a criterion for every version applies.
            return exact.is_none()
                && self.version_start_including.is_none()
                && self.version_start_excluding.is_none()
                && self.version_end_including.is_none()
                && self.version_end_excluding.is_none();
        }
        if let Some(v) = exact {
            return compare_versions(version, &v) == Ordering::Equal;
        }
        let ok = |bound: &Option<String>, pass: fn(Ordering) -> bool| {
            bound
                .as_ref()
                .is_none_or(|b| pass(compare_versions(version, b)))
        };
        ok(&self.version_start_including, |o| o != Ordering::Less)
            && ok(&self.version_start_excluding, |o| o == Ordering::Greater)
            && ok(&self.version_end_including, |o| o != Ordering::Greater)
            && ok(&self.version_end_excluding, |o| o == Ordering::Less)
    }
}

/// `cpe:/a:vendor:product[:version...]` → (vendor, product, version).
fn parse_cpe22(cpe: &str) -> Option<(&str, &str, &str)> {
    let rest = cpe.strip_prefix("cpe:/a:")?;
    let mut parts = rest.split(':');
    let vendor = parts.next().filter(|s| !s.is_empty())?;
    let product = parts.next().filter(|s| !s.is_empty())?;
    Some((vendor, product, parts.next().unwrap_or("")))
}

/// Splits a CPE 2.3 formatted string at unescaped colons.
fn split23(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, ':') => out.push(String::new()),
            _ => {
                escaped = false;
                out.last_mut().expect("never empty").push(c);
            }
        }
    }
    out
}

/// Compares versions by runs of digits (numerically) and runs of letters (as text);
/// other characters separate runs. A version that is a prefix of another is lower.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> Vec<Result<u64, String>> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut digits = false;
        let flush = |cur: &mut String, digits: bool, out: &mut Vec<Result<u64, String>>| {
            if !cur.is_empty() {
                out.push(if digits {
                    Ok(cur.parse().unwrap_or(u64::MAX))
                } else {
                    Err(cur.to_ascii_lowercase())
                });
                cur.clear();
            }
        };
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                if !cur.is_empty() && c.is_ascii_digit() != digits {
                    flush(&mut cur, digits, &mut out);
                }
                digits = c.is_ascii_digit();
                cur.push(c);
            } else {
                flush(&mut cur, digits, &mut out);
            }
        }
        flush(&mut cur, digits, &mut out);
        out
    }
    let (a, b) = (runs(a), runs(b));
    for (x, y) in a.iter().zip(&b) {
        let o = match (x, y) {
            (Ok(x), Ok(y)) => x.cmp(y),
            (Err(x), Err(y)) => x.cmp(y),
            // A number outranks letters at the same place (1.0 > 1.0rc1 is not
            // expressible this way; such pairs are rare in CPE ranges).
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_numbers_and_letters() {
        assert_eq!(compare_versions("9.2p1", "9.3p2"), Ordering::Less);
        assert_eq!(compare_versions("2.4.10", "2.4.9"), Ordering::Greater);
        assert_eq!(compare_versions("9.2", "9.2p1"), Ordering::Less);
        assert_eq!(compare_versions("1.2.3", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn cpes_match_exact_versions_and_ranges() {
        let v = Vulns::parse(crate::tests::NVD, "nvd.json").unwrap();
        assert_eq!(v.len(), 3);
        let ssh = v.matching("cpe:/a:openbsd:openssh:9.2p1", "9.2p1 Debian 2+deb12u3");
        assert_eq!(ssh.len(), 1, "{ssh:?}");
        assert_eq!(ssh[0].id, "CVE-2023-38408");
        assert!(ssh[0].cvss.as_deref().unwrap().starts_with("CVSS:3.1/AV:N"));
        assert!(
            v.matching("cpe:/a:openbsd:openssh:9.3p2", "").is_empty(),
            "fixed"
        );
        let http = v.matching("cpe:/a:python:python:3.11.2", "");
        assert_eq!(http.len(), 1, "exact version");
        assert!(v.matching("cpe:/a:python:python:3.11.3", "").is_empty());
        assert!(
            v.matching("cpe:/a:eclipse:mosquitto", "").is_empty(),
            "unknown version, range CVE"
        );
        let e = Vulns::parse("{\"x\": 1}", "nvd.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("nvd.json:1:") && e.contains("NVD CVE JSON 2.0"),
            "{e}"
        );
    }
}
