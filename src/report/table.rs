//! The terminal table: one row per run, then what each run's VRRP did
//! against what its clients saw, and why a non-passing run did not pass.

use comfy_table::{presets, Table};

use super::{
    disruption_cell, dual_cell, explained, explanations, pool_view, recovery_cell, status_word,
    switch_cell, verdict_cell, warnings_count, worst_cell,
};
use crate::store::RunRecord;

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
            verdict_cell(r),
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
        for line in pool_view(r) {
            out.push_str(&format!("  {line}\n"));
        }
    }
    for r in explained(runs) {
        let warned = warnings_count(r).map_or(String::new(), |w| format!(" with {w}"));
        out.push_str(&format!(
            "\n{} {} on {} ({}){warned}:\n",
            status_word(r),
            r.scenario,
            r.lab,
            r.id
        ));
        for line in explanations(r) {
            out.push_str(&format!("  - {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{runs, warned};

    #[test]
    fn table_of_three_runs() {
        insta::assert_snapshot!(table(&runs()));
    }

    #[test]
    fn table_of_an_lb_pair_run_shows_the_pool() {
        insta::assert_snapshot!(table(&[crate::report::tests::lb_run()]));
    }

    #[test]
    fn empty_table_has_only_the_header() {
        let out = table(&[]);
        assert!(out.contains("scenario"));
        assert_eq!(out.lines().count(), 4, "{out}");
    }

    #[test]
    fn table_of_a_warned_run_lenient_and_strict() {
        insta::assert_snapshot!(table(&warned()));
    }
}
