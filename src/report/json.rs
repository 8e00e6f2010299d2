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
    use crate::report::tests::runs;

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
}
