//! JUnit XML for CI: a test suite per lab, a test case per run, named after
//! its scenario. A missed budget is a `failure`; a run that could not be
//! judged (invalid, aborted) is an `error`.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{measure_text, warning_line, ReportError};
use crate::store::RunRecord;
use crate::verdict::Status;

pub fn junit(runs: &[RunRecord]) -> Result<String, ReportError> {
    let mut by_lab: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        by_lab.entry(&r.lab).or_default().push(r);
    }
    let mut report = Report::new("halab");
    for (lab, runs) in by_lab {
        let mut suite = TestSuite::new(lab);
        for r in runs {
            suite.add_test_case(case(r));
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(ReportError::Junit)
}

fn case(r: &RunRecord) -> TestCase {
    let v = &r.verdict;
    // Every check, budget against measured, for the failure's text body.
    let lines: Vec<String> = v
        .checks
        .iter()
        .map(|c| {
            format!(
                "{} {}: measured {}, budget {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                measure_text(&c.measured),
                measure_text(&c.budget),
            )
        })
        .collect();
    let status = match v.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Fail | Status::Invalid | Status::InvalidBaseline | Status::Aborted => {
            // A broken lab is a failure of what was tested, not of halab.
            let kind = if matches!(v.status, Status::Fail | Status::InvalidBaseline) {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(v.reasons.join("; "));
            s.set_type(v.status.as_str());
            s.set_description(lines.join("\n"));
            s
        }
    };
    let mut case = TestCase::new(r.scenario.as_str(), status);
    case.set_classname(format!("halab.{}", r.lab));
    case.set_time(Duration::from_micros(v.metrics.end_at));
    case.add_property(Property::new("run", r.id.as_str()));
    case.add_property(Property::new("started_at", r.started_at.as_str()));
    // One property per warning, named by its kind, so that a CI server
    // that shows properties shows every finding of a passed case too.
    for w in &v.warnings {
        case.add_property(Property::new(
            format!("warning.{}", w.kind),
            w.detail.as_str(),
        ));
    }
    let mut out = vec![v.metrics.story()];
    out.extend(v.warnings.iter().map(warning_line));
    out.extend(v.notes.iter().cloned());
    if v.status == Status::Pass {
        out.extend(lines);
    }
    case.set_system_out(out.join("\n"));
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::ScenarioName;
    use crate::report::tests::{run, runs, warned};

    #[test]
    fn junit_of_three_runs() {
        insta::assert_snapshot!(junit(&runs()).unwrap());
    }

    #[test]
    fn junit_parses_back_with_failures_and_errors() {
        let mut runs = runs();
        let mut aborted = run(
            ScenarioName::PauseMaster,
            1_795_613_000,
            100_000,
            "nginx_slave",
            0,
        );
        aborted.verdict = aborted.verdict.aborted("interrupted by Ctrl-C");
        aborted.lab = "other-lab".into();
        runs.push(aborted);
        let xml = junit(&runs).unwrap();

        // Structure, as a CI server reads it.
        assert!(xml.contains("<testsuites name=\"halab\""), "{xml}");
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        assert_eq!(xml.matches("<testcase ").count(), 4);
        assert!(
            xml.contains("<failure message=\"switch took 3.04 s"),
            "{xml}"
        );
        assert!(
            xml.contains("<error message=\"interrupted by Ctrl-C"),
            "{xml}"
        );

        let report = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(report.tests, 4);
        assert_eq!(report.failures, 1);
        assert_eq!(report.errors, 1);
        let suite = &report.test_suites[0];
        assert_eq!(suite.name.as_str(), "fast-failover");
        let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["stop-master", "kill-master", "stop-backup"]);
        match &suite.test_cases[1].status {
            TestCaseStatus::NonSuccess {
                kind,
                message,
                description,
                ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert!(message
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .starts_with("switch took"));
                let body = description.as_ref().unwrap().as_str();
                assert!(
                    body.contains("FAIL switch_within: measured 3.04 s, budget 2.45 s"),
                    "{body}"
                );
            }
            other => panic!("kill-master should fail: {other:?}"),
        }
    }

    #[test]
    fn junit_of_a_warned_run_lenient_and_strict() {
        insta::assert_snapshot!(junit(&warned()).unwrap());
    }

    #[test]
    fn every_warning_is_a_property_and_a_line_of_system_out() {
        let xml = junit(&warned()).unwrap();
        let report = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((report.tests, report.failures), (2, 1));
        let cases = &report.test_suites[0].test_cases;
        for case in cases {
            let props: Vec<(&str, &str)> = case
                .properties
                .iter()
                .map(|p| (p.name.as_str(), p.value.as_str()))
                .filter(|(n, _)| n.starts_with("warning."))
                .collect();
            assert_eq!(
                props,
                [
                    (
                        "warning.dual_owner",
                        "split brain: two nodes held the VIP for 16 ms"
                    ),
                    (
                        "warning.late",
                        "2 answers came later than 100 ms (slowest 150 ms)"
                    ),
                ]
            );
            let out = case.system_out.as_ref().unwrap().as_str();
            assert!(
                out.contains("warning: split brain: two nodes held the VIP for 16 ms; not judged: partition-master has no max_dual_owner budget"),
                "{out}"
            );
        }
        assert!(matches!(cases[0].status, TestCaseStatus::Success { .. }));
        match &cases[1].status {
            TestCaseStatus::NonSuccess { kind, message, .. } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert!(message
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .starts_with("strict: split brain"));
            }
            other => panic!("the strict run fails: {other:?}"),
        }
    }
}
