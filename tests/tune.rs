//! `halab tune` through the real binary on copies of the fast lab: a short
//! search (two candidates, one run, a 5 s soak) writes a lab file that
//! then passes `halab test`; the copies are gone after it, and an existing
//! `--out` is refused before any copy comes up.

mod common;

use std::time::Duration;

use common::{engine_or_skip, Lab};
use halab::tune::Settings;

#[test]
fn tune_on_the_fast_lab_writes_a_lab_that_passes_test() {
    if !engine_or_skip("tune") {
        return;
    }
    // The copies are ht-tune-p1 (100ms) and ht-tune-p2 (20ms), on ports
    // 18481–18482; the tuned lab runs as ht-tuned on 18485.
    let mut lab = Lab::from_file(
        "ht-tune",
        "10.247.0.0/16",
        common::repo().join("labs/fast-failover.yaml"),
    );
    lab.port = 18480;
    let tuned_file = lab.dir.path().join("tuned.yaml");
    let out_arg = tuned_file.display().to_string();
    let search = [
        "--advert",
        "20ms,100ms",
        "--scenario",
        "kill-master",
        "--runs",
        "1",
        "--soak",
        "5s",
        "--out",
        &out_arg,
    ];
    let out = lab.halab(&["tune"], &search);
    assert_eq!(out.code, 0, "{}", out.all());
    // The next step runs the tuned file under this search's name and place.
    assert!(
        out.stdout.ends_with(&format!(
            "wrote {out_arg}\n  next: `halab test --up --lab {out_arg} --name ht-tune --port 18480 --subnet 10.247.0.0/16`\n"
        )),
        "{}",
        out.all()
    );
    for p in 1..=2 {
        let copy = format!("ht-tune-p{p}");
        assert!(
            common::labelled_containers(&copy).is_empty(),
            "copy {copy} left behind"
        );
    }
    // The evidence: a row per candidate, slow first, each with its decision.
    let row = |advert: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("│ {advert} ")))
            .unwrap_or_else(|| panic!("no row for {advert}:\n{}", out.stdout))
            .to_string()
    };
    let (slow, fast) = (row("100ms"), row("20ms"));
    assert!(
        out.stdout.find(&slow) < out.stdout.find(&fast),
        "{}",
        out.stdout
    );
    assert!(
        [&slow, &fast].iter().any(|r| r.contains("qualified")),
        "{}",
        out.stdout
    );
    // Every run of the search was stored with its candidate's values.
    let stored = common::stored_runs(lab.dir.path(), &out);
    assert!(stored.len() >= 2, "{}", out.all());
    assert!(stored.iter().all(|r| r.spec.point.len() == 4));

    // The file: the recommended settings, under a head saying what and
    // why, with the user's comments.
    let recommended = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("recommended: "))
        .unwrap_or_else(|| panic!("no recommendation:\n{}", out.stdout));
    let advert = recommended
        .split(' ')
        .find_map(|kv| kv.strip_prefix("vrrp.advert_int="))
        .unwrap();
    let chosen = Settings::derive(humantime::parse_duration(advert).unwrap());
    let text = std::fs::read_to_string(&tuned_file).unwrap();
    assert!(text.starts_with("# Tuned by `halab tune`"), "{text}");
    assert!(text.contains("# The goal of this lab"), "{text}");
    let parsed = halab::lab::Lab::from_yaml(&text, &tuned_file).unwrap();
    assert_eq!(Settings::of(parsed.spec()), chosen);

    // A second tune may not replace it without --force: refused at once.
    let again = lab.halab(&["tune"], &search);
    assert_eq!(again.code, 2, "{}", again.all());
    assert!(again.stderr.contains("exists"), "{}", again.all());
    assert_eq!(std::fs::read_to_string(&tuned_file).unwrap(), text);

    // The tuned lab passes `halab test` on what it was tuned for.
    let mut tuned = Lab::from_file("ht-tuned", "10.248.0.0/16", tuned_file.clone());
    tuned.port = 18485;
    let test = tuned.halab(&["test", "--up"], &["--scenario", "kill-master"]);
    assert_eq!(test.code, 0, "{}", test.all());
    let passed = common::stored_runs(tuned.dir.path(), &test);
    assert_eq!(passed.len(), 1, "{}", test.all());
    assert!(
        passed[0].verdict.metrics.worst_answer.unwrap()
            <= Duration::from_millis(150).as_micros() as u64
    );
}

#[test]
fn ctrl_c_during_tune_removes_the_copy_it_made() {
    if !engine_or_skip("tune::ctrl_c") {
        return;
    }
    let mut lab = Lab::from_file(
        "ht-tint",
        "10.249.0.0/16",
        common::repo().join("labs/fast-failover.yaml"),
    );
    lab.port = 18486;
    let copy = "ht-tint-p1";
    let mut args: Vec<String> = vec!["tune".into()];
    args.extend(lab.args());
    for a in ["--advert", "20ms", "--runs", "1", "--soak", "30s"] {
        args.push(a.into());
    }
    let mut child = std::process::Command::new(common::halab_bin())
        .args(&args)
        .current_dir(lab.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("halab tune starts");
    // Interrupt once the copy exists (up, settling or a run: each must
    // end with the copy removed).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while common::labelled_containers(copy).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no copy came up");
        assert!(child.try_wait().unwrap().is_none(), "tune ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    common::send_sigint(child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        common::containers_left(copy),
        Vec::<String>::new(),
        "the copy was left: {stderr}"
    );
    assert!(common::labelled_networks(copy).is_empty());
}
