//! A GitHub job summary: a headline, one table row per run, and the reasons
//! of every run that did not pass.

use super::{
    disruption_cell, dual_cell, explained, explanations, pool_view, recovery_cell, switch_cell,
    warnings_count, worst_cell,
};
use crate::store::RunRecord;
use crate::verdict::Status;

fn icon(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Invalid | Status::InvalidBaseline => "⚠️",
        Status::Aborted => "⏹️",
    }
}

/// A table cell: pipes and line breaks would end the cell or the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(runs: &[RunRecord]) -> String {
    let count = |s: Status| runs.iter().filter(|r| r.verdict.status == s).count();
    let mut out = format!(
        "## halab: {} run{}, {} passed, {} failed",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        count(Status::Pass),
        count(Status::Fail)
    );
    for (s, word) in [
        (Status::Invalid, "invalid"),
        (Status::InvalidBaseline, "invalid baseline"),
        (Status::Aborted, "aborted"),
    ] {
        if count(s) > 0 {
            out.push_str(&format!(", {} {word}", count(s)));
        }
    }
    let warned = runs
        .iter()
        .filter(|r| !r.verdict.warnings.is_empty())
        .count();
    if warned > 0 {
        out.push_str(&format!(", {warned} with warnings"));
    }
    out.push_str("\n\n");
    out.push_str("| | scenario | lab | switch / budget | disruption | worst answer | dual owner | recovery | run |\n");
    out.push_str("|:-:|---|---|---|---|---|---|---|---|\n");
    for r in runs {
        let cells = [
            format!("`{}`", r.scenario),
            cell(&r.lab),
            cell(&switch_cell(r)),
            cell(&disruption_cell(r)),
            cell(&worst_cell(r)),
            cell(&dual_cell(r)),
            cell(&recovery_cell(r)),
            format!("`{}`", cell(&r.id)),
        ];
        // A pass with warnings is never a bare ✅.
        let verdict = match warnings_count(r) {
            None => icon(r.verdict.status).to_string(),
            Some(w) => format!("{} {w}", icon(r.verdict.status)),
        };
        out.push_str(&format!("| {verdict} | {} |\n", cells.join(" | ")));
    }
    for r in runs {
        let pool = pool_view(r);
        if !pool.is_empty() {
            out.push_str(&format!(
                "\n`{}` on {}, the pool:\n",
                r.scenario,
                cell(&r.lab)
            ));
            for line in pool {
                out.push_str(&format!("- {line}\n"));
            }
        }
    }
    for r in explained(runs) {
        let status = match warnings_count(r) {
            None => r.verdict.status.to_string(),
            Some(w) => format!("{}, {w}", r.verdict.status),
        };
        out.push_str(&format!(
            "\n**{} `{}` on {}** ({status}):\n",
            icon(r.verdict.status),
            r.scenario,
            cell(&r.lab),
        ));
        for line in explanations(r) {
            out.push_str(&format!("- {}\n", line.replace('\n', " ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{runs, warned};

    #[test]
    fn markdown_of_three_runs() {
        insta::assert_snapshot!(markdown(&runs()));
    }

    #[test]
    fn markdown_of_an_lb_pair_run_shows_the_pool() {
        let out = markdown(&[crate::report::tests::lb_run()]);
        assert!(
            out.contains(
                "\n`kill-web` on lb-pair, the pool:\n- web1 out of lb1's pool: +230 ms / 1.30 s\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn pipes_do_not_break_the_table() {
        let mut r = runs();
        r[0].lab = "a|b".into();
        let out = markdown(&r[..1]);
        let row = out.lines().find(|l| l.starts_with("| ✅")).unwrap();
        assert!(row.contains("a\\|b"), "{row}");
        // Header and row have the same number of unescaped separators.
        let seps = |l: &str| l.replace("\\|", "").matches('|').count();
        assert_eq!(seps(row), seps(out.lines().nth(2).unwrap()));
    }

    #[test]
    fn markdown_of_a_warned_run_lenient_and_strict() {
        insta::assert_snapshot!(markdown(&warned()));
    }
}
