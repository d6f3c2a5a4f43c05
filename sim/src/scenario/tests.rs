//! Parse-then-validate: every bad input gets the file, line, column, field and what was
//! expected.

use super::*;

const GOOD: &str = r#"[general]
name = "t"
seed = 7
tick = "1 s"
stop = "1 min"

[[zone]]
name = "lan"

[[link]]
name = "wifi"
capacity = "1 Gbit/s"
latency = "2 ms"

[[service]]
name = "telnet"
port = 23
vulnerabilities = [{ id = "CVE-1", cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }]

[[group]]
name = "cams"
kind = "iot_sensor"
count = 10
zone = "lan"
services = ["telnet"]

[[group]]
name = "aps"
kind = "gateway"
count = 2
zone = "lan"

[[topology]]
generator = "access_tree"
children = "cams"
parents = "aps"
link = "wifi"

[[campaign]]
name = "w"
[campaign.worm]
entry = "cams"
scan_rate = 1
"#;

fn errors(text: &str) -> Vec<Diagnostic> {
    match Scenario::from_toml_str(text, "bad.toml") {
        Err(ScenarioError::Invalid { diagnostics, .. }) => diagnostics,
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(_) => panic!("scenario should be invalid:\n{text}"),
    }
}

fn one_error(text: &str) -> Diagnostic {
    let d = errors(text);
    assert_eq!(d.len(), 1, "{d:#?}");
    d.into_iter().next().unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn a_good_scenario_resolves() {
    let s = Scenario::from_toml_str(GOOD, "good.toml").unwrap();
    assert_eq!(s.node_count, 12);
    assert_eq!(s.terminal_count, 10);
    assert_eq!(s.ticks, 60);
    assert_eq!(s.groups[1].first_node, 10);
    assert_eq!(s.group_of(9), 0);
    assert_eq!(s.group_of(10), 1);
    assert_eq!(s.services[0].vulnerabilities[0].base_score, 9.8);
    assert_eq!(s.services[0].exploit_chance(), Chance::ALWAYS);
    assert_eq!(s.groups[0].exploit_chance, Chance::ALWAYS);
    assert_eq!(s.groups[1].exploit_chance, Chance::NEVER);
    assert_eq!(s.campaigns[0].start_tick, 1);
}

#[test]
fn unknown_field_names_line_column_and_field() {
    let text = GOOD.replace("count = 10", "cout = 10");
    let d = one_error(&text);
    assert_eq!(d.line, line_of(&text, "cout = 10"));
    assert_eq!(d.column, 1);
    assert!(d.message.contains("unknown field `cout`"), "{}", d.message);
    assert!(
        d.message.contains("count"),
        "lists the expected fields: {}",
        d.message
    );
    assert_eq!(d.field, "group[0].cout");
}

#[test]
fn wrong_type_names_the_field() {
    let text = GOOD.replace("count = 10", "count = \"ten\"");
    let d = one_error(&text);
    assert_eq!(d.line, line_of(&text, "count = \"ten\""));
    assert_eq!(d.column, 9);
    assert_eq!(d.field, "group[0].count");
    assert!(d.message.contains("expected u32"), "{}", d.message);
}

#[test]
fn bad_quantity_says_what_is_expected() {
    let text = GOOD.replace("tick = \"1 s\"", "tick = \"1 parsec\"");
    let d = one_error(&text);
    assert_eq!((d.line, d.field.as_str()), (4, "general.tick"));
    assert!(d.message.contains("e.g. \"1 s\""), "{}", d.message);
}

#[test]
fn unknown_enum_value_lists_the_choices() {
    let text = GOOD.replace("kind = \"gateway\"", "kind = \"toaster\"");
    let d = one_error(&text);
    assert_eq!(d.field, "group[1].kind");
    assert!(d.message.contains("xr_headset"), "{}", d.message);
}

#[test]
fn missing_section_is_reported() {
    let text = GOOD.replace("[general]\n", "[generals]\n");
    let d = &errors(&text)[0];
    assert!(
        d.message.contains("generals") || d.message.contains("general"),
        "{d:?}"
    );
}

#[test]
fn toml_syntax_errors_have_positions() {
    let text = GOOD.replace("seed = 7", "seed = = 7");
    let d = one_error(&text);
    assert_eq!(d.line, 3);
    assert!(d.column > 1);
}

#[test]
fn unknown_references_point_at_the_reference() {
    let text = GOOD.replace("zone = \"lan\"\nservices", "zone = \"dmz\"\nservices");
    let d = one_error(&text);
    assert_eq!(d.field, "group[0].zone");
    assert_eq!(d.line, line_of(&text, "zone = \"dmz\""));
    assert_eq!(d.column, 8);
    assert!(
        d.message
            .contains("unknown zone `dmz`; expected one of: lan"),
        "{}",
        d.message
    );
}

#[test]
fn several_semantic_errors_are_all_reported_in_file_order() {
    let text = GOOD
        .replace("services = [\"telnet\"]", "services = [\"telnot\"]")
        .replace("entry = \"cams\"", "entry = \"camz\"")
        .replace("link = \"wifi\"", "link = \"wired\"");
    let d = errors(&text);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "group[0].services[0]",
            "topology[0].link",
            "campaign[0].worm.entry"
        ]
    );
    assert!(d.windows(2).all(|w| w[0].line < w[1].line));
}

#[test]
fn bad_cvss_vector_is_rejected_with_an_example() {
    let text = GOOD.replace("AV:N/AC:L", "AV:Q/AC:L");
    let d = one_error(&text);
    assert_eq!(d.field, "service[0].vulnerabilities[0].cvss");
    assert!(
        d.message.contains("not a CVSS v3 base vector"),
        "{}",
        d.message
    );
}

#[test]
fn out_of_range_fractions_are_rejected() {
    let text = GOOD.replace(
        "services = [\"telnet\"]",
        "services = [\"telnet\"]\npatch_level = 1.5",
    );
    let d = one_error(&text);
    assert_eq!(d.field, "group[0].patch_level");
    assert!(d.message.contains("from 0 to 1"));
}

#[test]
fn generator_fields_are_checked_per_generator() {
    let text = GOOD.replace("parents = \"aps\"", "parents = \"aps\"\nm = 3");
    let d = one_error(&text);
    assert_eq!(d.field, "topology[0].m");
    assert!(
        d.message
            .contains("does not apply to generator `access_tree`")
    );
    let text = GOOD.replace("parents = \"aps\"\n", "");
    let d = one_error(&text);
    assert!(
        d.message.contains("missing field `parents`"),
        "{}",
        d.message
    );
    // The random graphs: their own fields, in range.
    let graph =
        |fields: &str| format!("{GOOD}\n[[topology]]\ngenerator = \"{fields}\nlink = \"wifi\"\n");
    let ok = Scenario::from_toml_str(
        &graph("erdos_renyi\"\ngroup = \"cams\"\nmean_degree = 2"),
        "t.toml",
    );
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
    let d = one_error(&graph("erdos_renyi\"\ngroup = \"cams\"\nmean_degree = 500"));
    assert_eq!(d.field, "topology[1].mean_degree");
    assert!(d.message.contains("at most"), "{}", d.message);
    let d = one_error(&graph("erdos_renyi\"\ngroup = \"cams\"\nk = 4"));
    assert_eq!(d.field, "topology[1].k");
    assert!(
        d.message
            .contains("does not apply to generator `erdos_renyi`")
    );
    let d = one_error(&graph("watts_strogatz\"\ngroup = \"cams\"\nk = 3"));
    assert_eq!(d.field, "topology[1].k");
    assert!(d.message.contains("even"), "{}", d.message);
    let d = one_error(&graph("watts_strogatz\"\ngroup = \"cams\"\nk = 2\np = 1.5"));
    assert_eq!(d.field, "topology[1].p");
}

#[test]
fn campaign_checks() {
    let d = one_error(&GOOD.replace("scan_rate = 1", "scan_rate = 1\ninitial = 11"));
    assert_eq!(d.field, "campaign[0].worm.initial");
    let d = one_error(&GOOD.replace("scan_rate = 1", "scan_rate = 1\nlocal_bias = 0.5"));
    assert_eq!(d.field, "campaign[0].worm.local_bias");
    let d = one_error(&GOOD.replace("scan_rate = 1", "scan_rate = 1\naddress_space = 5"));
    assert_eq!(d.field, "campaign[0].worm.address_space");
    let d = one_error(&GOOD.replace("[campaign.worm]\nentry = \"cams\"\nscan_rate = 1\n", ""));
    assert!(d.message.contains("[campaign.worm]"), "{}", d.message);
}

#[test]
fn absurd_rates_are_rejected_before_they_hang_a_run() {
    let d = one_error(&GOOD.replace("scan_rate = 1", "scan_rate = 1e9"));
    assert_eq!(d.field, "campaign[0].worm.scan_rate");
    assert!(d.message.contains("per tick"), "{}", d.message);
    let text = GOOD.replace(
        "kind = \"gateway\"",
        "kind = \"gateway\"\nconnections_per_second = 1e12",
    );
    assert_eq!(one_error(&text).field, "group[1].connections_per_second");
    let text = GOOD.replace("scan_rate = 1", "scan_rate = nan");
    assert_eq!(one_error(&text).field, "campaign[0].worm.scan_rate");
}

#[test]
fn quarantine_needs_detection() {
    let d = one_error(&format!("{GOOD}\n[defense.quarantine]\ndelay = \"30 s\"\n"));
    assert_eq!(d.field, "defense.quarantine");
    assert!(d.message.contains("[defense.detection]"));
    let ok = format!(
        "{GOOD}\n[defense.quarantine]\ndelay = \"30 s\"\n[defense.detection]\nthreshold = 2\nzones = [\"lan\"]\n"
    );
    let s = Scenario::from_toml_str(&ok, "ok.toml").unwrap();
    assert_eq!(s.defense.quarantine.unwrap().delay_ticks, 30);
    assert_eq!(s.defense.detection.unwrap().threshold_per_tick, 2);
}

#[test]
fn names_are_unique() {
    let text = GOOD.replace("name = \"aps\"", "name = \"cams\"");
    let d = &errors(&text)[0];
    assert!(
        d.message.contains("duplicate group name `cams`"),
        "{}",
        d.message
    );
}

#[test]
fn rendered_errors_show_file_line_and_caret() {
    let text = GOOD.replace("count = 10", "count = -3");
    let err = Scenario::from_toml_str(&text, "campus.toml")
        .unwrap_err()
        .to_string();
    let line = line_of(&text, "count = -3");
    assert!(
        err.starts_with(&format!("campus.toml:{line}:9: field `group[0].count`:")),
        "{err}"
    );
    assert!(err.contains("count = -3\n"), "{err}");
    assert!(err.trim_end().ends_with('^'), "{err}");
}

#[test]
fn the_json_schema_describes_the_format() {
    let schema = serde_json::to_value(json_schema()).unwrap();
    let props = &schema["properties"];
    for key in [
        "general", "zone", "link", "service", "group", "topology", "campaign", "defense",
    ] {
        assert!(props.get(key).is_some(), "schema lacks `{key}`: {schema}");
    }
    let text = schema.to_string();
    assert!(text.contains("barabasi_albert") && text.contains("xr_headset"));
}

/// A `[defense.*]` table added to the schema but not to the `defenses!` list would be
/// accepted and silently ignored: every section of the schema must be registered, and
/// every parameter of the search space must belong to one, once.
#[test]
fn every_defense_section_of_the_schema_is_registered() {
    let schema = serde_json::to_value(json_schema()).unwrap();
    let spec = &schema["$defs"]["DefenseSpec"]["properties"];
    let mut in_schema: Vec<&str> = spec
        .as_object()
        .expect("DefenseSpec's properties")
        .keys()
        .map(String::as_str)
        .collect();
    let mut registered = Defense::SECTIONS.to_vec();
    in_schema.sort_unstable();
    registered.sort_unstable();
    assert_eq!(in_schema, registered);
    let mut names: Vec<&str> = SPACE.iter().map(|p| p.name).collect();
    for name in &names {
        let section = name.split_once('.').expect("section.field").0;
        assert!(Defense::SECTIONS.contains(&section), "{name}");
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), SPACE.len(), "a parameter declared twice");
}

#[test]
fn flows_are_validated() {
    let flow = "\n[[flow]]\nname = \"f\"\nclass = \"xr_stream\"\nclients = \"cams\"\nservers = \"aps\"\nrate = \"20 Mbit/s\"\n";
    let s = Scenario::from_toml_str(&format!("{GOOD}{flow}"), "ok.toml").unwrap();
    assert_eq!(s.flows[0].rate_kbps, 20_000);
    assert_eq!(
        s.flows[0].latency_budget_us,
        Some(20_000),
        "XR streams get the default budget"
    );
    assert_eq!(s.flows[0].priority, 1);
    let d = one_error(&format!(
        "{GOOD}{}",
        flow.replace("servers = \"aps\"", "servers = \"apz\"")
    ));
    assert_eq!(d.field, "flow[0].servers");
    let d = one_error(&format!("{GOOD}{}", flow.replace("20 Mbit/s", "10 bit/s")));
    assert_eq!(d.field, "flow[0].rate");
    let d = one_error(&format!("{GOOD}{}", flow.replace("xr_stream", "hologram")));
    assert_eq!(d.field, "flow[0].class");
    // Attack classes are the campaigns' (a scan flow from every client would be noise).
    let d = one_error(&format!("{GOOD}{}", flow.replace("xr_stream", "scan")));
    assert_eq!(d.field, "flow[0].class");
    assert!(
        d.message.contains("`scan` is an attack class"),
        "{}",
        d.message
    );
    let d = one_error(&format!(
        "{GOOD}{flow}[traffic]\ndaily_profile = [0.5, 0.5]\n"
    ));
    assert_eq!(d.field, "traffic.daily_profile");
    let d = one_error(&GOOD.replace("capacity = \"1 Gbit/s\"", "capacity = \"5 Tbit/s\""));
    assert_eq!(d.field, "link[0].capacity");
    // A flow's service: by default the servers' first (none here: any port); a named
    // one must be a service the servers run.
    assert_eq!(s.flows[0].service, None);
    let back = flow.replace("servers = \"aps\"", "servers = \"cams\"");
    let s = Scenario::from_toml_str(&format!("{GOOD}{back}"), "ok.toml").unwrap();
    assert_eq!(s.flows[0].service, Some(0), "the cameras' first service");
    let named = format!("{flow}service = \"telnet\"\n");
    let d = one_error(&format!("{GOOD}{named}"));
    assert_eq!(d.field, "flow[0].service");
    assert!(
        d.message.contains("group `aps` does not run `telnet`")
            && d.message.contains("declares none"),
        "{}",
        d.message
    );
    let d = one_error(&format!("{GOOD}{}", named.replace("telnet", "rdp")));
    assert_eq!(d.field, "flow[0].service");
    assert!(d.message.contains("unknown service `rdp`"), "{}", d.message);
}

/// GOOD plus an isolated group (no topology reaches it), a data store and a campaign.
fn with_campaign(campaign: &str) -> String {
    format!(
        r#"{GOOD}
[[group]]
name = "island"
kind = "data_store"
count = 1
zone = "lan"
data = {{ biometric = 10 }}

[[group]]
name = "vault"
kind = "data_store"
count = 2
zone = "lan"
services = ["telnet"]
data = {{ health = 100 }}

[[topology]]
generator = "access_tree"
children = "vault"
parents = "aps"
link = "wifi"

{campaign}"#
    )
}

#[test]
fn a_targeted_campaign_resolves_with_its_defaults() {
    let text = with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.exfiltration]\ndrop = \"aps\"\nrate = \"1 Mbit/s\"\n",
    );
    let s = Scenario::from_toml_str(&text, "t.toml").unwrap();
    let c = &s.campaigns[1];
    assert_eq!(c.kind.name(), "exfiltration");
    let a = c.approach.as_ref().unwrap();
    assert_eq!(a.access, AccessMethod::Exploit);
    assert_eq!(
        c.goal,
        Some(100),
        "default goal: the records of one target node"
    );
}

/// A record's size is bounded (1 GiB): its bits are counted in 64 bits per flow, and
/// 2^63 bytes once overflowed that count mid-run (found by the extreme-values fuzz).
#[test]
fn an_exfiltrated_record_is_at_most_a_gibibyte() {
    let exfiltration = |bytes: u64| {
        with_campaign(&format!(
            "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.exfiltration]\ndrop = \"aps\"\nrate = \"1 Mbit/s\"\nrecord_bytes = {bytes}\n"
        ))
    };
    for bad in [0, MAX_RECORD_BYTES + 1, i64::MAX as u64] {
        let text = exfiltration(bad);
        let d = one_error(&text);
        assert_eq!(d.field, "campaign[1].exfiltration.record_bytes");
        assert!(
            d.message
                .contains(&format!("found {bad}: expected 1 to 1073741824 bytes")),
            "{}",
            d.message
        );
        assert_eq!(d.line, line_of(&text, &format!("record_bytes = {bad}")));
    }
    for good in [1, MAX_RECORD_BYTES] {
        Scenario::from_toml_str(&exfiltration(good), "t.toml").unwrap();
    }
}

#[test]
fn unknown_campaign_target_names_the_field_and_the_choices() {
    let text = with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vualt\"\n[campaign.intrusion]\n",
    );
    let d = one_error(&text);
    assert_eq!(d.field, "campaign[1].target");
    assert!(d.message.contains("unknown group `vualt`"), "{}", d.message);
    assert!(d.message.contains("vault"), "{}", d.message);
    assert_eq!(d.line, line_of(&text, "target = \"vualt\""));
}

#[test]
fn an_entry_with_no_path_to_the_target_is_an_error() {
    let text = with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"island\"\n[campaign.intrusion]\n",
    );
    let d = one_error(&text);
    assert_eq!(d.field, "campaign[1].entry");
    assert!(
        d.message
            .contains("no path from entry group `cams` to target group `island`"),
        "{}",
        d.message
    );
    // The exfiltration drop must be reachable from the target too.
    let text = with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.exfiltration]\ndrop = \"island\"\nrate = \"1 Mbit/s\"\n",
    );
    assert_eq!(one_error(&text).field, "campaign[1].exfiltration.drop");
    // And a botnet's DDoS target from its entry.
    let text = with_campaign(
        "[[campaign]]\nname = \"b\"\n[campaign.botnet]\nentry = \"cams\"\nscan_rate = 1\nddos_target = \"island\"\nddos_start = \"10 s\"\nddos_rate = \"1 Mbit/s\"\n",
    );
    let text = text.replace(
        "kind = \"iot_sensor\"",
        "kind = \"iot_sensor\"\nauth = \"default_credentials\"",
    );
    assert_eq!(one_error(&text).field, "campaign[1].botnet.ddos_target");
}

#[test]
fn campaign_shape_errors_name_the_field() {
    // Two kinds in one campaign.
    let text = with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.intrusion]\n[campaign.ransomware]\n",
    );
    let d = one_error(&text);
    assert_eq!(d.field, "campaign[1].ransomware");
    assert!(
        d.message.contains("intrusion and ransomware"),
        "{}",
        d.message
    );
    // A targeted kind without its target.
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\n[campaign.intrusion]\n",
    ));
    assert_eq!(d.field, "campaign[1].target");
    assert!(d.message.contains("missing field"), "{}", d.message);
    // Approach fields on a scanning campaign.
    let d = one_error(&GOOD.replace("name = \"w\"", "name = \"w\"\ntarget = \"cams\""));
    assert_eq!(d.field, "campaign[0].target");
    assert!(
        d.message.contains("does not apply to a worm"),
        "{}",
        d.message
    );
    // An access method that cannot open the entry group.
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\naccess = \"phishing\"\ntarget = \"vault\"\n[campaign.intrusion]\n",
    ).replace("count = 10\n", "count = 10\nsusceptibility = 0\n"));
    assert_eq!(d.field, "campaign[1].access");
    // Kind-specific target checks.
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.cryptojacking]\n",
    ));
    assert_eq!(d.field, "campaign[1].target");
    assert!(d.message.contains("gpu_node"), "{}", d.message);
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\ntarget = \"cams\"\n[campaign.takeover]\nmethod = \"deepfake\"\n",
    ));
    assert_eq!(d.field, "campaign[1].target");
    assert!(d.message.contains("biometric"), "{}", d.message);
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\ntarget = \"cams\"\n[campaign.takeover]\nmethod = \"credential_stuffing\"\ndeepfake_quality = 0.5\n",
    ));
    assert_eq!(d.field, "campaign[1].takeover.deepfake_quality");
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.asset_theft]\n",
    ));
    assert!(d.message.contains("no digital assets"), "{}", d.message);
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\ngoal = 0\n[campaign.ransomware]\n",
    ));
    assert_eq!(d.field, "campaign[1].goal");
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.poisoning]\nstrength = -1\n",
    ));
    assert_eq!(d.field, "campaign[1].poisoning.strength");
    let d = one_error(&with_campaign(
        "[[campaign]]\nname = \"x\"\nentry = \"cams\"\ntarget = \"vault\"\n[campaign.ransomware]\ntypo = 1\n",
    ));
    assert_eq!(d.field, "campaign[1].ransomware.typo");
    assert!(
        d.message.contains("dwell"),
        "lists the known fields: {}",
        d.message
    );
}

#[test]
fn every_bundled_campaign_scenario_is_valid() {
    for b in crate::bundled::ALL {
        crate::bundled::load(Some(b.name)).unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
}

#[test]
fn defense_parameters_outside_their_search_space_name_the_field_and_range() {
    let d = one_error(&format!(
        "{GOOD}\n[defense.zero_trust]\nreverify_interval = \"30 s\"\nthreshold = 1.5\n"
    ));
    assert_eq!(d.field, "defense.zero_trust.threshold");
    assert!(
        d.message
            .contains("expected 0 to 1 (the range of defense.zero_trust.threshold), found 1.5"),
        "{}",
        d.message
    );
    let d = one_error(&format!(
        "{GOOD}\n[defense.backups]\ninterval = \"10 d\"\nrestore_time = \"5 min\"\n"
    ));
    assert_eq!(d.field, "defense.backups.interval");
    assert!(d.message.contains("1 s to 604800 s"), "{}", d.message);
    let d = one_error(&format!("{GOOD}\n[defense.ddos]\nprotect = [\"aps\"]\n"));
    assert_eq!(d.field, "defense.ddos");
    let d = one_error(&format!(
        "{GOOD}\n[defense.ddos]\nprotect = [\"apz\"]\nrate_limit = \"1 Mbit/s\"\n"
    ));
    assert_eq!(d.field, "defense.ddos.protect[0]");
    // Every declared parameter has a sane range and step.
    for p in SPACE {
        assert!(p.step > 0.0 && p.name.contains('.'), "{p:?}");
    }
}

const SEGMENTS: &str = r#"
[[defense.segmentation.segment]]
name = "cams"
groups = ["cams"]

[[defense.segmentation.segment]]
name = "infra"
groups = ["aps"]

[[defense.segmentation.allow]]
from = "cams"
to = "infra"
"#;

#[test]
fn segmentation_resolves_and_checks_its_segments() {
    let s = Scenario::from_toml_str(&format!("{GOOD}{SEGMENTS}"), "t.toml").unwrap();
    let seg = s.defense.segmentation.as_ref().unwrap();
    // No flow goes cams -> aps, and the allow names no service: it admits nothing.
    assert!(!seg.allows(0, 1), "nothing a flow needs");
    assert!(seg.allows(1, 1), "within a segment");
    // With a flow, what the flow uses (the APs declare no service: every port).
    let flow = "\n[[flow]]\nname = \"f\"\nclass = \"telemetry\"\nclients = \"cams\"\nservers = \"aps\"\nrate = \"1 Mbit/s\"\n";
    let s = Scenario::from_toml_str(&format!("{GOOD}{flow}{SEGMENTS}"), "t.toml").unwrap();
    let seg = s.defense.segmentation.as_ref().unwrap();
    assert!(seg.allows(0, 1), "cams -> aps allowed");
    assert!(seg.allows_service(0, 1, None), "on every port");
    assert!(!seg.allows(1, 0), "aps -> cams not (one way)");
    // Named services: "*" is every service of the cameras (telnet), both ways.
    let both = SEGMENTS.replace(
        "to = \"infra\"\n",
        "to = \"infra\"\nboth_ways = true\nservices = [\"*\"]\n",
    );
    let s = Scenario::from_toml_str(&format!("{GOOD}{both}"), "t.toml").unwrap();
    let seg = s.defense.segmentation.as_ref().unwrap();
    assert!(seg.allows_service(1, 0, Some(0)), "aps -> cams telnet");
    assert!(
        !seg.allows_service(1, 0, None),
        "but no other port of the cameras"
    );
    assert!(
        seg.allows_service(0, 1, None),
        "every port of the APs (none declared)"
    );
    let d = one_error(&format!(
        "{GOOD}{}",
        SEGMENTS.replace(
            "to = \"infra\"\n",
            "to = \"infra\"\nservices = [\"telnet\"]\n"
        )
    ));
    assert_eq!(d.field, "defense.segmentation.allow[0].services[0]");
    assert!(
        d.message
            .contains("no group of segment `infra` runs `telnet`"),
        "{}",
        d.message
    );
    // Unknown segment in an allow rule.
    let d = one_error(&format!(
        "{GOOD}{}",
        SEGMENTS.replace("to = \"infra\"", "to = \"infar\"")
    ));
    assert_eq!(d.field, "defense.segmentation.allow[0].to");
    assert!(
        d.message.contains("unknown segment `infar`"),
        "{}",
        d.message
    );
    // A group in no segment would bypass the policy.
    let d = one_error(&format!(
        "{GOOD}{}",
        SEGMENTS.replace("groups = [\"aps\"]", "groups = []")
    ));
    assert!(
        d.message.contains("group `aps` is in no segment"),
        "{}",
        d.message
    );
    // A group in two segments.
    let d = one_error(&format!(
        "{GOOD}{}",
        SEGMENTS.replace("groups = [\"aps\"]", "groups = [\"aps\", \"cams\"]")
    ));
    assert_eq!(d.field, "defense.segmentation.segment[1].groups[1]");
}

#[test]
fn a_strategy_file_replaces_the_defenses_and_its_errors_point_into_it() {
    let base = Scenario::from_toml_str(
        &format!("{GOOD}\n[defense.patching]\ninterval = \"1 h\"\ncoverage = 0.5\n"),
        "t.toml",
    )
    .unwrap();
    assert!(base.defense.patching.is_some());
    let strategy =
        format!("[strategy]\nname = \"tight\"\n\n[defense.deception]\ndecoys = 0.2\n{SEGMENTS}");
    let s = base.clone().with_strategy(&strategy, "tight.toml").unwrap();
    assert_eq!(s.defense.strategy.as_deref(), Some("tight"));
    assert!(
        s.defense.patching.is_none(),
        "the strategy replaces, not merges"
    );
    assert_eq!(s.defense.active(), ["segmentation", "deception"]);
    assert_eq!(s.strategy_source.as_deref(), Some(strategy.as_str()));

    let bad = strategy.replace("decoys = 0.2", "decoys = 2");
    match base.clone().with_strategy(&bad, "tight.toml") {
        Err(ScenarioError::Invalid {
            origin,
            diagnostics,
        }) => {
            assert_eq!(origin, "tight.toml");
            assert_eq!(diagnostics[0].field, "defense.deception.decoys");
            assert_eq!(diagnostics[0].line, line_of(&bad, "decoys = 2"));
        }
        other => panic!("expected an invalid strategy, got {other:?}"),
    }
    match base
        .clone()
        .with_strategy("[strategy]\nname = \"../up\"\n", "x.toml")
    {
        Err(ScenarioError::Invalid { diagnostics, .. }) => {
            assert_eq!(diagnostics[0].field, "strategy.name", "it names a folder");
        }
        other => panic!("expected an invalid strategy name, got {other:?}"),
    }
    match base.with_strategy("[strategy]\nname = \"x\"\n[defense.typo]\n", "x.toml") {
        Err(ScenarioError::Invalid { diagnostics, .. }) => {
            assert!(diagnostics[0].field.contains("defense"), "{diagnostics:?}");
            assert!(diagnostics[0].message.contains("typo"), "{diagnostics:?}");
        }
        other => panic!("expected an invalid strategy, got {other:?}"),
    }
}

#[test]
fn detection_methods_and_the_adaptive_response_check_their_fields() {
    let d = one_error(&format!(
        "{GOOD}\n[defense.detection]\nmethod = \"ueba\"\nthreshold = 2\n"
    ));
    assert_eq!(d.field, "defense.detection.threshold");
    assert!(d.message.contains("UEBA learns"), "{}", d.message);
    let d = one_error(&format!("{GOOD}\n[defense.detection]\nzones = [\"lan\"]\n"));
    assert_eq!(d.field, "defense.detection.threshold");
    assert!(d.message.contains("missing field"), "{}", d.message);
    let d = one_error(&format!(
        "{GOOD}\n[defense.detection]\nmethod = \"ueba\"\nsensitivity = 100\n"
    ));
    assert_eq!(d.field, "defense.detection.sensitivity");
    let s = Scenario::from_toml_str(
        &format!("{GOOD}\n[defense.detection]\nmethod = \"ueba\"\n"),
        "t.toml",
    )
    .unwrap();
    let det = s.defense.detection.unwrap();
    assert_eq!((det.sensitivity_milli, det.learning_q16), (4000, 3277));

    let d = one_error(&format!(
        "{GOOD}\n[defense.detection]\nthreshold = 1\n[defense.adaptive]\nthrottle_at = 1\n"
    ));
    assert_eq!(d.field, "defense.adaptive");
    assert!(d.message.contains("[defense.quarantine]"), "{}", d.message);
    let d = one_error(&format!(
        "{GOOD}\n[defense.detection]\nthreshold = 1\n[defense.quarantine]\ndelay = \"1 s\"\n[defense.adaptive]\nquarantine_at = 12\n"
    ));
    assert_eq!(d.field, "defense.adaptive.quarantine_at");
    assert!(d.message.contains("expected 1 to 9"), "{}", d.message);
}

/// GOOD with its worm replaced by `worm` (the lines after `[campaign.worm]`).
fn with_worm(worm: &str) -> String {
    let cut = GOOD.find("entry = \"cams\"\nscan_rate = 1").unwrap();
    format!("{}{worm}\n", &GOOD[..cut])
}

#[test]
fn contact_worms_and_recovery_resolve_to_exact_per_tick_chances() {
    let s = Scenario::from_toml_str(
        &with_worm(
            "entry = \"cams\"\nscan_rate = 1\nstrategy = \"contact\"\nrecovery = { mean = \"10 s\", into = \"immune\" }",
        ),
        "t.toml",
    )
    .unwrap();
    let CampaignKind::Worm(w) = &s.campaigns[0].kind else {
        panic!("a worm")
    };
    assert_eq!(w.strategy, ScanStrategy::Contact);
    let r = w.recovery.unwrap();
    assert!(r.immune);
    // 1 − e^(−1 s / 10 s).
    assert!((r.per_tick.probability() - 0.095_162_581_964).abs() < 1e-9);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn bad_recovery_contact_and_release_settings_are_located() {
    let text = with_worm("entry = \"cams\"\nscan_rate = 1\nrecovery = { mean = \"0 s\" }");
    let d = one_error(&text);
    assert_eq!(d.field, "campaign[0].worm.recovery.mean");
    assert!(d.message.contains("above 0 s"), "{}", d.message);

    let text =
        with_worm("entry = \"cams\"\nscan_rate = 1\nstrategy = \"contact\"\naddress_space = 100");
    let d = one_error(&text);
    assert_eq!(d.field, "campaign[0].worm.address_space");

    let no_links = GOOD.replace(
        "[[topology]]\ngenerator = \"access_tree\"\nchildren = \"cams\"\nparents = \"aps\"\nlink = \"wifi\"\n",
        "",
    );
    let cut = no_links.find("scan_rate = 1").unwrap();
    let text = format!(
        "{}scan_rate = 1\nstrategy = \"contact\"\n",
        &no_links[..cut]
    );
    let d = one_error(&text);
    assert_eq!(d.field, "campaign[0].worm.strategy");
    assert!(d.message.contains("no [[topology]]"), "{}", d.message);

    let text = format!(
        "{GOOD}\n[defense.detection]\nthreshold = 5.0\n[defense.quarantine]\ndelay = \"1 s\"\nrelease_patched = false\n"
    );
    let d = one_error(&text);
    assert_eq!(d.field, "defense.quarantine.release_patched");
}

#[test]
fn a_tick_too_coarse_for_the_growth_rate_is_a_located_warning() {
    // β = 1 scan/s × 1 (exploit) × 10 open cams / 12 addresses ≈ 0.83 per 1 s tick.
    let s = Scenario::from_toml_str(GOOD, "t.toml").unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    let w = &s.warnings[0];
    assert_eq!(w.field, "campaign[0].worm.scan_rate");
    assert_eq!(w.line, line_of(GOOD, "scan_rate = 1"));
    assert!(
        w.message.contains("slower than the continuous"),
        "{}",
        w.message
    );
    assert!(s.warnings_text().starts_with("warning: t.toml:"));
    // A tick 100 times finer is within 5 %: no warning.
    let fine = GOOD.replace("tick = \"1 s\"", "tick = \"10 ms\"");
    assert!(
        Scenario::from_toml_str(&fine, "t.toml")
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn configuration_and_edge_list_settings_are_checked() {
    let topo = |body: &str| {
        GOOD.replace(
            "generator = \"access_tree\"\nchildren = \"cams\"\nparents = \"aps\"",
            body,
        )
    };
    let d = one_error(&topo(
        "generator = \"configuration\"\ngroup = \"cams\"\nexponent = 1.5",
    ));
    assert_eq!(d.field, "topology[0].exponent");
    let d = one_error(&topo(
        "generator = \"configuration\"\ngroup = \"cams\"\nexponent = 2.5\ndegrees = [2]",
    ));
    assert!(d.message.contains("not both"), "{}", d.message);
    let d = one_error(&topo(
        "generator = \"configuration\"\ngroup = \"cams\"\ndegrees = [3, 10]",
    ));
    assert!(d.message.contains("expected below 10"), "{}", d.message);

    let dir = std::env::temp_dir().join(format!("paraverse-edges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.txt"), "# cams\n0 1\n1,2\n2\t1 # again\n").unwrap();
    std::fs::write(dir.join("bad.txt"), "0 1\n0 x\n3 3\n0 10\n").unwrap();
    let scenario_path = dir.join("s.toml");
    let text = topo("generator = \"edge_list\"\ngroup = \"cams\"\nfile = \"ok.txt\"");
    let s = Scenario::from_toml_str(&text, &scenario_path.display().to_string()).unwrap();
    let TopologyStep::EdgeList { links, .. } = &s.topology[0] else {
        panic!("an edge list")
    };
    assert_eq!(**links, [(0, 1), (1, 2)], "a repeated pair is one link");
    let text = topo("generator = \"edge_list\"\ngroup = \"cams\"\nfile = \"bad.txt\"");
    let d = match Scenario::from_toml_str(&text, &scenario_path.display().to_string()) {
        Err(ScenarioError::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("expected invalid, got {other:?}"),
    };
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].field, "topology[0].file");
    for part in [
        "bad.txt: line 2: expected two node indices",
        "line 3: a link from node 3 to itself",
        "line 4: node index 10 out of range",
    ] {
        assert!(d[0].message.contains(part), "{part} in {}", d[0].message);
    }
    std::fs::write(
        dir.join("g.graphml"),
        r#"<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <graph edgedefault="undirected">
    <node id="a"/><node id="b"/><node id="c"/>
    <edge source="a" target="c"/>
    <edge source="c" target="a"/>
    <edge source="b" target="c"/>
  </graph>
</graphml>
"#,
    )
    .unwrap();
    let text = topo("generator = \"edge_list\"\ngroup = \"cams\"\nfile = \"g.graphml\"");
    let s = Scenario::from_toml_str(&text, &scenario_path.display().to_string()).unwrap();
    let TopologyStep::EdgeList { links, .. } = &s.topology[0] else {
        panic!("an edge list")
    };
    assert_eq!(**links, [(0, 2), (1, 2)]);
    std::fs::write(
        dir.join("bad.graphml"),
        "<graphml><graph>\n<node id=\"a\"/>\n<edge source=\"a\" target=\"zz\"/>\n</graph></graphml>",
    )
    .unwrap();
    let text = topo("generator = \"edge_list\"\ngroup = \"cams\"\nfile = \"bad.graphml\"");
    let d = match Scenario::from_toml_str(&text, &scenario_path.display().to_string()) {
        Err(ScenarioError::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("expected invalid, got {other:?}"),
    };
    assert!(
        d[0].message.contains(
            "bad.graphml: line 3: an <edge> whose source or target is no declared <node> id"
        ),
        "{}",
        d[0].message
    );
    std::fs::write(
        dir.join("torn.graphml"),
        "<graphml><graph>\n<node id=\"a\">",
    )
    .unwrap();
    let text = topo("generator = \"edge_list\"\ngroup = \"cams\"\nfile = \"torn.graphml\"");
    let err = Scenario::from_toml_str(&text, &scenario_path.display().to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not well-formed XML"), "{err}");
    let text = topo("generator = \"edge_list\"\ngroup = \"cams\"\nfile = \"missing.txt\"");
    assert!(Scenario::from_toml_str(&text, &scenario_path.display().to_string()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn attack_rates_scale_every_campaigns_progress_and_nothing_else() {
    let s = Scenario::from_toml_str(GOOD, "good.toml").unwrap();
    let same = s.clone().with_attack_rates(1.0);
    let (CampaignKind::Worm(a), CampaignKind::Worm(b)) =
        (&s.campaigns[0].kind, &same.campaigns[0].kind)
    else {
        panic!("GOOD has a worm");
    };
    assert_eq!(
        (a.scan_rate, a.scans_per_tick),
        (b.scan_rate, b.scans_per_tick)
    );
    let fast = s.clone().with_attack_rates(2.5);
    let CampaignKind::Worm(f) = &fast.campaigns[0].kind else {
        panic!("a worm");
    };
    assert_eq!(f.scan_rate, a.scan_rate * 2.5);
    assert_eq!(f.scans_per_tick.mean(), a.scans_per_tick.mean() * 2.5);
    assert_eq!((f.initial, f.address_space), (a.initial, a.address_space));
    // A targeted campaign's attempts scale too, its chances per attempt do not.
    let siege = crate::bundled::load(Some("metaverse-under-siege")).unwrap();
    let slow = siege.clone().with_attack_rates(0.5);
    let mut approaches = 0;
    for (c, d) in siege.campaigns.iter().zip(&slow.campaigns) {
        if let (Some(a), Some(b)) = (&c.approach, &d.approach) {
            approaches += 1;
            assert_eq!(b.attempts_per_tick, a.attempts_per_tick.scaled(0.5));
            assert_eq!(b.lateral_per_tick, a.lateral_per_tick.scaled(0.5));
            assert_eq!(b.credential_reuse, a.credential_reuse);
        }
        assert_eq!(c.goal, d.goal);
    }
    assert!(approaches > 0);
    assert_eq!(
        siege.source, slow.source,
        "the same scenario file, checkpoints match"
    );
}

#[test]
fn a_supply_chain_campaign_checks_its_fleet_service_and_signature() {
    let example = crate::bundled::get("campaign-supply-chain").unwrap().text;
    let s = Scenario::from_toml_str(example, "sc.toml").unwrap();
    let CampaignKind::SupplyChain(sc) = &s.campaigns[0].kind else {
        panic!("{:?}", s.campaigns[0].kind)
    };
    assert_eq!((sc.fleet.len(), sc.rollout_ticks), (1, 360));
    assert_eq!(
        s.campaigns[0].goal,
        Some(400),
        "default goal: the whole fleet"
    );
    let bad = |from: &str, to: &str| {
        assert_eq!(example.matches(from).count(), 1, "{from}");
        let text = example.replace(from, to);
        let d = one_error(&text);
        assert_eq!(d.line, line_of(&text, to.lines().last().unwrap()), "{d:?}");
        d
    };
    let fleet = "fleet = [\"headsets\"]";
    let d = bad(fleet, "fleet = [\"headsets\", \"wearabels\"]");
    assert_eq!(d.field, "campaign[0].supply_chain.fleet[1]");
    assert!(
        d.message.contains("unknown group `wearabels`"),
        "{}",
        d.message
    );
    let d = bad(fleet, "fleet = [\"headsets\", \"update-service\"]");
    assert!(
        d.message.contains("the update service itself"),
        "{}",
        d.message
    );
    let d = bad(fleet, "fleet = []");
    assert_eq!(d.field, "campaign[0].supply_chain.fleet");
    let d = bad("rollout = \"1 h\"", "rollout = \"1 h\"\nsigned = 1.5");
    assert_eq!(d.field, "campaign[0].supply_chain.signed");
    let d = bad("target = \"update-service\"", "target = \"wallets\"");
    assert_eq!(d.field, "campaign[0].target");
    assert!(d.message.contains("update service"), "{}", d.message);
    // Code signing is an alert source quarantine can act on.
    let text = format!(
        "{example}\n[defense.code_signing]\ncoverage = 0.9\n\n[defense.quarantine]\ndelay = \"30 s\"\n"
    );
    let s = Scenario::from_toml_str(&text, "sc.toml").unwrap();
    assert_eq!(s.defense.active(), ["quarantine", "code_signing"]);
    let d = one_error(&text.replace("coverage = 0.9", "coverage = 2"));
    assert_eq!(d.field, "defense.code_signing.coverage");
}

/// The bundled full-stack strategy as it was written before roles: by the siege's zone
/// and group names.
fn full_stack_by_name() -> String {
    crate::bundled::STRATEGIES
        .iter()
        .find(|b| b.name == "full-stack")
        .unwrap()
        .text
        .replace("\"kind:users\"", "\"xr\", \"mobile\"")
        .replace("\"kind:iot\"", "\"iot\"")
        .replace("\"kind:edge\"", "\"edge\"")
        .replace("\"kind:datacenter\"", "\"core\"")
        .replace("\"kind:trust\"", "\"trust\"")
        .replace("\"kind:internet\"", "\"outside\"")
        .replace("\"kind:gpu_node\"", "\"gpu-render\"")
}

fn bundled_strategy(name: &str) -> &'static str {
    crate::bundled::STRATEGIES
        .iter()
        .find(|b| b.name == name)
        .unwrap()
        .text
}

#[test]
fn a_strategy_by_kind_resolves_like_the_same_strategy_by_name() {
    let siege = crate::bundled::load(Some("metaverse-under-siege")).unwrap();
    let by_kind = siege
        .clone()
        .with_strategy(bundled_strategy("full-stack"), "full-stack.toml")
        .unwrap();
    let by_name_text = full_stack_by_name();
    assert!(!by_name_text.contains("\"kind:"), "{by_name_text}");
    let by_name = siege.with_strategy(&by_name_text, "by-name.toml").unwrap();
    assert_eq!(
        format!("{:?}", by_kind.defense),
        format!("{:?}", by_name.defense)
    );
    assert!(by_kind.strategy_warnings.is_empty());
}

#[test]
fn a_kind_the_scenario_lacks_selects_nothing_and_says_so() {
    let office = crate::bundled::load(Some("enterprise-office")).unwrap();
    let s = office
        .with_strategy(bundled_strategy("full-stack"), "full-stack.toml")
        .unwrap();
    let text = s.warnings_text();
    assert!(
        text.contains("full-stack.toml:56:10: field `defense.detection.zones[0]`: `kind:iot` selects no zone here"),
        "{text}"
    );
    assert!(
        text.contains("`kind:gpu_node` selects no group here"),
        "{text}"
    );
    // Detection written for IoT zones watches none here, not every zone (an empty list's
    // meaning); the DDoS shield protects no group.
    assert_eq!(s.defense.detection.as_ref().unwrap().zones, vec![NO_ZONE]);
    assert!(s.defense.ddos.as_ref().unwrap().protect.is_empty());
    // Every group still lands in a segment: users, the data centre, the Internet.
    let seg = s.defense.segmentation.as_ref().unwrap();
    let names: Vec<&str> = (0..s.groups.len())
        .map(|g| seg.names[seg.segment_of_group[g] as usize].as_str())
        .collect();
    assert!(names.contains(&"users") && names.contains(&"core") && names.contains(&"outside"));
}

#[test]
fn unknown_kinds_are_errors_that_list_the_kinds() {
    let siege = crate::bundled::load(Some("metaverse-under-siege")).unwrap();
    let text = "[strategy]\nname = \"x\"\n\n[defense.detection]\nthreshold = 0.5\nzones = [\"kind:iott\"]\n\n[defense.ddos]\nprotect = [\"kind:gpu\"]\nrate_limit = \"1 Mbit/s\"\n";
    let e = siege.with_strategy(text, "x.toml").unwrap_err().to_string();
    assert!(
        e.contains("x.toml:6:10")
            && e.contains("unknown zone kind `iott` (did you mean `iot`?); expected one of: users, iot, edge, datacenter, trust, internet"),
        "{e}"
    );
    assert!(
        e.contains("x.toml:9:12")
            && e.contains("unknown node kind `gpu`; expected one of: xr_headset"),
        "{e}"
    );
}

/// Written against roles, every bundled strategy applies to every bundled scenario whose
/// zones declare their kind (the CAGE-4-like network and the one-zone worm do not).
#[test]
fn every_bundled_strategy_applies_to_every_scenario_with_zone_kinds() {
    for b in crate::bundled::ALL {
        let scenario = crate::bundled::load(Some(b.name)).unwrap();
        if scenario.file.zones.iter().any(|z| z.kind.is_none()) {
            assert!(
                ["cage4-like", "worm-logistic"].contains(&b.name),
                "{} has zones without a kind",
                b.name
            );
            continue;
        }
        for st in crate::bundled::STRATEGIES {
            if let Err(e) = scenario.clone().with_strategy(st.text, st.name) {
                panic!("{} on {}: {e}", st.name, b.name);
            }
        }
    }
}

/// The names a TOML text declares (`name = "..."` lines).
fn declared_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect()
}

/// Misspells, one at a time, every quoted reference to one of `declared` in `text`
/// (outside comments and `name = ` lines) and checks that `validate` gives exactly one
/// error, on that line, naming the misspelled name; returns how many were checked and a
/// description of each that gave something else.
fn misspell_each_reference(
    origin: &str,
    text: &str,
    declared: &[&str],
    validate: impl Fn(&str) -> Result<Scenario, ScenarioError>,
) -> (usize, Vec<String>) {
    let (mut checked, mut wrong) = (0, Vec::new());
    let lines: Vec<&str> = text.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("name ") {
            continue;
        }
        // The line's code, before a comment (a `#` outside quotes).
        let mut inside = false;
        let code = line
            .char_indices()
            .find(|&(_, c)| {
                inside ^= c == '"';
                c == '#' && !inside
            })
            .map_or(*line, |(k, _)| &line[..k]);
        let quoted: Vec<(usize, &str)> = code
            .match_indices('"')
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .chunks_exact(2)
            .map(|q| (q[0] + 1, &line[q[0] + 1..q[1]]))
            .filter(|(_, s)| declared.contains(s))
            .collect();
        for (k, name) in quoted {
            let typo = format!("{name}-typo");
            let mut edited = lines.clone();
            let changed = format!("{}{typo}{}", &line[..k], &line[k + name.len()..]);
            edited[at] = &changed;
            let d = match validate(&edited.join("\n")) {
                Err(ScenarioError::Invalid { diagnostics, .. }) => diagnostics,
                Err(e) => panic!("{origin}:{}: `{typo}`: unexpected error {e}", at + 1),
                Ok(_) => panic!("{origin}:{}: `{typo}` accepted", at + 1),
            };
            if !(d.len() == 1 && d[0].line == at + 1 && d[0].message.contains(&format!("`{typo}`")))
            {
                let said: Vec<String> = d
                    .iter()
                    .map(|d| format!("{}:{}: {}", d.line, d.field, d.message))
                    .collect();
                wrong.push(format!("{origin}:{}: `{typo}` gave {said:#?}", at + 1));
            }
            checked += 1;
        }
    }
    (checked, wrong)
}

/// [`misspell_each_reference`] over several files, each with the names it may refer to;
/// fails listing every misspelling that gave something other than one error; returns
/// how many were checked.
fn misspell_each_reference_in<'t>(
    files: impl IntoIterator<Item = (&'t crate::bundled::Bundled, Vec<&'t str>)>,
    validate: impl Fn(&str, &str) -> Result<Scenario, ScenarioError>,
) -> usize {
    let (mut checked, mut wrong) = (0, Vec::new());
    for (b, declared) in files {
        let (n, w) =
            misspell_each_reference(b.name, b.text, &declared, |text| validate(text, b.name));
        checked += n;
        wrong.extend(w);
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    checked
}

/// Every reference to a declared name in every bundled scenario, misspelled one at a
/// time, gives exactly one error, on that reference: validation never goes on with a
/// stand-in (group 0, zone 0) and reports a false second problem about it (as a
/// misspelled cryptojacking `target` did, with an error about group 0's node kind).
#[test]
fn each_misspelled_reference_in_a_scenario_gives_exactly_one_error() {
    let checked = misspell_each_reference_in(
        crate::bundled::ALL
            .iter()
            .map(|b| (b, declared_names(b.text))),
        Scenario::from_toml_str,
    );
    assert!(checked > 1000, "only {checked} references checked");
}

/// The same for every bundled strategy, on the venue it is written for: a misspelled
/// zone, group, service or segment is one error.
#[test]
fn each_misspelled_reference_in_a_strategy_gives_exactly_one_error() {
    let venue =
        crate::bundled::get("metaverse-under-siege").expect("the strategies' venue is bundled");
    let scenario = Scenario::from_toml_str(venue.text, venue.name).expect("venue is valid");
    // An allow rule that lists services: a misspelled segment once stood for segment 0
    // (`users`), which runs no `notebook`, and gave a second error.
    let listed = crate::bundled::Bundled {
        name: "allow-listed-services",
        text: r#"[strategy]
name = "allow-listed-services"

[[defense.segmentation.segment]]
name = "users"
zones = ["kind:users"]

[[defense.segmentation.segment]]
name = "rest"
zones = ["kind:iot", "kind:edge", "kind:datacenter", "kind:trust", "kind:internet"]

[[defense.segmentation.allow]]
from = "users"
to = "rest"
services = ["notebook", "https"]
"#,
    };
    let checked = misspell_each_reference_in(
        crate::bundled::STRATEGIES.iter().chain([&listed]).map(|b| {
            let mut declared = declared_names(venue.text);
            declared.extend(declared_names(b.text));
            (b, declared)
        }),
        |text, origin| scenario.clone().with_strategy(text, origin),
    );
    assert!(checked >= 10, "only {checked} references checked");
}

/// A group whose zone or service is misspelled is incomplete: checks that read its zone
/// (which segment holds it) or its services (can a worm exploit it) skip it, so the
/// misspelling is the one error.
#[test]
fn a_group_with_an_unknown_name_is_not_checked_further() {
    // Zone 0 holds no group and no segment: a stand-in zone 0 would be in none.
    let segmented = format!(
        "{}\n[[defense.segmentation.segment]]\nname = \"all\"\nzones = [\"lan\"]\n",
        GOOD.replace("[[zone]]\n", "[[zone]]\nname = \"spare\"\n\n[[zone]]\n")
    );
    Scenario::from_toml_str(&segmented, "good.toml").expect("segmented GOOD is valid");
    let text = segmented.replace("zone = \"lan\"\nservices", "zone = \"lna\"\nservices");
    let d = one_error(&text);
    assert_eq!(d.field, "group[0].zone", "{d:?}");

    let aimed = GOOD.replace("scan_rate = 1\n", "scan_rate = 1\nservice = \"telnet\"\n");
    Scenario::from_toml_str(&aimed, "good.toml").expect("a worm aimed at telnet is valid");
    let text = aimed.replace("services = [\"telnet\"]", "services = [\"telnot\"]");
    let d = one_error(&text);
    assert_eq!(d.field, "group[0].services[0]", "{d:?}");
}

#[test]
fn an_unknown_name_suggests_the_known_one_it_likely_misspells() {
    let known = ["gpu-render", "gateways", "lan", "zero-trust", "ztna"];
    let k = known.iter().copied();
    assert_eq!(closest("gpu-rendr", k.clone()), Some("gpu-render"));
    assert_eq!(
        closest("zreo-trust", k.clone()),
        Some("zero-trust"),
        "a swap is one edit"
    );
    assert_eq!(closest("GATEWAYS", k.clone()), None, "case is eight edits");
    assert_eq!(closest("dmz", k.clone()), None, "too far to be a typo");
    assert_eq!(closest("lna", k.clone()), Some("lan"));
    assert_eq!(closest("x", std::iter::empty()), None);
    assert_eq!(did_you_mean(Some("lan")), " (did you mean `lan`?)");
    assert_eq!(did_you_mean(None), "");

    let d = one_error(&GOOD.replace("zone = \"lan\"\nservices", "zone = \"lna\"\nservices"));
    assert!(
        d.message
            .contains("unknown zone `lna` (did you mean `lan`?); expected one of: lan"),
        "{}",
        d.message
    );
    let e = crate::bundled::load(Some("campaign-intrusoin"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no bundled scenario of that name (did you mean `campaign-intrusion`?)"),
        "{e}"
    );
    let e = crate::bundled::strategy_text(std::path::Path::new("zero-trst"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("(did you mean `zero-trust`?)"), "{e}");
}
