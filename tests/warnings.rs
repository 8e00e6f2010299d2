//! Warnings and `--strict` through the real binary.
//!
//! On the seed lab (VRRPv2, 1 s adverts) `partition-master` is a split
//! brain by construction and has no `max_dual_owner` budget: it passes with
//! a warning, never a bare PASS; with `--strict` the same scenario fails
//! (exit 1), and the JUnit report of either run carries the warning. Then,
//! without the engine, `report --strict` on a stored run.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use common::{engine_or_skip, Lab, Out};
use halab::lab::ScenarioName;
use halab::spec::{Choices, RunSpec};
use halab::store::{RunRecord, Store};
use halab::timeline::{EventKind, Micros, Outcome, Request, Timeline};
use halab::verdict::{Status, WarningKind};

const MASTER: &str = "nginx_master";

/// The seed lab on this part's own port and subnet (ports 8420–8439,
/// subnets 10.190–10.199.0.0/16).
fn seed_lab(name: &str, port: u16, subnet: &str) -> Lab {
    let lab = Lab {
        name: name.to_string(),
        port,
        subnet: subnet.to_string(),
        file: common::seed_lab_file(),
        dir: tempfile::tempdir().unwrap(),
        remove_images: true,
    };
    lab.down();
    lab
}

/// Polls `status --json` until the master alone holds the VIP and the port
/// serves its page.
fn wait_steady(lab: &Lab) {
    let start = Instant::now();
    loop {
        let out = lab.halab(&["status"], &["--json"]);
        if let Ok(s) = serde_json::from_str::<serde_json::Value>(&out.stdout) {
            let holders: Vec<&str> = s["nodes"]
                .as_array()
                .map(|nodes| {
                    nodes
                        .iter()
                        .filter(|n| n["holds_vip"] == true)
                        .filter_map(|n| n["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            if holders == [MASTER] && s["answer"]["node"] == MASTER {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lab `{}` not steady: {}",
            lab.name,
            out.all()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `halab chaos SCENARIO EXTRA…` after the steady state, and its stored run.
fn chaos(lab: &Lab, scenario: &str, extra: &[&str]) -> (Out, RunRecord) {
    wait_steady(lab);
    let out = lab.halab(&["chaos", scenario], extra);
    eprintln!("{}", out.stdout);
    let record = Store::at(lab.runs_dir())
        .last()
        .unwrap_or_else(|e| panic!("`{scenario}` stored no run: {e}\n{}", out.all()));
    assert_eq!(record.scenario.as_str(), scenario);
    (out, record)
}

/// The `<testcase …>…</testcase>` of run `id` in a JUnit report.
fn case_of<'a>(xml: &'a str, id: &str) -> &'a str {
    xml.split("<testcase ")
        .find(|c| c.contains(&format!("value=\"{id}\"")))
        .unwrap_or_else(|| panic!("no case for run {id}:\n{xml}"))
}

#[test]
fn partition_master_passes_with_a_warning_and_fails_under_strict() {
    if !engine_or_skip("warnings::partition_master") {
        return;
    }
    let lab = seed_lab("warn-partition", 8421, "10.191.0.0/16");
    lab.up();

    // Lenient: a PASS, but never a bare one.
    let (out, lenient) = chaos(&lab, "partition-master", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = &lenient.verdict;
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert!(!lenient.spec.strict);
    let split = v
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::DualOwner)
        .unwrap_or_else(|| panic!("no dual-ownership warning: {v:#?}"));
    assert!(
        split
            .detail
            .starts_with("split brain: two nodes held the VIP for"),
        "{split:?}"
    );
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains("partition-master"))
        .unwrap();
    assert!(row.contains("PASS, "), "{}", out.all());
    assert!(row.contains(" warning"), "{}", out.all());
    assert!(out.stdout.contains(&split.detail), "{}", out.all());

    // Strict: the same finding fails the run, exit 1.
    let (out, strict) = chaos(&lab, "partition-master", &["--strict"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let v = &strict.verdict;
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(strict.spec.strict);
    assert!(v.warnings.iter().any(|w| w.kind == WarningKind::DualOwner));
    assert!(
        v.reasons
            .iter()
            .any(|r| r.starts_with("strict: split brain: two nodes held the VIP for")),
        "{v:#?}"
    );
    assert!(
        v.checks.iter().all(|c| c.passed),
        "only the warning fails it: {v:#?}"
    );

    // The JUnit report carries the warning on both cases, and fails the
    // strict one.
    let dir = lab.dir.path();
    let out = common::run_in(dir, &["report", "--all", "--format", "junit"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let xml = &out.stdout;
    let lenient_case = case_of(xml, &lenient.id);
    assert!(
        lenient_case.contains("<property name=\"warning.dual_owner\" value=\"split brain: "),
        "{lenient_case}"
    );
    assert!(!lenient_case.contains("<failure"), "{lenient_case}");
    assert!(
        lenient_case.contains("warning: split brain: "),
        "system-out: {lenient_case}"
    );
    let strict_case = case_of(xml, &strict.id);
    assert!(
        strict_case.contains("<property name=\"warning.dual_owner\""),
        "{strict_case}"
    );
    assert!(
        strict_case.contains("<failure message=\"strict: split brain: "),
        "{strict_case}"
    );

    // `report --strict` judges the lenient run as strict.
    let out = common::run_in(dir, &["report", &lenient.id]);
    assert_eq!(out.code, 0, "{}", out.all());
    let out = common::run_in(dir, &["report", &lenient.id, "--strict"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("FAIL, "), "{}", out.all());
    // The lab's Drop checks that both runs re-judge as stored.
}

/// A stored seed-lab partition run with 1.5 s of two VIP owners and no
/// failed request: a pass with one warning.
fn stored_split_brain(runs: &std::path::Path) -> RunRecord {
    const MS: Micros = 1_000;
    let lab = halab::lab::load(&common::seed_lab_file()).unwrap();
    let mut t = Timeline::default();
    let vip = |t: &mut Timeline, at, node: &str, holds| {
        t.push(
            at,
            EventKind::Vip {
                node: node.into(),
                holds,
            },
        )
    };
    for node in [MASTER, "nginx_slave"] {
        t.push(0, EventKind::WatchStart { node: node.into() });
    }
    vip(&mut t, 0, MASTER, true);
    t.push(
        1_000 * MS,
        EventKind::Fault {
            action: "iptables".into(),
        },
    );
    vip(&mut t, 4_000 * MS, "nginx_slave", true);
    t.push(
        5_500 * MS,
        EventKind::Heal {
            action: "iptables -D".into(),
        },
    );
    vip(&mut t, 5_500 * MS, "nginx_slave", false);
    for (seq, sent) in (0..6_000 * MS).step_by(20_000).enumerate() {
        let node = if (4_000 * MS..5_500 * MS).contains(&sent) {
            "nginx_slave"
        } else {
            MASTER
        };
        t.push(
            sent + 2 * MS,
            EventKind::Request(Request {
                seq: seq as u64,
                sent,
                done: sent + 2 * MS,
                backend: None,
                outcome: Outcome::Page { node: node.into() },
            }),
        );
    }
    let spec = RunSpec::new(&lab, ScenarioName::PartitionMaster, &Choices::default());
    let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_700_000);
    let mut run = RunRecord::new(&lab, spec, t.finish(), false, started);
    Store::at(runs).save(&mut run).unwrap();
    run
}

#[test]
fn report_strict_fails_a_stored_pass_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let runs: PathBuf = dir.path().join("runs");
    let run = stored_split_brain(&runs);
    assert_eq!(run.verdict.status, Status::Pass, "{:#?}", run.verdict);
    assert_eq!(run.verdict.warnings.len(), 1, "{:#?}", run.verdict);

    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--runs-dir", "runs"];
        args.extend_from_slice(extra);
        common::run_in(dir.path(), &args)
    };
    let out = report(&[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("PASS, 1 warning"), "{}", out.all());
    assert!(
        out.stdout.contains(
            "  - warning: split brain: two nodes held the VIP for 1.50 s; not judged: \
             partition-master has no max_dual_owner budget (a partition is a split brain by construction)"
        ),
        "{}",
        out.all()
    );

    let out = report(&["--strict"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("FAIL, 1 warning"), "{}", out.all());
    assert!(
        out.stdout
            .contains("  - strict: split brain: two nodes held the VIP for 1.50 s"),
        "{}",
        out.all()
    );
    let out = report(&["--strict", "--no-fail"]);
    assert_eq!(out.code, 0, "{}", out.all());

    // `--rejudge --strict`: the stored run re-judges as stored, then is
    // made strict.
    let out = report(&["--strict", "--rejudge", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(out.stderr, "re-judged 1 run: 1 as stored, 0 differ\n");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json[0]["status"], "fail");
    assert_eq!(json[0]["verdict"]["warnings"][0]["kind"], "dual_owner");
}
