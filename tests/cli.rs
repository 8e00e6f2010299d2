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
    for lab in ["nginx-keepalived", "fast-failover", "three-node", "lb-pair"] {
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
        "error: cannot read lab file `nope.yaml`\n  \
         caused by: No such file or directory (os error 2)\n  \
         fix: pass an existing file with `--lab FILE`, or a lab shipped with halab by name: \
         `nginx-keepalived` (or `seed`), `fast-failover` (or `fast`), `three-node`, `lb-pair`\n"
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

/// Runs `halab ARGS` in a fresh folder holding `lab.yaml` = `text`, so that
/// messages name `lab.yaml` and nothing of the machine: (output, folder).
fn in_lab_dir(text: &[u8], args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), text).unwrap();
    let out = halab(args, dir.path());
    (out, dir)
}

/// `halab render --lab lab.yaml [extra…]` on `text`: exit 2, nothing
/// written, and the whole stderr.
fn render_refused(text: &[u8], extra: &[&str]) -> String {
    let mut args = vec!["render", "--lab", "lab.yaml"];
    args.extend_from_slice(extra);
    let (out, dir) = in_lab_dir(text, &args);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        !dir.path().join(".halab").exists(),
        "a refused lab wrote files"
    );
    out.stderr
}

#[test]
fn a_duration_of_millions_of_years_is_refused_not_a_crash() {
    let text = GOOD.replace(
        "vrrp: {auth_pass: letmein}",
        "vrrp: {auth_pass: letmein}\nproxy:\n  timeouts: {connect: 18446744073709552s}\n  check: {inter: 600000000years}",
    );
    insta::assert_snapshot!(render_refused(text.as_bytes(), &[]));
}

#[test]
fn deeply_nested_yaml_is_refused_at_once() {
    // 160 KB of nested brackets took the YAML parser 35 s.
    let text = format!(
        "name: x\nnodes: {}{}\n",
        "[".repeat(80_000),
        "]".repeat(80_000)
    );
    let started = std::time::Instant::now();
    let err = render_refused(text.as_bytes(), &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    insta::assert_snapshot!(err);
}

#[test]
fn a_lab_file_over_one_mib_is_refused_unread() {
    let mut text = GOOD.to_string();
    text.push_str(&format!("# {}\n", "x".repeat(1 << 20)));
    insta::assert_snapshot!(render_refused(text.as_bytes(), &[]));
}

/// A FIFO (or a device) named as the lab: opening it used to block for
/// ever. Refused at once, as not a regular file.
#[test]
fn a_fifo_as_the_lab_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lab.yaml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for lab in [fifo.to_str().unwrap(), "/dev/zero"] {
        // `timeout`: a hang fails the test (exit 124) instead of the run.
        let out = Command::new("timeout")
            .arg("20")
            .arg(env!("CARGO_BIN_EXE_halab"))
            .args(["validate", "--lab", lab])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{lab}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: cannot read lab file `{lab}`\n  \
                 caused by: not a regular file (a folder, a FIFO or a device)\n  \
                 fix: pass a readable lab file (YAML) with `--lab FILE`\n"
            )
        );
    }
}

#[test]
fn a_file_that_is_not_utf8_says_so() {
    let mut text = GOOD.as_bytes().to_vec();
    text.extend_from_slice(b"description: caf\xe9\n");
    insta::assert_snapshot!(render_refused(&text, &[]));
}

#[test]
fn parse_errors_speak_the_lab_file_language_and_give_a_fix() {
    let err = render_refused(
        GOOD.replace("priority: 200", "priority: 99999999999999999999")
            .as_bytes(),
        &[],
    );
    insta::assert_snapshot!("out_of_range_number", err);
    let err = render_refused(
        GOOD.replace("network: {subnet: 172.29.0.0/16}", "network:")
            .as_bytes(),
        &[],
    );
    insta::assert_snapshot!("empty_value", err);
    let err = render_refused(GOOD.replace("priority: 200", "priority:").as_bytes(), &[]);
    insta::assert_snapshot!("bad_syntax", err);
    let err = render_refused(
        GOOD.replace(
            "vrrp: {auth_pass: letmein}",
            "vrrp: {auth_pass: letmein, advert_int: 1parsec}",
        )
        .as_bytes(),
        &[],
    );
    insta::assert_snapshot!("bad_duration", err);
    for serde_word in ["u16", "u32", "unit value", "invalid type"] {
        assert!(!err.contains(serde_word), "{err}");
    }
}

#[test]
fn validation_problems_name_their_line() {
    let text = "name: cli-lab
network:
  subnet: 172.29.0.0/16
vip: 172.29.128.4/24
vrrp:
  preempt: false
nodes:
  - name: a
    ip: 172.29.128.2
    state: MASTER
    priority: 255
    page: background
  - name: b
    ip: 172.29.128.3
    state: BACKUP
    priority: 100
    page: B
proxy:
  timeouts:
    server: 30days
";
    insta::assert_snapshot!(render_refused(text.as_bytes(), &[]));
}

#[test]
fn an_override_is_blamed_on_its_flag() {
    let err = render_refused(
        GOOD.as_bytes(),
        &["--subnet", "8.8.0.0/16", "--name", "../x"],
    );
    insta::assert_snapshot!(err);
    assert!(!err.contains("line "), "{err}");
}

#[test]
fn thousands_of_bad_nodes_print_a_bounded_list() {
    let mut text =
        String::from("name: big\nnetwork: {subnet: 10.50.0.0/16}\nvip: 10.50.0.4/24\nnodes:\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "  - {{name: n{i}, ip: 10.50.{}.{}, state: MASTER, priority: 7, page: p{i}}}\n",
            i / 250,
            2 + i % 250
        ));
    }
    let err = render_refused(text.as_bytes(), &[]);
    let lines = err.lines().count();
    assert!(lines <= 25, "{lines} lines:\n{err}");
    assert!(err.contains(" more (fix these first"), "{err}");
}

#[test]
fn render_refuses_the_root_and_a_folder_it_did_not_write() {
    let (out, _dir) = in_lab_dir(
        GOOD.as_bytes(),
        &["render", "--lab", "lab.yaml", "--out", "/"],
    );
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("out_root", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), GOOD).unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/notes.txt"), "keep").unwrap();
    let args = ["render", "--lab", "lab.yaml", "--out", "mine"];
    let out = halab(&args, dir.path());
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("out_foreign", out.stderr);
    assert!(dir.path().join("mine/notes.txt").is_file());

    let forced = halab(&[&args[..], &["--force"]].concat(), dir.path());
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(!dir.path().join("mine/notes.txt").exists());
    // Rendering again into halab's own folder needs no force.
    let again = halab(&args, dir.path());
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn a_page_text_that_the_page_template_also_holds_is_refused() {
    let text = GOOD.replace("page: B}", "page: background-color}");
    insta::assert_snapshot!(render_refused(text.as_bytes(), &[]));
}
