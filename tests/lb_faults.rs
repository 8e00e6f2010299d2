//! The faults of the production shape through the real binary and engine:
//! on labs/lb-pair.yaml a dead web server leaves the pool with no failed
//! request, a frozen one is caught by a layer-7 check and missed by a
//! layer-4 one, a killed HAProxy moves the VIP, every web server down is an
//! outage that fails, and `halab test` passes; on the seed lab a stopped
//! front proxy is an outage named a single point of failure.
//!
//! One lab serves several scenarios in turn (bringing one up costs 10–20 s).

mod common;

use std::path::PathBuf;

use common::{engine_or_skip, stored_runs, Lab, Out};
use halab::store::RunRecord;
use halab::timeline::Micros;
use halab::verdict::{Measure, Status};

const MS: Micros = 1_000;

fn lb_pair_file() -> PathBuf {
    common::repo().join("labs/lb-pair.yaml")
}

/// `halab chaos SCENARIO` on `lab`'s file, its output and stored run.
fn chaos(lab: &Lab, scenario: &str) -> (Out, RunRecord) {
    let out = lab.halab(&["chaos", scenario], &[]);
    let mut runs = stored_runs(lab.dir.path(), &out);
    assert_eq!(runs.len(), 1, "`{scenario}` stored one run:\n{}", out.all());
    let run = runs.remove(0);
    eprintln!("{}", out.stdout);
    (out, run)
}

/// The lab under `name`, on `subnet` and a port of this file's range.
fn lab(name: &str, subnet: &str, file: PathBuf, port: u16) -> Lab {
    let mut lab = Lab::from_file(name, subnet, file);
    lab.port = port;
    lab
}

#[test]
fn stop_proxy_on_the_seed_lab_is_a_single_point_of_failure() {
    if !engine_or_skip("lb_faults::stop_proxy") {
        return;
    }
    let lab = lab("hf-seed", "10.236.0.0/16", common::seed_lab_file(), 18431);
    lab.up();
    let (out, run) = chaos(&lab, "stop-proxy");
    assert_eq!(out.code, 1, "an outage fails:\n{}", out.all());
    assert_eq!(run.verdict.status, Status::Fail);
    let check = run.verdict.check("outage").expect("an outage check");
    assert!(
        check.detail.starts_with("single point of failure: "),
        "{}",
        check.detail
    );
    assert!(
        out.stdout.contains("single point of failure"),
        "{}",
        out.all()
    );
    // Every request of the fault failed, and the heal brought the page back.
    let m = &run.verdict.metrics;
    assert!(m.errors_by_phase.fault > 0);
    // (but one or two in flight at the fault)
    assert!(
        m.errors_by_phase.fault + 2 >= m.requests_by_phase.fault,
        "{m:?}"
    );
    let kinds: Vec<_> = run.verdict.warnings.iter().map(|w| w.kind).collect();
    assert!(
        !kinds.contains(&halab::verdict::WarningKind::Failed),
        "the outage check judges them: {kinds:?}"
    );
    assert!(run.verdict.check("recover_within").unwrap().passed);
}

/// The pool's verdict of a web fault: the faulted server out of lb1's pool
/// within its budget.
fn removed_within_budget(run: &RunRecord) -> Micros {
    let m = &run.verdict.metrics;
    assert_eq!(m.pool_holder.as_deref(), Some("lb1"), "{:?}", m.pool);
    let removed = m.pool_removed.expect("the server left the pool");
    let budget = run.spec.budget.pool_remove_within.expect("a pool budget");
    assert!(removed <= budget.as_micros() as Micros, "{removed} µs");
    removed
}

#[test]
fn web_and_lb_faults_on_the_lb_pair_lab() {
    if !engine_or_skip("lb_faults::lb_pair") {
        return;
    }
    {
        let lab = lab("hf-lb", "10.237.0.0/16", lb_pair_file(), 18432);
        lab.up();

        let (out, run) = chaos(&lab, "kill-web");
        assert_eq!(out.code, 0, "{}", out.all());
        assert_eq!(
            run.verdict.status,
            Status::Pass,
            "{:?}",
            run.verdict.reasons
        );
        assert_eq!(run.verdict.metrics.failed, 0);
        let removed = removed_within_budget(&run);
        // fall × inter = 200 ms, plus the check in flight (221–364 ms in
        // bench/lb-pair.sh), plus slack for a loaded machine.
        assert!(removed <= 700 * MS, "kill-web removal {removed} µs");
        // (but one in flight at the fault)
        assert!(run.verdict.metrics.per_backend["web1"].fault <= 2);
        assert!(
            out.stdout.contains("web1 out of lb1's pool"),
            "{}",
            out.stdout
        );

        let (out, run) = chaos(&lab, "hang-web");
        assert_eq!(out.code, 0, "a layer-7 check catches it:\n{}", out.all());
        removed_within_budget(&run);

        let (out, run) = chaos(&lab, "kill-haproxy");
        assert_eq!(out.code, 0, "{}", out.all());
        assert_eq!(run.verdict.metrics.switch_node.as_deref(), Some("lb2"));

        let (out, run) = chaos(&lab, "stop-all-web");
        assert_eq!(out.code, 1, "an outage fails:\n{}", out.all());
        assert!(
            run.verdict.reasons[0].starts_with("total outage: "),
            "{:?}",
            run.verdict.reasons
        );

        let out = lab.halab(&["test"], &[]);
        assert_eq!(out.code, 0, "halab test on lb-pair:\n{}", out.all());
        let runs = stored_runs(lab.dir.path(), &out);
        assert_eq!(runs.len(), 11, "{}", out.all());
    }
    // The same lab with a layer-4 check: a frozen server still accepts
    // connections, so it is never taken out and hang-web fails.
    let dir = tempfile::tempdir().unwrap();
    let l4 = dir.path().join("lb-pair-l4.yaml");
    let text = std::fs::read_to_string(lb_pair_file())
        .unwrap()
        .replace("check: { kind: http,", "check: { kind: tcp,");
    assert!(text.contains("kind: tcp,"));
    std::fs::write(&l4, text).unwrap();
    let lab = lab("hf-l4", "10.238.0.0/16", l4, 18433);
    lab.up();
    let (out, run) = chaos(&lab, "hang-web");
    assert_eq!(out.code, 1, "a layer-4 check misses it:\n{}", out.all());
    let c = run.verdict.check("pool_remove_within").unwrap();
    assert_eq!(c.measured, Measure::Never);
    assert!(c.detail.contains("did not see the fault"), "{}", c.detail);
}
