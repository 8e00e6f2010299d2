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

#[test]
fn ctrl_c_during_a_pause_unpauses_the_master_and_stores_an_aborted_run() {
    if !common::engine_or_skip("ctrl_c_during_a_pause") {
        return;
    }
    let lab = Lab::seed("itest-interrupt", "10.136.0.0/16");
    lab.up();
    let master = format!("{}-nginx_master", lab.name);

    let mut args: Vec<String> = vec!["chaos".into(), "pause-master".into()];
    args.extend(lab.args());
    let mut child = Command::new(common::halab_bin())
        .args(&args)
        .current_dir(lab.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("halab chaos starts");

    // Interrupt once the fault is really in place.
    let deadline = Instant::now() + Duration::from_secs(30);
    while container_state(&master) != "paused" {
        assert!(Instant::now() < deadline, "the master was never paused");
        assert!(
            child.try_wait().unwrap().is_none(),
            "chaos ended before the fault"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    common::send_sigint(child.id());
    let out = child.wait_with_output().unwrap();
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

fn exec(container: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("docker exec runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let rules = |c: &str| exec(c, "iptables -w -S");
    let quota = |c: &str| exec(c, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    let link = |c: &str| exec(c, "ip -o link show eth0");
    type InPlace = Box<dyn Fn(&str) -> bool>;
    let cases: [(&str, &str, InPlace); 3] = [
        (
            "vrrp-loss",
            "loss=0.5",
            Box::new(move |c| rules(c).contains("halab-vrrp-loss")),
        ),
        (
            "starve-master",
            "share=0.05",
            Box::new(move |c| quota(c).trim() != "-1"),
        ),
        (
            "link-flap",
            "period=2s",
            Box::new(move |c| !link(c).contains(",UP,")),
        ),
    ];
    for (i, (scenario, set, in_place)) in cases.iter().enumerate() {
        common::wait_for_page(lab.port, "主机", Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{scenario}: the master serves first: {e}"));
        let mut args: Vec<String> = vec!["chaos".into(), scenario.to_string()];
        args.extend(["--set".into(), set.to_string()]);
        args.extend(lab.args());
        let mut child = Command::new(common::halab_bin())
            .args(&args)
            .current_dir(lab.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("halab chaos starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !in_place(&master) {
            assert!(Instant::now() < deadline, "{scenario}: never in place");
            assert!(
                child.try_wait().unwrap().is_none(),
                "{scenario}: chaos ended before the fault"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        common::send_sigint(child.id());
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{scenario}:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(stdout.contains("ABORTED"), "{scenario}: {stdout}");

        let rules = exec(&master, "iptables -w -S");
        assert!(!rules.contains("halab-"), "{scenario}: rules left: {rules}");
        assert_eq!(
            exec(&master, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us").trim(),
            "-1",
            "{scenario}: CPU cap left"
        );
        let l = exec(&master, "ip -o link show eth0");
        assert!(l.contains(",UP,"), "{scenario}: link left down: {l}");
        assert!(
            exec(&master, "ip route show default").starts_with("default via"),
            "{scenario}: default route gone"
        );
        let runs = std::fs::read_dir(lab.runs_dir()).unwrap().count();
        assert_eq!(runs, i + 1, "{scenario}: one aborted run stored");
    }
}
