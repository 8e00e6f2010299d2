//! The HTML report in a real browser (headless Chromium from Debian's
//! `chromium` package).
//!
//! One synthetic run per scenario is made through halab's library (a
//! hand-made timeline judged by its spec in `RunRecord::new`, saved with
//! `Store::save`),
//! `halab report --all --format html` renders them, and Chromium loads the
//! page: its DOM must hold every run's timeline SVG and every probe mark,
//! the console must stay silent, and a screenshot is kept as
//! `target/halab-artifacts/report.png` (with the page beside it).
//!
//! Under CI=true a missing Chromium fails the test; elsewhere it is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use halab::lab::{self, Lab, ScenarioName};
use halab::spec::{Choices, RunSpec};
use halab::store::{RunRecord, Store};
use halab::timeline::{EventKind, Micros, Outcome, Request, Timeline, VrrpState};

const MS: Micros = 1_000;
const M: &str = "nginx_master";
const B: &str = "nginx_slave";
/// Probe schedule and run length of every synthetic run.
const EVERY: Micros = 50 * MS;
const FAULT: Micros = 2_000 * MS;
const HEAL: Micros = 6_000 * MS;
const END: Micros = 8_000 * MS;

fn chromium() -> String {
    std::env::var("HALAB_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// What a synthetic run looks like, as offsets from the fault.
struct Shape {
    fault: &'static str,
    heal: &'static str,
    /// Requests sent in this window fail with `failure`.
    failing: Option<(Micros, Micros, Outcome)>,
    /// Requests sent in this window are answered this late (by the backup).
    late: Option<(Micros, Micros, Micros)>,
    /// The first request sent at or after this gets the backup's page.
    switch: Option<Micros>,
    /// The backup gains the VIP; the master loses it (None: keeps it).
    backup_vip: Option<Micros>,
    master_loses_vip: Option<Micros>,
    /// The master serves and holds the VIP again this long after the heal.
    failback: Micros,
    /// keepalived states as (node, offset from fault, state).
    vrrp: Vec<(&'static str, i64, VrrpState)>,
}

fn shape(s: ScenarioName) -> Shape {
    use VrrpState::*;
    let base = Shape {
        fault: "docker stop",
        heal: "docker start",
        failing: None,
        late: None,
        switch: Some(70 * MS),
        backup_vip: Some(60 * MS),
        master_loses_vip: Some(40 * MS),
        failback: 300 * MS,
        vrrp: vec![(M, 40, Stop), (B, 60, Master)],
    };
    match s {
        ScenarioName::StopMaster => base,
        ScenarioName::KillMaster => Shape {
            fault: "docker kill",
            failing: Some((0, 3_300 * MS, Outcome::Timeout)),
            switch: Some(3_300 * MS),
            backup_vip: Some(3_250 * MS),
            master_loses_vip: Some(0),
            vrrp: vec![(B, 3_250, Master)],
            ..base
        },
        ScenarioName::PauseMaster => Shape {
            fault: "docker pause",
            heal: "docker unpause",
            late: Some((0, 3_200 * MS, 600 * MS)),
            switch: Some(0),
            backup_vip: Some(3_250 * MS),
            master_loses_vip: None,
            vrrp: vec![(B, 3_250, Master)],
            ..base
        },
        ScenarioName::PartitionMaster => Shape {
            fault: "iptables -j DROP vrrp",
            heal: "iptables -D vrrp",
            switch: Some(3_400 * MS),
            backup_vip: Some(3_300 * MS),
            master_loses_vip: None,
            vrrp: vec![(B, 3_300, Master)],
            ..base
        },
        ScenarioName::KillNginx => Shape {
            fault: "pkill nginx",
            heal: "entrypoint.sh start-nginx",
            failing: Some((0, 2_100 * MS, Outcome::Http { status: 503 })),
            switch: Some(2_100 * MS),
            backup_vip: Some(2_050 * MS),
            master_loses_vip: Some(2_040 * MS),
            vrrp: vec![(M, 2_040, Fault), (B, 2_050, Master)],
            ..base
        },
        ScenarioName::KillKeepalived => Shape {
            fault: "kill -9 keepalived",
            heal: "entrypoint.sh start-keepalived",
            failing: Some((
                3_250 * MS,
                3_300 * MS,
                Outcome::Connect {
                    error: "connection reset".into(),
                },
            )),
            switch: Some(3_300 * MS),
            backup_vip: Some(3_250 * MS),
            master_loses_vip: None,
            vrrp: vec![(B, 3_250, Master)],
            ..base
        },
        // The control, disturbed: a few 503s while the backup stops.
        ScenarioName::StopBackup => Shape {
            failing: Some((0, 150 * MS, Outcome::Http { status: 503 })),
            switch: None,
            backup_vip: None,
            master_loses_vip: None,
            vrrp: vec![(B, 30, Stop)],
            ..base
        },
        ScenarioName::Failback => Shape {
            late: Some((4_000 * MS, 4_100 * MS, 180 * MS)),
            vrrp: vec![(M, 40, Stop), (B, 60, Master), (B, 4_280, Backup)],
            ..base
        },
        // Not drawn here (outside `halab test`'s default set).
        _ => base,
    }
}

fn at(offset: i64) -> Micros {
    (FAULT as i64 + offset) as Micros
}

fn timeline(sh: &Shape) -> Timeline {
    let mut t = Timeline::default();
    for node in [M, B] {
        t.push(0, EventKind::WatchStart { node: node.into() });
    }
    let vip = |t: &mut Timeline, when: Micros, node: &str, holds: bool| {
        t.push(
            when,
            EventKind::Vip {
                node: node.into(),
                holds,
            },
        )
    };
    let vrrp = |t: &mut Timeline, when: Micros, node: &str, state: VrrpState| {
        t.push(
            when,
            EventKind::Vrrp {
                node: node.into(),
                state,
            },
        )
    };
    vip(&mut t, 0, M, true);
    vip(&mut t, 0, B, false);
    vrrp(&mut t, 0, M, VrrpState::Master);
    vrrp(&mut t, 0, B, VrrpState::Backup);
    t.push(
        FAULT,
        EventKind::Fault {
            action: sh.fault.into(),
        },
    );
    for (node, off_ms, state) in &sh.vrrp {
        vrrp(&mut t, at(off_ms * 1_000), node, *state);
    }
    if let Some(off) = sh.master_loses_vip {
        vip(&mut t, FAULT + off, M, false);
    }
    if let Some(off) = sh.backup_vip {
        vip(&mut t, FAULT + off, B, true);
    }
    t.push(
        HEAL,
        EventKind::Heal {
            action: sh.heal.into(),
        },
    );
    let back = HEAL + sh.failback;
    if sh.backup_vip.is_some() {
        if sh.master_loses_vip.is_some() {
            vip(&mut t, back, M, true);
            vrrp(&mut t, back, M, VrrpState::Master);
        }
        vip(&mut t, back + 20 * MS, B, false);
        vrrp(&mut t, back + 20 * MS, B, VrrpState::Backup);
    }

    let mut seq = 0;
    let mut sent = 0;
    while sent < END {
        let off = sent as i64 - FAULT as i64;
        let within = |from: Micros, to: Micros| off >= from as i64 && off < to as i64;
        let backup_serves = sent >= FAULT
            && sent < back
            && sh.switch.is_some_and(|s| off >= s as i64)
            && !matches!(sh.failing, Some((f, u, _)) if within(f, u));
        let (outcome, latency) = match &sh.failing {
            Some((f, u, o)) if within(*f, *u) => {
                let lat = if *o == Outcome::Timeout {
                    1_000 * MS
                } else {
                    3 * MS
                };
                (o.clone(), lat)
            }
            _ => {
                let node = if backup_serves { B } else { M };
                let lat = match sh.late {
                    Some((f, u, lat)) if within(f, u) => lat,
                    _ => 2 * MS + (seq % 7) * 300,
                };
                (Outcome::Page { node: node.into() }, lat)
            }
        };
        t.push(
            sent + latency,
            EventKind::Request(Request {
                seq,
                sent,
                done: sent + latency,
                backend: None,
                outcome,
            }),
        );
        seq += 1;
        sent += EVERY;
    }
    t.finish()
}

/// One judged run of every scenario, on the shipped seed lab.
fn runs() -> Vec<RunRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
    let lab: Lab = lab::load(&path).unwrap();
    halab::scenario::default_set()
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let tl = timeline(&shape(s));
            let choices = Choices {
                // As with `--budget 3s`: the 3.3 s switch misses it.
                switch_within: (s == ScenarioName::KillMaster).then(|| Duration::from_secs(3)),
                ..Choices::default()
            };
            let spec = RunSpec::new(&lab, s, &choices);
            let started =
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + 60 * i as u64);
            RunRecord::new(&lab, spec, tl, false, started)
        })
        .collect()
}

/// Chromium headless with `args`, stdout and stderr to files (a DOM dump
/// can exceed a pipe's buffer), killed after a minute.
fn chromium_run(dir: &Path, name: &str, args: &[String]) -> (String, String) {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    let profile = dir.join(format!("{name}.profile"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("chromium {name}: no exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(status.success(), "chromium {name}: {status}\n{stderr}");
    (stdout, stderr)
}

/// Console messages (every level is logged as `INFO:CONSOLE`) and
/// uncaught errors from Chromium's `--enable-logging=stderr` output.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn artifacts() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`: artifacts go next to it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("halab-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn html_report_renders_in_chromium() {
    let version = match Command::new(chromium()).arg("--version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        other => {
            let why = format!("{} not runnable ({other:?})", chromium());
            if in_ci() {
                panic!("CI=true: {why}; install Debian's `chromium` package");
            }
            eprintln!("SKIP: {why}");
            return;
        }
    };
    eprintln!("{version}");
    let t = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path().join("runs"));
    let mut runs = runs();
    for r in &mut runs {
        store.save(r).unwrap();
    }
    let statuses: Vec<_> = runs.iter().map(|r| r.verdict.status.as_str()).collect();
    eprintln!("synthetic runs: {statuses:?}");

    let page = artifacts().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_halab"))
        .args([
            "report",
            "--all",
            "--format",
            "html",
            "--no-fail",
            "--runs-dir",
        ])
        .arg(store.dir())
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The detector must see a console error where there is one.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><p>x</p><script>console.error('halab-control'); nope();</script>",
    )
    .unwrap();
    let (_, err) = chromium_run(
        dir.path(),
        "control",
        &[
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            "--dump-dom".into(),
            file_url(&control),
        ],
    );
    let seen = console_lines(&err);
    assert!(
        seen.iter().any(|l| l.contains("halab-control"))
            && seen.iter().any(|l| l.contains("Uncaught")),
        "console errors of the control page not seen in chromium's log:\n{err}"
    );

    // The report: its DOM as the browser built it, and a silent console.
    let (dom, err) = chromium_run(
        dir.path(),
        "dom",
        &[
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            "--dump-dom".into(),
            file_url(&page),
        ],
    );
    assert_eq!(console_lines(&err), Vec::<&str>::new(), "console output");
    let svgs: Vec<&str> = dom
        .split("<svg ")
        .skip(1)
        .map(|s| &s[..s.find('>').unwrap()])
        .collect();
    assert_eq!(svgs.len(), runs.len(), "one SVG per run");
    for r in &runs {
        let attr = format!("data-run=\"{}\"", r.id);
        assert!(
            svgs.iter()
                .any(|s| s.contains("class=\"timeline\"") && s.contains(&attr)),
            "no svg.timeline[{attr}] in the DOM"
        );
        assert!(dom.contains(&format!("<section id=\"{}\">", r.id)));
    }
    let requests: usize = runs.iter().map(|r| r.timeline.requests().count()).sum();
    assert_eq!(dom.matches("<circle class=\"mark ").count(), requests);
    assert_eq!(dom.matches("class=\"marker fault\"").count(), runs.len());
    assert_eq!(dom.matches("class=\"marker heal\"").count(), runs.len());
    assert_eq!(dom.matches("class=\"lane-label\"").count(), 2 * runs.len());

    let png = artifacts().join("report.png");
    let _ = std::fs::remove_file(&png);
    chromium_run(
        dir.path(),
        "screenshot",
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".into(),
            file_url(&page),
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert!(bytes.len() > 10_000, "{} bytes: a blank page?", bytes.len());
    eprintln!(
        "screenshot {} ({} bytes); browser checks took {:.1?}",
        png.display(),
        bytes.len(),
        t.elapsed()
    );
}
