//! `halab import` / `lint` / `up` on users' own projects, through the real
//! binary: the seed's project (`../shared/seed/nginx_keepalived`) from
//! import to a judged `stop-master`, and a hand-written production-shaped
//! project (`tests/fixtures/prod-pair`) through `halab test`. The tests that
//! start labs need the engine (they fail under `CI=true` without it).

mod common;

use common::{engine_or_skip, run_in, seed_project, Lab};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its content.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A lab of these tests on its own port (8300–8319) and subnet.
fn lab(name: &str, port: u16, subnet: &str, file: PathBuf, dir: tempfile::TempDir) -> Lab {
    let lab = Lab {
        name: name.into(),
        port,
        subnet: subnet.into(),
        file,
        dir,
        remove_images: true,
    };
    lab.down();
    lab
}

const SEED_RULES: [&str; 6] = [
    "haproxy-nbproc",
    "haproxy-daemon",
    "check-never-succeeds",
    "lvs-virtual-server",
    "outside-lab",
    "keepalived-in-background",
];

#[test]
fn the_seeds_project_imported_names_every_defect_and_up_refuses_it() {
    let Some(seed) = seed_project() else { return };
    let before = files_under(&seed);
    let work = tempfile::tempdir().unwrap();
    let seed_arg = seed.display().to_string();
    let out = run_in(
        work.path(),
        &[
            "import",
            &seed_arg,
            "--out",
            "labs/seed.yaml",
            "--name",
            "imp-seed-a",
        ],
    );
    assert_eq!(out.code, 1, "errors remain without --fix:\n{}", out.all());
    for rule in SEED_RULES {
        assert!(
            out.stdout.contains(&format!("[{rule}]")),
            "{rule}:\n{}",
            out.all()
        );
    }
    assert!(out.stdout.contains("6 errors, 2 warnings"), "{}", out.all());
    assert!(
        out.stdout.contains("keepalived-master.conf:48: real_server 172.16.16.177 is outside the lab subnet 172.20.0.0/16"),
        "{}",
        out.all()
    );
    assert!(work.path().join("labs/seed.yaml").is_file());

    // `up` lints first and starts nothing (no engine is needed to refuse).
    let up = run_in(
        work.path(),
        &[
            "up",
            "--lab",
            "labs/seed.yaml",
            "--name",
            "imp-seed-a",
            "--port",
            "8300",
            "--subnet",
            "10.130.0.0/16",
        ],
    );
    assert_eq!(up.code, 2, "{}", up.all());
    assert!(
        up.stderr.contains(
            "lint found 6 errors in the configs of lab `imp-seed-a` (listed above): not started"
        ),
        "{}",
        up.all()
    );
    assert!(up.stderr.contains("--no-lint"), "{}", up.all());

    // What halab would run of the unfixed files leaves the LVS block out:
    // nothing rendered names the seed's outside addresses.
    let render = run_in(
        work.path(),
        &["render", "--lab", "labs/seed.yaml", "--out", "rendered"],
    );
    assert_eq!(render.code, 0, "{}", render.all());
    let rendered = files_under(&work.path().join("rendered"));
    assert!(rendered.len() >= 8, "{}", render.all());
    for (path, content) in &rendered {
        let text = String::from_utf8_lossy(content);
        assert!(
            !text.contains("172.16.16."),
            "{} names 172.16.16.x",
            path.display()
        );
    }

    // `--fix` beside read-only originals is refused with where to go instead.
    let fix = run_in(
        work.path(),
        &["import", &seed_arg, "--out", "labs/fixed.yaml", "--fix"],
    );
    let readonly = std::fs::metadata(&seed).unwrap().permissions().readonly();
    if readonly {
        assert_eq!(fix.code, 2, "{}", fix.all());
        assert!(fix.stderr.contains("read-only"), "{}", fix.all());
        assert!(fix.stderr.contains("--fix-dir DIR"), "{}", fix.all());
        assert!(!work.path().join("labs/fixed.yaml").exists());
    }
    let after = files_under(&seed);
    if readonly {
        assert_eq!(before, after, "the user's folder was written to");
    } else {
        // A writable copy of the project gets new files only, never a changed one.
        for (path, content) in &before {
            assert_eq!(after.get(path), Some(content), "{} changed", path.display());
        }
    }
}

#[test]
fn the_seeds_project_fixed_comes_up_and_switches_on_stop_master() {
    let Some(seed) = seed_project() else { return };
    if !engine_or_skip("the_seeds_project_fixed_comes_up_and_switches_on_stop_master") {
        return;
    }
    let before = files_under(&seed);
    let work = tempfile::tempdir().unwrap();
    let out = run_in(
        work.path(),
        &[
            "import",
            &seed.display().to_string(),
            "--out",
            "labs/seed.yaml",
            "--fix",
            "--fix-dir",
            ".",
            "--name",
            "imp-seed-b",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("the lab lints clean"), "{}", out.all());
    for change in [
        "`nbproc 4` removed",
        "`daemon` removed",
        "`script \"pidof nginx\"` → ",
        "`virtual_server 172.20.128.2 80` block left out",
    ] {
        assert!(out.stdout.contains(change), "{change}:\n{}", out.all());
    }
    let file = work.path().join("labs/seed.yaml");
    let lab = lab("imp-seed-b", 8301, "10.130.0.0/16", file, work);

    let lint = lab.halab(&["lint"], &["--format", "json"]);
    assert_eq!(lint.code, 0, "{}", lint.all());
    let doc: serde_json::Value = serde_json::from_str(&lint.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1, "{}", lint.stdout);
    assert_eq!(doc["errors"], 0, "{}", lint.stdout);
    let checks = doc["daemon_checks"].as_array().expect("daemon checks ran");
    assert_eq!(checks.len(), 4, "{}", lint.stdout);
    assert!(
        checks.iter().all(|c| c["passed"] == true),
        "{}",
        lint.stdout
    );

    // The unfixed import, linted with the daemons' own checks in the image:
    // every defect named, and HAProxy itself refuses `nbproc`.
    let raw = run_in(
        lab.dir.path(),
        &[
            "import",
            &seed.display().to_string(),
            "--out",
            "labs/raw.yaml",
        ],
    );
    assert_eq!(raw.code, 1, "{}", raw.all());
    let lint = run_in(
        lab.dir.path(),
        &[
            "lint",
            "--lab",
            "labs/raw.yaml",
            "--name",
            &lab.name,
            "--subnet",
            &lab.subnet,
            "--format",
            "json",
        ],
    );
    assert_eq!(lint.code, 1, "{}", lint.all());
    let doc: serde_json::Value = serde_json::from_str(&lint.stdout).unwrap();
    assert_eq!(doc["errors"], 6, "{}", lint.stdout);
    let rules: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for rule in SEED_RULES
        .iter()
        .filter(|r| **r != "keepalived-in-background")
    {
        assert!(rules.contains(rule), "{rule}: {}", lint.stdout);
    }
    let haproxy = doc["daemon_checks"]
        .as_array()
        .expect("daemon checks ran")
        .iter()
        .find(|c| {
            c["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("haproxy -c"))
        })
        .unwrap()
        .clone();
    assert_eq!(haproxy["passed"], false, "{}", lint.stdout);

    let up = lab.up();
    assert!(
        up.stdout.contains("answers 主机 (nginx_master)"),
        "{}",
        up.all()
    );
    let chaos = lab.halab(&["chaos", "stop-master"], &["-q"]);
    assert_eq!(
        chaos.code,
        0,
        "stop-master within its default budget:\n{}",
        chaos.all()
    );
    assert!(chaos.stdout.contains("┆ PASS"), "{}", chaos.all());

    // Nothing halab rendered or copied names the seed's outside addresses.
    let mut looked = 0;
    for (path, content) in files_under(lab.dir.path()) {
        if path.extension().is_some_and(|e| e == "json") {
            continue; // stored runs
        }
        looked += 1;
        let text = String::from_utf8_lossy(&content);
        assert!(
            !text.contains("172.16.16."),
            "{} names 172.16.16.x",
            path.display()
        );
    }
    assert!(
        looked >= 10,
        "rendered and copied files looked at: {looked}"
    );
    assert_eq!(
        before,
        files_under(&seed),
        "the user's folder was written to"
    );
}

#[test]
fn a_production_shaped_project_passes_halab_test() {
    if !engine_or_skip("a_production_shaped_project_passes_halab_test") {
        return;
    }
    let project = common::repo().join("tests/fixtures/prod-pair");
    let before = files_under(&project);
    let work = tempfile::tempdir().unwrap();
    let out = run_in(
        work.path(),
        &[
            "import",
            &project.display().to_string(),
            "--out",
            "labs/prod.yaml",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("0 errors, 0 warnings"), "{}", out.all());
    let file = work.path().join("labs/prod.yaml");
    let lab = lab("imp-prod", 8302, "10.132.0.0/16", file, work);
    let test = lab.halab(
        &["test"],
        &[
            "--up",
            "-q",
            "--scenario",
            "stop-master",
            "--scenario",
            "kill-nginx",
        ],
    );
    assert_eq!(test.code, 0, "{}", test.all());
    assert_eq!(test.stdout.matches("┆ PASS").count(), 2, "{}", test.all());
    assert_eq!(
        before,
        files_under(&project),
        "the user's folder was written to"
    );
}
