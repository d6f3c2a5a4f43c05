//! `paraverse import`: a scenario and a mapping from the real network's artefacts
//! (`paraverse_import`), written where the user asked, checked, and summarised.

use std::path::PathBuf;

use anyhow::{Context, Result};
use paraverse_defenders::export::Mapping;
use paraverse_import::{Input, Sources};
use paraverse_sim::scenario::{is_folder_name, read_input};

use crate::args::ImportArgs;

/// `paraverse import`.
pub fn import(args: &ImportArgs) -> Result<()> {
    if !is_folder_name(&args.name) || args.name.len() > 63 {
        return Err(crate::invalid(format!(
            "--name `{}`: expected a folder name (ASCII letters, digits, `-`, `_`; at most 63)",
            args.name
        )));
    }
    let read =
        |p: &PathBuf| -> Result<(String, String)> { Ok((read_input(p)?, p.display().to_string())) };
    let nmap = args.nmap.as_ref().map(read).transpose()?;
    // Manifests: files, or every *.yaml / *.yml in a folder (sorted, not recursive).
    let mut manifests = Vec::new();
    for path in &args.k8s {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(crate::invalid(format!(
                    "{}: no *.yaml or *.yml manifests in this folder",
                    path.display()
                )));
            }
            for f in files {
                manifests.push(read(&f)?);
            }
        } else {
            manifests.push(read(path)?);
        }
    }
    let k8s: Vec<Input<'_>> = manifests.iter().map(input).collect();
    let records = args.flows.iter().map(read).collect::<Result<Vec<_>>>()?;
    let flows: Vec<Input<'_>> = records.iter().map(input).collect();
    let vulns = args.vulns.as_ref().map(read).transpose()?;
    let rules = args.rules.as_ref().map(read).transpose()?;
    fn input((text, origin): &(String, String)) -> Input<'_> {
        Input { text, origin }
    }
    let imported = paraverse_import::import(&Sources {
        name: &args.name,
        nmap: nmap.as_ref().map(input),
        k8s: &k8s,
        flows: &flows,
        vulns: vulns.as_ref().map(input),
        rules: rules.as_ref().map(input),
    })
    .map_err(|e| match e {
        paraverse_import::ImportError::Rules(s) => anyhow::Error::new(s),
        paraverse_import::ImportError::Generated(_) => anyhow::Error::new(e),
        other => crate::invalid(other.to_string()),
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("imported").join(&args.name));
    let scenario_path = out.join(format!("{}.toml", args.name));
    let mapping_path = out.join("mapping.toml");
    let baseline_path = out.join("baseline.toml");
    // The mapping must read back as the exporter will read it.
    Mapping::parse(&imported.mapping, &mapping_path.display().to_string())
        .context("the imported mapping does not read back (a bug in paraverse import)")?;
    for p in [&scenario_path, &mapping_path, &baseline_path] {
        if p.exists() && !args.force {
            return Err(crate::invalid(format!(
                "{} exists: pass --force to replace it, or --out another folder",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut files = vec![
        (&scenario_path, &imported.scenario),
        (&mapping_path, &imported.mapping),
    ];
    if let Some(b) = &imported.baseline {
        files.push((&baseline_path, b));
    } else if baseline_path.exists() {
        // A baseline of an earlier import (replaced with --force) would no longer match.
        std::fs::remove_file(&baseline_path)
            .with_context(|| format!("cannot remove {}", baseline_path.display()))?;
    }
    for (p, text) in files {
        let tmp = p.with_extension("toml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, p))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    let r = &imported.report;
    println!(
        "imported {} hosts and {} Kubernetes workloads into {} groups and {} services: {} (mapping: {})",
        r.hosts,
        r.workloads,
        r.groups.len(),
        r.services,
        scenario_path.display(),
        mapping_path.display()
    );
    for g in &r.groups {
        println!(
            "  group {:<32} {:<18} {} node{}",
            g.name,
            g.kind.name(),
            g.hosts,
            if g.hosts == 1 { "" } else { "s" }
        );
    }
    if imported.baseline.is_some() {
        println!(
            "  baseline strategy from {} NetworkPolic{}: {} (paraverse run {} --strategy {})",
            r.policies,
            if r.policies == 1 { "y" } else { "ies" },
            baseline_path.display(),
            scenario_path.display(),
            baseline_path.display()
        );
    }
    if !args.flows.is_empty() {
        println!(
            "  {} flow records: {} benign flows",
            r.flow_records,
            r.flows.len()
        );
        for f in &r.flows {
            println!("  flow {f}");
        }
        for u in r.unmatched_flows.iter().take(20) {
            println!("  no flow: {u}");
        }
        if r.unmatched_flows.len() > 20 {
            println!(
                "  ... and {} more without a flow",
                r.unmatched_flows.len() - 20
            );
        }
    }
    for (service, cve) in &r.vulnerable {
        println!("  {service}: {cve}");
    }
    if args.vulns.is_some() {
        for u in &r.unmatched {
            println!("  not matched: {u}");
        }
        for u in &r.without_cvss {
            println!("  matched but without a valid CVSS v3.1 vector (left out): {u}");
        }
    } else {
        println!("  no --vulns feed: services carry no vulnerabilities");
    }
    if r.router_assumed {
        eprintln!(
            "warning: no traceroute in the inputs: one router was assumed (scan with nmap --traceroute)"
        );
    }
    Ok(())
}
