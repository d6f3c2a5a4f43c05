//! Export: round trips against the simulator's policy, hostile names, mapping errors.

use paraverse_sim::bundled;
use paraverse_sim::scenario::Scenario;

use super::*;

const SEGMENTED: &str = include_str!("../../../strategies/segmented.toml");
const DDOS: &str = include_str!("../../../strategies/ddos-shield.toml");
const FULL: &str = include_str!("../../../strategies/full-stack.toml");

fn venue() -> &'static str {
    bundled::get("campaign-botnet-ddos").expect("bundled").text
}

fn scenario(text: &str, strategy: &str) -> Scenario {
    Scenario::from_toml_str(text, "venue.toml")
        .expect("scenario")
        .with_strategy(strategy, "strategy.toml")
        .expect("strategy")
}

fn all(s: &Scenario, m: &Mapping) -> Result<(Plan, Vec<(Format, String)>), ExportError> {
    let prov = Provenance {
        source: "strategy.toml".to_owned(),
        lab: None,
    };
    export(s, m, prov, &Format::ALL)
}

fn text_of(out: &[(Format, String)], f: Format) -> &str {
    &out.iter().find(|(g, _)| *g == f).expect("format").1
}

#[test]
fn segmented_strategy_round_trips_through_nftables_and_kubernetes() {
    let s = scenario(venue(), SEGMENTED);
    let (plan, out) = all(&s, &Mapping::default()).expect("export");
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&s, &plan, &probes);
    // Not trivial: the segmentation refuses some connections and admits others.
    assert!(sim.admitted() > 0 && sim.admitted() < probes.len());
    let nft = nftables::read_back(text_of(&out, Format::Nftables), &plan, &probes).unwrap();
    let k8s = k8s::read_back(text_of(&out, Format::K8s), &plan, &probes).unwrap();
    assert_eq!(sim, nft);
    assert_eq!(sim, k8s);
    // users -> core is allowed, iot -> core is not (strategies/segmented.toml), and
    // an allowed pair admits only the services its flows use: the XR runtime of the
    // render farm, not its Jupyter notebooks; the wallets' HTTPS, not their ledger RPC.
    let g = |n: &str| plan.groups.iter().position(|g| g.name == n).unwrap();
    let probe = |a: &str, b: &str, service: &str| {
        let port = plan.groups[g(b)]
            .ports
            .iter()
            .find(|p| p.service == service)
            .unwrap()
            .port;
        probes
            .iter()
            .position(|p| p.from.0 == g(a) && p.to.0 == g(b) && p.port == port && !p.quarantine)
            .unwrap()
    };
    assert!(sim.allowed[probe("headsets", "gpu-render", "xr-runtime")]);
    assert!(!sim.allowed[probe("headsets", "gpu-render", "notebook")]);
    assert!(!sim.allowed[probe("sensors", "gpu-render", "xr-runtime")]);
    assert!(sim.allowed[probe("phones", "wallets", "https")]);
    assert!(!sim.allowed[probe("phones", "wallets", "ledger-rpc")]);
    assert!(!sim.allowed[probe("phones", "data-lake", "db-admin")]);
    assert!(sim.allowed[probe("sensors", "data-lake", "https")]);
    // Within a segment every service is open, and no port no service needs.
    assert!(sim.allowed[probe("idp", "data-lake", "db-admin")]);
    let undeclared = [matrix::Probe {
        from: (g("idp"), 0),
        to: (g("data-lake"), 0),
        protocol: paraverse_sim::scenario::Protocol::Tcp,
        port: 9999,
        quarantine: false,
    }];
    let nft_open =
        nftables::read_back(text_of(&out, Format::Nftables), &plan, &undeclared).unwrap();
    let k8s_open = k8s::read_back(text_of(&out, Format::K8s), &plan, &undeclared).unwrap();
    let mesh_open = istio::read_back(text_of(&out, Format::Istio), &plan, &undeclared).unwrap();
    assert_eq!(
        (
            nft_open.allowed[0],
            k8s_open.allowed[0],
            mesh_open.allowed[0]
        ),
        (false, false, false),
        "a port no service of the data lake uses"
    );
    let nft_text = text_of(&out, Format::Nftables);
    assert!(
        !nft_text.contains("ip saddr @seg_users ip daddr @grp_gpu-render tcp dport { 8888"),
        "{nft_text}"
    );
}

#[test]
fn an_allow_may_name_its_services() {
    // `services` replaces what the flows need: users may also reach the notebooks, and
    // "*" opens every service of the trust zone to the IoT segment.
    let strategy = SEGMENTED
        .replace(
            "from = \"users\"\nto = \"core\"\n",
            "from = \"users\"\nto = \"core\"\nservices = [\"xr-runtime\", \"notebook\"]\n",
        )
        .replace(
            "from = \"iot\"\nto = \"trust\"",
            "from = \"iot\"\nto = \"trust\"\nservices = [\"*\"]",
        );
    assert_ne!(strategy, SEGMENTED);
    let s = scenario(venue(), &strategy);
    let (plan, out) = all(&s, &Mapping::default()).expect("export round-trips");
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&s, &plan, &probes);
    let g = |n: &str| plan.groups.iter().position(|g| g.name == n).unwrap();
    let admitted = |a: &str, b: &str| {
        let mut ports: Vec<u16> = probes
            .iter()
            .enumerate()
            .filter(|&(i, p)| p.from.0 == g(a) && p.to.0 == g(b) && !p.quarantine && sim.allowed[i])
            .map(|(_, p)| p.port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports.len()
    };
    assert_eq!(admitted("headsets", "gpu-render"), 2);
    assert_eq!(admitted("sensors", "wallets"), 2, "https and ledger-rpc");
    assert_eq!(admitted("sensors", "ledger"), 1);
    assert!(text_of(&out, Format::Json).contains("\"every_port\": false"));
    // A service no group of the segment runs is an error naming the field.
    let bad = SEGMENTED.replace(
        "from = \"iot\"\nto = \"trust\"",
        "from = \"iot\"\nto = \"trust\"\nservices = [\"notebook\"]",
    );
    let err = Scenario::from_toml_str(venue(), "venue.toml")
        .unwrap()
        .with_strategy(&bad, "strategy.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("services")
            && err.contains("no group of segment `trust`")
            && err.contains("notebook"),
        "{err}"
    );
}

#[test]
fn istio_admits_identities_on_the_admitted_ports_as_the_simulator() {
    let zt = include_str!("../../../strategies/zero-trust.toml");
    for strategy in [SEGMENTED, FULL, zt] {
        let s = scenario(venue(), strategy);
        let (plan, out) = all(&s, &Mapping::default()).expect("export round-trips");
        let probes = matrix::probes(&plan);
        let sim = matrix::simulated(&s, &plan, &probes).only(|p| istio::decides(&plan, p));
        let text = text_of(&out, Format::Istio);
        assert_eq!(istio::read_back(text, &plan, &probes).unwrap(), sim);
        assert!(sim.admitted() > 0, "{strategy}");
        // Without the DENY on quarantined pods, or with a port dropped from an ALLOW
        // rule, the mesh would admit something else: the round trip notices.
        let open = text.replace("action: DENY", "action: AUDIT");
        assert!(
            sim.difference(&istio::read_back(&open, &plan, &probes).unwrap(), &plan)
                .is_some()
        );
    }
    let s = scenario(venue(), SEGMENTED);
    let (plan, out) = all(&s, &Mapping::default()).unwrap();
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&s, &plan, &probes).only(|p| istio::decides(&plan, p));
    let text = text_of(&out, Format::Istio);
    assert!(
        text.contains("- '443'") || text.contains("- \"443\""),
        "{text}"
    );
    let widened = text.replace("ports:\n", "portz:\n");
    assert!(
        istio::read_back(&widened, &plan, &probes).is_err(),
        "unknown fields are refused"
    );
    let fewer = text.replace("/sa/phones\n", "/sa/someone-else\n");
    assert_ne!(fewer, text);
    assert!(
        sim.difference(&istio::read_back(&fewer, &plan, &probes).unwrap(), &plan)
            .is_some()
    );
    // Zero trust's parameters travel with the identities.
    let s = scenario(venue(), zt);
    let (plan, out) = all(&s, &Mapping::default()).unwrap();
    let z = plan.zero_trust.expect("zero trust");
    assert!(z.reverify_s > 0.0 && z.threshold > 0.0);
    let text = text_of(&out, Format::Istio);
    assert!(
        text.contains(&format!("re-verify every {} s", z.reverify_s))
            && text.contains("SECRET_TTL"),
        "{text}"
    );
    assert!(text.contains("mode: STRICT"));
    // The mapping names the identities: trust domain and a group's service account.
    let m = Mapping::parse(
        "[kubernetes]\nnamespace = \"venue\"\ntrust_domain = \"mesh.example\"\n\n[groups.phones]\nservice_account = \"mobile-app\"\n",
        "map.toml",
    )
    .unwrap();
    let (plan, out) = all(&s, &m).expect("round-trips with the mapping");
    let text = text_of(&out, Format::Istio);
    assert!(
        text.contains("- mesh.example/ns/venue/sa/mobile-app"),
        "{text}"
    );
    assert!(
        text.contains("- mesh.example/ns/venue/sa/headsets"),
        "{text}"
    );
    assert_eq!(
        istio::principal(&plan, 1),
        "mesh.example/ns/venue/sa/mobile-app"
    );
}

#[test]
fn quarantine_isolates_in_every_format_as_in_the_simulator() {
    let s = scenario(venue(), SEGMENTED);
    let (plan, out) = all(&s, &Mapping::default()).expect("export");
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&s, &plan, &probes);
    for (i, p) in probes.iter().enumerate() {
        if p.isolated(&plan, p.from) || p.isolated(&plan, p.to) {
            assert!(!sim.allowed[i]);
        }
    }
    // Without the quarantine rules the exports would admit quarantined nodes: the round
    // trip notices.
    let nft = text_of(&out, Format::Nftables)
        .replace("\t\tip saddr @quarantine drop\n", "")
        .replace("\t\tip daddr @quarantine drop\n", "");
    let got = nftables::read_back(&nft, &plan, &probes).unwrap();
    assert!(sim.difference(&got, &plan).is_some());
    let yaml = text_of(&out, Format::K8s).replace("DoesNotExist", "Exists");
    let got = k8s::read_back(&yaml, &plan, &probes).unwrap();
    assert!(sim.difference(&got, &plan).is_some());
}

#[test]
fn a_broken_export_fails_the_round_trip() {
    let s = scenario(venue(), SEGMENTED);
    let (plan, out) = all(&s, &Mapping::default()).expect("export");
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&s, &plan, &probes);
    let open = text_of(&out, Format::Nftables).replace("policy drop", "policy accept");
    let got = nftables::read_back(&open, &plan, &probes).unwrap();
    let (differ, first) = sim.difference(&got, &plan).expect("differs");
    assert!(differ > 0 && first.contains("simulator refuses"), "{first}");
    // Without the quarantine policy, two quarantined pods would reach each other; with
    // `NotIn` for `In`, segments would select each other's pods.
    let yaml = text_of(&out, Format::K8s);
    let policies: Vec<&str> = yaml.split("\n---\n").collect();
    let fewer = policies[..policies.len() - 1].join("\n---\n");
    let got = k8s::read_back(&fewer, &plan, &probes).unwrap();
    assert!(sim.difference(&got, &plan).is_some());
    let inverted = yaml.replace("operator: In", "operator: NotIn");
    let got = k8s::read_back(&inverted, &plan, &probes).unwrap();
    assert!(sim.difference(&got, &plan).is_some());
}

#[test]
fn without_segmentation_everything_is_allowed_and_exported_so() {
    let s = scenario(venue(), DDOS);
    let (plan, out) = all(&s, &Mapping::default()).expect("export");
    assert!(!plan.segmented);
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&s, &plan, &probes);
    assert_eq!(
        sim.admitted(),
        probes
            .iter()
            .filter(|p| !p.isolated(&plan, p.from) && !p.isolated(&plan, p.to))
            .count()
    );
    // The rate limit: 2 Mbit/s per source = 250000 bytes/s, toward the render farm.
    let nft = text_of(&out, Format::Nftables);
    assert!(
        nft.contains(
            "ip daddr @grp_gpu-render update @ddos_gpu-render { ip saddr . ip daddr limit rate over 250000 bytes/second } drop"
        ),
        "{nft}"
    );
    let k8s = text_of(&out, Format::K8s);
    assert!(k8s.contains("NetworkPolicy has none"), "{k8s}");
    let json: serde_json::Value = serde_json::from_str(text_of(&out, Format::Json)).unwrap();
    assert_eq!(json["ddos"]["rate_limits"][0]["per_source_kbps"], 2000);
    assert_eq!(json["ddos"]["rate_limits"][0]["group"], "gpu-render");
}

#[test]
fn json_carries_the_whole_strategy_and_the_plan() {
    let s = scenario(venue(), FULL);
    let prov = Provenance {
        source: "strategies/full-stack.toml".to_owned(),
        lab: Some(serde_json::json!({"experiment": "x", "seeds": [1, 2]})),
    };
    let (_, out) = export(&s, &Mapping::default(), prov, &[Format::Json]).expect("export");
    let json: serde_json::Value = serde_json::from_str(&out[0].1).unwrap();
    assert_eq!(json["format"], json::FORMAT);
    assert_eq!(json["strategy"]["name"], "full-stack");
    assert_eq!(json["strategy"]["toml"], FULL);
    assert!(json["strategy"]["defense"]["segmentation"].is_object());
    assert_eq!(json["provenance"]["lab"]["seeds"][1], 2);
    assert_eq!(json["scenario"]["name"], "campaign-botnet-ddos");
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), s.groups.len());
    assert!(groups.iter().all(|g| g["placeholder_addresses"] == true));
    // Placeholder blocks do not overlap and hold every node.
    let mut blocks: Vec<(u32, u32)> = Vec::new();
    let (plan, _) = all(&s, &Mapping::default()).unwrap();
    for g in &plan.groups {
        let b = g.blocks[0];
        assert!(b.size() >= u64::from(g.count));
        blocks.push((b.start, b.end()));
    }
    blocks.sort();
    assert!(blocks.windows(2).all(|w| w[0].1 < w[1].0));
}

/// Names an attacker (or a careless author) might give a zone, group or segment.
const HOSTILE: &[&str] = &[
    "dmz; flush ruleset",
    "dmz\nflush ruleset",
    "dmz\" }\nflush ruleset #",
    "dmz}",
    "grp'; DROP",
    "zöne",
    "dmz\u{202e}",
    "-dmz",
    "a/b",
    "",
];

fn with_group_named(name: &str) -> String {
    let quoted = serde_json::to_string(name).unwrap();
    venue().replace("\"sensors\"", &quoted)
}

#[test]
fn hostile_group_names_are_rejected_with_the_file_line_and_field() {
    for &name in HOSTILE {
        let text = with_group_named(name);
        let Ok(s) = Scenario::from_toml_str(&text, "venue.toml") else {
            continue; // the scenario itself refuses it: nothing to export
        };
        let s = s.with_strategy(DDOS, "strategy.toml").unwrap();
        let err = all(&s, &Mapping::default()).expect_err(name).to_string();
        let quoted = serde_json::to_string(name).unwrap();
        let line = text
            .lines()
            .position(|l| l == format!("name = {quoted}"))
            .map_or(0, |i| i + 1);
        assert!(
            err.contains(&format!("venue.toml:{line}:")),
            "{name:?}: {err}"
        );
        assert!(err.contains("group[3].name"), "{name:?}: {err}");
        assert!(err.contains("cannot be exported"), "{name:?}: {err}");
    }
}

#[test]
fn hostile_group_names_export_under_a_mapped_name_and_never_reach_the_output() {
    for &name in HOSTILE {
        let text = with_group_named(name);
        let Ok(s) = Scenario::from_toml_str(&text, "venue.toml") else {
            continue;
        };
        let s = s.with_strategy(SEGMENTED, "strategy.toml").unwrap();
        let key = serde_json::to_string(name).unwrap();
        let map = format!("[groups.{key}]\nname = \"sensors\"\n");
        let mapping = Mapping::parse(&map, "map.toml").unwrap();
        let (_, out) = all(&s, &mapping).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        for (f, text) in &out {
            if *f == Format::Json {
                // JSON keeps the scenario's name, escaped.
                let v: serde_json::Value = serde_json::from_str(text).unwrap();
                assert!(
                    v["groups"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|g| g["scenario_name"] == name)
                );
                continue;
            }
            if !name.is_empty() {
                assert!(!text.contains(name), "{f}: {name:?} leaked");
            }
            assert!(!text.contains("flush"), "{f}: {name:?}");
        }
    }
}

#[test]
fn hostile_segment_names_are_rejected_and_can_be_mapped() {
    for &name in HOSTILE.iter().filter(|n| !n.is_empty()) {
        let quoted = serde_json::to_string(name).unwrap();
        let strategy =
            SEGMENTED.replace("name = \"iot\"\nzones", &format!("name = {quoted}\nzones"));
        let strategy = strategy.replace("from = \"iot\"", &format!("from = {quoted}"));
        let s = Scenario::from_toml_str(venue(), "venue.toml")
            .unwrap()
            .with_strategy(&strategy, "strategy.toml")
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let err = all(&s, &Mapping::default()).expect_err(name).to_string();
        assert!(err.contains("strategy.toml:"), "{name:?}: {err}");
        assert!(err.contains("segment[1].name"), "{name:?}: {err}");
        let mapping = Mapping::parse(
            &format!("[segments.{quoted}]\nname = \"iot\"\n"),
            "map.toml",
        )
        .unwrap();
        let (_, out) = all(&s, &mapping).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert!(
            out.iter()
                .all(|(f, t)| *f == Format::Json || !t.contains("flush"))
        );
    }
}

#[test]
fn hostile_mapping_values_are_rejected() {
    let s = scenario(venue(), SEGMENTED);
    for (map, field) in [
        (
            "[groups.sensors]\nname = \"x; flush ruleset\"\n",
            "groups.sensors.name",
        ),
        (
            "[groups.sensors]\nlabel = \"a\\\"b\"\n",
            "groups.sensors.label",
        ),
        ("[segments.iot]\nname = \"a b\"\n", "segments.iot.name"),
        (
            "[nftables]\ntable = \"t; flush ruleset\"\n",
            "nftables.table",
        ),
        (
            "[kubernetes]\nnamespace = \"x\\ny\"\n",
            "kubernetes.namespace",
        ),
        (
            "[kubernetes]\ngroup_label = \"a: b\"\n",
            "kubernetes.group_label",
        ),
        (
            "[groups.sensors]\naddresses = [\"10.0.0.0/8 }\"]\n",
            "groups.sensors.addresses[0]",
        ),
    ] {
        let err = Mapping::parse(map, "map.toml")
            .map_err(ExportError::from)
            .and_then(|m| all(&s, &m).map(|_| ()))
            .expect_err(map)
            .to_string();
        assert!(err.contains("map.toml:"), "{map}: {err}");
        assert!(err.contains(field), "{map}: {err}");
    }
}

#[test]
fn mapped_addresses_are_used_and_checked() {
    let s = scenario(venue(), SEGMENTED);
    let m = Mapping::parse(
        "[groups.sensors]\naddresses = [\"192.168.10.0/24\", \"192.168.11.0/24\"]\n",
        "map.toml",
    )
    .unwrap();
    let (plan, out) = all(&s, &m).unwrap();
    let nft = text_of(&out, Format::Nftables);
    assert!(nft.contains("192.168.10.0/24, 192.168.11.0/24"), "{nft}");
    let sensors = plan.groups.iter().find(|g| g.name == "sensors").unwrap();
    assert!(sensors.mapped_addresses);
    // Too small, overlapping, unknown group.
    let count = sensors.count;
    for (map, why) in [
        ("[groups.sensors]\naddresses = [\"192.168.0.0/30\"]\n".to_owned(), format!("4 addresses for {count} nodes")),
        (
            "[groups.sensors]\naddresses = [\"10.9.0.0/16\"]\n[groups.wearables]\naddresses = [\"10.9.128.0/17\"]\n".to_owned(),
            "overlaps".to_owned(),
        ),
        ("[groups.nobody]\nlabel = \"x\"\n".to_owned(), "no group `nobody`".to_owned()),
        ("[services.gopher]\nport = 70\n".to_owned(), "no service `gopher`".to_owned()),
    ] {
        let m = Mapping::parse(&map, "map.toml").unwrap();
        let err = all(&s, &m).expect_err(&map).to_string();
        assert!(err.contains(&why) && err.contains("map.toml:"), "{map}: {err}");
    }
}

#[test]
fn mapped_ports_and_labels_reach_the_manifests() {
    let s = scenario(venue(), SEGMENTED);
    let m = Mapping::parse(
        "[kubernetes]\nnamespace = \"metaverse\"\ngroup_label = \"app\"\n\n[groups.gpu-render]\nlabel = \"render\"\n\n[services.xr-runtime]\nport = 17000\n",
        "map.toml",
    )
    .unwrap();
    let (_, out) = all(&s, &m).unwrap();
    let yaml = text_of(&out, Format::K8s);
    assert!(yaml.contains("namespace: metaverse"));
    assert!(yaml.contains("- render"));
    assert!(yaml.contains("port: 17000"));
    assert!(!yaml.contains("port: 7000"));
    assert!(text_of(&out, Format::Nftables).contains("17000"));
}
