//! The command line as a user meets it: exit codes, whole error messages,
//! and nothing written when the input is bad. No engine needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn halab(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_halab"))
        .args(args)
        .current_dir(dir)
        .env_remove("HALAB_LAB")
        .output()
        .expect("halab runs");
    Output {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const GOOD: &str = "name: cli-lab
network: {subnet: 172.29.0.0/16}
vip: 172.29.128.4/24
vrrp: {auth_pass: letmein}
nodes:
  - {name: a, ip: 172.29.128.2, state: MASTER, priority: 200, page: A}
  - {name: b, ip: 172.29.128.3, state: BACKUP, priority: 100, page: B}
";

/// Writes `text` as a lab file in a fresh folder; returns (folder, file).
fn lab_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Renders a broken lab: exit 2, nothing written, and the message.
fn refused(text: &str) -> String {
    let (dir, path) = lab_file(text);
    let out_dir = dir.path().join("out");
    let out = halab(
        &[
            "render",
            "--lab",
            path.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(!out_dir.exists(), "a refused lab wrote files");
    out.stderr
}

#[test]
fn a_good_lab_renders_every_file_and_lists_them() {
    let (dir, path) = lab_file(GOOD);
    let out = halab(&["render", "--lab", path.to_str().unwrap()], dir.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        [
            ".halab/cli-lab/Dockerfile",
            ".halab/cli-lab/check_nginx.sh",
            ".halab/cli-lab/docker-compose.yml",
            ".halab/cli-lab/entrypoint.sh",
            ".halab/cli-lab/haproxy.cfg",
            ".halab/cli-lab/nodes/a/index.html",
            ".halab/cli-lab/nodes/a/keepalived.conf",
            ".halab/cli-lab/nodes/b/index.html",
            ".halab/cli-lab/nodes/b/keepalived.conf",
            "",
        ]
        .join("\n")
    );
    for line in out.stdout.lines() {
        assert!(dir.path().join(line).is_file(), "{line} missing");
    }
}

#[test]
fn every_shipped_lab_renders_byte_identical_twice() {
    for lab in ["nginx-keepalived", "fast-failover", "three-node"] {
        let dir = tempfile::tempdir().unwrap();
        let file = repo().join(format!("labs/{lab}.yaml"));
        let mut trees = Vec::new();
        for round in ["one", "two"] {
            let out_dir = dir.path().join(round);
            let out = halab(
                &[
                    "render",
                    "--lab",
                    file.to_str().unwrap(),
                    "--out",
                    out_dir.to_str().unwrap(),
                ],
                dir.path(),
            );
            assert_eq!(out.code, 0, "{lab}: {}", out.stderr);
            let mut files = Vec::new();
            for line in out.stdout.lines() {
                let rel = Path::new(line)
                    .strip_prefix(&out_dir)
                    .unwrap()
                    .to_path_buf();
                files.push((rel, std::fs::read(line).unwrap()));
            }
            trees.push(files);
        }
        assert!(trees[0].len() >= 8, "{lab}: {} files", trees[0].len());
        assert!(trees[0] == trees[1], "{lab}: two renders differ");
    }
}

#[test]
fn the_four_classic_mistakes_each_name_their_field() {
    let err = refused(&GOOD.replace("priority: 200", "priority: 300"));
    assert!(
        err.contains("`nodes[0].priority`: 300 is outside VRRP's 1..=255"),
        "{err}"
    );

    let err = refused(&GOOD.replace("vip: 172.29.128.4/24", "vip: 10.0.0.4/24"));
    assert!(
        err.contains("`vip`: 10.0.0.4 is outside network.subnet 172.29.0.0/16"),
        "{err}"
    );

    let err = refused(&GOOD.replace("ip: 172.29.128.3", "ip: 172.29.128.2"));
    assert!(
        err.contains("`nodes[1].ip`: 172.29.128.2 is already used by node `a`"),
        "{err}"
    );

    let err = refused(&GOOD.replace("letmein", "twelve-chars"));
    assert!(err.contains("`vrrp.auth_pass`: is 12 bytes long"), "{err}");
}

#[test]
fn all_problems_are_reported_at_once_with_a_fix_each() {
    let text = GOOD
        .replace("priority: 200", "priority: 300")
        .replace("letmein", "twelve-chars");
    let err = refused(&text);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("lab.yaml: 2 problems in the lab\n"), "{err}");
    assert_eq!(err.matches("(fix: ").count(), 2, "{err}");
}

#[test]
fn an_unknown_field_points_at_file_line_and_column() {
    let err = refused(&GOOD.replace("vip:", "vipp: 1\nvip:"));
    assert!(
        err.contains("lab.yaml:3:1: field `vipp`: unknown field `vipp`"),
        "{err}"
    );
}

#[test]
fn a_value_that_would_break_a_config_is_refused() {
    let err = refused(&GOOD.replace("letmein", "\"a}b\""));
    assert!(err.contains("`vrrp.auth_pass`"), "{err}");
    let err = refused(&GOOD.replace("name: cli-lab", "name: \"cli lab\""));
    assert!(err.contains("`name`"), "{err}");
}

#[test]
fn a_missing_lab_file_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["render", "--lab", "nope.yaml"], dir.path());
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: cannot read lab file `nope.yaml`: No such file or directory (os error 2)\n  \
         fix: pass an existing file with `--lab FILE` (the labs shipped with halab are in `labs/`)\n"
    );
}

#[test]
fn a_mistyped_scenario_gets_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["chaos", "stop-mastr"], dir.path());
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("unknown scenario `stop-mastr` (did you mean `stop-master`?)"),
        "{}",
        out.stderr
    );
}

#[test]
fn report_without_runs_says_which_command_makes_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["report", "--runs-dir", "runs"], dir.path());
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: no stored runs in `runs`\n  fix: run a scenario first, e.g. `halab chaos stop-master` (or `halab test`)\n"
    );
}

#[test]
fn help_names_every_verb_and_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = halab(&["--help"], dir.path());
    assert_eq!(out.code, 0);
    for verb in [
        "render", "validate", "up", "down", "status", "logs", "image", "chaos", "test", "report",
    ] {
        assert!(
            out.stdout.contains(&format!("\n  {verb} ")),
            "{verb} missing"
        );
    }
    assert!(out
        .stdout
        .contains("0 every budget met, 1 a budget missed, 2 halab could not do its job"));
    let chaos = halab(&["chaos", "--help"], dir.path());
    for s in [
        "stop-master",
        "kill-master",
        "pause-master",
        "partition-master",
        "kill-nginx",
        "kill-keepalived",
        "stop-backup",
        "failback",
    ] {
        assert!(chaos.stdout.contains(s), "chaos --help lacks {s}");
    }
}

#[test]
fn rejudge_reads_a_version_1_run_and_says_where_a_stored_verdict_differs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let fixture = std::fs::read_to_string(repo().join("tests/fixtures/run-v1.json")).unwrap();
    std::fs::write(runs.join("old.json"), &fixture).unwrap();
    let args = [
        "report",
        "--rejudge",
        "--all",
        "--runs-dir",
        "runs",
        "--format",
        "json",
    ];
    let out = halab(&args, dir.path());
    // The run missed its 3 s switch budget, then and now.
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "re-judged 1 run: 1 as stored, 0 differ\n");
    assert!(
        out.stdout.contains("\"status\": \"fail\""),
        "{}",
        out.stdout
    );

    // A stored verdict that says pass where its timeline and spec say fail.
    let mut run: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    run["verdict"]["status"] = "pass".into();
    run["verdict"]["checks"][0]["passed"] = true.into();
    std::fs::write(runs.join("old.json"), run.to_string()).unwrap();
    let out = halab(&args, dir.path());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "run 20261125T130640Z-kill-master-fixture: stored verdict pass, re-judged fail\n  \
         switch_within: stored met (switch took 3.34 s, budget 3.00 s: 342 ms over); \
         now missed (switch took 3.34 s, budget 3.00 s: 342 ms over)\n\
         re-judged 1 run: 0 as stored, 1 differs\n"
    );
}
