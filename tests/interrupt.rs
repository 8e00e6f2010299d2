//! Ctrl-C during a scenario heals the fault and stores the run as aborted.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Lab;

fn container_state(name: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Status}}", name])
        .output()
        .expect("docker inspect runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `halab ARGS` in the lab's folder, sends Ctrl-C `settle` after
/// `in_place` says the fault is there, and returns what it printed and its
/// exit code.
fn interrupt_once_in_place(
    lab: &Lab,
    args: &[&str],
    in_place: impl Fn() -> bool,
    settle: Duration,
) -> std::process::Output {
    let mut child = Command::new(common::halab_bin())
        .args(args)
        .args(lab.args())
        .current_dir(lab.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("halab starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !in_place() {
        assert!(Instant::now() < deadline, "{args:?}: never in place");
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?}: ended before the fault"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
    common::send_sigint(child.id());
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_during_a_pause_unpauses_the_master_and_stores_an_aborted_run() {
    if !common::engine_or_skip("ctrl_c_during_a_pause") {
        return;
    }
    let lab = Lab::seed("itest-interrupt", "10.136.0.0/16");
    lab.up();
    let master = format!("{}-nginx_master", lab.name);

    // Interrupt once the fault is really in place.
    let out = interrupt_once_in_place(
        &lab,
        &["chaos", "pause-master"],
        || container_state(&master) == "paused",
        Duration::from_millis(300),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);

    // Aborted: the harness could not judge, so exit 2, and the fault is gone.
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        container_state(&master),
        "running",
        "the pause was not healed"
    );
    assert!(stdout.contains("ABORTED"), "{stdout}");

    let runs: Vec<_> = std::fs::read_dir(lab.runs_dir())
        .expect("the run was stored")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let record = halab::store::read_record(&runs[0]).unwrap();
    assert!(record.aborted);
    assert_eq!(record.verdict.status, halab::verdict::Status::Aborted);
    let heals = record
        .timeline
        .events
        .iter()
        .filter(|e| matches!(e.kind, halab::timeline::EventKind::Heal { .. }))
        .count();
    assert_eq!(heals, 1, "the heal is in the timeline");

    // And the lab goes back to its steady state by itself.
    common::wait_for_page(lab.port, "主机", Duration::from_secs(30)).expect("master back");
}

/// Ctrl-C while each degraded-network fault is in place (a drop rule, a CPU
/// cap, a link down) takes it out again: no rule, no cap, the link up with
/// its default route, and the run stored as aborted.
#[test]
fn ctrl_c_during_each_degraded_fault_takes_it_out() {
    if !common::engine_or_skip("ctrl_c_during_each_degraded_fault") {
        return;
    }
    let lab = Lab::from_file(
        "itest-int-deg",
        "10.139.0.0/16",
        common::repo().join("labs/fast-failover.yaml"),
    );
    lab.up();
    let master = format!("{}-nginx_master", lab.name);
    /// Whether the fault is in place in the master.
    type InPlace = fn(&str) -> bool;
    let cases: [(&str, &str, InPlace); 3] = [
        ("vrrp-loss", "loss=0.5", |c| {
            common::exec(c, "iptables -w -S").contains("halab-vrrp-loss")
        }),
        ("starve-master", "share=0.05", |c| {
            common::exec(c, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us").trim() != "-1"
        }),
        ("link-flap", "period=2s", |c| {
            !common::exec(c, "ip -o link show eth0").contains(",UP,")
        }),
    ];
    for (i, (scenario, set, in_place)) in cases.iter().enumerate() {
        common::wait_for_page(lab.port, "主机", Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{scenario}: the master serves first: {e}"));
        let out = interrupt_once_in_place(
            &lab,
            &["chaos", scenario, "--set", set],
            || in_place(&master),
            Duration::ZERO,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{scenario}:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(stdout.contains("ABORTED"), "{scenario}: {stdout}");

        common::assert_no_fault_left(&master, scenario);
        let runs = std::fs::read_dir(lab.runs_dir()).unwrap().count();
        assert_eq!(runs, i + 1, "{scenario}: one aborted run stored");
    }
}
