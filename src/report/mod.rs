//! Reports: every format is a pure function of stored runs.
//!
//! Nothing here measures or judges: numbers come from each run's `Verdict`
//! and, for the HTML timeline, from its stored `Timeline`. So `halab report`
//! gives the same page for a run of last month as on the day it ran.

pub mod curve;
mod html;
mod json;
mod junit;
mod markdown;
mod table;

use std::fmt;

use comfy_table::{presets, Cell, Table};

pub use html::html;
pub use json::json;
pub use junit::junit;
pub use markdown::markdown;
pub use table::table;

use crate::store::RunRecord;
use crate::verdict::{fmt_micros, fmt_offset, Measure, Status, Verdict, Warning};

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A terminal table.
    Table,
    /// The runs' summaries and verdicts as JSON.
    Json,
    /// JUnit XML for CI: a test suite per lab, a test case per run.
    Junit,
    /// A GitHub job-summary table.
    Markdown,
    /// One self-contained page with a timeline per run.
    Html,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Junit,
        Format::Markdown,
        Format::Html,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// File extension for a report written to disk.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Json => "json",
            Format::Junit => "xml",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown report format `{s}`; known: {}", names.join(", "))
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render the HTML report: {}\n  fix: this is a bug in halab's embedded template; please report it", crate::ui::one_line(.0))]
    // Displayed, not chained: tera's top message says nothing alone.
    Template(tera::Error),
    #[error("cannot write the JUnit report")]
    Junit(#[source] quick_junit::SerializeError),
}

/// Any format, by value.
pub fn render(format: Format, runs: &[RunRecord]) -> Result<String, ReportError> {
    Ok(match format {
        Format::Table => with_curves(table(runs), curve::table(runs)),
        Format::Json => json(runs),
        Format::Junit => junit(runs)?,
        Format::Markdown => with_curves(markdown(runs), curve::markdown(runs)),
        Format::Html => {
            let page = html(runs)?;
            match (curve::html(runs), page.rfind("</body>")) {
                (Some(section), Some(at)) => format!("{}{section}{}", &page[..at], &page[at..]),
                _ => page,
            }
        }
    })
}

/// A report, then the failover curves of the sweeps among its runs.
fn with_curves(report: String, curves: Option<String>) -> String {
    match curves {
        Some(c) => format!("{}\n\n{c}", report.trim_end()),
        None => report,
    }
}

// Cells shared by the table, Markdown and HTML summaries.

pub(crate) fn status_word(run: &RunRecord) -> &'static str {
    match run.verdict.status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Invalid => "INVALID",
        Status::InvalidBaseline => "INVALID BASELINE",
        Status::Aborted => "ABORTED",
    }
}

/// "1 warning", "2 warnings", or nothing.
pub(crate) fn warnings_count(run: &RunRecord) -> Option<String> {
    match run.verdict.warnings.len() {
        0 => None,
        1 => Some("1 warning".into()),
        n => Some(format!("{n} warnings")),
    }
}

/// The verdict as the summaries show it: "PASS", or "PASS, 1 warning" —
/// never a bare PASS beside a finding no budget judged.
pub(crate) fn verdict_cell(run: &RunRecord) -> String {
    match warnings_count(run) {
        None => status_word(run).to_string(),
        Some(w) => format!("{}, {w}", status_word(run)),
    }
}

/// A warning in one line: what was measured, and why no budget judged it.
pub(crate) fn warning_line(w: &Warning) -> String {
    format!("warning: {}; not judged: {}", w.detail, w.unjudged)
}

/// Why a run is not a bare pass: its reasons, then each warning that is not
/// already a reason (a strict run fails for its warnings).
pub(crate) fn explanations(run: &RunRecord) -> Vec<String> {
    let v = &run.verdict;
    let mut out = v.reasons.clone();
    out.extend(
        v.warnings
            .iter()
            .filter(|w| !v.reasons.contains(&w.strict_reason()))
            .map(warning_line),
    );
    out
}

/// Runs that have something to say beyond their row: a status other than
/// pass, or a warning.
pub(crate) fn explained(runs: &[RunRecord]) -> impl Iterator<Item = &RunRecord> {
    runs.iter()
        .filter(|r| r.verdict.status != Status::Pass || !r.verdict.warnings.is_empty())
}

fn with_budget(value: String, budget: Option<std::time::Duration>) -> String {
    match budget {
        Some(b) => format!("{value} / {}", fmt_micros(b.as_micros() as u64)),
        None => value,
    }
}

/// "102 ms / 500 ms", "never / 500 ms", or for a control (no switch
/// expected) "none (control)" / "moved +102 ms".
pub(crate) fn switch_cell(run: &RunRecord) -> String {
    let m = &run.verdict.metrics;
    if !run.spec.plan.expect_switch {
        let none = if run.spec.plan.outage.is_some() {
            "none (outage)"
        } else if run.spec.plan.backend.is_some() {
            "none (same LB)"
        } else {
            "none (control)"
        };
        return match m.switch {
            None => none.into(),
            Some(s) => format!("moved {}", fmt_offset(s as i64)),
        };
    }
    if run.spec.plan.switch_optional && m.switch.is_none() {
        return "none (optional)".into();
    }
    let value = m.switch.map_or("never".into(), fmt_micros);
    with_budget(value, run.spec.budget.switch_within)
}

/// The pool's view of a run on web servers, one line each (none for a run
/// without any): when the faulted server left the VIP holder's pool, every
/// change each LB's HAProxy logged, answers per web server and failures,
/// by phase (before the fault / during it / after the heal).
pub(crate) fn pool_view(run: &RunRecord) -> Vec<String> {
    let m = &run.verdict.metrics;
    let backend = run.spec.plan.backend.as_deref();
    if m.per_backend.is_empty() && m.pool.is_empty() && backend.is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(server) = backend {
        let holder = m.pool_holder.as_deref().unwrap_or(&run.spec.master);
        let when = m
            .pool_removed
            .map_or("never".to_string(), |r| fmt_offset(r as i64));
        out.push(with_budget(
            format!("{server} out of {holder}'s pool: {when}"),
            run.spec.budget.pool_remove_within,
        ));
    }
    if !m.pool.is_empty() {
        let changes: Vec<String> = m
            .pool
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {} ({})",
                    c.lb,
                    c.server,
                    if c.up { "UP" } else { "DOWN" },
                    fmt_offset(c.offset),
                    c.reason
                )
            })
            .collect();
        out.push(format!("pool changes: {}", changes.join("; ")));
    }
    let phases =
        |c: &crate::verdict::PhaseCounts| format!("{}/{}/{}", c.before, c.fault, c.after_heal);
    if !m.per_backend.is_empty() {
        let per: Vec<String> = m
            .per_backend
            .iter()
            .map(|(b, c)| format!("{b} {}", phases(c)))
            .collect();
        out.push(format!(
            "answers by web server (before/fault/after heal): {}",
            per.join(", ")
        ));
    }
    out.push(format!(
        "failed by phase (before/fault/after heal): {} of {}",
        phases(&m.errors_by_phase),
        phases(&m.requests_by_phase)
    ));
    out
}

/// "350 ms (3 failed, 7 late)" or "none".
pub(crate) fn disruption_cell(run: &RunRecord) -> String {
    let m = &run.verdict.metrics;
    match m.disruption {
        None => "none".into(),
        Some(span) => format!(
            "{} ({} failed, {} late)",
            fmt_micros(span.len()),
            m.failed,
            m.late
        ),
    }
}

pub(crate) fn worst_cell(run: &RunRecord) -> String {
    let value = run
        .verdict
        .metrics
        .worst_answer
        .map_or("none".into(), fmt_micros);
    with_budget(value, run.spec.budget.worst_answer)
}

/// Longest dual-ownership window, and how many there were.
pub(crate) fn dual_cell(run: &RunRecord) -> String {
    let m = &run.verdict.metrics;
    match m.dual_owner.len() {
        0 => "none".into(),
        1 => fmt_micros(m.dual_owner_longest),
        n => format!("{} ({n}×)", fmt_micros(m.dual_owner_longest)),
    }
}

pub(crate) fn recovery_cell(run: &RunRecord) -> String {
    let m = &run.verdict.metrics;
    match (m.heal_at, m.recovery) {
        (None, _) => "—".into(),
        (Some(_), None) => "never".into(),
        (Some(_), Some(r)) => fmt_micros(r),
    }
}

fn measure_delta(a: Option<u64>, b: Option<u64>, duration: bool) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = b as i64 - a as i64;
            if d == 0 {
                "0".into()
            } else if duration {
                fmt_offset(d)
            } else {
                format!("{d:+}")
            }
        }
        _ => "—".into(),
    }
}

/// Two runs side by side: metric, A, B, and B − A.
pub fn compare(a: &RunRecord, b: &RunRecord) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_header(vec!["metric", "A", "B", "delta (B − A)"]);
    let dur = |v: Option<u64>| v.map_or("—".to_string(), fmt_micros);
    let cnt = |v: u64| v.to_string();
    t.add_row(vec![
        Cell::new("run"),
        Cell::new(&a.id),
        Cell::new(&b.id),
        Cell::new(""),
    ]);
    t.add_row(vec![
        "verdict".to_string(),
        verdict_cell(a),
        verdict_cell(b),
        if a.verdict.status == b.verdict.status {
            "same".to_string()
        } else {
            "changed".to_string()
        },
    ]);
    let (ma, mb) = (&a.verdict.metrics, &b.verdict.metrics);
    let durations: [(&str, Option<u64>, Option<u64>); 6] = [
        ("switch", ma.switch, mb.switch),
        (
            "disruption",
            ma.disruption.map(|s| s.len()),
            mb.disruption.map(|s| s.len()),
        ),
        ("worst answer", ma.worst_answer, mb.worst_answer),
        ("p99 answer", ma.p99_answer, mb.p99_answer),
        (
            "dual owner (longest)",
            Some(ma.dual_owner_longest),
            Some(mb.dual_owner_longest),
        ),
        ("recovery", ma.recovery, mb.recovery),
    ];
    for (name, x, y) in durations {
        t.add_row(vec![
            name.to_string(),
            dur(x),
            dur(y),
            measure_delta(x, y, true),
        ]);
    }
    let warnings = |r: &RunRecord| r.verdict.warnings.len() as u32;
    let counts: [(&str, u32, u32); 4] = [
        ("failed", ma.failed, mb.failed),
        ("late", ma.late, mb.late),
        ("flaps", ma.flaps, mb.flaps),
        ("warnings", warnings(a), warnings(b)),
    ];
    for (name, x, y) in counts {
        t.add_row(vec![
            name.to_string(),
            cnt(x as u64),
            cnt(y as u64),
            measure_delta(Some(x as u64), Some(y as u64), false),
        ]);
    }
    let vrrp = |v: Option<i64>| v.map_or("—".to_string(), fmt_offset);
    t.add_row(vec![
        "VRRP takeover".to_string(),
        vrrp(ma.vrrp_takeover),
        vrrp(mb.vrrp_takeover),
        match (ma.vrrp_takeover, mb.vrrp_takeover) {
            (Some(x), Some(y)) if x == y => "0".into(),
            (Some(x), Some(y)) => fmt_offset(y - x),
            _ => "—".into(),
        },
    ]);
    t.to_string()
}

/// Where a re-judged verdict differs from the stored one: the status, then
/// each check that changed or appeared or went, then the measurements.
pub fn verdict_changes(id: &str, stored: &Verdict, fresh: &Verdict) -> String {
    let mut out = format!(
        "run {id}: stored verdict {}, re-judged {}",
        stored.status, fresh.status
    );
    let names: std::collections::BTreeSet<&str> = stored
        .checks
        .iter()
        .chain(&fresh.checks)
        .map(|c| c.name.as_str())
        .collect();
    let said = |c: Option<&crate::verdict::Check>| {
        c.map_or("absent".to_string(), |c| {
            format!("{} ({})", if c.passed { "met" } else { "missed" }, c.detail)
        })
    };
    for name in names {
        let (a, b) = (stored.check(name), fresh.check(name));
        if a != b {
            out.push_str(&format!("\n  {name}: stored {}; now {}", said(a), said(b)));
        }
    }
    if stored.warnings != fresh.warnings {
        let said = |v: &Verdict| {
            if v.warnings.is_empty() {
                "none".to_string()
            } else {
                v.warnings
                    .iter()
                    .map(|w| w.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        out.push_str(&format!(
            "\n  warnings: stored {}; now {}",
            said(stored),
            said(fresh)
        ));
    }
    if stored.metrics != fresh.metrics {
        out.push_str("\n  the measurements differ too (see `--format json`)");
    }
    out
}

/// "102 ms" for a Micros measure, the count otherwise.
pub(crate) fn measure_text(m: &Measure) -> String {
    m.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::lab::{Lab, ScenarioName};
    use crate::spec::{Choices, RunSpec};
    use crate::timeline::{EventKind, Micros, Outcome, Request, Timeline, VrrpState};

    const MS: Micros = 1_000;
    const M: &str = "nginx_master";
    const B: &str = "nginx_slave";

    /// The fast lab as it was when these reports were pinned: the shipped
    /// `labs/fast-failover.yaml` is tuned as the machine allows, and its
    /// derived budgets must not move these snapshots.
    const FAST_LAB: &str = r#"name: fast-failover
description: seed topology with VRRPv3, fast adverts and retrying HAProxy
network:
  subnet: 172.21.0.0/16
vip: 172.21.128.4/24
vrrp:
  version: 3
  virtual_router_id: 34
  advert_int: 100ms
health_check:
  kind: pidof
  interval: 1s
nodes:
  - name: nginx_master
    ip: 172.21.128.2
    state: MASTER
    priority: 200
    page: 主机
  - name: nginx_slave
    ip: 172.21.128.3
    state: BACKUP
    priority: 100
    page: 从机
proxy:
  port: 8001
  retries: 10
  retry_on: [conn-failure, empty-response, response-timeout]
  timeouts: { connect: 50ms, client: 5s, server: 200ms }
  check: null
"#;

    fn lab() -> Lab {
        Lab::from_yaml(FAST_LAB, Path::new("labs/fast-failover.yaml")).unwrap()
    }

    /// A synthetic run of `scenario`, a request every 20 ms: after the fault
    /// at 1 s, `bad` timeouts, master pages until `switch_after`, then
    /// `after`'s pages (the first 30 ms of them 150 ms late); the VIP moves at
    /// +64 ms; heal at 5 s and the master is back 300 ms later.
    pub(crate) fn run(
        scenario: ScenarioName,
        started_secs: u64,
        switch_after: Micros,
        after: &str,
        bad: u64,
    ) -> RunRecord {
        let lab = lab();
        let fault = 1_000 * MS;
        let heal = 5_000 * MS;
        let mut t = Timeline::default();
        t.push(0, EventKind::WatchStart { node: M.into() });
        t.push(0, EventKind::WatchStart { node: B.into() });
        t.push(
            0,
            EventKind::Vip {
                node: M.into(),
                holds: true,
            },
        );
        t.push(
            0,
            EventKind::Vip {
                node: B.into(),
                holds: false,
            },
        );
        t.push(
            0,
            EventKind::Vrrp {
                node: M.into(),
                state: VrrpState::Master,
            },
        );
        t.push(
            0,
            EventKind::Vrrp {
                node: B.into(),
                state: VrrpState::Backup,
            },
        );
        t.push(
            fault,
            EventKind::Fault {
                action: "docker stop".into(),
            },
        );
        t.push(
            fault + 64 * MS,
            EventKind::Vrrp {
                node: B.into(),
                state: VrrpState::Master,
            },
        );
        t.push(
            fault + 64 * MS,
            EventKind::Vip {
                node: B.into(),
                holds: true,
            },
        );
        t.push(
            fault + 80 * MS,
            EventKind::Vip {
                node: M.into(),
                holds: false,
            },
        );
        t.push(
            heal,
            EventKind::Heal {
                action: "docker start".into(),
            },
        );
        let mut seq = 0;
        let mut sent = 0;
        while sent < 5_600 * MS {
            let k = (sent.saturating_sub(fault)) / (20 * MS);
            let (outcome, lat) = if sent < fault || sent >= heal + 300 * MS {
                (Outcome::Page { node: M.into() }, 2 * MS)
            } else if sent >= fault && k < bad {
                (Outcome::Timeout, 1_000 * MS)
            } else if sent < fault + switch_after {
                (Outcome::Page { node: M.into() }, 2 * MS)
            } else if sent < fault + switch_after + 30 * MS {
                (Outcome::Page { node: after.into() }, 150 * MS)
            } else {
                (Outcome::Page { node: after.into() }, 2 * MS)
            };
            t.push(
                sent + lat,
                EventKind::Request(Request {
                    seq,
                    sent,
                    done: sent + lat,
                    backend: None,
                    outcome,
                }),
            );
            seq += 1;
            sent += 20 * MS;
        }
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(started_secs);
        // Judged as a real run is: by the spec built from the lab.
        let spec = RunSpec::new(&lab, scenario, &Choices::default());
        RunRecord::new(&lab, spec, t.finish(), false, started)
    }

    /// kill-web on labs/lb-pair.yaml: lb1 carries every request over web1..3
    /// in turn; web1 dies at 1 s, lb1's HAProxy marks it DOWN at +230 ms
    /// (lb2's at +250 ms), UP again 400 ms after the heal at 3 s; one
    /// request fails at the fault.
    pub(crate) fn lb_run() -> RunRecord {
        let lab =
            crate::lab::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/lb-pair.yaml"))
                .unwrap();
        let (fault, heal) = (1_000 * MS, 3_000 * MS);
        let mut t = Timeline::default();
        for (lb, holds) in [("lb1", true), ("lb2", false)] {
            t.push(0, EventKind::WatchStart { node: lb.into() });
            t.push(
                0,
                EventKind::Vip {
                    node: lb.into(),
                    holds,
                },
            );
        }
        t.push(
            fault,
            EventKind::Fault {
                action: "docker kill -s SIGKILL lb-pair-web1".into(),
            },
        );
        t.push(
            heal,
            EventKind::Heal {
                action: "docker start lb-pair-web1".into(),
            },
        );
        for (at, lb, up, reason) in [
            (fault + 230 * MS, "lb1", false, "Layer4 timeout"),
            (fault + 250 * MS, "lb2", false, "Layer4 timeout"),
            (heal + 400 * MS, "lb1", true, "Layer7 check passed"),
            (heal + 410 * MS, "lb2", true, "Layer7 check passed"),
        ] {
            t.push(
                at,
                EventKind::Pool {
                    lb: lb.into(),
                    server: "web1".into(),
                    up,
                    reason: reason.into(),
                },
            );
        }
        let webs = ["web1", "web2", "web3"];
        let (mut seq, mut sent) = (0u64, 0);
        while sent < 4_000 * MS {
            let mut web = webs[seq as usize % 3];
            if web == "web1" && sent >= fault && sent < heal + 400 * MS {
                web = "web2";
            }
            let failed = sent == fault;
            t.push(
                sent + 2 * MS,
                EventKind::Request(Request {
                    seq,
                    sent,
                    done: sent + 2 * MS,
                    backend: (!failed).then(|| web.to_string()),
                    outcome: if failed {
                        Outcome::Timeout
                    } else {
                        Outcome::Page { node: "lb1".into() }
                    },
                }),
            );
            seq += 1;
            sent += 20 * MS;
        }
        let spec = RunSpec::new(&lab, ScenarioName::KillWeb, &Choices::default());
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_612_400);
        RunRecord::new(&lab, spec, t.finish(), false, started)
    }

    /// Three runs: a pass, a fail (slow switch, failures), a failed control.
    pub(crate) fn runs() -> Vec<RunRecord> {
        vec![
            run(ScenarioName::StopMaster, 1_795_611_901, 100 * MS, B, 0),
            run(ScenarioName::KillMaster, 1_795_612_000, 3_000 * MS, B, 150),
            run(ScenarioName::StopBackup, 1_795_612_100, 0, M, 0),
        ]
    }

    /// partition-master passed with a warning (16 ms of two VIP owners, no
    /// max_dual_owner budget), then the same run judged under `--strict`.
    pub(crate) fn warned() -> Vec<RunRecord> {
        let lenient = run(ScenarioName::PartitionMaster, 1_795_612_200, 100 * MS, B, 0);
        let mut strict = run(ScenarioName::PartitionMaster, 1_795_612_300, 100 * MS, B, 0);
        strict.spec.strict = true;
        strict.verdict = strict.rejudge();
        vec![lenient, strict]
    }

    #[test]
    fn a_warned_run_passes_and_the_same_run_strict_fails() {
        let w = warned();
        assert_eq!(w[0].verdict.status, Status::Pass, "{:?}", w[0].verdict);
        assert_eq!(verdict_cell(&w[0]), "PASS, 2 warnings");
        let kinds: Vec<_> = w[0].verdict.warnings.iter().map(|w| w.kind).collect();
        use crate::verdict::WarningKind::*;
        assert_eq!(kinds, [DualOwner, Late]);
        assert_eq!(w[1].verdict.status, Status::Fail);
        assert_eq!(verdict_cell(&w[1]), "FAIL, 2 warnings");
    }

    #[test]
    fn a_rejudged_verdict_says_where_its_warnings_differ() {
        let w = warned();
        let mut stored = w[0].verdict.clone();
        stored.warnings.truncate(1);
        let text = verdict_changes("r", &stored, &w[0].verdict);
        assert_eq!(
            text,
            "run r: stored verdict pass, re-judged pass\n  \
             warnings: stored split brain: two nodes held the VIP for 16 ms; \
             now split brain: two nodes held the VIP for 16 ms; 2 answers came later than 100 ms (slowest 150 ms)"
        );
    }

    #[test]
    fn synthetic_runs_have_the_intended_verdicts() {
        let r = runs();
        assert_eq!(
            r[0].verdict.status,
            Status::Pass,
            "{:?}",
            r[0].verdict.reasons
        );
        assert_eq!(r[1].verdict.status, Status::Fail);
        assert_eq!(
            r[2].verdict.status,
            Status::Pass,
            "{:?}",
            r[2].verdict.reasons
        );
    }

    #[test]
    fn compare_two_runs() {
        let r = runs();
        insta::assert_snapshot!(compare(&r[0], &r[1]));
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert!("pdf"
            .parse::<Format>()
            .unwrap_err()
            .contains("known: table"));
    }
}
