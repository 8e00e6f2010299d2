//! The degraded-network scenarios of issue #15 through the real binary on
//! copies of the fast lab (VRRPv3, 20 ms adverts) and of the seed lab (1 s
//! adverts): what each shows, and that each leaves nothing behind — no
//! tagged iptables rule, no CPU cap, the link up with its default route.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{engine_or_skip, Lab, Out};
use halab::store::RunRecord;
use halab::verdict::{self, Status};

const MASTER: &str = "nginx_master";

fn fast_lab_file() -> PathBuf {
    common::repo().join("labs/fast-failover.yaml")
}

/// `docker exec CONTAINER sh -c SCRIPT`, its stdout (it must exit 0).
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Nothing of any fault is left on the master.
fn assert_left_nothing(lab: &Lab) {
    common::assert_no_fault_left(&format!("{}-{MASTER}", lab.name), "the master");
}

/// Waits until the master alone holds the VIP and serves.
fn wait_steady(lab: &Lab, within: Duration) {
    let start = Instant::now();
    loop {
        let s = lab.status();
        let holders: Vec<&str> = s["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["holds_vip"] == true)
            .filter_map(|n| n["name"].as_str())
            .collect();
        if holders == [MASTER] && s["answer"]["node"] == MASTER {
            return;
        }
        assert!(start.elapsed() < within, "not steady: {s}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `halab chaos SCENARIO --set …` after the steady state, and its run.
fn chaos(lab: &Lab, scenario: &str, set: &str) -> (Out, RunRecord) {
    wait_steady(lab, Duration::from_secs(30));
    let out = lab.halab(&["chaos", scenario], &["--set", set]);
    let Some(record) = common::stored_runs(lab.dir.path(), &out).pop() else {
        panic!("`{scenario}` stored no run:\n{}", out.all());
    };
    eprintln!("{}", out.stdout);
    assert_left_nothing(lab);
    (out, record)
}

fn transitions(r: &RunRecord) -> usize {
    verdict::transitions(&verdict::measure(&r.timeline, &r.spec))
}

#[test]
fn degraded_faults_on_the_fast_lab_show_their_symptom_and_leave_nothing() {
    if !engine_or_skip("degraded::fast") {
        return;
    }
    let lab = Lab::from_file("swp-deg", "10.151.0.0/16", fast_lab_file());
    lab.up();

    // All VRRP lost is a partition: the backup claims the VIP too.
    let (_, r) = chaos(&lab, "vrrp-loss", "loss=1");
    assert_eq!(r.verdict.status, Status::Fail, "{:?}", r.verdict);
    assert!(
        r.verdict.metrics.dual_owner_total > 0,
        "{:?}",
        r.verdict.metrics
    );
    assert_eq!(r.spec.plan.params.iter().next(), Some(("loss", "1")));
    // None lost is nothing at all.
    let (out, r) = chaos(&lab, "vrrp-loss", "loss=0");
    assert_eq!(r.verdict.status, Status::Pass, "{}", out.all());
    assert!(r.verdict.metrics.dual_owner.is_empty());

    // A master capped to 1 % of a core misses its 20 ms adverts.
    let (_, r) = chaos(&lab, "idle", "watch=3s,stress=starve-master,share=0.01");
    assert!(transitions(&r) > 0, "{:?}", r.verdict);
    assert!(
        r.verdict
            .notes
            .iter()
            .any(|n| n.contains("VRRP transition")),
        "{:?}",
        r.verdict.notes
    );

    // Two flaps, then one owner again: the master (the lab preempts).
    let (out, r) = chaos(&lab, "link-flap", "count=2,period=500ms");
    assert_ne!(r.verdict.status, Status::Invalid, "{}", out.all());
    wait_steady(&lab, Duration::from_secs(10));

    // Three stops and starts: the master takes the VIP back each time.
    let (out, r) = chaos(&lab, "failover-storm", "count=3,period=500ms");
    let heal = r.timeline.first_heal().unwrap_or(i64::MAX as _);
    let regained = r
        .timeline
        .events
        .iter()
        .filter(|e| {
            e.at < heal
                && matches!(&e.kind, halab::timeline::EventKind::Vip { node, holds: true } if node == MASTER)
        })
        .count();
    assert!(
        regained >= 3,
        "master regained the VIP {regained}×:\n{}",
        out.all()
    );
    wait_steady(&lab, Duration::from_secs(10));

    // This kernel has no netem: refused, with the reason.
    let out = lab.halab(&["chaos", "delay"], &[]);
    let netem = common::exec(
        &format!("{}-{MASTER}", lab.name),
        "tc qdisc add dev lo root netem delay 1ms 2>&1 && tc qdisc del dev lo root; true",
    );
    if netem.contains("unknown") {
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains("no sch_netem"), "{}", out.stderr);
    }
    assert_left_nothing(&lab);
}

#[test]
fn a_starved_master_on_one_second_adverts_does_not_flap() {
    if !engine_or_skip("degraded::seed") {
        return;
    }
    let lab = Lab::seed("swp-deg-seed", "10.152.0.0/16");
    lab.up();
    let (out, r) = chaos(&lab, "idle", "watch=3s,stress=starve-master,share=0.01");
    // keepalived keeps its 1 s adverts; nginx on the capped master is slow
    // (clients feel it), but VRRP holds still.
    assert_eq!(transitions(&r), 0, "{}", out.all());
    assert!(r.verdict.metrics.dual_owner.is_empty(), "{}", out.all());
    let cpu = docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.CpuQuota}}",
        &format!("{}-{MASTER}", lab.name),
    ]);
    assert_eq!(cpu, "-1");
}

#[test]
fn a_two_by_two_sweep_stores_four_points_and_draws_a_curve_per_metric() {
    if !engine_or_skip("degraded::sweep") {
        return;
    }
    // Its copies are named swp-sw-p1…p4 and removed by the sweep; the
    // base name is only cleaned up by the drop.
    let mut lab = Lab::from_file("swp-sw", "10.153.0.0/16", fast_lab_file());
    // The copies take the ports after it: 8351–8354.
    lab.port = 8350;
    let out = lab.halab(
        &["sweep", "stop-master"],
        &[
            "--set",
            "vrrp.advert_int=20ms,50ms",
            "--set",
            "proxy.timeouts.connect=20ms,100ms",
            "--runs",
            "1",
        ],
    );
    assert!(out.code < 2, "{}", out.all());
    let stored = common::stored_runs(lab.dir.path(), &out);
    assert_eq!(stored.len(), 4, "{}", out.all());
    let mut points: Vec<String> = stored
        .iter()
        .map(|r| format!("{:?}", r.spec.point))
        .collect();
    points.dedup();
    assert_eq!(points.len(), 4, "{points:?}");
    assert!(out.stdout.contains("failover curves"), "{}", out.stdout);
    for p in 1..=4 {
        assert!(
            common::labelled_containers(&format!("swp-sw-p{p}")).is_empty(),
            "copy {p} left behind"
        );
    }
    let html = common::run_in(
        lab.dir.path(),
        &["report", "--all", "--format", "html", "--no-fail"],
    );
    assert_eq!(html.code, 0, "{}", html.all());
    for metric in ["switch", "failed + late", "worst answer"] {
        let n = html
            .stdout
            .matches(&format!("class=\"curve\" data-metric=\"{metric}\""))
            .count();
        assert_eq!(n, 2, "{metric}");
    }
}
