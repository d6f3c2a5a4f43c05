//! The CI regression gate: run a folder of small experiments and compare each point's
//! metric means with stored baselines by declared bands (see
//! [`crate::experiment::CheckSpec`]); report as JUnit XML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stats::PointSummary;
use crate::{Experiment, LabError};

/// A stored baseline: per point, per metric, the mean over the replicas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Experiment name.
    pub experiment: String,
    /// FNV-1a of the experiment file it was made from.
    pub experiment_hash: String,
    /// paraverse version that made it.
    pub version: String,
    /// Point index → metric → mean.
    pub points: BTreeMap<usize, BTreeMap<String, f64>>,
}

impl Baseline {
    /// The baseline of a summarised sweep.
    pub fn of(exp: &Experiment, points: &[PointSummary]) -> Self {
        Self {
            experiment: exp.file.experiment.name.clone(),
            experiment_hash: exp.hash_hex(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            points: points
                .iter()
                .map(|p| {
                    (
                        p.point,
                        exp.file
                            .check
                            .metrics
                            .iter()
                            .filter_map(|m| p.metrics.get(m).map(|e| (m.clone(), e.mean)))
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// Experiment.
    pub experiment: String,
    /// `point N metric`.
    pub name: String,
    /// Baseline mean (`None`: no baseline for it).
    pub baseline: Option<f64>,
    /// Mean now.
    pub now: f64,
    /// Allowed difference.
    pub band: f64,
    /// Whether it passed.
    pub passed: bool,
    /// The band is wider than the baseline itself (or than 1 where the baseline is 0):
    /// it would pass 0 and twice the baseline, so the case fails whatever the mean.
    pub vacuous: bool,
}

impl Case {
    /// Why it failed, in words (empty when it passed).
    pub fn failure(&self) -> String {
        match self.baseline {
            _ if self.passed => String::new(),
            Some(b) if self.vacuous => format!(
                "band ±{} is wider than the baseline {b} itself: it cannot catch a regression; narrow [check] absolute",
                self.band
            ),
            Some(b) => format!(
                "mean {} moved from the baseline {} by {} (band ±{})",
                self.now,
                b,
                (self.now - b).abs(),
                self.band
            ),
            None => format!(
                "no baseline (mean now {}); run `paraverse check --update`",
                self.now
            ),
        }
    }
}

/// Checks that a baseline was made from this experiment file by this version, so that a
/// gate never compares with numbers of something else. The way out is `--update`.
pub fn verify_provenance(
    exp: &Experiment,
    baseline: &Baseline,
    path: &Path,
) -> Result<(), LabError> {
    let hash = exp.hash_hex();
    let version = env!("CARGO_PKG_VERSION");
    let why = if baseline.experiment != exp.file.experiment.name {
        format!(
            "it is the baseline of experiment `{}`, not `{}`",
            baseline.experiment, exp.file.experiment.name
        )
    } else if baseline.experiment_hash != hash {
        format!(
            "it was made from another version of {} (hash {}, the file now {hash})",
            exp.origin, baseline.experiment_hash
        )
    } else if baseline.version != version {
        format!(
            "it was made by paraverse {}, this is {version}",
            baseline.version
        )
    } else {
        return Ok(());
    };
    Err(LabError::Mismatch(format!(
        "baseline {}: {why}; if the change is intended, write a new baseline with `paraverse check --update`",
        path.display()
    )))
}

/// Compares summaries with a baseline.
pub fn compare(exp: &Experiment, points: &[PointSummary], baseline: &Baseline) -> Vec<Case> {
    let spec = &exp.file.check;
    let mut cases = Vec::new();
    for p in points {
        for m in &spec.metrics {
            let Some(e) = p.metrics.get(m) else { continue };
            let base = baseline
                .points
                .get(&p.point)
                .and_then(|b| b.get(m))
                .copied();
            let band = base.map_or(0.0, |b| (spec.relative * b.abs()).max(spec.absolute));
            let vacuous = base.is_some_and(|b| band > b.abs().max(1.0));
            cases.push(Case {
                experiment: exp.file.experiment.name.clone(),
                name: format!("point {} {m}", p.point),
                baseline: base,
                now: e.mean,
                band,
                passed: !vacuous && base.is_some_and(|b| (e.mean - b).abs() <= band),
                vacuous,
            });
        }
    }
    cases
}

/// The baseline file of an experiment.
pub fn baseline_path(baselines: &Path, exp: &Experiment) -> PathBuf {
    baselines.join(format!("{}.json", exp.file.experiment.name))
}

/// Reads a baseline (`None` if there is none yet).
pub fn read_baseline(path: &Path) -> Result<Option<Baseline>, LabError> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| LabError::Mismatch(format!("{}: not a baseline ({e})", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LabError::io(format!("cannot read {}", path.display()))(e)),
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML of the comparisons: a test suite per experiment, a test case per metric.
pub fn junit(cases: &[Case]) -> String {
    let mut by_exp: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in cases {
        by_exp.entry(&c.experiment).or_default().push(c);
    }
    let failures = cases.iter().filter(|c| !c.passed).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"paraverse check\" tests=\"{}\" failures=\"{failures}\">\n",
        cases.len()
    );
    for (exp, cs) in by_exp {
        let f = cs.iter().filter(|c| !c.passed).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\">\n",
            xml(exp),
            cs.len()
        ));
        for c in cs {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(exp),
                xml(&c.name)
            ));
            if c.passed {
                out.push_str("/>\n");
            } else {
                let msg = c.failure();
                out.push_str(&format!(
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    xml(&msg)
                ));
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
