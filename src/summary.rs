//! The summary `paraverse run` prints after a run, as text: what the attackers reached,
//! the impact, the defenses and their cost, the objectives and the counters. Built as a
//! string so a test reads exactly what a user reads.

use std::fmt::{self, Write as _};
use std::path::Path;

use paraverse_sim::killchain::Impact;
use paraverse_sim::prelude::*;

/// How fast the run went: the simulated time of the ticks this process ran (from tick
/// `start`), the wall time, and node-ticks per second over `nodes` nodes.
pub fn speed(record: &RunRecord, nodes: u32, start: u32, wall_s: f64) -> String {
    let ran = f64::from(record.summary.ticks.saturating_sub(start));
    format!(
        "simulated {:.0} s in {wall_s:.2} s ({:.2} M node-ticks/s)",
        ran * record.tick_s,
        f64::from(nodes) * ran / wall_s.max(1e-9) / 1e6
    )
}

/// The summary of `record`, whose results are in `out`, one fact a line.
pub fn run_summary(record: &RunRecord, out: &Path) -> String {
    let mut text = String::new();
    write_summary(&mut text, record, out).expect("a String takes any text");
    text
}

fn write_summary(w: &mut String, record: &RunRecord, out: &Path) -> fmt::Result {
    let s = &record.summary;
    writeln!(w, "vulnerable at start         {}", s.vulnerable_initial)?;
    writeln!(
        w,
        "compromised peak            {} at {:.0} s",
        s.compromised_peak, s.compromised_peak_s
    )?;
    writeln!(w, "compromised final           {}", s.compromised_final)?;
    match s.time_to_half_vulnerable_s {
        Some(t) => writeln!(w, "half of vulnerable by       {t:.0} s"),
        None => writeln!(w, "half of vulnerable by       never"),
    }?;
    if let Some(q) = s.xr_quality {
        writeln!(w, "XR quality                  {:.2} %", q * 100.0)?;
        for (zone, q) in &s.xr_quality_by_zone {
            writeln!(w, "  in {zone:<22} {:.2} %", q * 100.0)?;
        }
    }
    if let Some(u) = s.gauges.get("max_link_util_permille") {
        writeln!(
            w,
            "busiest link                {:.1} % mean, {:.1} % max",
            u.mean / 10.0,
            u.max as f64 / 10.0
        )?;
    }
    for c in &s.campaigns {
        let reached = c.steps.iter().filter(|x| x.reached_s.is_some()).count();
        let goal = match c.goal_reached_s {
            Some(t) => format!("goal ({} {}) at {t:.0} s", c.goal, c.goal_unit),
            None => format!("goal ({} {}) not reached", c.goal, c.goal_unit),
        };
        writeln!(
            w,
            "campaign {} ({}): {reached}/{} steps, {goal}",
            c.name,
            c.kind,
            c.steps.len()
        )?;
        for step in c.steps.iter().filter(|x| x.reached_s.is_some()) {
            writeln!(
                w,
                "  {:>7.0} s  {:<10} {:<22} {}",
                step.reached_s.unwrap_or_default(),
                step.step.technique,
                step.step.name,
                step.step.tactic
            )?;
        }
    }
    if !s.campaigns.is_empty() {
        write_impact(w, &s.impact)?;
    }
    if !s.defenses.is_empty() {
        writeln!(
            w,
            "defenses                    {}{}",
            s.defenses.join(", "),
            s.strategy
                .as_ref()
                .map(|n| format!(" (strategy {n})"))
                .unwrap_or_default()
        )?;
        writeln!(
            w,
            "cost                        {:.1} (ops {:.1}, friction {:.1}, {} false quarantines)",
            s.cost.total, s.cost.ops, s.cost.friction, s.cost.false_quarantines
        )?;
    }
    writeln!(
        w,
        "objectives                  security loss {:.0}, availability {:.4}, cost {:.1}",
        s.objectives.security_loss, s.objectives.availability, s.objectives.cost
    )?;
    for (name, total) in s
        .counters
        .iter()
        .filter(|(n, t)| !n.starts_with("xr_flow_ticks") && **t > 0)
    {
        writeln!(w, "{name:<27} {total}")?;
    }
    writeln!(w, "results in                  {}", out.display())?;
    Ok(())
}

/// The impact lines of a run's summary (only what happened).
fn write_impact(w: &mut String, i: &Impact) -> fmt::Result {
    for (class, n) in i.records_stolen.iter().filter(|(_, n)| **n > 0) {
        writeln!(w, "{:<27} {n}", format!("records stolen {class}"))?;
    }
    let lines = [
        ("assets stolen", i.assets_stolen as f64, i.assets_stolen > 0),
        (
            "asset value stolen",
            i.asset_value_stolen,
            i.asset_value_stolen > 0.0,
        ),
        (
            "double spends refused",
            i.double_spends_refused as f64,
            i.double_spends_refused > 0,
        ),
        (
            "compute stolen node-s",
            i.compute_stolen_node_s,
            i.compute_stolen_node_s > 0.0,
        ),
        (
            "service down node-s",
            i.service_down_s,
            i.service_down_s > 0.0,
        ),
        (
            "accounts taken over",
            i.accounts_taken_over as f64,
            i.accounts_taken_over > 0,
        ),
        (
            "wrong twin decisions",
            i.wrong_decisions as f64,
            i.wrong_decisions > 0,
        ),
    ];
    for (name, v, shown) in lines {
        if shown {
            writeln!(w, "{name:<27} {v}")?;
        }
    }
    if i.account_takeovers > i.accounts_taken_over {
        writeln!(
            w,
            "  takeover events           {} (accounts taken again after a revocation)",
            i.account_takeovers
        )?;
    }
    if let Some(m) = i.twin_divergence_max {
        writeln!(w, "twin divergence max         {m:.3}")?;
    }
    if let Some(m) = i.detector_threshold_scale_max {
        writeln!(w, "detector threshold ×     {m:.2} (poisoning)")?;
    }
    writeln!(w, "security loss               {:.0}", i.security_loss)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{run_summary, speed};
    use crate::world::{load_scenario, plugins};
    use paraverse_sim::prelude::*;

    /// Where the value of a `label   value` line starts: labels are padded to 27 columns.
    const VALUE_COLUMN: usize = 28;

    /// The bundled APT campaign run to its end: campaigns that move, impact, counters.
    fn intrusion() -> RunRecord {
        let scenario = load_scenario(Some("campaign-intrusion"), None).unwrap();
        let mut universe = Universe::build(scenario, &plugins()).unwrap();
        while universe.step() {}
        universe.finish()
    }

    #[test]
    fn the_speed_counts_only_the_ticks_this_process_ran() {
        let record = intrusion();
        let (ticks, tick_s) = (record.summary.ticks, record.tick_s);
        assert_eq!(ticks, 720);
        // 1,000 nodes × 720 ticks in 0.5 s: 1.44 M node-ticks/s.
        assert_eq!(
            speed(&record, 1000, 0, 0.5),
            format!(
                "simulated {:.0} s in 0.50 s (1.44 M node-ticks/s)",
                720.0 * tick_s
            )
        );
        // Resumed at tick 360: half the ticks in the same time.
        assert_eq!(
            speed(&record, 1000, 360, 0.5),
            format!(
                "simulated {:.0} s in 0.50 s (0.72 M node-ticks/s)",
                360.0 * tick_s
            )
        );
    }

    #[test]
    fn a_runs_summary_says_what_happened_one_fact_a_line() {
        let record = intrusion();
        let out = std::path::Path::new("results/campaign-intrusion-42");
        let text = run_summary(&record, out);
        let lines: Vec<&str> = text.lines().collect();
        let s = &record.summary;

        assert_eq!(
            lines.first().copied(),
            Some(format!("vulnerable at start         {}", s.vulnerable_initial).as_str())
        );
        assert_eq!(
            lines.last().copied(),
            Some("results in                  results/campaign-intrusion-42")
        );
        let objectives = format!(
            "objectives                  security loss {:.0}, availability {:.4}, cost {:.1}",
            s.objectives.security_loss, s.objectives.availability, s.objectives.cost
        );
        assert!(lines.contains(&objectives.as_str()), "{text}");

        // Each campaign: its line, then one indented line per step it reached, in order.
        assert!(!s.campaigns.is_empty());
        for c in &s.campaigns {
            let reached: Vec<_> = c.steps.iter().filter(|x| x.reached_s.is_some()).collect();
            assert!(
                !reached.is_empty(),
                "{}: the test needs a campaign that moves",
                c.name
            );
            let head = format!(
                "campaign {} ({}): {}/{} steps, ",
                c.name,
                c.kind,
                reached.len(),
                c.steps.len()
            );
            let at = lines
                .iter()
                .position(|l| l.starts_with(&head))
                .unwrap_or_else(|| panic!("no `{head}` line in\n{text}"));
            for (k, step) in reached.iter().enumerate() {
                let line = lines[at + 1 + k];
                assert!(line.starts_with("  "), "{line}");
                assert!(line.contains(step.step.technique), "{line}");
                assert!(line.contains(step.step.name), "{line}");
            }
        }
        // The impact ends with the security loss, as the objectives count it.
        assert!(
            lines.contains(
                &format!("security loss               {:.0}", s.impact.security_loss).as_str()
            ),
            "{text}"
        );
        // Counters that moved are listed with their totals; the others are not.
        for (name, total) in &s.counters {
            let listed = lines.iter().any(|l| {
                l.starts_with(name.as_str()) && l[VALUE_COLUMN - 1..].trim() == total.to_string()
            });
            let expected = *total > 0 && !name.starts_with("xr_flow_ticks");
            assert_eq!(listed, expected, "{name} = {total}:\n{text}");
        }
        // Labels line up: every `label value` line has its value at the same column.
        for line in lines
            .iter()
            .filter(|l| !l.starts_with(' ') && !l.starts_with("campaign "))
        {
            assert!(line.len() > VALUE_COLUMN, "{line}");
            assert!(
                line.as_bytes()[VALUE_COLUMN - 1] == b' ' && line.as_bytes()[VALUE_COLUMN] != b' '
                    || line.starts_with("detector threshold"),
                "`{line}`: its value is not at column {VALUE_COLUMN}"
            );
        }
    }
}
