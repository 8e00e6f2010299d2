//! What a user of containerlab, nextest or docker compose expects of a CLI,
//! through the binary: a default lab that works from any folder, `init`,
//! completions and man page, a closed stdout that is no error, JSON with a
//! schema version, and a run store that one bad file does not break.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use pretty_assertions::assert_eq;

/// An engine address where nothing answers: commands that would use the
/// engine fail or skip at once, and no test here reaches the real one.
const NO_ENGINE: &str = "unix:///nonexistent/halab-test.sock";

fn halab(args: &[&str], dir: &Path) -> common::Out {
    common::run_in_with(dir, args, &[("DOCKER_HOST", NO_ENGINE)])
}

/// Runs `halab ARGS` with its stdout a pipe whose reader is already gone
/// (what `| head -1` leaves once it has its line): (exit code, stderr).
fn with_closed_stdout(args: &[&str], dir: &Path) -> (i32, String) {
    let mut child = Command::new(common::halab_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("HALAB_LAB")
        .env("DOCKER_HOST", NO_ENGINE)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("halab starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exit code, not a signal"),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn render_into_a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = with_closed_stdout(&["render"], dir.path());
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn validate_into_a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = with_closed_stdout(&["validate"], dir.path());
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn completions_and_man_into_a_closed_pipe_are_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["completions", "bash"][..], &["man"], &["--version"]] {
        let (code, stderr) = with_closed_stdout(args, dir.path());
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
    }
}

#[test]
fn the_default_lab_is_shipped_in_the_binary_and_works_from_any_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["render"], dir.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir
        .path()
        .join(".halab/nginx-keepalived/docker-compose.yml")
        .is_file());
    for name in [
        "seed",
        "nginx-keepalived",
        "fast-failover",
        "three-node",
        "lb-pair",
    ] {
        let out = halab(&["validate", "--lab", name], dir.path());
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let shown = if name == "seed" {
            "nginx-keepalived"
        } else {
            name
        };
        assert_eq!(out.stdout, format!("{shown}: lab `{shown}` is valid\n"));
    }
}

#[test]
fn validate_says_daemon_checks_skipped_on_stderr_and_prints_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["validate", "--lab", "three-node"], dir.path());
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "three-node: lab `three-node` is valid\n");
    assert!(
        out.stderr.starts_with("daemon checks skipped: "),
        "{}",
        out.stderr
    );

    let out = halab(
        &["validate", "--lab", "three-node", "--format", "json"],
        dir.path(),
    );
    assert_eq!(out.code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["lab"], "three-node");
    assert_eq!(doc["valid"], true);
    assert!(doc["daemon_checks_skipped"].is_string(), "{doc}");
    assert_eq!(doc["daemon_checks"], serde_json::json!([]));
}

#[test]
fn init_writes_a_shipped_lab_that_validates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["init", "fast-failover"], dir.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "wrote fast-failover.yaml\n  next: edit it, then `halab up --lab fast-failover.yaml`\n"
    );
    let file = dir.path().join("fast-failover.yaml");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        std::fs::read_to_string(common::repo().join("labs/fast-failover.yaml")).unwrap()
    );
    let out = halab(&["validate", "--lab", "fast-failover.yaml"], dir.path());
    assert_eq!(out.code, 0, "{}", out.stderr);

    std::fs::write(&file, "mine").unwrap();
    let out = halab(&["init", "fast-failover"], dir.path());
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("init_refuses_to_overwrite", out.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");

    let out = halab(&["init", "fast-failovr"], dir.path());
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("init_of_an_unknown_lab", out.stderr);
}

#[test]
fn completions_and_man_pages_generate() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = halab(&["completions", shell], dir.path());
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        // Every verb is completed.
        for verb in ["chaos", "report", "init", "completions"] {
            assert!(out.stdout.contains(verb), "{shell} lacks {verb}");
        }
    }
    let out = halab(&["man"], dir.path());
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with(".ie \\n(.g"), "{}", out.stdout);
    assert!(out.stdout.contains(".TH halab 1"));

    let out = halab(&["man", "--out", "man1"], dir.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    for page in ["halab.1", "halab-up.1", "halab-chaos.1", "halab-report.1"] {
        let text = std::fs::read_to_string(dir.path().join("man1").join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn every_command_shows_examples_in_its_help() {
    let dir = tempfile::tempdir().unwrap();
    for verb in [
        "render",
        "validate",
        "up",
        "down",
        "status",
        "logs",
        "chaos",
        "test",
        "report",
        "init",
        "completions",
        "man",
    ] {
        let out = halab(&[verb, "--help"], dir.path());
        assert_eq!(out.code, 0, "{verb}");
        assert!(
            out.stdout.contains(&format!("Examples:\n  halab {verb}")),
            "{verb} --help has no example:\n{}",
            out.stdout
        );
    }
}

fn fixture_run() -> String {
    std::fs::read_to_string(common::repo().join("tests/fixtures/run-v1.json")).unwrap()
}

#[test]
fn a_foreign_json_in_the_run_directory_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    std::fs::write(runs.join("good.json"), fixture_run()).unwrap();
    std::fs::write(runs.join("package.json"), r#"{"name": "x"}"#).unwrap();
    std::fs::write(runs.join("half.json"), "{\"format_version\": 1, ").unwrap();
    for extra in [&["--all"][..], &[]] {
        let mut args = vec!["report", "--runs-dir", "runs", "--format", "json"];
        args.extend(extra);
        let out = halab(&args, dir.path());
        // The run missed a budget: exit 1, as a report of it should.
        assert_eq!(out.code, 1, "{}", out.stderr);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc.as_array().unwrap().len(), 1);
        assert_eq!(doc[0]["schema_version"], 1);
        insta::assert_snapshot!("foreign_json_warnings", out.stderr);
    }
}

#[test]
fn a_report_is_not_written_into_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    std::fs::write(runs.join("good.json"), fixture_run()).unwrap();
    let out = halab(
        &[
            "report",
            "--all",
            "--runs-dir",
            "runs",
            "--format",
            "json",
            "-o",
            "runs/summary.json",
        ],
        dir.path(),
    );
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.stderr);
    assert!(!runs.join("summary.json").exists());
    // A later report still reads the store.
    let out = halab(&["report", "--runs-dir", "runs"], dir.path());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "");
}

/// `cd "$(mktemp -d)" && halab up`: the default lab, from a folder with no
/// lab file in it (with its own name, port and subnet beside other tests).
#[test]
fn up_from_an_empty_folder_brings_the_shipped_seed_lab_up() {
    if !common::engine_or_skip("up_from_an_empty_folder") {
        return;
    }
    let lab = common::Lab::from_file("conv-default", "10.140.0.0/16", "seed".into());
    let port = lab.port.to_string();
    let out = common::run_in(
        lab.dir.path(),
        &[
            "up",
            "--name",
            "conv-default",
            "--port",
            &port,
            "--subnet",
            "10.140.0.0/16",
            "--timeout",
            "90s",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.starts_with("lab `conv-default` is up"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("answers 主机"), "{}", out.all());
    // The next steps repeat what names this lab, and nothing else.
    let again = format!("--name conv-default --port {port} --subnet 10.140.0.0/16");
    assert!(
        out.stdout.ends_with(&format!(
            "\n  next: `halab status {again}`, `halab chaos stop-master {again}`, `halab down {again}`\n"
        )),
        "{}",
        out.all()
    );
    let out = lab.halab(&["status"], &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["schema_version"], 1);
    assert_eq!(status["lab"], "conv-default");
    // The hidden alias scripts use still prints the same document.
    assert_eq!(lab.status()["schema_version"], 1);
}

/// Every error a user meets without an engine, locked whole (exit code and
/// all of stderr): one place to read how halab words its failures.
#[test]
fn every_user_facing_error_without_an_engine_is_locked_whole() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(common::repo().join("labs/three-node.yaml")).unwrap();
    std::fs::write(dir.path().join("broken.yaml"), "name: [\n").unwrap();
    std::fs::write(
        dir.path().join("invalid.yaml"),
        good.replace("priority: 150", "priority: 300"),
    )
    .unwrap();
    std::fs::write(dir.path().join("good.yaml"), &good).unwrap();
    std::fs::write(
        dir.path().join("stray-budget.yaml"),
        format!("{good}\nscenarios:\n  kill-master: {{pool_remove_within: 2s}}\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("runs")).unwrap();
    let cases: &[&[&str]] = &[
        &["render", "--lab", "nope.yaml"],
        &["render", "--lab", "broken.yaml"],
        &["validate", "--lab", "invalid.yaml"],
        &["validate", "--lab", "stray-budget.yaml"],
        &["up", "--subnet", "8.8.0.0/16"],
        &["up", "--name", "../x"],
        &["status"],
        &["status", "--format", "json"],
        &["up", "--lab", "fast"],
        &["down"],
        &["down", "--lab", "broken.yaml"],
        &["logs", "nginx_master"],
        &["chaos", "stop-master"],
        &["chaos", "stop-mastr"],
        &["chaos", "kill-web"],
        &["chaos", "kill-nginx", "--lab", "lb-pair"],
        &[
            "chaos",
            "kill-web",
            "--lab",
            "lb-pair",
            "--set",
            "server=web9",
        ],
        &["image", "build"],
        &["report", "--runs-dir", "runs"],
        &["report", "no-such-run", "--runs-dir", "runs"],
        &["report", "--format", "xml"],
        &["init", "three-nod"],
        &["completions", "tcsh"],
        // tune refuses bad input before any copy comes up.
        &["tune", "--lab", "good.yaml", "--advert", "20ms,fast"],
        &["tune", "--lab", "good.yaml", "--advert", "105ms"],
        &["tune", "--lab", "good.yaml", "--stress", "kill-master"],
        &["tune", "--lab", "good.yaml", "--out", "good.yaml"],
        &["tune", "--lab", "good.yaml", "--out", "invalid.yaml"],
    ];
    let mut all = String::new();
    for args in cases {
        let out = halab(args, dir.path());
        assert_ne!(out.code, 0, "{args:?} succeeded");
        all.push_str(&format!(
            "$ halab {}\nexit {}\n{}\n",
            args.join(" "),
            out.code,
            out.stderr
        ));
    }
    insta::assert_snapshot!(all);
}

/// Ctrl-C while `up` makes a new lab: what it made is removed, it says so,
/// and it exits 2.
#[test]
fn ctrl_c_during_up_removes_what_this_up_made() {
    if !common::engine_or_skip("ctrl_c_during_up") {
        return;
    }
    let lab = common::Lab::from_file("conv-int", "10.141.0.0/16", "seed".into());
    let args = lab.args();
    let mut child = Command::new(common::halab_bin())
        .arg("up")
        .args(&args)
        .current_dir(lab.dir.path())
        .env_remove("HALAB_LAB")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("halab up starts");
    // Interrupt once the first container exists, before the lab is steady.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while common::labelled_containers("conv-int").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no container made");
        assert!(child.try_wait().unwrap().is_none(), "up ended first");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    common::send_sigint(child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: interrupted: `up` of lab `conv-int` stopped; removed what it had made: "
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\n  fix: `halab up` starts again (images already built are kept)\n"),
        "{stderr}"
    );
    assert_eq!(common::containers_left("conv-int"), Vec::<String>::new());
    assert_eq!(common::labelled_networks("conv-int"), Vec::<String>::new());
    // Nor the layers of the build it interrupted (a built image may stay),
    // which the engine's builder commits up to seconds after its client left.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(common::untagged_images("conv-int"), Vec::<String>::new());
}

/// What `iptables -S` lists in a container.
fn iptables_rules(container: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", container, "iptables", "-w", "-S"])
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "iptables -S in {container} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `partition-master` killed before its heal leaves VRRP dropped inside
/// the master; the next `up` finds those rules, deletes them, and says so.
#[test]
fn up_removes_the_partition_rules_a_killed_chaos_left() {
    if !common::engine_or_skip("up_removes_the_partition_rules") {
        return;
    }
    let lab = common::Lab::from_file("conv-part", "10.142.0.0/16", "seed".into());
    lab.up();
    let master = "conv-part-nginx_master";
    for chain in ["INPUT", "OUTPUT"] {
        // The very rule `partition-master` inserts (src/scenario.rs).
        let made = Command::new("docker")
            .args(["exec", master, "iptables", "-w", "-I", chain])
            .args(["-p", "112", "-m", "comment", "--comment", "halab-partition"])
            .args(["-j", "DROP"])
            .status()
            .unwrap();
        assert!(made.success());
    }
    assert_eq!(iptables_rules(master).matches("halab-partition").count(), 2);
    let out = lab.up();
    assert!(
        out.stdout.starts_with(&format!(
            "removed 2 iptables rules that an interrupted `halab chaos` left in {master}\n"
        )),
        "{}",
        out.all()
    );
    assert!(!iptables_rules(master).contains("halab-partition"));
    // Nothing left: the next `up` says nothing about rules.
    let out = lab.up();
    assert!(!out.stdout.contains("iptables"), "{}", out.all());
}
