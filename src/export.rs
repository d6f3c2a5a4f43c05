//! `paraverse export`: a lab result (`best.json`) or a strategy file, written out for the
//! real deployment (JSON, Kubernetes NetworkPolicy, nftables) through
//! `paraverse_defenders::export`, which reads each export back and refuses to write one
//! that admits other connections than the simulator did.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use paraverse_defenders::export::{self, ExportError, Format, Mapping, Provenance};
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

use crate::args::ExportArgs;

/// Where the strategy comes from.
struct Source {
    /// The strategy file's text.
    strategy: String,
    /// The scenario recorded with it (best.json), resolved.
    scenario: Option<Scenario>,
    /// The lab's record, when from best.json.
    lab: Option<serde_json::Value>,
}

fn read_source(path: &Path, scenario_arg: Option<&str>, allow_changed: bool) -> Result<Source> {
    let text = paraverse_sim::scenario::read_input(path)?;
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    if !is_json {
        return Ok(Source {
            strategy: text,
            scenario: None,
            lab: None,
        });
    }
    let mut best: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON: expected a lab result (best.json) or a strategy file (TOML)",
            path.display()
        )
    })?;
    let Some(strategy) = best
        .get("strategy")
        .and_then(|s| s.as_str())
        .map(str::to_owned)
    else {
        bail!(
            "{} has no `strategy` text: expected a best.json written by `paraverse sweep` or `paraverse optimise`",
            path.display()
        );
    };
    if let Some(obj) = best.as_object_mut() {
        obj.remove("strategy");
    }
    let prov = &best["provenance"];
    let scenario = match scenario_arg {
        Some(_) => None,
        None => {
            let name = prov["scenario"].as_str().with_context(|| {
                format!(
                    "{} records no scenario (provenance.scenario): pass --scenario",
                    path.display()
                )
            })?;
            // The best point's own scenario (its axes applied) when the experiment file
            // is still there unchanged; else the scenario by name.
            let from_experiment = prov["experiment_file"]
                .as_str()
                .and_then(|f| recorded_file(f, path))
                .and_then(|p| paraverse_lab::Experiment::load(&p).ok())
                .filter(|e| prov["experiment_hash"].as_str() == Some(&e.hash_hex()))
                .and_then(|mut e| {
                    let point = best["point"].as_u64()? as usize;
                    (point < e.points.len()).then(|| e.points.swap_remove(point).scenario)
                });
            let scenario = match from_experiment {
                Some(s) => s,
                None => bundled::load(Some(name)).with_context(|| {
                    format!(
                        "{} records scenario `{name}`: pass --scenario with its file",
                        path.display()
                    )
                })?,
            };
            let recorded = prov["scenario_hash"].as_str().unwrap_or("");
            let now = format!("{:016x}", scenario.source_hash);
            if !recorded.is_empty() && recorded != now && !allow_changed {
                bail!(
                    "scenario `{name}` has changed since the experiment ran (source hash {now}, best.json records {recorded}): \
                     the exported policy might not be the one evaluated. Pass --scenario with the scenario file the experiment ran, \
                     or --allow-changed-scenario to export against this one"
                );
            }
            Some(scenario)
        }
    };
    Ok(Source {
        strategy,
        scenario,
        lab: Some(best),
    })
}

/// The experiment file a lab result records: absolute (as written since provenance
/// paths are absolute), or, for results of older versions that recorded it relative to
/// the working directory of the sweep, found from the working directory or from a folder
/// above `best.json` (results live in `ROOT/results/NAME/`), so the answer does not
/// depend on where `export` runs.
fn recorded_file(recorded: &str, best: &Path) -> Option<PathBuf> {
    let p = Path::new(recorded);
    if p.is_absolute() || p.is_file() {
        return p.is_file().then(|| p.to_owned());
    }
    let best = std::fs::canonicalize(best).ok()?;
    best.ancestors()
        .skip(1)
        .map(|dir| dir.join(p))
        .find(|candidate| candidate.is_file())
}

/// Runs `paraverse export`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let formats: Vec<Format> = if args.diff.is_some() {
        // The diff is of the nftables table; nothing is written.
        vec![Format::Nftables]
    } else {
        Format::ALL
            .into_iter()
            .filter(|f| args.format.iter().any(|a| a == f.name()))
            .collect()
    };
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    if to_stdout && formats.len() != 1 {
        bail!(
            "--out - writes to standard output: choose one --format (json, k8s, nftables or istio)"
        );
    }
    let source = read_source(
        &args.strategy,
        args.scenario.as_deref(),
        args.allow_changed_scenario,
    )?;
    let origin = if source.lab.is_some() {
        format!("{} (its `strategy` text)", args.strategy.display())
    } else {
        args.strategy.display().to_string()
    };
    let base = match source.scenario {
        Some(s) => s,
        None => bundled::load(args.scenario.as_deref())?,
    };
    let scenario = base.with_strategy(&source.strategy, &origin)?;
    let mapping = match &args.mapping {
        Some(p) => {
            let text = paraverse_sim::scenario::read_input(p)?;
            Mapping::parse(&text, &p.display().to_string())?
        }
        None => Mapping::default(),
    };
    let provenance = Provenance {
        source: origin,
        lab: source.lab,
    };
    // Invalid names surface as scenario errors (exit status 2, invalid input).
    let (plan, outputs) =
        export::export(&scenario, &mapping, provenance, &formats).map_err(|e| match e {
            ExportError::Invalid(s) => anyhow::Error::from(s),
            e => e.into(),
        })?;
    if let Some(live_path) = &args.diff {
        let live = paraverse_sim::scenario::read_input(live_path)?;
        let live = export::diff::from_live(&live, "inet", &plan.nft_table)
            .map_err(|e| crate::invalid(format!("{}: {e}", live_path.display())))?;
        let ours = export::diff::from_export(&outputs[0].1);
        let changes = export::diff::diff(&plan.nft_table, live.as_ref(), &ours);
        if changes.is_empty() {
            println!(
                "no change: table inet {} in {} already is this export",
                plan.nft_table,
                live_path.display()
            );
        } else {
            println!(
                "loading this export would change table inet {} of {} ({} line{}; nothing was written):",
                plan.nft_table,
                live_path.display(),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            );
            for c in &changes {
                println!("{c}");
            }
        }
        return Ok(());
    }
    if to_stdout {
        print!("{}", outputs[0].1);
        return Ok(());
    }
    let dir = match &args.out {
        Some(d) => d.clone(),
        None if args.strategy.extension().is_some_and(|e| e == "json") => args
            .strategy
            .parent()
            .unwrap_or(Path::new("."))
            .join("export"),
        None => PathBuf::from("results").join("export").join(&plan.strategy),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(crate::invalid(format!(
            "--out {}: a file is there; expected a folder (or - for standard output)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (format, text) in &outputs {
        let path = dir.join(format.file_name());
        paraverse_lab::runner::write_atomic(&path, text)?;
        println!("{:<9} {}", format.name(), path.display());
    }
    let probes = export::matrix::probes(&plan).len();
    let checked: Vec<&str> = formats
        .iter()
        .filter(|f| **f != Format::Json)
        .map(|f| f.name())
        .collect();
    println!(
        "strategy `{}` on scenario `{}`: {} segments, {} groups{}",
        plan.strategy,
        plan.scenario,
        if plan.segmented {
            plan.segments.len().to_string()
        } else {
            "no".to_owned()
        },
        plan.groups.len(),
        if plan.rate_limits.is_empty() {
            String::new()
        } else {
            format!(", {} rate-limited", plan.rate_limits.len())
        }
    );
    if !checked.is_empty() {
        println!(
            "round trip: {} read back admit exactly what the simulator admits ({probes} probes, with and without quarantine{})",
            checked.join(", "),
            if formats.contains(&Format::Istio) {
                "; istio: the TCP probes from pods not in quarantine, which a mesh decides"
            } else {
                ""
            }
        );
    }
    if plan.groups.iter().any(|g| !g.mapped_addresses) && formats.contains(&Format::Nftables) {
        eprintln!(
            "note: groups without addresses in a mapping file got placeholder blocks in 10.0.0.0/8 (see README, \"Exporting a strategy\")"
        );
    }
    Ok(())
}
