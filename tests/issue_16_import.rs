//! Issue 16, "The twin meets the real network", part 1: `paraverse import` builds a
//! scenario and a mapping from an nmap scan and a local NVD feed; the scenario validates
//! and runs, and exports name the scanned addresses. One test scans a real host: a
//! network namespace this test creates (and removes, even on failure) running Python's
//! HTTP server, scanned by Debian's nmap.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{paraverse, repo, skip_unless_required, text};

fn fixture(name: &str) -> String {
    repo()
        .join("import/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// The fixture scan (a router, two web servers with one fingerprint, a database, a host
/// that was down) with an NVD feed: groups, CVEs and addresses, through the binary; the
/// scenario validates and runs; the nftables export names the scanned addresses.
#[test]
fn a_scan_imports_into_a_scenario_that_runs_and_exports_real_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(
        &[
            "import",
            "--nmap",
            &fixture("scan.xml"),
            "--vulns",
            &fixture("nvd.json"),
            "--name",
            "lab",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("imported 4 hosts and 0 Kubernetes workloads into 3 groups and 4 services"),
        "{said}"
    );
    assert!(said.contains("ssh-22: CVE-2023-38408"), "{said}");
    assert!(
        said.contains(
            "not matched: postgresql-5432 (PostgreSQL DB 15.5 - 15.8): no CVE in the feed"
        ),
        "{said}"
    );
    let scenario = std::fs::read_to_string(tmp.path().join("imported/lab/lab.toml")).unwrap();
    // A hostile PTR name (with a line break and a table header) stays in its comment.
    assert!(scenario.contains("web1.lab[group.x]"), "{scenario}");
    assert!(!scenario.contains("\n[group.x]"));
    let v = paraverse(&["validate", "imported/lab/lab.toml"], tmp.path());
    assert!(v.status.success(), "{}", text(&v.stderr));
    let run = paraverse(
        &["run", "imported/lab/lab.toml", "--quiet", "--out", "r"],
        tmp.path(),
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["nodes"], 4);
    assert_eq!(
        summary["vulnerable_initial"], 2,
        "the two web servers run the vulnerable OpenSSH"
    );
    let strategy = repo().join("strategies/zero-trust.toml");
    let export = paraverse(
        &[
            "export",
            strategy.to_str().unwrap(),
            "--scenario",
            "imported/lab/lab.toml",
            "--mapping",
            "imported/lab/mapping.toml",
            "--format",
            "nftables",
            "--out",
            "-",
        ],
        tmp.path(),
    );
    assert!(export.status.success(), "{}", text(&export.stderr));
    let nft = text(&export.stdout);
    assert!(
        nft.contains("elements = { 10.77.1.10, 10.77.1.11 }"),
        "{nft}"
    );
    assert!(nft.contains("elements = { 10.77.2.20 }"), "{nft}");
    assert!(!nft.contains("10.0.0.0/8"), "no placeholder block: {nft}");
    // A second import into the same place is refused without --force.
    let again = paraverse(
        &["import", "--nmap", &fixture("scan.xml"), "--name", "lab"],
        tmp.path(),
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("exists: pass --force"));
}

/// Kubernetes manifests, from a folder, with the scan: workloads become groups under
/// the scan's routers, the mapping carries their namespace and labels, and the
/// Kubernetes export selects the pods by them.
#[test]
fn manifests_from_a_folder_import_with_the_scan_and_export_by_label() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("manifests")).unwrap();
    std::fs::copy(fixture("k8s.yaml"), tmp.path().join("manifests/app.yaml")).unwrap();
    std::fs::write(tmp.path().join("manifests/notes.txt"), "not a manifest").unwrap();
    let out = paraverse(
        &[
            "import",
            "--nmap",
            &fixture("scan.xml"),
            "--k8s",
            "manifests",
            "--name",
            "site",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("imported 4 hosts and 3 Kubernetes workloads into 6 groups"),
        "{said}"
    );
    assert!(
        said.contains("group shop-db") && said.contains("data_store") && said.contains("3 nodes"),
        "{said}"
    );
    let v = paraverse(&["validate", "imported/site/site.toml"], tmp.path());
    assert!(v.status.success(), "{}", text(&v.stderr));
    let strategy = repo().join("strategies/zero-trust.toml");
    let export = paraverse(
        &[
            "export",
            strategy.to_str().unwrap(),
            "--scenario",
            "imported/site/site.toml",
            "--mapping",
            "imported/site/mapping.toml",
            "--format",
            "k8s",
            "--out",
            "-",
        ],
        tmp.path(),
    );
    assert!(export.status.success(), "{}", text(&export.stderr));
    let yaml = text(&export.stdout);
    assert!(yaml.contains("namespace: shop"), "{yaml}");
    assert!(
        yaml.contains("- key: app\n")
            && yaml.contains("      - db\n")
            && yaml.contains("      - node-agent\n"),
        "pods selected by their own label (app=db, ...): {yaml}"
    );
    // The cluster's NetworkPolicy (only the API reaches the database) as a strategy
    // that runs in the twin and exports.
    assert!(
        said.contains("baseline strategy from 1 NetworkPolicy"),
        "{said}"
    );
    let baseline = std::fs::read_to_string(tmp.path().join("imported/site/baseline.toml")).unwrap();
    assert!(
        baseline.contains("from = \"shop-api\"\nto = \"shop-db\""),
        "{baseline}"
    );
    assert!(!baseline.contains("from = \"shop-node-agent\"\nto = \"shop-db\""));
    let run = paraverse(
        &[
            "run",
            "imported/site/site.toml",
            "--strategy",
            "imported/site/baseline.toml",
            "--ticks",
            "30",
            "--quiet",
            "--out",
            "b",
        ],
        tmp.path(),
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let export = paraverse(
        &[
            "export",
            "imported/site/baseline.toml",
            "--scenario",
            "imported/site/site.toml",
            "--mapping",
            "imported/site/mapping.toml",
            "--out",
            "be",
        ],
        tmp.path(),
    );
    assert!(export.status.success(), "{}", text(&export.stderr));
    // Manifests alone: one router assumed, said.
    let out = paraverse(
        &["import", "--k8s", "manifests/app.yaml", "--name", "alone"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("one router was assumed"));
    // Neither source: clap says what is missing.
    let out = paraverse(&["import", "--name", "none"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--nmap"),
        "{}",
        text(&out.stderr)
    );
}

/// Bad inputs are named with their file, line and column, and nothing is written.
#[test]
fn bad_inputs_are_refused_with_their_position() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.xml"),
        "<nmaprun>\n<host><status state=\"up\"/>\n</nmap>\n",
    )
    .unwrap();
    let out = paraverse(&["import", "--nmap", "bad.xml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.xml:3:1") && err.contains("not well-formed XML"),
        "{err}"
    );
    std::fs::write(tmp.path().join("nvd.json"), "{\"vulnerabilities\": 3}").unwrap();
    let out = paraverse(
        &[
            "import",
            "--nmap",
            &fixture("scan.xml"),
            "--vulns",
            "nvd.json",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nvd.json:1:"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        tmp.path().join("rules.toml"),
        "[[rule]]\nkind = \"toaster\"\n",
    )
    .unwrap();
    let out = paraverse(
        &[
            "import",
            "--nmap",
            &fixture("scan.xml"),
            "--rules",
            "rules.toml",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("rules.toml:2"),
        "{}",
        text(&out.stderr)
    );
    let out = paraverse(
        &["import", "--nmap", &fixture("scan.xml"), "--name", "a/b"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("imported").exists());
}

/// Network namespaces a test made, and the servers it started in them: all removed on
/// drop, even when the test fails (deleting a namespace deletes its veth pairs too).
struct Namespaces {
    names: Vec<String>,
    servers: Vec<Child>,
}

impl Namespaces {
    /// Creates the namespaces, or `None` where this machine cannot (not root).
    fn create(names: &[&str]) -> Option<Self> {
        let mut ns = Self {
            names: Vec::new(),
            servers: Vec::new(),
        };
        for n in names {
            if !sh(&["ip", "netns", "add", n]) {
                return None;
            }
            ns.names.push((*n).to_owned());
        }
        Some(ns)
    }

    /// Runs a command in namespace `n`; the test fails if it fails.
    fn exec(&self, n: &str, args: &[&str]) {
        let mut all = vec!["ip", "netns", "exec", n];
        all.extend_from_slice(args);
        assert!(sh(&all), "{all:?} failed");
    }

    /// Starts Python's HTTP server in namespace `n` on `ip:port`, serving `dir`.
    fn serve(&mut self, n: &str, ip: &str, port: u16, dir: &Path) {
        self.servers.push(
            Command::new("ip")
                .args(["netns", "exec", n, "python3", "-m", "http.server"])
                .arg(port.to_string())
                .args(["--bind", ip])
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 starts"),
        );
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Whether `ok` holds within `tries` tenths of a second (a bounded wait).
fn within(tries: u32, mut ok: impl FnMut() -> bool) -> bool {
    (0..tries).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        ok()
    })
}

fn sh(cmd: &[&str]) -> bool {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A real scan of a real host: a namespace running Python's HTTP server on port 8000,
/// scanned by nmap with version detection (bounded: two ports, one retry, a host
/// timeout), imported. The group holds the host's address and the http service, and
/// the exported ruleset names it.
#[test]
fn a_real_nmap_scan_of_a_namespace_host_imports() {
    let var = "PARAVERSE_REQUIRE_NETNS";
    if !sh(&["nmap", "--version"]) {
        return skip_unless_required(var, "nmap is not installed");
    }
    let ns_name = format!("pvi{}", std::process::id() % 100_000);
    let Some(mut ns) = Namespaces::create(&[&ns_name]) else {
        return skip_unless_required(var, "cannot create network namespaces (needs root)");
    };
    let (here, there) = (format!("{ns_name}h"), format!("{ns_name}n"));
    let octet = 100 + std::process::id() % 100;
    let (ip_here, ip_there) = (format!("10.213.{octet}.1"), format!("10.213.{octet}.2"));
    // A veth pair from this namespace to the host's (deleted with the namespace).
    for cmd in [
        vec![
            "ip", "link", "add", &here, "type", "veth", "peer", "name", &there, "netns", &ns_name,
        ],
        vec!["ip", "addr", "add", &format!("{ip_here}/24"), "dev", &here],
        vec!["ip", "link", "set", &here, "up"],
    ] {
        assert!(sh(&cmd), "{cmd:?} failed");
    }
    ns.exec(
        &ns_name,
        &[
            "ip",
            "addr",
            "add",
            &format!("{ip_there}/24"),
            "dev",
            &there,
        ],
    );
    ns.exec(&ns_name, &["ip", "link", "set", &there, "up"]);
    ns.exec(&ns_name, &["ip", "link", "set", "lo", "up"]);
    let tmp = tempfile::tempdir().unwrap();
    ns.serve(&ns_name, &ip_there, 8000, tmp.path());
    let up = within(50, || {
        std::net::TcpStream::connect_timeout(
            &format!("{ip_there}:8000").parse().unwrap(),
            std::time::Duration::from_millis(200),
        )
        .is_ok()
    });
    assert!(up, "the namespace's HTTP server did not start");
    let scan = tmp.path().join("scan.xml");
    let nmap = Command::new("nmap")
        .args([
            "-sV",
            "--traceroute",
            "-Pn",
            "-p",
            "8000,8001",
            "--max-retries",
            "1",
            "--host-timeout",
            "120s",
            "-oX",
        ])
        .arg(&scan)
        .arg(&ip_there)
        .output()
        .expect("nmap runs");
    assert!(nmap.status.success(), "{}", text(&nmap.stderr));
    let out = paraverse(
        &["import", "--nmap", "scan.xml", "--name", "ns", "--out", "o"],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let scenario = std::fs::read_to_string(tmp.path().join("o/ns.toml")).unwrap();
    assert!(
        scenario.contains("name = \"http-8000\"\nport = 8000"),
        "{scenario}"
    );
    let mapping = std::fs::read_to_string(tmp.path().join("o/mapping.toml")).unwrap();
    assert!(
        mapping.contains(&format!("addresses = [\"{ip_there}\"]")),
        "{mapping}"
    );
    let group = format!("http-10-213-{octet}");
    assert!(
        scenario.contains(&format!("name = \"{group}\"")),
        "{scenario}"
    );
    let v = paraverse(&["validate", "o/ns.toml"], tmp.path());
    assert!(v.status.success(), "{}", text(&v.stderr));
    let _ = Path::new(&ip_here);
}

/// Attacker infrastructure is never exported as allowed: the siege's exfiltration drop
/// servers are in no segment (JSON), in no set a rule accepts (nftables: an `attackers`
/// set dropped both ways before any accept), and in no pod selector (Kubernetes; and no
/// selector is left without values). The round trip still holds for the deployment's
/// own groups, and nft accepts the ruleset where it is installed.
#[test]
fn attacker_infrastructure_is_never_exported_as_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let strategy = repo().join("strategies/full-stack.toml");
    let mapping = repo().join("mappings/metaverse-under-siege.toml");
    let out = paraverse(
        &[
            "export",
            strategy.to_str().unwrap(),
            "--scenario",
            "metaverse-under-siege",
            "--mapping",
            mapping.to_str().unwrap(),
            "--out",
            "e",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("round trip"),
        "{}",
        text(&out.stdout)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("e/strategy.json")).unwrap())
            .unwrap();
    let groups = json["groups"].as_array().unwrap();
    let drop = groups
        .iter()
        .find(|g| g["scenario_name"] == "drop")
        .unwrap();
    assert_eq!(drop["segment"], serde_json::Value::Null, "{drop}");
    assert_eq!(
        drop["attacker_infrastructure_of"],
        serde_json::json!(["biometric-heist"])
    );
    let drop_blocks: Vec<String> = drop["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert!(!drop_blocks.is_empty());
    for s in json["segmentation"]["segments"].as_array().unwrap() {
        assert!(
            !s["groups"].as_array().unwrap().iter().any(|g| g == "drop"),
            "{s}"
        );
    }
    let nft = std::fs::read_to_string(tmp.path().join("e/ruleset.nft")).unwrap();
    // Every set a rule accepts from or to: none holds the drop servers' blocks.
    let sets: Vec<(&str, &str)> = nft
        .split("\tset ")
        .skip(1)
        .filter_map(|s| s.split_once(" {"))
        .collect();
    for (name, body) in &sets {
        let body = body.split('}').next().unwrap_or("");
        let holds = drop_blocks.iter().any(|b| body.contains(b.as_str()));
        let expected = *name == "attackers" || *name == "grp_drop";
        assert_eq!(holds, expected, "set {name}: {body}");
    }
    for line in nft.lines().filter(|l| l.trim_end().ends_with("accept")) {
        assert!(
            !line.contains("@grp_drop") && !line.contains("@attackers"),
            "{line}"
        );
    }
    // The DDoS limiter's set is sized for every (deployment address, protected address)
    // pair, and addresses in no group are dropped before it: it cannot fill (a full set
    // stops limiting new pairs).
    let size = |g: &serde_json::Value| -> u64 {
        g["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let a = a.as_str().unwrap();
                a.split_once('/')
                    .map_or(1, |(_, len)| 1u64 << (32 - len.parse::<u32>().unwrap()))
            })
            .sum()
    };
    let deployment: u64 = groups
        .iter()
        .filter(|g| g["segment"] != serde_json::Value::Null)
        .map(size)
        .sum();
    let gpu = groups
        .iter()
        .find(|g| g["scenario_name"] == "gpu-render")
        .unwrap();
    assert!(
        nft.contains(&format!("\t\tsize {}\n", deployment * size(gpu))),
        "{nft}"
    );
    assert!(nft.contains("it cannot fill"));
    let update_at = nft.find("update @ddos_gpu-render").unwrap();
    assert!(nft.find("ip saddr != @deployment drop").unwrap() < update_at);
    let drop_at = nft
        .find("ip daddr @attackers drop")
        .expect("attackers dropped");
    let accept_at = nft.find("ct state established,related accept").unwrap();
    assert!(drop_at < accept_at, "dropped before replies are accepted");
    assert!(nft.contains("ip saddr @attackers drop"));
    let yaml = std::fs::read_to_string(tmp.path().join("e/networkpolicy.yaml")).unwrap();
    assert!(!yaml.contains("      - drop\n"), "{yaml}");
    assert!(
        !yaml.contains("paraverse-full-stack-outside"),
        "the emptied segment has no policy"
    );
    let lines: Vec<&str> = yaml.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "operator: In" {
            assert!(
                lines[i + 1].trim() == "values:",
                "an In without values at line {}",
                i + 1
            );
        }
    }
    if sh(&["unshare", "-n", "nft", "--version"]) {
        let check = Command::new("unshare")
            .args(["-n", "nft", "-c", "-f"])
            .arg(tmp.path().join("e/ruleset.nft"))
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", text(&check.stderr));
    } else {
        skip_unless_required(
            "PARAVERSE_REQUIRE_EXPORT_TOOLS",
            "nft (in unshare -n) is not available",
        );
    }
}

/// Whether `from` (a namespace) can open a TCP connection to `to:port` within 1 s
/// (one bounded attempt, made by Python inside the namespace).
fn connects(from: &str, to: &str, port: u16) -> bool {
    python_succeeds(
        from,
        &format!("s=socket.socket(); s.settimeout(1); s.connect(('{to}', {port}))"),
    )
}

/// Whether a Python statement (with `socket` and `urllib.request` imported) runs without
/// an exception in namespace `ns`.
fn python_succeeds(ns: &str, statement: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c"])
        .arg(format!(
            "import socket, sys, urllib.request\ntry:\n  {statement}; sys.exit(0)\nexcept Exception:\n  sys.exit(1)"
        ))
        .status()
        .is_ok_and(|s| s.success())
}

/// The exported ruleset on a real router: a namespace routing between a deployment host
/// (in the scenario's group, by the mapping) and an Internet host (in no group), with the
/// nftables export loaded by `nft -f`. Real TCP connections show the kernel enforcing
/// the mapping's `unmapped` policy: with "egress" the host reaches the Internet and
/// nothing comes in; with "drop" neither. Every loop is bounded; the namespaces go away
/// at the end, even on failure.
#[test]
fn the_exported_ruleset_enforces_the_unmapped_policy_on_a_real_router() {
    let var = "PARAVERSE_REQUIRE_NETNS";
    if !sh(&["nft", "--version"]) {
        return skip_unless_required(var, "nft is not installed");
    }
    let id = std::process::id() % 10_000;
    let (host, router, inet) = (format!("pvh{id}"), format!("pvr{id}"), format!("pvn{id}"));
    let Some(mut ns) = Namespaces::create(&[&host, &router, &inet]) else {
        return skip_unless_required(var, "cannot create network namespaces (needs root)");
    };
    let octet = 20 + id % 200;
    let net = |k: u8, h: u8| format!("10.{}.{k}.{h}", octet);
    let (host_ip, inet_ip) = (net(1, 2), net(2, 2));
    for (k, peer) in [(1u8, &host), (2u8, &inet)] {
        let (a, b) = (format!("pv{id}r{k}"), format!("pv{id}p{k}"));
        assert!(sh(&[
            "ip", "link", "add", &a, "netns", &router, "type", "veth", "peer", "name", &b, "netns",
            peer
        ]));
        ns.exec(
            &router,
            &["ip", "addr", "add", &format!("{}/24", net(k, 1)), "dev", &a],
        );
        ns.exec(&router, &["ip", "link", "set", &a, "up"]);
        ns.exec(
            peer,
            &["ip", "addr", "add", &format!("{}/24", net(k, 2)), "dev", &b],
        );
        ns.exec(peer, &["ip", "link", "set", &b, "up"]);
        ns.exec(peer, &["ip", "link", "set", "lo", "up"]);
        ns.exec(peer, &["ip", "route", "add", "default", "via", &net(k, 1)]);
    }
    ns.exec(&router, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    let tmp = tempfile::tempdir().unwrap();
    ns.serve(&host, &host_ip, 8000, tmp.path());
    ns.serve(&inet, &inet_ip, 8080, tmp.path());
    // Without a ruleset the router forwards everything (bounded wait for the servers).
    let up = within(30, || {
        connects(&host, &inet_ip, 8080) && connects(&inet, &host_ip, 8000)
    });
    assert!(up, "the namespaces do not route before any ruleset");
    // A two-group twin of it: the host's group and the router.
    std::fs::write(
        tmp.path().join("twin.toml"),
        "[general]\nname = \"twin\"\nseed = 1\ntick = \"10 s\"\nstop = \"10 min\"\n\n[[zone]]\nname = \"lan\"\n\n[[link]]\nname = \"lan\"\ncapacity = \"1 Gbit/s\"\nlatency = \"1 ms\"\n\n[[service]]\nname = \"http\"\nport = 8000\n\n[[group]]\nname = \"router\"\nkind = \"gateway\"\ncount = 1\nzone = \"lan\"\nservices = []\nauth = \"certificate\"\n\n[[group]]\nname = \"web\"\nkind = \"cloud_vm\"\ncount = 1\nzone = \"lan\"\nservices = [\"http\"]\nauth = \"password\"\n\n[[topology]]\ngenerator = \"access_tree\"\nchildren = \"web\"\nparents = \"router\"\nlink = \"lan\"\n",
    )
    .unwrap();
    let strategy = repo().join("strategies/zero-trust.toml");
    let load = |unmapped: &str| {
        std::fs::write(
            tmp.path().join("mapping.toml"),
            format!(
                "[nftables]\ntable = \"pvtest\"\nunmapped = \"{unmapped}\"\n\n[groups.router]\naddresses = [\"{}\"]\n\n[groups.web]\naddresses = [\"{host_ip}\"]\n",
                net(1, 1)
            ),
        )
        .unwrap();
        let out = paraverse(
            &[
                "export",
                strategy.to_str().unwrap(),
                "--scenario",
                "twin.toml",
                "--mapping",
                "mapping.toml",
                "--format",
                "nftables",
                "--out",
                "-",
            ],
            tmp.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::write(tmp.path().join("ruleset.nft"), &out.stdout).unwrap();
        let ruleset = tmp.path().join("ruleset.nft");
        ns.exec(&router, &["nft", "-f", ruleset.to_str().unwrap()]);
    };
    load("egress");
    assert!(
        connects(&host, &inet_ip, 8080),
        "egress: the group reaches the Internet"
    );
    assert!(
        !connects(&inet, &host_ip, 8000),
        "egress: nothing comes in from outside"
    );
    load("drop");
    assert!(!connects(&host, &inet_ip, 8080), "drop: no egress");
    assert!(!connects(&inet, &host_ip, 8000), "drop: no ingress");
}

/// The loop of parallel security on real packets: a small real network (a router
/// namespace and three subnets of host namespaces running real HTTP services, plus a
/// scanner's subnet) is scanned with nmap; benign traffic between its hosts is captured
/// on the router, turned into flow records by nfdump's nfpcapd and printed by nfdump;
/// all of it is imported, the twin runs a segmentation strategy whose allows
/// admit what the flows need, and its nftables export (with the imported mapping) is
/// loaded on the router. Real connections between every two hosts on every service port
/// then follow exactly the strategy's per-service matrix (same segment: everything; an
/// allowed pair of segments: the services its flows use; otherwise nothing), and every
/// benign flow of the records still passes. Test traffic goes only to the hosts this
/// test made; loops are bounded; the namespaces go away even on failure.
#[test]
fn a_scanned_network_enforces_the_twins_segmentation_on_real_connections() {
    let var = "PARAVERSE_REQUIRE_NETNS";
    if !["nft", "nmap", "nfpcapd", "nfdump"]
        .iter()
        .all(|t| sh(&["sh", "-c", &format!("command -v {t}")]))
    {
        return skip_unless_required(var, "nft, nmap or nfdump is not installed");
    }
    let id = std::process::id() % 10_000;
    let router = format!("pvR{id}");
    let ns_of = |k: usize| format!("pvH{id}x{k}");
    // (subnet, host, ports): two web hosts, two hosts serving two ports; subnet 9 holds
    // the scanner.
    let hosts: [(u8, u8, &[u16]); 5] = [
        (1, 2, &[8000]),
        (1, 3, &[8000]),
        (2, 2, &[8000, 9000]),
        (3, 2, &[8000, 9000]),
        (9, 2, &[]),
    ];
    // The benign traffic (client host, server host, port): subnet 1 uses subnet 2's
    // service on 9000 (not its 8000), subnet 3 uses subnet 1's web servers.
    let benign: [(usize, usize, u16); 3] = [(0, 2, 9000), (1, 2, 9000), (3, 0, 8000)];
    let names: Vec<String> = std::iter::once(router.clone())
        .chain((0..hosts.len()).map(ns_of))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let Some(mut ns) = Namespaces::create(&refs) else {
        return skip_unless_required(var, "cannot create network namespaces (needs root)");
    };
    ns.exec(&router, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    ns.exec(&router, &["ip", "link", "set", "lo", "up"]);
    let base = 100 + (id % 100) as u8;
    let ip = |subnet: u8, host: u8| format!("172.{}.{subnet}.{host}", 16 + base % 16);
    let tmp = tempfile::tempdir().unwrap();
    for (k, (subnet, host, ports)) in hosts.iter().enumerate() {
        let name = ns_of(k);
        let (a, b) = (format!("pv{id}a{k}"), format!("pv{id}b{k}"));
        assert!(sh(&[
            "ip", "link", "add", &a, "netns", &router, "type", "veth", "peer", "name", &b, "netns",
            &name
        ]));
        // Point-to-point links with /32 routes: hosts of one subnet also talk through
        // the router, so its rules see every connection. The router holds the subnet's
        // gateway address once, on its first host's link.
        let (gateway, address) = (ip(*subnet, 1), format!("{}/32", ip(*subnet, *host)));
        if !hosts[..k].iter().any(|h| h.0 == *subnet) {
            ns.exec(
                &router,
                &["ip", "addr", "add", &format!("{gateway}/32"), "dev", &a],
            );
        }
        ns.exec(&router, &["ip", "link", "set", &a, "up"]);
        ns.exec(&router, &["ip", "route", "add", &address, "dev", &a]);
        ns.exec(&name, &["ip", "addr", "add", &address, "dev", &b]);
        ns.exec(&name, &["ip", "link", "set", &b, "up"]);
        ns.exec(&name, &["ip", "link", "set", "lo", "up"]);
        ns.exec(&name, &["ip", "route", "add", &gateway, "dev", &b]);
        ns.exec(&name, &["ip", "route", "add", "default", "via", &gateway]);
        for &port in ports.iter() {
            ns.serve(&name, &ip(*subnet, *host), port, tmp.path());
        }
    }
    let scanner = ns_of(4);
    // Everything routes before any ruleset (bounded wait for the servers).
    let up = within(30, || {
        hosts[..4]
            .iter()
            .all(|(s, h, ports)| ports.iter().all(|p| connects(&scanner, &ip(*s, *h), *p)))
    });
    assert!(up, "the test network does not route before any ruleset");
    // Scan from the scanner's subnet (the router is a traceroute hop), only our hosts.
    let targets: Vec<String> = hosts[..4].iter().map(|(s, h, _)| ip(*s, *h)).collect();
    let scan = tmp.path().join("scan.xml");
    let nmap = Command::new("ip")
        .args([
            "netns",
            "exec",
            &scanner,
            "nmap",
            "-sV",
            "--traceroute",
            "-Pn",
            "-p",
            "8000,9000",
            "--max-retries",
            "1",
            "--host-timeout",
            "120s",
            "-oX",
        ])
        .arg(&scan)
        .args(&targets)
        .output()
        .unwrap();
    assert!(nmap.status.success(), "{}", text(&nmap.stderr));
    // Benign traffic, captured on the router (each packet once, where it enters).
    let pcap = tmp.path().join("benign.pcap");
    let stop = tmp.path().join("stop-capture");
    let mut capture = Command::new("ip")
        .args(["netns", "exec", &router, "python3", "-c", CAPTURE])
        .arg(&pcap)
        .arg(&stop)
        .spawn()
        .unwrap();
    assert!(within(50, || pcap.exists()), "the capture did not start");
    for &(c, sv, port) in &benign {
        for _ in 0..3 {
            let (s, h, _) = hosts[sv];
            assert!(
                fetches(&ns_of(c), &ip(s, h), port),
                "benign traffic before any ruleset"
            );
        }
    }
    std::fs::write(&stop, "").unwrap();
    assert!(capture.wait().unwrap().success(), "the capture failed");
    let flows = netflow(&pcap, tmp.path());
    std::fs::write(tmp.path().join("flows.json"), &flows).unwrap();
    // The cluster beside the network: a folder of manifests (a Deployment behind a
    // Service, a NetworkPolicy admitting only its own pods).
    let manifests = tmp.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("api.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n        - {name: api, image: \"shop/api:1.0\", ports: [{name: http, containerPort: 8080}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {app: api}\n  ports: [{name: web, port: 80, targetPort: http}]\n",
    )
    .unwrap();
    std::fs::write(
        manifests.join("policy.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api-only-itself, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress]\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: api}}}]\n      ports: [{port: http}]\n",
    )
    .unwrap();
    let out = paraverse(
        &[
            "import",
            "--nmap",
            "scan.xml",
            "--flows",
            "flows.json",
            "--k8s",
            "manifests",
            "--name",
            "lab",
            "--out",
            "twin",
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert!(said.contains(" flow records: 2 benign flows"), "{said}");
    assert!(said.contains("1 Kubernetes workloads"), "{said}");
    assert!(
        tmp.path().join("twin/baseline.toml").is_file(),
        "the NetworkPolicy as a baseline strategy"
    );
    let scenario = std::fs::read_to_string(tmp.path().join("twin/lab.toml")).unwrap();
    let zone = |s: u8| {
        let a = ip(s, 0);
        format!("net-{}", a.rsplit_once('.').unwrap().0.replace('.', "-"))
    };
    for s in [1, 2, 3] {
        assert!(
            scenario.contains(&format!("name = \"{}\"", zone(s))),
            "{scenario}"
        );
    }
    // The flows came from the records: subnet 1 -> subnet 2 on 9000 and subnet 3 ->
    // subnet 1 on 8000, and nothing else.
    let s = paraverse_sim::scenario::Scenario::from_toml_str(&scenario, "lab.toml").unwrap();
    let mut seen: Vec<(String, String, u16)> = s
        .flows
        .iter()
        .map(|f| {
            let zone_of = |g: u16| s.zones[s.groups[g as usize].zone as usize].clone();
            (
                zone_of(f.clients),
                zone_of(f.servers),
                s.services[f.service.unwrap() as usize].port,
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [(zone(1), zone(2), 9000), (zone(3), zone(1), 8000)],
        "{}\n{}",
        text(&out.stdout),
        scenario
    );
    // The twin's strategy: a segment per subnet; subnet 1 may reach subnet 2 and subnet
    // 3 may reach subnet 1, each on what its flows use (the allows name no services).
    std::fs::write(
        tmp.path().join("segments.toml"),
        format!(
            "[strategy]\nname = \"subnets\"\n\n[[defense.segmentation.segment]]\nname = \"one\"\nzones = [\"{}\"]\n\n[[defense.segmentation.segment]]\nname = \"two\"\nzones = [\"{}\"]\n\n[[defense.segmentation.segment]]\nname = \"three\"\nzones = [\"{}\"]\n\n[[defense.segmentation.segment]]\nname = \"core\"\nzones = [\"routers\"]\n\n[[defense.segmentation.segment]]\nname = \"cluster\"\nzones = [\"k8s-shop\"]\n\n[[defense.segmentation.allow]]\nfrom = \"one\"\nto = \"two\"\n\n[[defense.segmentation.allow]]\nfrom = \"three\"\nto = \"one\"\n",
            zone(1),
            zone(2),
            zone(3)
        ),
    )
    .unwrap();
    let export = paraverse(
        &[
            "export",
            "segments.toml",
            "--scenario",
            "twin/lab.toml",
            "--mapping",
            "twin/mapping.toml",
            "--format",
            "nftables",
            "--out",
            "ruleset.nft",
        ],
        tmp.path(),
    );
    assert!(export.status.success(), "{}", text(&export.stderr));
    let ruleset = tmp.path().join("ruleset.nft");
    let ruleset = if ruleset.is_dir() {
        ruleset.join("ruleset.nft")
    } else {
        ruleset
    };
    ns.exec(&router, &["nft", "-f", ruleset.to_str().unwrap()]);
    // Every host to every service of every other host, against the strategy: within a
    // subnet everything, across only what the flows need.
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (a, (sa, ha, _)) in hosts[..4].iter().enumerate() {
        for (b, (sb, hb, ports)) in hosts[..4].iter().enumerate() {
            if a == b {
                continue;
            }
            for &port in ports.iter() {
                let expected = sa == sb
                    || (*sa == 1 && *sb == 2 && port == 9000)
                    || (*sa == 3 && *sb == 1 && port == 8000);
                let got = connects(&ns_of(a), &ip(*sb, *hb), port);
                checked += 1;
                if got != expected {
                    wrong.push(format!(
                        "{} -> {}:{port}: kernel {}, twin {}",
                        ip(*sa, *ha),
                        ip(*sb, *hb),
                        if got { "allows" } else { "refuses" },
                        if expected { "allows" } else { "refuses" }
                    ));
                }
            }
        }
    }
    assert!(checked >= 12, "{checked} connections checked");
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ: {wrong:#?}",
        wrong.len()
    );
    // The benign flows of the records still pass, as whole HTTP exchanges.
    for &(c, sv, port) in &benign {
        let (s, h, _) = hosts[sv];
        assert!(
            fetches(&ns_of(c), &ip(s, h), port),
            "benign {} -> {}:{port} is refused",
            ns_of(c),
            ip(s, h)
        );
    }
    // And the twin runs the strategy against an intrusion from subnet 3 toward subnet 2:
    // no benign flow refused.
    let group_in = |z: String| {
        s.groups
            .iter()
            .find(|g| s.zones[g.zone as usize] == z)
            .unwrap()
            .name
            .clone()
    };
    std::fs::write(
        tmp.path().join("twin/attacked.toml"),
        format!(
            "{scenario}\n[[campaign]]\nname = \"intrusion\"\nstart = \"1 min\"\nentry = \"{}\"\naccess = \"phishing\"\nattempt_rate = 0.05\ntarget = \"{}\"\nlateral_rate = 0.05\n\n[campaign.intrusion]\n",
            group_in(zone(3)),
            group_in(zone(2))
        ),
    )
    .unwrap();
    let run = paraverse(
        &[
            "run",
            "twin/attacked.toml",
            "--strategy",
            "segments.toml",
            "--out",
            "run",
        ],
        tmp.path(),
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("run/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["counters"]["blocked_flow_ticks"], 0, "{summary}");
    assert!(
        summary["counters"]["blocked_flow_ticks"].is_u64(),
        "{summary}"
    );
}

/// Captures packets in the namespace it runs in to a pcap file (argv[1]) until a file
/// (argv[2]) appears, at most 60 s: each packet once, where it enters (outgoing copies
/// and loopback are left out).
const CAPTURE: &str = r#"
import socket, struct, sys, time, os
out, stop = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
s.settimeout(0.1)
end = time.time() + 60
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    f.flush()
    while time.time() < end and not os.path.exists(stop):
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[0] == 'lo' or addr[2] == socket.PACKET_OUTGOING:
            continue
        t = time.time()
        f.write(struct.pack('<IIII', int(t), int((t % 1) * 1e6), len(data), len(data)))
        f.write(data)
"#;

/// An HTTP GET from namespace `from` (a whole exchange: request and answer bytes).
fn fetches(from: &str, to: &str, port: u16) -> bool {
    python_succeeds(
        from,
        &format!("urllib.request.urlopen('http://{to}:{port}/', timeout=2).read()"),
    )
}

/// Flow records of a capture, by the real tools: nfdump's nfpcapd turns the pcap into
/// flow records in nfcapd's file format, and nfdump prints them as JSON, as a collector
/// would store and print a router's NetFlow. (Debian's softflowd 1.1.0 was tried as the
/// exporter: live on a veth it hands libpcap's TPACKET_V3 blocks over only once full,
/// and reading a capture (`-r`) it exports at exit only sometimes, so a test cannot
/// rely on it.)
fn netflow(pcap: &Path, dir: &Path) -> String {
    let store = dir.join("nfcapd");
    std::fs::create_dir_all(&store).unwrap();
    let made = Command::new("timeout")
        .args(["60", "nfpcapd", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(&store)
        .output()
        .unwrap();
    assert!(made.status.success(), "nfpcapd: {}", text(&made.stderr));
    let dump = Command::new("nfdump")
        .arg("-R")
        .arg(&store)
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    let json = text(&dump.stdout);
    assert!(
        json.contains("\"dst_port\" : 9000") && json.contains("\"dst_port\" : 8000"),
        "the records lack the benign flows: {json}"
    );
    json
}

/// `export --diff` against a live ruleset, read from a real kernel: the full-stack
/// export is loaded with `nft -f` in a throwaway network namespace and listed with
/// `nft -j list ruleset`. The same export changes nothing; the segmented strategy (the
/// same segments without DDoS protection) removes exactly the rate-limit set and rule;
/// nothing is written either way. A file that is not nftables JSON is refused.
#[test]
fn export_diff_against_a_live_ruleset_lists_exactly_what_changes() {
    if !sh(&["unshare", "-n", "nft", "--version"]) {
        return skip_unless_required(
            "PARAVERSE_REQUIRE_EXPORT_TOOLS",
            "nft (in unshare -n) is not available",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let export = |strategy: &str, extra: &[&str]| {
        let s = repo().join("strategies").join(strategy);
        let mut args = vec![
            "export",
            s.to_str().unwrap(),
            "--scenario",
            "metaverse-under-siege",
        ];
        args.extend_from_slice(extra);
        let out = paraverse(&args, tmp.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let ruleset = export("full-stack.toml", &["--format", "nftables", "--out", "-"]);
    std::fs::write(tmp.path().join("ruleset.nft"), ruleset).unwrap();
    let live = Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "nft -f ruleset.nft && nft -j list ruleset",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", text(&live.stderr));
    std::fs::write(tmp.path().join("live.json"), &live.stdout).unwrap();
    let same = export("full-stack.toml", &["--diff", "live.json"]);
    assert!(
        same.starts_with("no change: table inet paraverse"),
        "{same}"
    );
    let other = export("segmented.toml", &["--diff", "live.json"]);
    let lines: Vec<&str> = other.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "- set ddos_gpu-render",
            "- rule ip saddr @deployment ip daddr @grp_gpu-render update @ddos_gpu-render limit rate over 250000 bytes/second drop",
        ],
        "{other}"
    );
    assert!(other.contains("nothing was written"));
    let entries: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(
        entries.len(),
        2,
        "ruleset.nft, live.json and nothing else: {entries:?}"
    );
    // With unmapped = "accept", sources outside the deployment share one stateless limit
    // (they never enter the per-source set, so it cannot fill): the kernel loads it, and
    // its own listing reads back as no change.
    let accept = tempfile::tempdir().unwrap();
    std::fs::write(
        accept.path().join("accept.toml"),
        "[nftables]\nunmapped = \"accept\"\n",
    )
    .unwrap();
    let map = accept.path().join("accept.toml");
    let ruleset = export(
        "full-stack.toml",
        &[
            "--mapping",
            map.to_str().unwrap(),
            "--format",
            "nftables",
            "--out",
            "-",
        ],
    );
    assert!(
        ruleset.contains(
            "ip saddr != @deployment ip daddr @grp_gpu-render limit rate over 250000 bytes/second drop"
        ),
        "{ruleset}"
    );
    assert!(!ruleset.contains("can fill"), "{ruleset}");
    std::fs::write(accept.path().join("ruleset.nft"), ruleset).unwrap();
    let live = Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "nft -f ruleset.nft && nft -j list ruleset",
        ])
        .current_dir(accept.path())
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", text(&live.stderr));
    let live_json = accept.path().join("live.json");
    std::fs::write(&live_json, &live.stdout).unwrap();
    let same = export(
        "full-stack.toml",
        &[
            "--mapping",
            map.to_str().unwrap(),
            "--diff",
            live_json.to_str().unwrap(),
        ],
    );
    assert!(
        same.starts_with("no change: table inet paraverse"),
        "{same}"
    );
    std::fs::write(tmp.path().join("bad.json"), "{\"tables\": []}").unwrap();
    let s = repo().join("strategies/segmented.toml");
    let bad = paraverse(
        &[
            "export",
            s.to_str().unwrap(),
            "--scenario",
            "metaverse-under-siege",
            "--diff",
            "bad.json",
        ],
        tmp.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("nft -j list ruleset"),
        "{}",
        text(&bad.stderr)
    );
}
