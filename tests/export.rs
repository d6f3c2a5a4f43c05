//! `paraverse export` through the real binary: from a lab's best.json and from strategy
//! files, checked by the real tools (`nft -c -f` in a network namespace of its own,
//! `kubernetes-validate --strict` with the published Kubernetes schemas, Istio's
//! published CRD schemas as cloudcoil's generated models), read back into the
//! allowed-flow matrix and compared with the simulator's; hostile names rejected.
//!
//! The tools come from Debian (`nftables`, `util-linux`'s `unshare`) and PyPI
//! (`kubernetes-validate`, `cloudcoil-models-istio`); `.ci/run` installs them and sets
//! PARAVERSE_REQUIRE_EXPORT_TOOLS=1, which turns a missing tool from a skip into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{paraverse, repo, text};

use paraverse_defenders::export::{
    self, Format, Mapping, Provenance, istio, k8s, matrix, nftables,
};
use paraverse_sim::bundled;
use paraverse_sim::scenario::Scenario;

/// Whether a tool runs; a missing one skips (or fails under PARAVERSE_REQUIRE_EXPORT_TOOLS=1).
fn have(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::skip_unless_required(
            "PARAVERSE_REQUIRE_EXPORT_TOOLS",
            &format!(
                "`{tool}` is missing (apt-get install nftables; pip install kubernetes-validate cloudcoil-models-istio)"
            ),
        );
    }
    ok
}

/// `nft -c -f` in a fresh network namespace: checks against the kernel without touching
/// the host's rules.
fn nft_accepts(files: &[PathBuf]) {
    if !have("unshare", &["-n", "nft", "--version"]) {
        return;
    }
    for f in files {
        let out = Command::new("unshare")
            .args(["-n", "nft", "-c", "-f"])
            .arg(f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nft -c -f {} refused it:\n{}",
            f.display(),
            text(&out.stderr)
        );
    }
}

fn kubernetes_accepts(files: &[PathBuf]) {
    if !have("kubernetes-validate", &["--version"]) {
        return;
    }
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubernetes-validate --strict refused them:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Validates Istio resources against the published CRD schemas (cloudcoil's models,
/// generated from them): every document must validate, and nothing may be dropped as
/// unknown (its dump must equal the input).
fn istio_accepts(files: &[PathBuf]) {
    const CHECK: &str = r#"
import sys, yaml
from cloudcoil.models.istio.security import v1
kinds = {"AuthorizationPolicy": v1.AuthorizationPolicy, "PeerAuthentication": v1.PeerAuthentication}
n = 0
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        model = kinds[doc["kind"]].model_validate(doc)
        back = model.model_dump(by_alias=True, exclude_none=True, mode="json")
        if back != doc:
            sys.exit(f"{path}: {doc['metadata']['name']}: fields the schema does not know: {doc} != {back}")
        n += 1
print(n)
"#;
    if !have(
        "python3",
        &["-c", "import cloudcoil.models.istio.security.v1, yaml"],
    ) {
        return;
    }
    let out = Command::new("python3")
        .args(["-c", CHECK])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Istio's schema refused them:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let n: usize = text(&out.stdout).trim().parse().unwrap();
    assert!(
        n >= 2 * files.len(),
        "{n} documents in {} files",
        files.len()
    );
}

/// Reads the exported files back and compares their allowed-flow matrix with the
/// simulator's for that scenario and strategy.
fn round_trip(dir: &Path, scenario: Scenario, mapping: &Mapping) {
    let plan = export::plan(&scenario, mapping, Provenance::default()).expect("plans");
    let probes = matrix::probes(&plan);
    let sim = matrix::simulated(&scenario, &plan, &probes);
    assert!(sim.admitted() > 0);
    let nft = std::fs::read_to_string(dir.join("ruleset.nft")).unwrap();
    let yaml = std::fs::read_to_string(dir.join("networkpolicy.yaml")).unwrap();
    assert_eq!(nftables::read_back(&nft, &plan, &probes).unwrap(), sim);
    assert_eq!(k8s::read_back(&yaml, &plan, &probes).unwrap(), sim);
    let mesh = std::fs::read_to_string(dir.join("authorizationpolicy.yaml")).unwrap();
    let decided = sim.only(|p| istio::decides(&plan, p));
    assert!(decided.admitted() > 0 && decided.probes.len() < sim.probes.len());
    assert_eq!(istio::read_back(&mesh, &plan, &probes).unwrap(), decided);
}

const EXPERIMENT: &str = r#"
[experiment]
name = "export-e2e"
scenario = "campaign-botnet-ddos"
strategy = "shield.toml"
replicas = 1
ticks = 60

[[vary]]
param = "ddos.rate_limit"
values = ["1 Mbit/s", "4 Mbit/s"]

[[axis]]
field = "campaign.0.start"
values = ["1 min", "3 min"]
"#;

#[test]
fn best_json_exports_to_formats_the_real_tools_accept_and_the_simulator_agrees_with() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("exp.toml"), EXPERIMENT).unwrap();
    let segmented = std::fs::read_to_string(repo().join("strategies/segmented.toml")).unwrap();
    let shield = segmented.replace("name = \"segmented\"", "name = \"shield\"")
        + "\n[defense.ddos]\nprotect = [\"gpu-render\"]\nrate_limit = \"2 Mbit/s\"\n\n[defense.detection]\nthreshold = 20\n\n[defense.quarantine]\ndelay = \"30 s\"\n";
    std::fs::write(dir.join("shield.toml"), &shield).unwrap();
    let out = paraverse(&["sweep", "exp.toml", "--quiet"], dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let best = dir.join("results/export-e2e/best.json");

    let out = paraverse(&["export", best.to_str().unwrap()], dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("round trip"), "{stdout}");
    let exported = dir.join("results/export-e2e/export");
    for f in Format::ALL {
        assert!(exported.join(f.file_name()).is_file(), "{}", f.file_name());
    }

    // JSON: the strategy and its provenance from the lab.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exported.join("strategy.json")).unwrap())
            .unwrap();
    let best_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&best).unwrap()).unwrap();
    assert_eq!(json["strategy"]["toml"], best_json["strategy"]);
    assert_eq!(json["provenance"]["lab"]["experiment"], "export-e2e");
    assert_eq!(
        json["provenance"]["lab"]["provenance"]["scenario_hash"],
        json["scenario"]["source_hash"]
    );
    assert!(json["provenance"]["lab"]["metrics"].is_object());
    let limit = json["ddos"]["rate_limits"][0]["per_source_kbps"]
        .as_u64()
        .unwrap();
    assert!(limit == 1000 || limit == 4000, "{limit}");
    // nftables carries the chosen rate limit, in bytes per second.
    let nft = std::fs::read_to_string(exported.join("ruleset.nft")).unwrap();
    assert!(
        nft.contains(&format!("limit rate over {} bytes/second", limit * 125)),
        "{nft}"
    );

    nft_accepts(&[exported.join("ruleset.nft")]);
    kubernetes_accepts(&[exported.join("networkpolicy.yaml")]);
    istio_accepts(&[exported.join("authorizationpolicy.yaml")]);
    // The best point's scenario, axes applied, is the one exported (its hash matches).
    let exp = paraverse_lab::Experiment::load(&dir.join("exp.toml")).unwrap();
    let point = best_json["point"].as_u64().unwrap() as usize;
    let scenario = exp.points[point].scenario.clone();
    assert_eq!(
        format!("{:016x}", scenario.source_hash),
        best_json["provenance"]["scenario_hash"].as_str().unwrap()
    );
    let scenario = scenario
        .with_strategy(best_json["strategy"].as_str().unwrap(), "best.json")
        .unwrap();
    round_trip(&exported, scenario, &Mapping::default());

    // A scenario changed since the experiment ran is refused unless asked for.
    let mut tampered = best_json.clone();
    tampered["provenance"]["scenario_hash"] = "0123456789abcdef".into();
    std::fs::write(dir.join("old.json"), tampered.to_string()).unwrap();
    let out = paraverse(&["export", "old.json", "--out", "old"], dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--allow-changed-scenario"));
    assert!(!dir.join("old").exists());
    let out = paraverse(
        &[
            "export",
            "old.json",
            "--out",
            "old",
            "--allow-changed-scenario",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn every_shipped_strategy_exports_and_the_real_tools_accept_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nft = Vec::new();
    let mut yaml = Vec::new();
    let mut mesh = Vec::new();
    let mapping = repo().join("mappings/metaverse-under-siege.toml");
    for entry in std::fs::read_dir(repo().join("strategies")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".example") {
            continue;
        }
        for scenario in ["campaign-botnet-ddos", "metaverse-under-siege"] {
            let out_dir = tmp.path().join(format!("{name}-{scenario}"));
            let mut args = vec![
                "export",
                path.to_str().unwrap(),
                "--scenario",
                scenario,
                "--out",
                out_dir.to_str().unwrap(),
            ];
            if scenario == "metaverse-under-siege" {
                args.extend(["--mapping", mapping.to_str().unwrap()]);
            }
            let out = paraverse(&args, repo());
            assert!(
                out.status.success(),
                "{name} on {scenario}: {}",
                text(&out.stderr)
            );
            nft.push(out_dir.join("ruleset.nft"));
            yaml.push(out_dir.join("networkpolicy.yaml"));
            mesh.push(out_dir.join("authorizationpolicy.yaml"));
        }
    }
    assert!(nft.len() >= 20);
    nft_accepts(&nft);
    kubernetes_accepts(&yaml);
    istio_accepts(&mesh);
    // Zero trust travels as identities: per-group ALLOW policies by principal, and the
    // re-verification interval with the certificate lifetime it maps to.
    let zt = std::fs::read_to_string(
        tmp.path()
            .join("zero-trust-metaverse-under-siege/authorizationpolicy.yaml"),
    )
    .unwrap();
    assert!(
        zt.contains("principals:") && zt.contains("cluster.local/ns/metaverse/sa/"),
        "{zt}"
    );
    assert!(
        zt.contains("re-verify every") && zt.contains("SECRET_TTL"),
        "{zt}"
    );

    // The mapping's labels, namespace, addresses and ports are in the siege's exports,
    // and the round trip holds with them.
    let dir = tmp.path().join("full-stack-metaverse-under-siege");
    let rules = std::fs::read_to_string(dir.join("ruleset.nft")).unwrap();
    assert!(rules.contains("172.20.0.0/16"), "{rules}");
    let manifests = std::fs::read_to_string(dir.join("networkpolicy.yaml")).unwrap();
    assert!(manifests.contains("namespace: metaverse"), "{manifests}");
    let strategy = std::fs::read_to_string(repo().join("strategies/full-stack.toml")).unwrap();
    let scenario = bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_strategy(&strategy, "full-stack.toml")
        .unwrap();
    let mapping_text = std::fs::read_to_string(&mapping).unwrap();
    let mapping = Mapping::parse(&mapping_text, "metaverse-under-siege.toml").unwrap();
    round_trip(&dir, scenario, &mapping);
}

#[test]
fn stdout_export_pipes_into_nft_and_equals_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "export",
        "strategies/segmented.toml",
        "--scenario",
        "campaign-botnet-ddos",
        "--format",
        "nftables",
    ];
    let out = paraverse(&[&args[..], &["--out", "-"]].concat(), repo());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("files");
    let file = paraverse(
        &[&args[..], &["--out", dir.to_str().unwrap()]].concat(),
        repo(),
    );
    assert!(file.status.success());
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(dir.join("ruleset.nft")).unwrap()
    );
    assert!(!dir.join("strategy.json").exists());
    // More than one format cannot go to standard output.
    let out = paraverse(
        &[
            "export",
            "strategies/segmented.toml",
            "--scenario",
            "campaign-botnet-ddos",
            "--out",
            "-",
        ],
        repo(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("choose one --format"));
}

#[test]
fn hostile_names_are_refused_with_file_and_line_or_exported_under_mapped_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let venue = bundled::get("campaign-botnet-ddos").unwrap().text;
    let segmented = repo()
        .join("strategies/segmented.toml")
        .display()
        .to_string();
    let hostile = "dmz\"; } flush ruleset; table inet x {";
    let quoted = serde_json::to_string(hostile).unwrap();
    std::fs::write(
        dir.join("venue.toml"),
        venue.replace("\"sensors\"", &quoted),
    )
    .unwrap();
    let out = paraverse(
        &[
            "export",
            &segmented,
            "--scenario",
            "venue.toml",
            "--out",
            "x",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let line = venue
        .lines()
        .position(|l| l == "name = \"sensors\"")
        .unwrap()
        + 1;
    assert!(err.contains(&format!("venue.toml:{line}:")), "{err}");
    assert!(
        err.contains("group[3].name") && err.contains("cannot be exported"),
        "{err}"
    );
    assert!(!dir.join("x").exists());

    std::fs::write(
        dir.join("map.toml"),
        format!("[groups.{quoted}]\nname = \"sensors\"\n"),
    )
    .unwrap();
    let out = paraverse(
        &[
            "export",
            &segmented,
            "--scenario",
            "venue.toml",
            "--mapping",
            "map.toml",
            "--out",
            "x",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in ["ruleset.nft", "networkpolicy.yaml"] {
        let t = std::fs::read_to_string(dir.join("x").join(f)).unwrap();
        assert!(!t.contains("flush"), "{f}");
    }
    nft_accepts(&[dir.join("x/ruleset.nft")]);
    kubernetes_accepts(&[dir.join("x/networkpolicy.yaml")]);

    // A bad mapping file: file, line and field.
    std::fs::write(
        dir.join("bad.toml"),
        "[groups.sensors]\naddresses = [\"10.0.0.0/8; flush ruleset\"]\n",
    )
    .unwrap();
    let out = paraverse(
        &[
            "export",
            &segmented,
            "--scenario",
            "campaign-botnet-ddos",
            "--mapping",
            "bad.toml",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad.toml:2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn export_help_explains_the_formats_and_the_mapping() {
    let out = paraverse(&["export", "--help"], repo());
    let help = text(&out.stdout);
    for s in [
        "best.json",
        "nftables",
        "k8s",
        "--mapping",
        "--scenario",
        "Examples",
    ] {
        assert!(help.contains(s), "{s} missing:\n{help}");
    }
    let out = paraverse(&["export", "no-such-file.json"], repo());
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot read no-such-file.json"));
}
