//! JSON: each run's summary, spec and verdict, without the timeline
//! (the stored run file has it).

use serde::Serialize;

use crate::lab::ScenarioName;
use crate::spec::RunSpec;
use crate::store::RunRecord;
use crate::verdict::{Status, Verdict};

#[derive(Serialize)]
struct JsonRun<'a> {
    /// Each run carries it: the document stays a list of runs, as scripts
    /// that read it expect.
    schema_version: u32,
    id: &'a str,
    lab: &'a str,
    lab_file: &'a str,
    scenario: ScenarioName,
    started_at: &'a str,
    halab_version: &'a str,
    status: Status,
    aborted: bool,
    spec: &'a RunSpec,
    verdict: &'a Verdict,
}

pub fn json(runs: &[RunRecord]) -> String {
    let out: Vec<JsonRun> = runs
        .iter()
        .map(|r| JsonRun {
            schema_version: crate::ui::JSON_SCHEMA_VERSION,
            id: &r.id,
            lab: &r.lab,
            lab_file: &r.lab_file,
            scenario: r.scenario,
            started_at: &r.started_at,
            halab_version: &r.halab_version,
            status: r.verdict.status,
            aborted: r.aborted,
            spec: &r.spec,
            verdict: &r.verdict,
        })
        .collect();
    // Plain data with string keys only: serialising cannot fail.
    let mut s = serde_json::to_string_pretty(&out).expect("report JSON is plain data");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{runs, warned};

    #[test]
    fn json_of_three_runs() {
        let runs = runs();
        let out = json(&runs);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value.as_array().unwrap().len(), 3);
        assert_eq!(value[1]["verdict"]["status"], "fail");
        assert!(value[0].get("timeline").is_none());
        assert_eq!(value[2]["schema_version"], crate::ui::JSON_SCHEMA_VERSION);
        insta::assert_snapshot!(out.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }

    #[test]
    fn json_carries_each_warning_and_the_strictness() {
        let value: serde_json::Value = serde_json::from_str(&json(&warned())).unwrap();
        let w = &value[0]["verdict"]["warnings"][0];
        assert_eq!(w["kind"], "dual_owner");
        assert_eq!(w["measured"]["micros"], 16_000);
        assert_eq!(w["detail"], "split brain: two nodes held the VIP for 16 ms");
        assert!(w["unjudged"]
            .as_str()
            .unwrap()
            .starts_with("partition-master has no max_dual_owner budget"));
        assert_eq!(value[0]["status"], "pass");
        assert_eq!(value[0]["spec"]["strict"], false);
        assert_eq!(value[1]["status"], "fail");
        assert_eq!(value[1]["spec"]["strict"], true);
        assert_eq!(
            value[1]["verdict"]["reasons"][0],
            "strict: split brain: two nodes held the VIP for 16 ms"
        );
    }
}
