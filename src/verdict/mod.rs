//! Verdicts: a scenario's budgets judged from its timeline, and nothing else.
//!
//! [`judge`] is a pure function of a [`Timeline`] and the run's [`RunSpec`]
//! (stored with the run), so a stored run can be judged again long after it
//! ran and give the same verdict. Every number comes from
//! what the client (the probe) lived through: the switch is the first backup
//! page *received* after the fault, the disruption counts failed **and** late
//! answers, and only the VIP-ownership lanes can show a split brain
//! (DESIGN.md §2: retries turn errors into latency; a split brain fails no
//! request).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

mod checks;
mod measure;
mod warnings;

use checks::checks;
pub use measure::{dual_ownership, measure, DUAL_OWNER_RESOLUTION};
pub use warnings::warnings;

use crate::spec::RunSpec;
use crate::timeline::{micros, EventKind, Micros, Outcome, Request, Timeline, VrrpState};

/// What a run amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every budget was met.
    Pass,
    /// At least one budget was missed (or the switch never came).
    Fail,
    /// The run cannot be judged: no baseline, no fault, unwatched nodes.
    Invalid,
    /// The lab was not steady before the fault (two owners, a backup deaf
    /// to the master…): no fault was injected, and the lab is to blame.
    InvalidBaseline,
    /// The run was interrupted before it finished.
    Aborted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Invalid => "invalid",
            Status::InvalidBaseline => "invalid_baseline",
            Status::Aborted => "aborted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A measured value or a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A duration in microseconds.
    Micros(Micros),
    /// A number of requests, flaps, …
    Count(u64),
    /// The awaited event never happened (no switch, no recovery).
    Never,
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measure::Micros(us) => f.write_str(&fmt_micros(*us)),
            Measure::Count(n) => write!(f, "{n}"),
            Measure::Never => f.write_str("never"),
        }
    }
}

/// One budget judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// The budget's name as written in a lab file (`switch_within`, …), or
    /// `no_switch` / `flaps` for the rules that have no budget field.
    pub name: String,
    pub measured: Measure,
    pub budget: Measure,
    pub passed: bool,
    /// One sentence a person can act on, with the margin or the excess.
    pub detail: String,
}

/// What kind of finding a [`Warning`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Two nodes held the VIP and no `max_dual_owner` judged it.
    DualOwner,
    /// Requests failed between the fault and the heal and no `max_failed`
    /// judged them.
    Failed,
    /// Answers came later than `late_after` and neither `max_late` nor
    /// `worst_answer` judged them.
    Late,
    /// Requests failed after the heal (on the way back) and no
    /// `max_failed` judged them.
    LostAfterHeal,
    /// Clients bounced between nodes where the scenario expects the
    /// serving node to change.
    Flaps,
}

impl WarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::DualOwner => "dual_owner",
            WarningKind::Failed => "failed",
            WarningKind::Late => "late",
            WarningKind::LostAfterHeal => "lost_after_heal",
            WarningKind::Flaps => "flaps",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A measured finding that no budget of the run judges: it does not decide
/// the status (unless the run is strict), but a report never shows a bare
/// PASS beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub measured: Measure,
    /// What was measured, one sentence.
    pub detail: String,
    /// Why no budget judged it, and which budget would.
    pub unjudged: String,
}

impl Warning {
    /// The line a strict run gives as a reason for failing.
    pub fn strict_reason(&self) -> String {
        format!("strict: {}", self.detail)
    }
}

/// A time span on the run's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: Micros,
    pub end: Micros,
}

impl Span {
    pub fn len(&self) -> Micros {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A keepalived state change, placed relative to the fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpChange {
    pub node: String,
    pub state: VrrpState,
    pub at: Micros,
    /// `at` − fault, negative before the fault (0 when there was no fault).
    pub offset: i64,
}

/// A load balancer's HAProxy taking a web server in or out, placed
/// relative to the fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolChange {
    pub lb: String,
    pub server: String,
    pub up: bool,
    pub reason: String,
    pub at: Micros,
    /// `at` − fault (0 when there was no fault).
    pub offset: i64,
}

/// Requests counted by the run's phase: before the fault, from the fault to
/// the heal, after the heal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseCounts {
    pub before: u32,
    pub fault: u32,
    pub after_heal: u32,
}

impl PhaseCounts {
    pub fn total(&self) -> u32 {
        self.before + self.fault + self.after_heal
    }
}

/// Everything measured from a timeline. Absolute times are on the run's
/// clock; `switch`, `recovery` and the latencies are durations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    pub fault_at: Option<Micros>,
    pub heal_at: Option<Micros>,
    /// Time of the last event (closes open ownership intervals).
    pub end_at: Micros,
    /// The master's page was received before the fault.
    pub baseline_ok: bool,
    /// Requests that failed before the fault (an unsteady baseline).
    pub failed_before_fault: u32,
    /// All probe requests.
    pub requests: u32,
    /// Requests answered (or given up) at or after the fault.
    pub requests_after_fault: u32,
    /// Fault → first backup page received.
    pub switch: Option<Micros>,
    pub switch_node: Option<String>,
    /// Times the serving node changed after the switch, before the heal.
    pub flaps: u32,
    /// Requests after the fault that failed (error, timeout, wrong page).
    pub failed: u32,
    /// Requests after the fault answered, but later than `late_after`.
    pub late: u32,
    /// First to last failed-or-late request after the fault (send of the
    /// first to receipt of the last).
    pub disruption: Option<Span>,
    /// Slowest HTTP answer received in the fault window (fault → heal/end).
    pub worst_answer: Option<Micros>,
    /// 99th percentile (nearest rank) of the same answers.
    pub p99_answer: Option<Micros>,
    /// Heal → first master page (preempting lab) or first good page.
    pub recovery: Option<Micros>,
    /// Intervals in which two or more nodes held the VIP.
    pub dual_owner: Vec<Span>,
    pub dual_owner_total: Micros,
    pub dual_owner_longest: Micros,
    pub vrrp: Vec<VrrpChange>,
    /// Offset of the first backup entering MASTER after the fault.
    pub vrrp_takeover: Option<i64>,
    /// Requests, and failed requests, by phase.
    #[serde(default)]
    pub requests_by_phase: PhaseCounts,
    #[serde(default)]
    pub errors_by_phase: PhaseCounts,
    /// Answers by the web server that gave them (the production shape).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_backend: BTreeMap<String, PhaseCounts>,
    /// Every pool change the load balancers' HAProxy logged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pool: Vec<PoolChange>,
    /// The load balancer holding the VIP when the fault came: the one whose
    /// pool clients depend on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_holder: Option<String>,
    /// Fault → the faulted web server marked DOWN by the holder's HAProxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_removed: Option<Micros>,
}

impl Metrics {
    /// "VRRP moved at +64 ms, clients saw it at +110 ms", or what is known.
    pub fn story(&self) -> String {
        let vrrp = self
            .vrrp_takeover
            .map(|o| format!("VRRP moved at {}", fmt_offset(o)));
        let seen = self
            .switch
            .map(|s| format!("clients saw it at {}", fmt_offset(s as i64)));
        match (vrrp, seen) {
            (Some(v), Some(s)) => format!("{v}, {s}"),
            (Some(v), None) => format!("{v}, clients never saw a backup page"),
            (None, Some(s)) => format!("no VRRP takeover recorded, {s}"),
            (None, None) => "no switch".to_string(),
        }
    }
}

/// The outcome of judging one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    pub checks: Vec<Check>,
    pub metrics: Metrics,
    /// Why the status is not `pass`, one line each.
    pub reasons: Vec<String>,
    /// Things worth knowing that do not decide the status.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Measured findings no budget judged (failures of a strict run).
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

/// Why an interrupted run is not judged: the runner heals on Ctrl-C.
pub const INTERRUPTED: &str = "interrupted (Ctrl-C); the fault was healed";

impl Verdict {
    /// Mark a run that was interrupted: its numbers are kept but not trusted.
    pub fn aborted(mut self, why: impl Into<String>) -> Verdict {
        self.status = Status::Aborted;
        self.reasons.insert(0, why.into());
        self
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// The verdict with its warnings counted as failures (`--strict`): a
    /// judged run with a warning fails, and says why. Applying it twice
    /// changes nothing; a run that could not be judged stays as it is.
    pub fn strict(mut self) -> Verdict {
        if matches!(self.status, Status::Pass | Status::Fail) && !self.warnings.is_empty() {
            self.status = Status::Fail;
            for w in &self.warnings {
                let reason = w.strict_reason();
                if !self.reasons.contains(&reason) {
                    self.reasons.push(reason);
                }
            }
        }
        self
    }
}

/// keepalived state changes at or after the fault (each node's first
/// state is the baseline, not a transition).
pub fn transitions(m: &Metrics) -> usize {
    m.vrrp.iter().filter(|c| c.offset >= 0).count()
}

/// Judge a run from its timeline.
pub fn judge(timeline: &Timeline, spec: &RunSpec) -> Verdict {
    let m = measure(timeline, spec);
    // The lab was found not steady before any fault: nothing was injected.
    let unsteady: Vec<String> = timeline
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Unsteady { node, detail, .. } => Some(match node {
                Some(n) => format!("invalid baseline: {n}: {detail}"),
                None => format!("invalid baseline: {detail}"),
            }),
            _ => None,
        })
        .collect();
    if !unsteady.is_empty() {
        return Verdict {
            status: Status::InvalidBaseline,
            checks: Vec::new(),
            metrics: m,
            reasons: unsteady,
            notes: vec!["the lab was not steady before the fault, so none was injected: fix the lab (`halab status` shows why), then run again".into()],
            warnings: Vec::new(),
        };
    }
    let mut invalid = Vec::new();
    let mut notes = Vec::new();

    if m.fault_at.is_none() {
        invalid.push("no fault was recorded in the timeline: nothing to judge".to_string());
    }
    if m.requests == 0 {
        invalid.push("the probe recorded no request: is the proxy port reachable?".to_string());
    } else if m.fault_at.is_some() && m.requests_after_fault == 0 {
        invalid.push("the probe recorded no request after the fault".to_string());
    }
    if m.fault_at.is_some() && !m.baseline_ok {
        invalid.push(format!(
            "the probe never saw {}'s page before the fault: the lab was not in its steady state",
            spec.master
        ));
    }
    if spec.watched_vip {
        for node in std::iter::once(&spec.master).chain(&spec.backups) {
            if !watched(timeline, node) {
                invalid.push(format!(
                    "ownership of node {node} was not watched: no VIP sample for it, so a split brain could go unseen"
                ));
            }
        }
    }
    if m.failed_before_fault > 0 {
        notes.push(format!(
            "{} request{} failed before the fault",
            m.failed_before_fault,
            plural(m.failed_before_fault as u64)
        ));
    }

    if spec.scenario() == crate::lab::ScenarioName::Idle {
        // The cost side of fast timers: what a quiet (or stressed) lab did
        // on its own.
        notes.push(format!(
            "{} VRRP transition{} and {} dual-owner window{} while watching",
            transitions(&m),
            plural(transitions(&m) as u64),
            m.dual_owner.len(),
            plural(m.dual_owner.len() as u64)
        ));
    }

    let checks = checks(&m, spec, &mut notes);
    let mut reasons = invalid.clone();
    reasons.extend(
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.detail.clone()),
    );
    let status = if !invalid.is_empty() {
        Status::Invalid
    } else if checks.iter().all(|c| c.passed) {
        Status::Pass
    } else {
        Status::Fail
    };
    let verdict = Verdict {
        status,
        checks,
        warnings: warnings(&m, timeline, spec),
        metrics: m,
        reasons,
        notes,
    };
    if spec.strict {
        verdict.strict()
    } else {
        verdict
    }
}

fn watched(timeline: &Timeline, node: &str) -> bool {
    timeline.events.iter().any(|e| match &e.kind {
        EventKind::WatchStart { node: n } | EventKind::Vip { node: n, .. } => n == node,
        _ => false,
    })
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A duration for people: `850 µs`, `64 ms`, `3.42 s`.
pub fn fmt_micros(us: Micros) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 10_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else if us < 1_000_000 {
        format!("{} ms", (us + 500) / 1_000)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// A signed offset from the fault: `+64 ms`, `-1.20 s`.
pub fn fmt_offset(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    format!("{sign}{}", fmt_micros(offset.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{Budget, ScenarioName};
    use crate::timeline::Request;
    use std::time::Duration;

    const MS: Micros = 1_000;
    const M: &str = "nginx_master";
    const B: &str = "nginx_slave";

    /// The spec of `scenario` on a preempting two-node lab, with a 500 ms
    /// switch budget and no failed request allowed.
    fn spec_of(scenario: ScenarioName) -> RunSpec {
        RunSpec {
            plan: crate::scenario::get(scenario).plan_for(&|n| format!("lab-{n}"), M, B, true),
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
            late_after: Duration::from_millis(100),
            budget: Budget {
                switch_within: Some(Duration::from_millis(500)),
                max_failed: Some(0),
                ..Budget::default()
            },
            heal: true,
            master: M.into(),
            backups: vec![B.into()],
            watched_vip: false,
            point: Default::default(),
            strict: false,
        }
    }

    fn ctx() -> RunSpec {
        spec_of(ScenarioName::StopMaster)
    }

    /// A probe answering every 10 ms with `page(t)` taking `lat(t)`.
    fn probe(
        t: &mut Timeline,
        from: Micros,
        to: Micros,
        page: impl Fn(Micros) -> Outcome,
        lat: impl Fn(Micros) -> Micros,
    ) {
        let mut sent = from;
        while sent < to {
            let seq = t.requests().count() as u64;
            let done = sent + lat(sent);
            t.push(
                done,
                EventKind::Request(Request {
                    seq,
                    sent,
                    done,
                    backend: None,
                    outcome: page(sent),
                }),
            );
            sent += 10 * MS;
        }
    }

    fn page(node: &str) -> Outcome {
        Outcome::Page { node: node.into() }
    }

    fn fault(t: &mut Timeline, at: Micros) {
        t.push(
            at,
            EventKind::Fault {
                action: "docker stop".into(),
            },
        );
    }

    fn heal(t: &mut Timeline, at: Micros) {
        t.push(
            at,
            EventKind::Heal {
                action: "docker start".into(),
            },
        );
    }

    fn vip(t: &mut Timeline, at: Micros, node: &str, holds: bool) {
        t.push(
            at,
            EventKind::Vip {
                node: node.into(),
                holds,
            },
        );
    }

    /// Master until 1 s, fault at 1 s, backup from 1.1 s, 2 ms answers.
    fn clean_switch() -> Timeline {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(
            &mut t,
            0,
            2_000 * MS,
            |s| if s < 1_100 * MS { page(M) } else { page(B) },
            |_| 2 * MS,
        );
        t.finish()
    }

    #[test]
    fn clean_switch_passes_with_margin() {
        let v = judge(&clean_switch(), &ctx());
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(v.metrics.baseline_ok);
        assert_eq!(v.metrics.switch, Some(102 * MS));
        assert_eq!(v.metrics.switch_node.as_deref(), Some(B));
        assert_eq!(
            (v.metrics.failed, v.metrics.late, v.metrics.flaps),
            (0, 0, 0)
        );
        assert_eq!(v.metrics.disruption, None);
        let c = v.check("switch_within").unwrap();
        assert_eq!(c.measured, Measure::Micros(102 * MS));
        assert_eq!(
            c.detail,
            "switch took 102 ms, budget 500 ms: 398 ms to spare"
        );
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn a_crash_repaired_before_any_switch_passes_and_says_so() {
        // kill-keepalived on a slow lab: the restart beats the backup.
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(&mut t, 0, 3_000 * MS, |_| page(M), |_| 2 * MS);
        let t = t.finish();
        let spec = spec_of(ScenarioName::KillKeepalived);
        assert!(spec.plan.switch_optional && spec.plan.expect_switch);
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(v.check("switch_within").is_none());
        assert!(
            v.notes
                .iter()
                .any(|n| n.starts_with("no switch: ")
                    && n.ends_with("(the node repaired itself first)")),
            "{:?}",
            v.notes
        );
        // The same timeline is a failure where the switch is required.
        let v = judge(&t, &spec_of(ScenarioName::KillMaster));
        assert_eq!(v.status, Status::Fail);
    }

    #[test]
    fn a_crash_repaired_after_a_switch_notes_the_return_instead_of_failing() {
        // kill-keepalived on a fast lab: the backup serves, then the
        // restarted master takes the VIP back before the heal.
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(
            &mut t,
            0,
            3_000 * MS,
            |s| {
                if (1_100 * MS..1_300 * MS).contains(&s) {
                    page(B)
                } else {
                    page(M)
                }
            },
            |_| 2 * MS,
        );
        let v = judge(&t.finish(), &spec_of(ScenarioName::KillKeepalived));
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.metrics.switch, Some(102 * MS));
        // One flap, the repair coming home: a note, not a warning.
        assert_eq!(v.metrics.flaps, 1);
        assert_eq!(v.warnings, vec![]);
        assert!(
            v.notes.iter().any(|n| n.starts_with("flapping")),
            "{:?}",
            v.notes
        );
    }

    #[test]
    fn no_switch_is_a_failure_not_a_pass() {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(
            &mut t,
            0,
            3_000 * MS,
            |s| {
                if s < 1_000 * MS {
                    page(M)
                } else {
                    Outcome::Http { status: 503 }
                }
            },
            |_| MS,
        );
        let v = judge(&t.finish(), &ctx());
        assert_eq!(v.status, Status::Fail);
        let c = v.check("switch_within").unwrap();
        assert_eq!(c.measured, Measure::Never);
        assert!(!c.passed);
        assert!(
            c.detail
                .starts_with("no switch: no backup page (nginx_slave)"),
            "{}",
            c.detail
        );
        assert_eq!(v.metrics.failed, 200);
        assert!(v.reasons.iter().any(|r| r.starts_with("no switch")));
    }

    #[test]
    fn no_switch_fails_even_without_a_switch_budget() {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(&mut t, 0, 2_000 * MS, |_| page(M), |_| MS);
        let mut c = ctx();
        c.budget = Budget::default();
        let v = judge(&t.finish(), &c);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.checks[0].name, "switch");
    }

    #[test]
    fn flapping_counts_changes_after_the_first_backup_page() {
        // After the fault the page alternates every 100 ms: B, M, B, M, B.
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(
            &mut t,
            0,
            1_500 * MS,
            |s| {
                if s < 1_000 * MS || ((s - 1_000 * MS) / (100 * MS)) % 2 == 1 {
                    page(M)
                } else {
                    page(B)
                }
            },
            |_| MS,
        );
        let v = judge(&t.finish(), &ctx());
        assert_eq!(
            v.metrics.switch,
            Some(MS),
            "the first backup page is the switch"
        );
        assert_eq!(v.metrics.flaps, 4);
        assert_eq!(v.status, Status::Fail);
        let c = v.check("flaps").unwrap();
        assert_eq!(c.measured, Measure::Count(4));
        assert!(c
            .detail
            .starts_with("flapping: the serving node changed 4 times"));
        // A partition's flapping is its expected symptom: not failed, but
        // clients bouncing between two nodes is a warning.
        let p = spec_of(ScenarioName::PartitionMaster);
        let mut t2 = Timeline::default();
        fault(&mut t2, 1_000 * MS);
        probe(
            &mut t2,
            0,
            1_500 * MS,
            |s| {
                if s < 1_000 * MS || (s / (100 * MS)) % 2 == 1 {
                    page(M)
                } else {
                    page(B)
                }
            },
            |_| MS,
        );
        let v = judge(&t2.finish(), &p);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(v.check("flaps").is_none());
        assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
        let w = &v.warnings[0];
        assert_eq!(
            (w.kind, w.measured),
            (WarningKind::Flaps, Measure::Count(4))
        );
        assert!(w
            .detail
            .starts_with("flapping: the serving node changed 4 times"));
        assert!(!v.notes.iter().any(|n| n.starts_with("flapping")));
    }

    #[test]
    fn outage_longer_than_budget_fails_and_says_by_how_much() {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        // Timeouts (1 s deadline) from 1.0 s to 4.4 s, then the backup.
        probe(
            &mut t,
            0,
            6_000 * MS,
            |s| match s {
                s if s < 1_000 * MS => page(M),
                s if s < 4_400 * MS => Outcome::Timeout,
                _ => page(B),
            },
            |s| {
                if (1_000 * MS..4_400 * MS).contains(&s) {
                    1_000 * MS
                } else {
                    2 * MS
                }
            },
        );
        let v = judge(&t.finish(), &ctx());
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.metrics.switch, Some(3_402 * MS));
        assert_eq!(
            v.check("switch_within").unwrap().detail,
            "switch took 3.40 s, budget 500 ms: 2.90 s over"
        );
        assert_eq!(v.metrics.failed, 340);
        assert_eq!(
            v.metrics.disruption,
            Some(Span {
                start: 1_000 * MS,
                end: 5_390 * MS
            })
        );
        assert_eq!(
            v.check("max_failed").unwrap().detail,
            "340 failed requests, budget 0: 340 over"
        );
        // Timeouts are failures, not answers: the worst answer is 2 ms.
        assert_eq!(v.metrics.worst_answer, Some(2 * MS));
    }

    #[test]
    fn no_master_page_before_the_fault_is_invalid() {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(
            &mut t,
            0,
            2_000 * MS,
            |s| {
                if s < 1_000 * MS {
                    Outcome::Http { status: 503 }
                } else {
                    page(B)
                }
            },
            |_| MS,
        );
        let v = judge(&t.finish(), &ctx());
        assert_eq!(v.status, Status::Invalid);
        assert!(!v.metrics.baseline_ok);
        assert_eq!(
            v.reasons[0],
            "the probe never saw nginx_master's page before the fault: the lab was not in its steady state"
        );
        assert!(v
            .notes
            .iter()
            .any(|n| n == "100 requests failed before the fault"));
    }

    #[test]
    fn dual_ownership_longer_than_budget_fails() {
        let mut t = clean_switch();
        vip(&mut t, 0, M, true);
        vip(&mut t, 0, B, false);
        vip(&mut t, 1_050 * MS, B, true);
        vip(&mut t, 1_300 * MS, B, false); // a blip
        vip(&mut t, 1_400 * MS, B, true);
        vip(&mut t, 2_200 * MS, M, false);
        let t = t.finish();
        let mut c = ctx();
        c.watched_vip = true;
        c.budget.max_dual_owner = Some(Duration::from_millis(500));
        let v = judge(&t, &c);
        assert_eq!(
            v.metrics.dual_owner,
            vec![
                Span {
                    start: 1_050 * MS,
                    end: 1_300 * MS
                },
                Span {
                    start: 1_400 * MS,
                    end: 2_200 * MS
                }
            ]
        );
        assert_eq!(v.metrics.dual_owner_longest, 800 * MS);
        assert_eq!(v.metrics.dual_owner_total, 1_050 * MS);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(
            v.check("max_dual_owner").unwrap().detail,
            "split brain: two nodes held the VIP for 800 ms, budget 500 ms: 300 ms over (longest of 2 windows, 1.05 s in all)"
        );
    }

    #[test]
    fn dual_ownership_still_open_is_closed_at_the_end() {
        let mut t = Timeline::default();
        vip(&mut t, 10 * MS, M, true);
        vip(&mut t, 20 * MS, B, true);
        t.push(90 * MS, EventKind::Note { text: "end".into() });
        assert_eq!(
            dual_ownership(&t, 90 * MS),
            vec![Span {
                start: 20 * MS,
                end: 90 * MS
            }]
        );
    }

    #[test]
    fn a_handover_overlap_below_the_resolution_is_no_dual_ownership() {
        // Failback as measured: the master adds the VIP 99 µs (or 1.8 ms)
        // before the backup drops it; then a real split brain of 6 ms.
        let mut t = Timeline::default();
        vip(&mut t, 0, B, true);
        vip(&mut t, 100 * MS, M, true);
        vip(&mut t, 100 * MS + 99, B, false);
        vip(&mut t, 200 * MS, B, true);
        vip(&mut t, 200 * MS + DUAL_OWNER_RESOLUTION, B, false);
        vip(&mut t, 300 * MS, B, true);
        vip(&mut t, 306 * MS, M, false);
        let t = t.finish();
        assert_eq!(
            dual_ownership(&t, 400 * MS),
            vec![Span {
                start: 300 * MS,
                end: 306 * MS
            }]
        );
    }

    #[test]
    fn the_takeover_is_no_later_than_the_vip_its_node_gained() {
        // The engine stamped the backup's MASTER line 2 ms after the kernel
        // lane saw its VIP: VRRP moved when the VIP did.
        let mut t = clean_switch();
        let fault = t.first_fault().unwrap();
        vip(&mut t, fault + 300 * MS, B, true);
        t.push(
            fault + 302 * MS,
            EventKind::Vrrp {
                node: B.into(),
                state: VrrpState::Master,
            },
        );
        let m = measure(&t.finish(), &ctx());
        assert_eq!(m.vrrp_takeover, Some(300 * MS as i64));
        // A line stamped before the VIP keeps its own time.
        let mut t = clean_switch();
        t.push(
            fault + 299 * MS,
            EventKind::Vrrp {
                node: B.into(),
                state: VrrpState::Master,
            },
        );
        vip(&mut t, fault + 300 * MS, B, true);
        let m = measure(&t.finish(), &ctx());
        assert_eq!(m.vrrp_takeover, Some(299 * MS as i64));
    }

    /// Fault at 1 s, the backup's page from then on; requests sent in the
    /// first `window` after the fault take `lat`, the others 2 ms.
    fn late_switch(window: Micros, lat: Micros) -> Timeline {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(
            &mut t,
            0,
            2_000 * MS,
            |s| if s < 1_000 * MS { page(M) } else { page(B) },
            |s| {
                if (1_000 * MS..1_000 * MS + window).contains(&s) {
                    lat
                } else {
                    2 * MS
                }
            },
        );
        t.finish()
    }

    #[test]
    fn error_free_but_late_answers_fail_worst_answer() {
        // Retries turn errors into latency: 7 answers arrive 500 ms late.
        let t = late_switch(70 * MS, 500 * MS);
        let mut c = ctx();
        c.budget.worst_answer = Some(Duration::from_millis(200));
        c.budget.max_late = Some(2);
        let v = judge(&t, &c);
        assert_eq!((v.metrics.failed, v.metrics.late), (0, 7));
        assert_eq!(v.metrics.worst_answer, Some(500 * MS));
        assert_eq!(v.metrics.p99_answer, Some(500 * MS));
        assert!(v.check("max_failed").unwrap().passed);
        assert_eq!(
            v.check("worst_answer").unwrap().detail,
            "slowest answer took 500 ms, budget 200 ms: 300 ms over"
        );
        assert_eq!(
            v.check("max_late").unwrap().detail,
            "7 late answers, budget 2: 5 over"
        );
        assert_eq!(v.status, Status::Fail);
        assert_eq!(
            v.metrics.disruption,
            Some(Span {
                start: 1_000 * MS,
                end: 1_560 * MS
            })
        );
    }

    #[test]
    fn switch_time_is_the_receive_time() {
        let mut t = Timeline::default();
        probe(&mut t, 0, 1_000 * MS, |_| page(M), |_| MS);
        fault(&mut t, 1_000 * MS);
        // Sent 5 ms before the fault, held by HAProxy, answered by the backup.
        t.push(
            1_300 * MS,
            EventKind::Request(Request {
                seq: 1000,
                sent: 995 * MS,
                done: 1_300 * MS,
                backend: None,
                outcome: page(B),
            }),
        );
        let v = judge(&t.finish(), &ctx());
        assert_eq!(v.metrics.switch, Some(300 * MS));
        assert_eq!(v.metrics.late, 1);
        assert_eq!(v.metrics.worst_answer, Some(305 * MS));
    }

    #[test]
    fn unwatched_node_is_invalid() {
        let mut t = clean_switch();
        t.push(0, EventKind::WatchStart { node: M.into() });
        vip(&mut t, 0, M, true);
        let mut c = ctx();
        c.watched_vip = true;
        let v = judge(&t.finish(), &c);
        assert_eq!(v.status, Status::Invalid);
        assert!(v.reasons[0].starts_with("ownership of node nginx_slave was not watched"));
        // Not asked to watch: the same timeline passes.
        c.watched_vip = false;
        let mut t = clean_switch();
        vip(&mut t, 0, M, true);
        assert_eq!(judge(&t.finish(), &c).status, Status::Pass);
    }

    #[test]
    fn stop_backup_control() {
        let mut c = spec_of(ScenarioName::StopBackup);
        assert!(!c.plan.expect_switch);
        c.budget = Budget {
            max_failed: Some(0),
            ..Budget::default()
        };
        let mut quiet = Timeline::default();
        fault(&mut quiet, 1_000 * MS);
        probe(&mut quiet, 0, 2_000 * MS, |_| page(M), |_| MS);
        let v = judge(&quiet.finish(), &c);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(v.check("no_switch").unwrap().passed);

        // Moving the VIP, or failing requests, fails the control.
        let v = judge(&clean_switch(), &c);
        assert_eq!(v.status, Status::Fail);
        assert!(v.reasons[0].starts_with("control failed: nginx_slave's page was served +102 ms"));
        let mut noisy = Timeline::default();
        fault(&mut noisy, 1_000 * MS);
        probe(
            &mut noisy,
            0,
            2_000 * MS,
            |s| {
                if s == 1_200 * MS {
                    Outcome::Timeout
                } else {
                    page(M)
                }
            },
            |_| MS,
        );
        let v = judge(&noisy.finish(), &c);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.reasons, vec!["1 failed request, budget 0: 1 over"]);
    }

    #[test]
    fn recovery_waits_for_the_master_in_a_preempting_lab() {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        heal(&mut t, 2_000 * MS);
        probe(
            &mut t,
            0,
            4_000 * MS,
            |s| {
                if (1_000 * MS..2_500 * MS).contains(&s) {
                    page(B)
                } else {
                    page(M)
                }
            },
            |_| MS,
        );
        let t = t.finish();
        let mut c = ctx();
        c.budget.recover_within = Some(Duration::from_secs(1));
        let v = judge(&t, &c);
        assert_eq!(v.metrics.recovery, Some(501 * MS));
        assert_eq!(v.metrics.flaps, 0, "the failback after the heal is no flap");
        assert!(v.check("recover_within").unwrap().passed);
        c.plan.expect_failback = false;
        assert_eq!(judge(&t, &c).metrics.recovery, Some(MS));
    }

    #[test]
    fn vrrp_story_relative_to_the_fault() {
        let mut t = clean_switch();
        t.push(
            900 * MS,
            EventKind::Vrrp {
                node: B.into(),
                state: VrrpState::Backup,
            },
        );
        t.push(
            1_064 * MS,
            EventKind::Vrrp {
                node: B.into(),
                state: VrrpState::Master,
            },
        );
        let v = judge(&t.finish(), &ctx());
        assert_eq!(v.metrics.vrrp_takeover, Some(64 * MS as i64));
        assert_eq!(v.metrics.vrrp[0].offset, -100_000);
        assert_eq!(
            v.metrics.story(),
            "VRRP moved at +64 ms, clients saw it at +102 ms"
        );
    }

    #[test]
    fn no_fault_is_invalid_and_abort_keeps_numbers() {
        let mut t = Timeline::default();
        probe(&mut t, 0, 100 * MS, |_| page(M), |_| MS);
        let v = judge(&t.finish(), &ctx());
        assert_eq!(v.status, Status::Invalid);
        assert!(v.reasons[0].starts_with("no fault was recorded"));
        let v = judge(&clean_switch(), &ctx()).aborted(INTERRUPTED);
        assert_eq!(v.status, Status::Aborted);
        assert_eq!(v.reasons, vec![INTERRUPTED]);
        assert_eq!(v.metrics.switch, Some(102 * MS));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_micros(850), "850 µs");
        assert_eq!(fmt_micros(6_400), "6.4 ms");
        assert_eq!(fmt_micros(64_000), "64 ms");
        assert_eq!(fmt_micros(3_420_000), "3.42 s");
        assert_eq!(fmt_offset(-1_200_000), "-1.20 s");
    }

    /// partition-master as the seed lab lives it: a clean switch for
    /// clients, and both nodes holding the VIP from 1.1 s to 1.9 s.
    fn partition_with_split_brain() -> (Timeline, RunSpec) {
        let mut t = clean_switch();
        vip(&mut t, 0, M, true);
        vip(&mut t, 0, B, false);
        vip(&mut t, 1_100 * MS, B, true);
        vip(&mut t, 1_900 * MS, M, false);
        let mut spec = spec_of(ScenarioName::PartitionMaster);
        spec.budget.max_failed = None;
        (t.finish(), spec)
    }

    #[test]
    fn a_clean_switch_has_no_warning() {
        let v = judge(&clean_switch(), &ctx());
        assert_eq!(v.status, Status::Pass);
        assert_eq!(v.warnings, vec![]);
    }

    #[test]
    fn dual_ownership_without_a_budget_is_a_warning_not_a_bare_pass() {
        let (t, spec) = partition_with_split_brain();
        assert_eq!(spec.budget.max_dual_owner, None);
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(
            v.warnings,
            vec![Warning {
                kind: WarningKind::DualOwner,
                measured: Measure::Micros(800 * MS),
                detail: "split brain: two nodes held the VIP for 800 ms".into(),
                unjudged: "partition-master has no max_dual_owner budget (a partition is a split brain by construction)".into(),
            }]
        );
        assert!(v.reasons.is_empty());

        // With a budget, the same window is judged, not warned of.
        let mut budgeted = spec.clone();
        budgeted.budget.max_dual_owner = Some(Duration::from_secs(1));
        let v = judge(&t, &budgeted);
        assert_eq!(v.status, Status::Pass);
        assert!(v.check("max_dual_owner").unwrap().passed);
        assert_eq!(v.warnings, vec![]);
    }

    #[test]
    fn a_strict_run_fails_on_a_warning_and_says_why() {
        let (t, mut spec) = partition_with_split_brain();
        spec.strict = true;
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(
            v.reasons,
            vec!["strict: split brain: two nodes held the VIP for 800 ms"]
        );
        // Strictness applied again (`report --strict` on a strict run)
        // changes nothing.
        assert_eq!(v.clone().strict(), v);
        // The lenient verdict made strict afterwards is the strict verdict.
        spec.strict = false;
        assert_eq!(judge(&t, &spec).strict(), v);
        // A strict run without warnings passes.
        let mut clean = ctx();
        clean.strict = true;
        assert_eq!(judge(&clean_switch(), &clean).status, Status::Pass);
    }

    #[test]
    fn strictness_keeps_an_invalid_run_invalid() {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        probe(&mut t, 0, 2_000 * MS, |_| Outcome::Timeout, |_| MS);
        let mut spec = spec_of(ScenarioName::KillMaster);
        spec.budget.max_failed = None;
        spec.strict = true;
        let v = judge(&t.finish(), &spec);
        assert_eq!(v.status, Status::Invalid);
        assert!(!v.warnings.is_empty(), "measured, still shown");
        assert!(!v.reasons.iter().any(|r| r.starts_with("strict: ")));
    }

    /// kill-master on a slow lab: 1 s of timeouts until the backup serves,
    /// then 200 ms of failures after the heal at 3 s (the way back).
    fn crash_and_failback() -> Timeline {
        let mut t = Timeline::default();
        fault(&mut t, 1_000 * MS);
        heal(&mut t, 3_000 * MS);
        probe(
            &mut t,
            0,
            4_000 * MS,
            |s| match s {
                s if s < 1_000 * MS => page(M),
                s if s < 2_000 * MS => Outcome::Connect {
                    error: "refused".into(),
                },
                s if s < 3_000 * MS => page(B),
                s if s < 3_200 * MS => Outcome::Http { status: 503 },
                _ => page(M),
            },
            |_| 2 * MS,
        );
        t.finish()
    }

    #[test]
    fn failures_without_max_failed_are_warnings_split_at_the_heal() {
        let mut spec = spec_of(ScenarioName::KillMaster);
        spec.budget.max_failed = None;
        spec.budget.switch_within = Some(Duration::from_secs(2));
        let v = judge(&crash_and_failback(), &spec);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.metrics.failed, 120);
        let kinds: Vec<_> = v.warnings.iter().map(|w| (w.kind, w.measured)).collect();
        assert_eq!(
            kinds,
            vec![
                (WarningKind::Failed, Measure::Count(100)),
                (WarningKind::LostAfterHeal, Measure::Count(20)),
            ]
        );
        assert_eq!(v.warnings[0].detail, "100 requests failed during the fault");
        assert_eq!(
            v.warnings[1].detail,
            "20 requests failed after the heal, on the way back to nginx_master"
        );
        assert!(v.warnings[1].unjudged.contains("recover_within"));

        // A max_failed budget judges them all: a failed check, no warning.
        spec.budget.max_failed = Some(0);
        let v = judge(&crash_and_failback(), &spec);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.warnings, vec![]);
        assert_eq!(v.check("max_failed").unwrap().measured, Measure::Count(120));
    }

    #[test]
    fn late_answers_are_a_warning_unless_max_late_or_worst_answer_judges_them() {
        let t = late_switch(30 * MS, 608 * MS);
        let mut spec = ctx();
        spec.budget.switch_within = Some(Duration::from_secs(1));
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(v.warnings[0].kind, WarningKind::Late);
        assert_eq!(
            v.warnings[0].detail,
            "3 answers came later than 100 ms (slowest 608 ms)"
        );
        for judged in [
            Budget {
                max_late: Some(5),
                ..spec.budget.clone()
            },
            Budget {
                worst_answer: Some(Duration::from_secs(1)),
                ..spec.budget.clone()
            },
        ] {
            let s = RunSpec {
                budget: judged,
                ..spec.clone()
            };
            assert_eq!(judge(&t, &s).warnings, vec![]);
        }
    }

    #[test]
    fn a_verdict_stored_before_warnings_existed_reads_with_none() {
        let v = judge(&clean_switch(), &ctx());
        let mut json = serde_json::to_value(&v).unwrap();
        json.as_object_mut().unwrap().remove("warnings");
        let back: Verdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn verdict_round_trips_through_json() {
        let (t, spec) = partition_with_split_brain();
        let v = judge(&t, &spec);
        assert_eq!(v.warnings.len(), 1);
        let back: Verdict = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    // ------------------------------------------------------------ pool view

    const WEBS: [&str; 3] = ["web1", "web2", "web3"];

    /// An lb-pair run: `M` (an LB) carries every request; the web servers
    /// answer in turn, except `down` (from `from`) whose turn goes to the
    /// next; `fail(t)` makes a request time out instead.
    fn lb_probe(
        t: &mut Timeline,
        to: Micros,
        down: Option<(&str, Micros)>,
        fail: impl Fn(Micros) -> bool,
    ) {
        let mut sent = 0;
        let mut turn = 0;
        while sent < to {
            let seq = t.requests().count() as u64;
            let mut web = WEBS[turn % 3];
            turn += 1;
            if down.is_some_and(|(d, from)| d == web && sent >= from) {
                web = WEBS[turn % 3];
                turn += 1;
            }
            let failed = fail(sent);
            t.push(
                sent + 2 * MS,
                EventKind::Request(Request {
                    seq,
                    sent,
                    done: sent + 2 * MS,
                    backend: (!failed).then(|| web.to_string()),
                    outcome: if failed { Outcome::Timeout } else { page(M) },
                }),
            );
            sent += 10 * MS;
        }
    }

    fn pool_event(t: &mut Timeline, at: Micros, lb: &str, server: &str, up: bool, reason: &str) {
        t.push(
            at,
            EventKind::Pool {
                lb: lb.into(),
                server: server.into(),
                up,
                reason: reason.into(),
            },
        );
    }

    /// The lb-pair spec of `scenario` with its catalogue budget shape:
    /// `pool_remove_within` 2 s.
    fn lb_spec(scenario: ScenarioName) -> RunSpec {
        let mut spec = spec_of(scenario);
        spec.budget = Budget {
            max_failed: Some(0),
            pool_remove_within: Some(Duration::from_secs(2)),
            ..Budget::default()
        };
        spec
    }

    fn web_fault(scenario: ScenarioName, removed: Option<Micros>) -> (Timeline, RunSpec) {
        let mut t = Timeline::default();
        vip(&mut t, 0, M, true);
        fault(&mut t, 1_000 * MS);
        heal(&mut t, 4_000 * MS);
        // HAProxy retries the dead server's requests elsewhere: no failure.
        lb_probe(&mut t, 5_000 * MS, Some(("web1", 1_000 * MS)), |_| false);
        if let Some(at) = removed {
            // The backup LB's HAProxy sees it too (its pool is not the one
            // clients use until it holds the VIP).
            pool_event(&mut t, at - 40 * MS, B, "web1", false, "Layer4 timeout");
            pool_event(&mut t, at, M, "web1", false, "Layer4 timeout");
            pool_event(&mut t, 4_600 * MS, M, "web1", true, "Layer7 check passed");
        }
        (t.finish(), lb_spec(scenario))
    }

    #[test]
    fn a_dead_web_server_removed_in_time_passes_with_the_pool_view() {
        let (t, spec) = web_fault(ScenarioName::KillWeb, Some(1_900 * MS));
        assert_eq!(spec.plan.backend.as_deref(), Some("web1"));
        assert!(!spec.plan.expect_switch);
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.metrics.pool_holder.as_deref(), Some(M));
        assert_eq!(
            v.metrics.pool_removed,
            Some(900 * MS),
            "the holder's, not B's"
        );
        assert_eq!(
            v.check("pool_remove_within").unwrap().detail,
            "nginx_master's HAProxy took web1 out of its pool after 900 ms, budget 2.00 s: 1.10 s to spare"
        );
        assert_eq!(v.metrics.pool.len(), 3);
        assert_eq!(v.metrics.pool[1].offset, 900 * MS as i64);
        let web1 = v.metrics.per_backend["web1"];
        assert_eq!((web1.fault, web1.after_heal), (0, 0), "{web1:?}");
        assert!(web1.before > 0 && v.metrics.per_backend["web2"].fault > 0);
        assert_eq!(v.metrics.errors_by_phase, PhaseCounts::default());
        assert!(v.check("no_switch").unwrap().passed);
    }

    #[test]
    fn a_web_server_removed_late_or_never_fails_saying_why() {
        let (t, spec) = web_fault(ScenarioName::KillWeb, Some(3_500 * MS));
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(
            v.reasons,
            ["nginx_master's HAProxy took web1 out of its pool after 2.50 s, budget 2.00 s: 500 ms over"]
        );
        // hang-web under a layer-4 check: the frozen server still accepts.
        let (t, spec) = web_fault(ScenarioName::HangWeb, None);
        let v = judge(&t, &spec);
        assert_eq!(v.status, Status::Fail);
        let c = v.check("pool_remove_within").unwrap();
        assert_eq!(c.measured, Measure::Never);
        insta::assert_snapshot!(c.detail, @"web1 was never marked DOWN by nginx_master's HAProxy in the 3.00 s the fault lasted: its health check did not see the fault (a layer-4 check passes a server that accepts connections and never answers; `backends.check.kind: http` catches it)");
    }

    #[test]
    fn errors_are_counted_by_phase() {
        let mut t = Timeline::default();
        vip(&mut t, 0, M, true);
        fault(&mut t, 1_000 * MS);
        heal(&mut t, 2_000 * MS);
        lb_probe(&mut t, 3_000 * MS, None, |s| {
            s == 500 * MS || (1_200 * MS..1_300 * MS).contains(&s) || s == 2_500 * MS
        });
        let v = judge(&t.finish(), &spec_of(ScenarioName::HangWeb));
        assert_eq!(
            v.metrics.errors_by_phase,
            PhaseCounts {
                before: 1,
                fault: 10,
                after_heal: 1
            }
        );
        assert_eq!(v.metrics.requests_by_phase.total(), 300);
    }

    fn outage(scenario: ScenarioName, failing: bool) -> Verdict {
        let mut t = Timeline::default();
        vip(&mut t, 0, M, true);
        fault(&mut t, 1_000 * MS);
        heal(&mut t, 3_000 * MS);
        probe(
            &mut t,
            0,
            4_000 * MS,
            |s| {
                if failing && (1_000 * MS..3_000 * MS).contains(&s) {
                    Outcome::Connect {
                        error: "connection refused".into(),
                    }
                } else {
                    page(M)
                }
            },
            |_| 2 * MS,
        );
        let mut spec = spec_of(scenario);
        // Whatever a lab file allows, an outage fails.
        spec.budget = Budget {
            max_failed: Some(1_000),
            ..Budget::default()
        };
        judge(&t.finish(), &spec)
    }

    #[test]
    fn an_outage_fails_and_names_what_the_lab_lacks() {
        let v = outage(ScenarioName::StopProxy, true);
        assert_eq!(v.status, Status::Fail);
        assert!(v.check("no_switch").is_none());
        insta::assert_snapshot!(v.reasons.join("\n"), @"single point of failure: the front proxy is the only way to the VIP, and with it stopped 200 of 200 requests failed during the fault");
        assert!(
            v.warnings.iter().all(|w| w.kind != WarningKind::Failed),
            "the outage check judges them: {:?}",
            v.warnings
        );
        let v = outage(ScenarioName::StopAllWeb, true);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons[0].starts_with("total outage: every web server is down"),
            "{:?}",
            v.reasons
        );
        // One that shows nothing demonstrated nothing: still no pass.
        let v = outage(ScenarioName::StopProxy, false);
        assert_eq!(v.status, Status::Fail);
        assert!(v.reasons[0].contains("did not happen"), "{:?}", v.reasons);
    }
}
