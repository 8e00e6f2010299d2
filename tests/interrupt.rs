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
