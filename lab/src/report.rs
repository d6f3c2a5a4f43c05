//! `paraverse report`: Markdown and HTML reports of a sweep (and an optimisation, if one
//! ran), with plots in SVG and PNG drawn by plotters.
//!
//! Charts: the three objectives per point with 95 % confidence intervals; each varied
//! setting's effect on the security loss; compromised nodes over time per point with a
//! 95 % band over the replicas; and the Pareto front (security loss against cost) of the
//! points, or of the optimiser's evaluations when `optimise/` exists. PNG text needs a
//! font: DejaVu Sans is embedded (`lab/assets/`, Bitstream Vera licence), so reports
//! render the same on a machine without fonts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::LabError;
use crate::charts::{Chart, Datum, FONT, Series, tick_label};
use crate::experiment::Score;
use crate::optimise::dominates;
use crate::runner::{self, AVAILABILITY, COST, RunResult, SECURITY_LOSS};
use crate::stats::{self, Estimate, PointSummary};

/// Points per time-series chart (more charts hold the rest).
const TIMESERIES_PER_CHART: usize = 8;

fn estimate_point<'a>(p: &'a PointSummary, metric: &str) -> Option<&'a Estimate> {
    p.metrics.get(metric)
}

/// Per-run time series of compromised nodes, from `series/`.
fn read_series(dir: &Path, runs: &[RunResult]) -> BTreeMap<usize, Vec<Vec<f64>>> {
    let mut by_point: BTreeMap<usize, Vec<Vec<f64>>> = BTreeMap::new();
    for r in runs {
        let path = dir
            .join(runner::SERIES_DIR)
            .join(format!("{}-{}.csv", r.point, r.replica));
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let values: Vec<f64> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1).and_then(|v| v.parse().ok()))
            .collect();
        by_point.entry(r.point).or_default().push(values);
    }
    by_point
}

/// The files a report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// Chart base names (each as `.svg` and `.png` under `charts/`).
    pub charts: Vec<String>,
    /// What the report says first about partial or damaged results, if anything.
    pub caveat: Option<String>,
}

/// Whether `dir` is a single run's folder (written by `paraverse run`: `summary.json`
/// and `timeseries.csv`, no lab runs).
pub fn is_run_folder(dir: &Path) -> bool {
    dir.join("summary.json").is_file()
        && dir.join("timeseries.csv").is_file()
        && !dir.join(runner::RUNS_JSONL).exists()
}

/// Writes `report.md`, `report.html` and `charts/*.{svg,png}` for a single run's folder:
/// the headline figures and objectives, each campaign's kill chain, the impact, the
/// defenses and their cost, and the node states over time.
pub fn report_run(dir: &Path) -> Result<ReportFiles, LabError> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| LabError::Report("the embedded font does not load".to_owned()))?;
    let (summary, (header, rows)) = read_run(dir)?;
    let charts_dir = charts_folder(dir)?;
    let mut charts = Vec::new();
    if states_chart(&header, &rows, &charts_dir)? {
        charts.push("states".to_owned());
    }
    let mut md = run_headline(&summary);
    if !charts.is_empty() {
        md.push_str("\n## Over time\n\n![node states](charts/states.svg)\n\n");
    }
    md.push_str(&campaigns_section(&summary));
    if let Some(defenses) = summary["defenses"].as_array().filter(|d| !d.is_empty()) {
        let names: Vec<&str> = defenses.iter().filter_map(|d| d.as_str()).collect();
        let c = &summary["cost"];
        md.push_str(&format!(
            "## Defenses\n\n{}: cost {} (operations {}, friction {}, {} false quarantines).\n\n",
            names.join(", "),
            figure(&c["total"]),
            figure(&c["ops"]),
            figure(&c["friction"]),
            figure(&c["false_quarantines"])
        ));
    }
    md.push_str(&format!(
        "Provenance: scenario hash {}, paraverse {}. Figures from `summary.json`; the series from `timeseries.csv`.\n",
        summary["scenario_hash"].as_str().unwrap_or("?"),
        summary["paraverse_version"].as_str().unwrap_or("?")
    ));
    write_documents(dir, &md, charts)
}

/// A run folder's `summary.json`, and `timeseries.csv` as its header and numeric rows.
fn read_run(dir: &Path) -> Result<(serde_json::Value, Columns), LabError> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| {
            LabError::Mismatch(format!(
                "{}: {e} (is {} a folder written by `paraverse run`?)",
                dir.join(name).display(),
                dir.display()
            ))
        })
    };
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")?)
        .map_err(|e| LabError::Mismatch(format!("{}/summary.json: {e}", dir.display())))?;
    let csv = read("timeseries.csv")?;
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    Ok((summary, (header, rows)))
}

/// A CSV file's header and its rows as numbers (NaN where a cell is not one).
type Columns = (Vec<String>, Vec<Vec<f64>>);

/// The node states over time (`charts/states.svg`); false when the series has none.
fn states_chart(header: &[String], rows: &[Vec<f64>], charts_dir: &Path) -> Result<bool, LabError> {
    let col = |name: &str| header.iter().position(|h| h == name);
    let time = col("time_s");
    let mut states = Chart {
        title: "Node states over time".into(),
        x_desc: "simulated time (s)".into(),
        y_desc: "nodes".into(),
        ..Chart::default()
    };
    for name in [
        "compromised",
        "quarantined",
        "patched",
        "vulnerable",
        "ever_compromised",
    ] {
        if let (Some(c), Some(t)) = (col(name), time) {
            states.series.push(Series {
                label: name.replace('_', " "),
                points: rows
                    .iter()
                    .filter_map(|r| Some((*r.get(t)?, *r.get(c)?, None)))
                    .collect(),
                line: true,
                ..Series::default()
            });
        }
    }
    if states.series.is_empty() {
        return Ok(false);
    }
    states.write(charts_dir, "states")?;
    Ok(true)
}

/// A summary figure as the report prints it (4 decimals at most; `–` when absent).
fn figure(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(x) => tick_label((x * 1e4).round() / 1e4),
        None => "–".to_owned(),
    }
}

/// The run report's title, objectives and headline figures.
fn run_headline(summary: &serde_json::Value) -> String {
    let o = &summary["objectives"];
    let mut md = format!(
        "# Run report: {} (seed {})\n\n{} nodes, {} ticks of {} s ({} s simulated){}.\n\n## Objectives\n\n| security loss | availability | cost |\n|---|---|---|\n| {} | {} | {} |\n\n## Headline\n\n| figure | value |\n|---|---|\n",
        summary["scenario"].as_str().unwrap_or("?"),
        summary["seed"],
        summary["nodes"],
        summary["ticks"],
        figure(&summary["tick_s"]),
        figure(&summary["simulated_s"]),
        summary["strategy"]
            .as_str()
            .map(|s| format!(", strategy {s}"))
            .unwrap_or_default(),
        figure(&o["security_loss"]),
        figure(&o["availability"]),
        figure(&o["cost"]),
    );
    for (key, label) in [
        ("vulnerable_initial", "vulnerable at start"),
        ("compromised_peak", "compromised peak"),
        ("compromised_peak_s", "compromised peak at (s)"),
        ("compromised_final", "compromised final"),
        ("compromised_ever", "compromised ever"),
        ("time_to_half_vulnerable_s", "half of the vulnerable by (s)"),
        ("quarantined_final", "quarantined final"),
        ("xr_quality", "XR quality"),
    ] {
        md.push_str(&format!("| {label} | {} |\n", figure(&summary[key])));
    }
    md
}

/// Each campaign's kill chain (step, technique, tactic, when reached) and the impact;
/// empty without campaigns.
fn campaigns_section(summary: &serde_json::Value) -> String {
    let mut md = String::new();
    let campaigns = summary["campaigns"].as_array().cloned().unwrap_or_default();
    if !campaigns.is_empty() {
        md.push_str("## Campaigns\n\n| campaign | kind | step | technique | tactic | reached at (s) |\n|---|---|---|---|---|---|\n");
        for c in &campaigns {
            for step in c["steps"].as_array().into_iter().flatten() {
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    c["name"].as_str().unwrap_or(""),
                    c["kind"].as_str().unwrap_or(""),
                    step["name"].as_str().unwrap_or(""),
                    step["technique"].as_str().unwrap_or(""),
                    step["tactic"].as_str().unwrap_or(""),
                    step["reached_s"]
                        .as_f64()
                        .map_or("not reached".to_owned(), tick_label),
                ));
            }
        }
        md.push_str("\n## Impact\n\n| what | value |\n|---|---|\n");
        if let Some(impact) = summary["impact"].as_object() {
            for (k, v) in impact {
                match v {
                    serde_json::Value::Object(by) => {
                        for (class, n) in by {
                            md.push_str(&format!(
                                "| {} {class} | {} |\n",
                                k.replace('_', " "),
                                figure(n)
                            ));
                        }
                    }
                    _ => md.push_str(&format!("| {} | {} |\n", k.replace('_', " "), figure(v))),
                }
            }
        }
        md.push('\n');
    }
    md
}

/// Writes `report.md` and the self-contained `report.html` of `md`.
fn write_documents(dir: &Path, md: &str, charts: Vec<String>) -> Result<ReportFiles, LabError> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report")
        .to_owned();
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;max-width:960px;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}</style></head><body>\n{}\n</body></html>\n",
        escape(&name),
        markdown_to_html(md, dir)
    );
    let markdown = dir.join("report.md");
    let html_path = dir.join("report.html");
    runner::write_atomic(&markdown, md)?;
    runner::write_atomic(&html_path, &html)?;
    Ok(ReportFiles {
        markdown,
        html: html_path,
        charts,
        caveat: None,
    })
}

/// Writes `report.md`, `report.html` and `charts/*.{svg,png}` into a results folder.
pub fn report(dir: &Path) -> Result<ReportFiles, LabError> {
    if is_run_folder(dir) {
        return report_run(dir);
    }
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| LabError::Report("the embedded font does not load".to_owned()))?;
    if !dir.is_dir() {
        return Err(LabError::Mismatch(format!(
            "{}: not a results folder (expected a folder written by `paraverse sweep`)",
            dir.display()
        )));
    }
    let (runs, completeness) = load_sweep(dir)?;
    let points = stats::summarise(&runs, &Score::default());
    let charts_dir = charts_folder(dir)?;
    let mut charts = Vec::new();
    objective_charts(&points, &charts_dir, &mut charts)?;
    let settings: Vec<String> = points[0].settings.iter().map(|(n, _)| n.clone()).collect();
    let effects_md = effect_charts(&points, &settings, &charts_dir, &mut charts)?;
    let timeseries_md = timeseries_charts(dir, &runs, &charts_dir, &mut charts)?;
    pareto_chart(dir, &points, &charts_dir, &mut charts)?;

    // The documents.
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("experiment")
        .to_owned();
    let table = points_table(&points, &settings);
    let pictures_md = pictures_section(dir);
    let decision_md = decision_section(dir);
    let sensitivity_md = sensitivity_section(dir);
    let provenance_md = provenance_section(dir);
    let md = format!(
        "# Experiment report: {name}{}\n\n{completeness}{decision_md}{} runs, {} points, replicas per point: {}. Means with 95 % confidence intervals of the mean by percentile bootstrap (2,000 resamples of the replicas, drawn from the simulator's seeded RNG, so the same runs give the same intervals; a resampled mean stays within the observed values, so an interval never leaves a metric's feasible range). Every point ran the same seeds (common random numbers).\n\n## Points\n\n{table}\n## Objectives\n\n![security loss](charts/security_loss.svg)\n\n![availability](charts/availability.svg)\n\n![cost](charts/cost.svg)\n\n## Effects of the settings\n\n{sensitivity_md}{effects_md}## Over time\n\n{}\n## Pareto front\n\n![pareto](charts/pareto.svg)\n\nEvery chart is also a PNG beside its SVG in `charts/`.\n\n{pictures_md}{provenance_md}",
        if completeness.is_empty() {
            ""
        } else {
            " (partial or unverified results: see below)"
        },
        runs.len(),
        points.len(),
        points.iter().map(|p| p.seeds.len()).max().unwrap_or(0),
        if timeseries_md.is_empty() {
            "No per-run series were recorded.\n".to_owned()
        } else {
            timeseries_md
        }
    );
    let mut files = write_documents(dir, &md, charts)?;
    files.caveat =
        (!completeness.is_empty()).then(|| completeness.trim().trim_matches('*').to_owned());
    Ok(files)
}

/// The report's `charts/` folder, created if need be.
fn charts_folder(dir: &Path) -> Result<PathBuf, LabError> {
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).map_err(LabError::io(format!(
        "cannot create {}",
        charts_dir.display()
    )))?;
    Ok(charts_dir)
}

/// The sweep's runs, checked to come from one experiment file, and what is missing
/// from them (empty when the sweep is complete and verified).
fn load_sweep(dir: &Path) -> Result<(Vec<RunResult>, String), LabError> {
    let loaded = runner::load_runs(dir)?;
    let manifest = runner::Manifest::read(dir)?;
    if let Some(m) = &manifest
        && let Some(r) = loaded
            .runs
            .iter()
            .find(|r| r.experiment_hash != m.experiment_hash)
    {
        return Err(LabError::Mismatch(format!(
            "{}: run {}-{} was made from another version of the experiment file than {} records (hash {}, not {}): the folder mixes two experiments",
            dir.display(),
            r.point,
            r.replica,
            runner::MANIFEST,
            r.experiment_hash,
            m.experiment_hash
        )));
    }
    let completeness = completeness(&loaded, manifest.as_ref());
    let runs = loaded.runs;
    if runs.is_empty() {
        return Err(LabError::Mismatch(format!(
            "{} holds no runs (runs.jsonl): run `paraverse sweep` first",
            dir.display()
        )));
    }
    Ok((runs, completeness))
}

/// Charts 1: the objectives per point with their intervals.
fn objective_charts(
    points: &[PointSummary],
    charts_dir: &Path,
    charts: &mut Vec<String>,
) -> Result<(), LabError> {
    for (metric, title) in [
        (SECURITY_LOSS, "Security loss per point (mean, 95 % CI)"),
        (AVAILABILITY, "Availability per point (mean, 95 % CI)"),
        (COST, "Cost per point (mean, 95 % CI)"),
    ] {
        let series = Series {
            label: String::new(),
            points: points
                .iter()
                .filter_map(|p| {
                    estimate_point(p, metric)
                        .map(|e| (p.point as f64, e.mean, Some((e.ci_low, e.ci_high))))
                })
                .collect(),
            strong: true,
            ..Series::default()
        };
        let name = metric.replace("objectives.", "");
        Chart {
            title: title.to_owned(),
            x_desc: "point".into(),
            y_desc: name.clone(),
            series: vec![series],
            x_names: (0..=points.iter().map(|p| p.point).max().unwrap_or(0))
                .map(|p| p.to_string())
                .collect(),
        }
        .write(charts_dir, &name)?;
        charts.push(name);
    }
    Ok(())
}

/// Charts 2: each setting's effect, the security loss by the setting's value; returns
/// the report's section.
fn effect_charts(
    points: &[PointSummary],
    settings: &[String],
    charts_dir: &Path,
    charts: &mut Vec<String>,
) -> Result<String, LabError> {
    let mut effects_md = String::new();
    for (k, setting) in settings.iter().enumerate() {
        let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for p in points {
            let v = p.settings[k].1.clone();
            if !order.contains(&v) {
                order.push(v.clone());
            }
            if let Some(e) = estimate_point(p, SECURITY_LOSS) {
                groups.entry(v).or_default().push(e.mean);
            }
        }
        let series = Series {
            label: setting.clone(),
            points: order
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    groups
                        .get(v)
                        .and_then(|g| Estimate::of(g))
                        .map(|e| (i as f64, e.mean, Some((e.ci_low, e.ci_high))))
                })
                .collect(),
            line: true,
            ..Series::default()
        };
        let name = format!("effect-{k}");
        Chart {
            title: format!("Security loss by {setting}"),
            x_desc: setting.clone(),
            y_desc: "security loss (mean over points)".into(),
            series: vec![series],
            x_names: order.clone(),
        }
        .write(charts_dir, &name)?;
        effects_md.push_str(&format!(
            "### {setting}\n\nValues left to right: {}.\n\n![effect of {setting}](charts/{name}.svg)\n\n",
            order.join(", ")
        ));
        charts.push(name);
    }
    Ok(effects_md)
}

/// Charts 3: compromised nodes over time with a band over the replicas; returns the
/// report's section.
fn timeseries_charts(
    dir: &Path,
    runs: &[RunResult],
    charts_dir: &Path,
    charts: &mut Vec<String>,
) -> Result<String, LabError> {
    let series = read_series(dir, runs);
    let tick_s = 1.0;
    // Every point, in pages of TIMESERIES_PER_CHART so the colours and legend stay
    // readable: timeseries.svg, timeseries-2.svg, ...
    let all: Vec<(&usize, &Vec<Vec<f64>>)> = series.iter().collect();
    let pages = all.len().div_ceil(TIMESERIES_PER_CHART);
    let mut timeseries_md = String::new();
    for (page, chunk) in all.chunks(TIMESERIES_PER_CHART).enumerate() {
        let mut ts = Chart {
            title: format!(
                "Compromised nodes over time (mean, band of 95 % of replicas){}",
                if pages > 1 {
                    format!(", chart {} of {pages}", page + 1)
                } else {
                    String::new()
                }
            ),
            x_desc: "tick".into(),
            y_desc: "compromised nodes".into(),
            ..Chart::default()
        };
        for (point, runs_of) in chunk {
            let len = runs_of.iter().map(Vec::len).min().unwrap_or(0);
            let pts = (0..len)
                .filter_map(|t| {
                    let mut vals: Vec<f64> = runs_of.iter().map(|r| r[t]).collect();
                    if vals.is_empty() {
                        return None;
                    }
                    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                    vals.sort_by(f64::total_cmp);
                    let band = (
                        crate::stats::quantile(&vals, 0.025),
                        crate::stats::quantile(&vals, 0.975),
                    );
                    Some((t as f64 * tick_s, mean, Some(band)))
                })
                .collect();
            ts.series.push(Series {
                label: format!("point {point}"),
                points: pts,
                line: true,
                band: true,
                ..Series::default()
            });
        }
        let name = if page == 0 {
            "timeseries".to_owned()
        } else {
            format!("timeseries-{}", page + 1)
        };
        ts.write(charts_dir, &name)?;
        timeseries_md.push_str(&format!("![time series](charts/{name}.svg)\n\n"));
        charts.push(name);
    }
    Ok(timeseries_md)
}

/// Chart 4: the Pareto front, of the optimiser's evaluations if there are any, else of
/// the points.
fn pareto_chart(
    dir: &Path,
    points: &[PointSummary],
    charts_dir: &Path,
    charts: &mut Vec<String>,
) -> Result<(), LabError> {
    let opt = dir.join("optimise").join("evaluations.csv");
    let cloud: Vec<(f64, f64, f64)> = match std::fs::read_to_string(&opt) {
        Ok(text) => {
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
            let col = |n: &str| header.iter().position(|h| *h == n);
            let (s, a, c) = (col("security_loss"), col("availability"), col("cost"));
            lines
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    Some((
                        f.get(s?)?.parse().ok()?,
                        f.get(a?)?.parse().ok()?,
                        f.get(c?)?.parse().ok()?,
                    ))
                })
                .collect()
        }
        Err(_) => points
            .iter()
            .filter_map(|p| {
                Some((
                    estimate_point(p, SECURITY_LOSS)?.mean,
                    estimate_point(p, AVAILABILITY)?.mean,
                    estimate_point(p, COST)?.mean,
                ))
            })
            .collect(),
    };
    let objectives = |c: &(f64, f64, f64)| [c.0, -c.1, c.2];
    let front: Vec<bool> = cloud
        .iter()
        .map(|a| {
            !cloud
                .iter()
                .any(|b| dominates(&objectives(b), &objectives(a)))
        })
        .collect();
    let split = |on: bool| -> Vec<Datum> {
        cloud
            .iter()
            .zip(&front)
            .filter(|(_, f)| **f == on)
            .map(|(c, _)| (c.2, c.0, None))
            .collect()
    };
    let source = if opt.exists() {
        "optimiser evaluations"
    } else {
        "sweep points"
    };
    Chart {
        title: format!("Pareto front: security loss against cost ({source})"),
        x_desc: "cost".into(),
        y_desc: "security loss".into(),
        x_names: Vec::new(),
        series: vec![
            Series {
                label: "dominated".into(),
                points: split(false),
                ..Series::default()
            },
            Series {
                label: "Pareto front (3 objectives)".into(),
                points: split(true),
                strong: true,
                ..Series::default()
            },
        ],
    }
    .write(charts_dir, "pareto")?;
    charts.push("pareto".into());
    Ok(())
}

/// The report's table: each point's settings and objectives with their intervals.
fn points_table(points: &[PointSummary], settings: &[String]) -> String {
    let mut table = String::from("| point | ");
    table.push_str(&settings.join(" | "));
    table.push_str(" | security loss | availability | cost |\n|---|");
    table.push_str(&"---|".repeat(settings.len() + 3));
    table.push('\n');
    let cell = |e: Option<&Estimate>| {
        e.map_or("–".to_owned(), |e| {
            format!("{:.4} [{:.4}, {:.4}]", e.mean, e.ci_low, e.ci_high)
        })
    };
    for p in points {
        table.push_str(&format!("| {} | ", p.point));
        for (_, v) in &p.settings {
            table.push_str(&format!("{v} | "));
        }
        table.push_str(&format!(
            "{} | {} | {} |\n",
            cell(estimate_point(p, SECURITY_LOSS)),
            cell(estimate_point(p, AVAILABILITY)),
            cell(estimate_point(p, COST))
        ));
    }
    table
}

/// The network pictures the user rendered with `paraverse view --png` into `pictures/`.
fn pictures_section(dir: &Path) -> String {
    let mut pictures: Vec<String> = std::fs::read_dir(dir.join("pictures"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|f| {
                    f.strip_suffix(".png").is_some_and(|stem| {
                        !stem.is_empty()
                            && stem
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    pictures.sort();
    if pictures.is_empty() {
        String::new()
    } else {
        let mut s = String::from(
            "## Network pictures\n\nRendered with `paraverse view SCENARIO --png pictures/NAME.png --at TICK`.\n\n",
        );
        for p in &pictures {
            s.push_str(&format!("![{p}](pictures/{p})\n\n"));
        }
        s
    }
}

/// The best decision's statement and the settings that had no effect, from the sweep's
/// `best.json` and `decisions.json` (empty when they are not there, e.g. a shard).
fn decision_section(dir: &Path) -> String {
    let read = |f: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).ok()?).ok()
    };
    let mut out = String::new();
    if let Some(best) = read("best.json")
        && let Some(statement) = best["statement"].as_str()
    {
        out.push_str(&format!("## Decision\n\n{}.\n\n", statement));
        out.push_str(&conclusion(dir).unwrap_or_default());
        if let Some(auto) = best["replicas_auto"].as_object() {
            out.push_str(&format!(
                "Replicas were added in batches until a stopping rule held (`replicas = \"auto\"`): {} replicas per point after {} round(s), by the {} rule: {}.\n\n",
                auto.get("replicas").map_or("?".into(), |v| v.to_string()),
                auto.get("rounds").map_or("?".into(), |v| v.to_string()),
                auto.get("rule").and_then(|v| v.as_str()).unwrap_or("?"),
                auto.get("reason").and_then(|v| v.as_str()).unwrap_or("")
            ));
        }
        if let Some(threats) = best["threats"].as_array().filter(|t| t.len() > 1) {
            out.push_str("| threat | point | score |\n|---|---|---|\n");
            for t in threats {
                let name: Vec<String> = t["threat"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|kv| {
                        format!(
                            "{} = {}",
                            kv[0].as_str().unwrap_or(""),
                            kv[1].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "| {} | {} | {:.1} |\n",
                    name.join(", "),
                    t["point"],
                    t["score"].as_f64().unwrap_or(f64::NAN)
                ));
            }
            out.push('\n');
        }
    }
    if let Some(d) = read("decisions.json") {
        for name in d["no_effect"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "**Warning:** `{}` changed no objective: every pair of points that differ only in it had the same means.\n\n",
                name.as_str().unwrap_or("")
            ));
        }
    }
    out
}

fn read_json(dir: &Path, file: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).ok()?).ok()
}

/// Formats a number for a sentence or table: integers without decimals, others to 3
/// significant figures at least.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == v.round() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// The conclusion in a few generated sentences: what to decide, how sure, which settings
/// matter most and which not at all (from best.json, decisions.json, effects.json and
/// sensitivity.json).
fn conclusion(dir: &Path) -> Option<String> {
    let best = read_json(dir, "best.json")?;
    let settings: Vec<String> = best["settings"]
        .as_array()?
        .iter()
        .map(|kv| {
            format!(
                "`{} = {}`",
                kv[0].as_str().unwrap_or(""),
                kv[1].as_str().unwrap_or("")
            )
        })
        .collect();
    let threats = best["threats"].as_array().map_or(0, Vec::len);
    let mut out = format!(
        "**Conclusion.** Decide {} (score {}, the {} over {} threat{}).",
        if settings.is_empty() {
            "the base strategy".to_owned()
        } else {
            settings.join(", ")
        },
        num(best["score"].as_f64().unwrap_or(f64::NAN)),
        best["risk"].as_str().unwrap_or("mean"),
        threats,
        if threats == 1 { "" } else { "s" }
    );
    if let Some(c) = best["comparison"].as_object() {
        out.push_str(&comparison(c));
    }
    if let Some(effects) = read_json(dir, "effects.json").and_then(|e| e.as_array().cloned())
        && let Some(sentence) = top_effect(&effects)
    {
        out.push_str(&sentence);
    }
    if let Some(sobol) = read_json(dir, "sensitivity.json") {
        let score = sobol["outputs"]
            .as_array()?
            .iter()
            .find(|o| o["output"] == "score")?;
        if let Some(top) = score["indices"].as_array().and_then(|i| {
            i.iter().max_by(|a, b| {
                a["total"]
                    .as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&b["total"].as_f64().unwrap_or(0.0))
            })
        }) {
            out.push_str(&format!(
                " By variance, `{}` matters most: total Sobol index {} of the score.",
                top["parameter"].as_str().unwrap_or(""),
                num(top["total"].as_f64().unwrap_or(f64::NAN))
            ));
        }
    }
    if let Some(sentence) = no_effect(dir) {
        out.push_str(&sentence);
    }
    Some(out + "\n\n")
}

/// How the best decision compares with the runner-up: identical, better beyond chance,
/// or not separated.
fn comparison(c: &serde_json::Map<String, serde_json::Value>) -> String {
    let p = c["p_value"].as_f64().unwrap_or(1.0);
    let tie = c["mean_difference"].as_f64() == Some(0.0)
        && c["ci_low"].as_f64() == Some(0.0)
        && c["ci_high"].as_f64() == Some(0.0);
    if tie {
        format!(
            " The runner-up (decision {}) gave identical results in every paired run: what differs between them does not matter here.",
            c["runner_up"]
        )
    } else if p < 0.05 {
        format!(
            " It beats the runner-up (decision {}) by {} per paired run (95 % CI [{}, {}], p = {:.4}): the difference is unlikely to be chance.",
            c["runner_up"],
            num(c["mean_difference"].as_f64().unwrap_or(f64::NAN)),
            num(c["ci_low"].as_f64().unwrap_or(f64::NAN)),
            num(c["ci_high"].as_f64().unwrap_or(f64::NAN)),
            p
        )
    } else {
        format!(
            " It is not separated from the runner-up (decision {}, p = {:.4}): treat the two as equally good, or add replicas (`replicas = \"auto\"`).",
            c["runner_up"], p
        )
    }
}

/// The setting whose values move the score most, if any does.
fn top_effect(effects: &[serde_json::Value]) -> Option<String> {
    let spread = |e: &serde_json::Value| e["spread"]["score"].as_f64().unwrap_or(0.0);
    let ranked = {
        let mut r: Vec<&serde_json::Value> = effects.iter().collect();
        r.sort_by(|a, b| spread(b).total_cmp(&spread(a)));
        r
    };
    let top = ranked.first().filter(|e| spread(e) > 0.0)?;
    Some(format!(
        " Of the settings, `{}` moves the score most (its values' mean scores span {}){}.",
        top["setting"].as_str().unwrap_or(""),
        num(spread(top)),
        if top["decision"].as_bool() == Some(false) {
            ", and it is a threat, not a choice: the decision must hold across it"
        } else {
            ""
        }
    ))
}

/// The settings that had no effect on any objective (the sweep's and the sensitivity
/// analysis's), if any.
fn no_effect(dir: &Path) -> Option<String> {
    let quiet: Vec<String> = read_json(dir, "decisions.json")
        .and_then(|d| d["no_effect"].as_array().cloned())
        .into_iter()
        .flatten()
        .chain(
            read_json(dir, "sensitivity.json")
                .and_then(|d| d["no_effect"].as_array().cloned())
                .into_iter()
                .flatten(),
        )
        .filter_map(|v| v.as_str().map(|s| format!("`{s}`")))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if quiet.is_empty() {
        return None;
    }
    Some(format!(
        " {} had no effect on any objective: {} not tested by this experiment.",
        quiet.join(", "),
        if quiet.len() == 1 {
            "it is"
        } else {
            "they are"
        }
    ))
}

/// Main effects as a table, and Sobol indices where the experiment used the saltelli
/// design.
fn sensitivity_section(dir: &Path) -> String {
    let mut out = String::new();
    if let Some(effects) = read_json(dir, "effects.json").and_then(|e| e.as_array().cloned())
        && !effects.is_empty()
    {
        out.push_str("Main effects: for each setting, the spread (largest minus smallest) of the mean over the points with each of its values, the other settings averaged out (`effects.csv` has every level).\n\n| setting | decides | values | score | security loss | availability | cost |\n|---|---|---|---|---|---|---|\n");
        for e in &effects {
            let s = |k: &str| num(e["spread"][k].as_f64().unwrap_or(f64::NAN));
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                e["setting"].as_str().unwrap_or(""),
                if e["decision"].as_bool() == Some(true) {
                    "defender"
                } else {
                    "threat"
                },
                e["levels"].as_array().map_or(0, Vec::len),
                s("score"),
                s(SECURITY_LOSS),
                s(AVAILABILITY),
                s(COST)
            ));
        }
        out.push('\n');
    }
    if let Some(sobol) = read_json(dir, "sensitivity.json") {
        out.push_str(&format!(
            "Sobol indices ({}). S: the share of the output's variance the parameter explains alone; ST: with all its interactions.\n\n| output | parameter | S | 95 % CI | ST | 95 % CI |\n|---|---|---|---|---|---|\n",
            sobol["method"].as_str().unwrap_or("")
        ));
        for o in sobol["outputs"].as_array().into_iter().flatten() {
            let indices = o["indices"].as_array().cloned().unwrap_or_default();
            if indices.is_empty() {
                out.push_str(&format!(
                    "| {} | (no variance: no parameter moved it) | | | | |\n",
                    o["output"].as_str().unwrap_or("")
                ));
            }
            for i in &indices {
                let f = |v: &serde_json::Value| num(v.as_f64().unwrap_or(f64::NAN));
                out.push_str(&format!(
                    "| {} | {} | {} | [{}, {}] | {} | [{}, {}] |\n",
                    o["output"].as_str().unwrap_or(""),
                    i["parameter"].as_str().unwrap_or(""),
                    f(&i["first_order"]),
                    f(&i["first_order_ci"][0]),
                    f(&i["first_order_ci"][1]),
                    f(&i["total"]),
                    f(&i["total_ci"][0]),
                    f(&i["total_ci"][1]),
                ));
            }
        }
        out.push('\n');
        for name in sobol["no_effect"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "**Warning:** `{}` has no measurable effect: its total index is below 0.01 for the score and every objective.\n\n",
                name.as_str().unwrap_or("")
            ));
        }
    }
    out
}

/// Where the results come from: experiment file and hash, scenario and hash, seeds,
/// version (from best.json and experiment.json).
fn provenance_section(dir: &Path) -> String {
    let manifest = read_json(dir, runner::MANIFEST);
    let best = read_json(dir, "best.json");
    let prov = best.as_ref().map(|b| &b["provenance"]);
    let mut rows: Vec<(&str, String)> = Vec::new();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    if let Some(m) = &manifest {
        rows.extend(text(&m["experiment_file"]).map(|v| ("experiment file", format!("`{v}`"))));
        rows.extend(
            text(&m["experiment_hash"]).map(|v| ("experiment hash (FNV-1a)", format!("`{v}`"))),
        );
        rows.push((
            "points × replicas",
            format!("{} × {}", m["points"], m["replicas"]),
        ));
    }
    if let Some(p) = prov {
        rows.extend(text(&p["scenario"]).map(|v| ("scenario", format!("`{v}`"))));
        rows.extend(
            text(&p["scenario_hash"]).map(|v| ("scenario hash (FNV-1a)", format!("`{v}`"))),
        );
        if let Some(seeds) = p["seeds"].as_array() {
            let list: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
            rows.push(("seeds (every point)", list.join(", ")));
        }
        rows.extend(text(&p["paraverse_version"]).map(|v| ("paraverse", v)));
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Provenance\n\n| | |\n|---|---|\n");
    for (k, v) in rows {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out.push_str("\nRerun with the same experiment file (same hash) to get the same runs bit for bit, at any thread count; `runs.jsonl` carries each run's seed, settings and a checksum.\n\n");
    out
}

/// The report's opening statement on how complete the results are: empty when every run
/// the manifest promises is in and verified; else a bold first line saying what is
/// missing or was dropped, so a partial sweep is never read as a complete one.
fn completeness(loaded: &runner::Loaded, manifest: Option<&runner::Manifest>) -> String {
    let mut notes = Vec::new();
    match manifest {
        Some(m) if loaded.runs.len() < m.runs => {
            let with_runs: std::collections::BTreeSet<usize> =
                loaded.runs.iter().map(|r| r.point).collect();
            notes.push(format!(
                "PARTIAL RESULTS: {} of {} runs; {} of {} points have no run yet. Resume with `paraverse sweep {}` before drawing conclusions.",
                loaded.runs.len(),
                m.runs,
                m.points.saturating_sub(with_runs.len()),
                m.points,
                m.experiment_file
            ));
        }
        Some(_) => {}
        None => notes.push(format!(
            "No {} in this folder: how many runs complete results hold is unknown.",
            runner::MANIFEST
        )),
    }
    if let Some(note) = runner::dropped_note(&loaded.dropped, "run") {
        notes.push(format!("{note}; they are left out."));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("**{}**\n\n", notes.join(" "))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The small Markdown subset the report uses (headings, images, tables, paragraphs).
fn markdown_to_html(md: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut in_table = false;
    for line in md.lines() {
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            if !in_table {
                out.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            out.push_str("<tr>");
            for c in cells {
                out.push_str(&format!("<td>{}</td>", inline(c)));
            }
            out.push_str("</tr>\n");
            continue;
        }
        if in_table {
            out.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("### ") {
            out.push_str(&format!("<h3>{}</h3>\n", inline(h)));
        } else if let Some(h) = line.strip_prefix("## ") {
            out.push_str(&format!("<h2>{}</h2>\n", inline(h)));
        } else if let Some(h) = line.strip_prefix("# ") {
            out.push_str(&format!("<h1>{}</h1>\n", inline(h)));
        } else if let Some(rest) = line.strip_prefix("![") {
            if let Some((alt, src)) = rest.split_once("](") {
                out.push_str(&embedded_image(dir, src.trim_end_matches(')'), alt));
            }
        } else if !line.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", inline(line)));
        }
    }
    if in_table {
        out.push_str("</table>\n");
    }
    out
}

/// A paragraph's text as HTML: escaped, with `**bold**` and `` `code` `` spans.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let escaped = escape(text);
    let mut rest = escaped.as_str();
    while !rest.is_empty() {
        let next_bold = rest.find("**");
        let next_code = rest.find('`');
        match (next_bold, next_code) {
            (Some(b), c) if c.is_none_or(|c| b < c) => match rest[b + 2..].find("**") {
                Some(e) => {
                    out.push_str(&rest[..b]);
                    out.push_str(&format!("<strong>{}</strong>", &rest[b + 2..b + 2 + e]));
                    rest = &rest[b + 4 + e..];
                }
                None => {
                    out.push_str(rest);
                    break;
                }
            },
            (_, Some(c)) => match rest[c + 1..].find('`') {
                Some(e) => {
                    out.push_str(&rest[..c]);
                    out.push_str(&format!("<code>{}</code>", &rest[c + 1..c + 1 + e]));
                    rest = &rest[c + 2 + e..];
                }
                None => {
                    out.push_str(rest);
                    break;
                }
            },
            _ => {
                out.push_str(rest);
                break;
            }
        }
    }
    out
}

/// An image of the results folder inside the page, so report.html is one
/// self-contained file: an SVG inline (its text stays searchable), a PNG as a data URI.
/// A file that cannot be read is linked instead, and the page says so.
fn embedded_image(dir: &Path, src: &str, alt: &str) -> String {
    let path = dir.join(src);
    if src.ends_with(".svg")
        && let Ok(svg) = std::fs::read_to_string(&path)
    {
        let start = svg.find("<svg").unwrap_or(0);
        return format!(
            "<figure role=\"img\" aria-label=\"{}\" style=\"margin:0;max-width:100%;overflow-x:auto\">{}</figure>\n",
            escape(alt),
            &svg[start..]
        );
    }
    if src.ends_with(".png")
        && let Ok(png) = std::fs::read(&path)
    {
        return format!(
            "<p><img src=\"data:image/png;base64,{}\" alt=\"{}\" style=\"max-width:100%\"></p>\n",
            base64(&png),
            escape(alt)
        );
    }
    format!(
        "<p><a href=\"{}\">{}</a> (not found when the report was written)</p>\n",
        escape(src),
        escape(alt)
    )
}

/// Standard base64 (RFC 4648, with padding), for data URIs.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
