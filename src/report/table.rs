//! The terminal table: one row per run, then what each run's VRRP did
//! against what its clients saw, and why a non-passing run did not pass.

use comfy_table::{presets, Table};

use super::{disruption_cell, dual_cell, recovery_cell, status_word, switch_cell, worst_cell};
use crate::store::RunRecord;
use crate::verdict::Status;

pub fn table(runs: &[RunRecord]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "scenario",
        "lab",
        "verdict",
        "switch / budget",
        "disruption",
        "worst answer",
        "dual owner",
        "recovery",
        "when",
    ]);
    for r in runs {
        t.add_row(vec![
            r.scenario.to_string(),
            r.lab.clone(),
            status_word(r).to_string(),
            switch_cell(r),
            disruption_cell(r),
            worst_cell(r),
            dual_cell(r),
            recovery_cell(r),
            r.started_at.clone(),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
    for r in runs {
        out.push_str(&format!(
            "{} on {}: {}\n",
            r.scenario,
            r.lab,
            r.verdict.metrics.story()
        ));
    }
    for r in runs.iter().filter(|r| r.verdict.status != Status::Pass) {
        out.push_str(&format!(
            "\n{} {} on {} ({}):\n",
            status_word(r),
            r.scenario,
            r.lab,
            r.id
        ));
        for reason in &r.verdict.reasons {
            out.push_str(&format!("  - {reason}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::runs;

    #[test]
    fn table_of_three_runs() {
        insta::assert_snapshot!(table(&runs()));
    }

    #[test]
    fn empty_table_has_only_the_header() {
        let out = table(&[]);
        assert!(out.contains("scenario"));
        assert_eq!(out.lines().count(), 4, "{out}");
    }
}
