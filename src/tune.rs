//! `halab tune`: the fastest VRRP advert interval, with the HAProxy
//! timeouts and retries that go with it, that meets a lab's budgets and
//! does not flap under a chosen stress.
//!
//! This module is the pure part: the candidates and what each derives, the
//! order they are tried in, the decision from measured runs, the evidence
//! table and the tuned lab file. The engine work (a copy of the lab per
//! candidate, brought up, run, removed) is the copy machinery `halab sweep`
//! uses (`app::CopyRun`, `sweep::copy_at`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lab::{LabSpec, ScenarioName};
use crate::scenario::STRESSES;
use crate::store::RunRecord;
use crate::sweep::{self, Point, SweepError};
use crate::verdict::{self, fmt_micros, Status};

pub const ADVERT: &str = "vrrp.advert_int";
pub const CONNECT: &str = "proxy.timeouts.connect";
pub const SERVER: &str = "proxy.timeouts.server";
pub const RETRIES: &str = "proxy.retries";

/// VRRPv3 candidates, slow → fast (keepalived takes 10 ms steps).
const V3_LADDER_MS: [u64; 8] = [1000, 500, 200, 100, 50, 30, 20, 10];
/// VRRPv2 candidates, slow → fast (whole seconds only).
const V2_LADDER_S: [u64; 3] = [3, 2, 1];

/// The `timeout server` tune sets, whatever the advert: well above any
/// answer of a healthy backend (nginx answers these labs in ≈ 1 ms), so
/// that only a request stuck on a dead or frozen node waits for it.
pub const SERVER_TIMEOUT: Duration = Duration::from_millis(50);
/// The most retries a lab file may set (`lab::validate`'s bound).
const MAX_RETRIES: u128 = 100;
/// How many Master_Down intervals the proxy's retries cover.
const RETRY_COVER: u32 = 5;

/// Why tune refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TuneError {
    #[error("`--advert {item}`: `{bad}` is not a duration\n  fix: a list of durations, e.g. `--advert 20ms,50ms,100ms`")]
    Advert { item: String, bad: String },
    #[error("`--stress {text}`: {why}\n  fix: `none`, `vrrp-loss:20%`, `client-loss:0.1` or `starve-master:0.02` (the fraction or CPU share is optional)")]
    Stress { text: String, why: String },
    #[error("`--out {}` is the lab file itself: tune never overwrites its input\n  fix: name another file, e.g. `--out tuned.yaml`", path.display())]
    OutIsInput { path: PathBuf },
    #[error("`--out {}` exists\n  fix: pass `--force` to replace it, or name another file", path.display())]
    OutExists { path: PathBuf },
}

/// One candidate: an advert interval and the proxy settings derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub advert: Duration,
    pub connect: Duration,
    pub server: Duration,
    pub retries: u32,
}

impl Settings {
    /// The proxy settings that go with `advert` (docs/benchmarks.md,
    /// "Tuning the fast lab", has the measurements behind each rule):
    /// - `connect` = advert: a request caught by a dead master is retried
    ///   every connect timeout, so the first retry after the takeover's
    ///   gratuitous ARP comes at most one advert later;
    /// - `server` = 50 ms whatever the advert ([`SERVER_TIMEOUT`]): a request on a
    ///   connection the old master dropped, or stuck on a frozen one, waits
    ///   exactly this long before its retry, so stop-master's and
    ///   pause-master's worst answers are this timeout; scaled with the
    ///   advert it only made them worse (a 200 ms advert with a 200 ms
    ///   server timeout answered stop-master in 204 ms);
    /// - `retries`: enough waits (each the shorter of the two timeouts) to
    ///   cover five Master_Down intervals (3 × advert + skew, under
    ///   4 × advert), so no request runs out of retries before a backup has
    ///   taken over; at most 100, the lab file's bound.
    pub fn derive(advert: Duration) -> Settings {
        let connect = advert;
        let wait = connect.min(SERVER_TIMEOUT).as_micros().max(1);
        let cover = (advert * 4 * RETRY_COVER).as_micros();
        let retries = cover.div_ceil(wait).clamp(3, MAX_RETRIES);
        Settings {
            advert,
            connect,
            server: SERVER_TIMEOUT,
            retries: u32::try_from(retries).unwrap_or(100),
        }
    }

    /// The lab-file values, as `halab sweep --set` names them.
    pub fn point(&self) -> Point {
        [
            (ADVERT, show(self.advert)),
            (CONNECT, show(self.connect)),
            (SERVER, show(self.server)),
            (RETRIES, self.retries.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The lab's own values of the same settings.
    pub fn of(spec: &LabSpec) -> Settings {
        Settings {
            advert: spec.vrrp.advert_int,
            connect: spec.proxy.timeouts.connect,
            server: spec.proxy.timeouts.server,
            retries: spec.proxy.retries,
        }
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The advert intervals tried when `--advert` is not given, slow → fast.
pub fn ladder(vrrp_version: u8) -> Vec<Duration> {
    if vrrp_version == 2 {
        V2_LADDER_S.map(Duration::from_secs).to_vec()
    } else {
        V3_LADDER_MS.map(Duration::from_millis).to_vec()
    }
}

/// `--advert 20ms,100ms`: the intervals slow → fast, each once. (Whether
/// the lab's VRRP version takes them is the lab validation's to say.)
pub fn parse_adverts(text: &str) -> Result<Vec<Duration>, TuneError> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let d = humantime::parse_duration(part.trim()).map_err(|_| TuneError::Advert {
            item: text.to_string(),
            bad: part.trim().to_string(),
        })?;
        out.push(d);
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    Ok(out)
}

/// The scenarios whose budgets a candidate must meet when `--scenario` is
/// not given: those the lab file budgets (not `idle`, the soak's own),
/// else kill-master.
pub fn default_scenarios(spec: &LabSpec) -> Vec<ScenarioName> {
    let budgeted: Vec<ScenarioName> = spec
        .scenarios
        .keys()
        .copied()
        .filter(|&s| s != ScenarioName::Idle)
        .collect();
    if budgeted.is_empty() {
        vec![ScenarioName::KillMaster]
    } else {
        budgeted
    }
}

/// The `idle` options of a soak of `watch` under `--stress TEXT`
/// (`none`, `vrrp-loss:20%`, `starve-master`, `starve-master:0.05`).
pub fn soak_options(watch: Duration, stress: &str) -> Result<Vec<String>, TuneError> {
    let refuse = |why: String| TuneError::Stress {
        text: stress.to_string(),
        why,
    };
    let (name, value) = match stress.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (stress.trim(), None),
    };
    let mut out = vec![format!("watch={}", show(watch))];
    if name == "none" {
        return match value {
            None => Ok(out),
            Some(_) => Err(refuse("`none` takes no value".into())),
        };
    }
    let scenario: ScenarioName = name
        .parse()
        .ok()
        .filter(|s| STRESSES.contains(s))
        .ok_or_else(|| refuse(format!("`{name}` is not a stress tune knows")))?;
    out.push(format!("stress={scenario}"));
    if let Some(v) = value {
        let option = if scenario == ScenarioName::StarveMaster {
            "share"
        } else {
            "loss"
        };
        out.push(format!("{option}={v}"));
    }
    // The values are checked as `idle`'s options, with their messages.
    crate::scenario::Params::parse(ScenarioName::Idle, &out).map_err(|e| refuse(e.to_string()))?;
    Ok(out)
}

/// `--out FILE` may be written: never the lab file, an existing file only
/// with `--force`.
pub fn check_out(out: &Path, lab: &Path, force: bool) -> Result<(), TuneError> {
    let same = match (out.canonicalize(), lab.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(TuneError::OutIsInput {
            path: out.to_path_buf(),
        });
    }
    if out.exists() && !force {
        return Err(TuneError::OutExists {
            path: out.to_path_buf(),
        });
    }
    Ok(())
}

/// What tune reads from one stored run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub scenario: ScenarioName,
    pub status: Status,
    pub worst_answer: Option<u64>,
    pub failed: u32,
    /// Each budget missed: which, the measured value, the budget.
    pub missed: Vec<String>,
    /// Why the run could not be judged, when it could not.
    pub unjudged: Option<String>,
    pub transitions: usize,
    pub dual_owner: usize,
}

impl RunResult {
    pub fn of(r: &RunRecord) -> RunResult {
        let v = &r.verdict;
        let m = &v.metrics;
        let judged = matches!(v.status, Status::Pass | Status::Fail);
        RunResult {
            scenario: r.scenario,
            status: v.status,
            worst_answer: m.worst_answer,
            failed: m.failed,
            missed: v
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.detail.clone())
                .collect(),
            unjudged: (!judged).then(|| {
                v.reasons
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("{:?}", v.status).to_lowercase())
            }),
            transitions: verdict::transitions(m),
            dual_owner: m.dual_owner.len(),
        }
    }
}

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every budget met, and a quiet soak.
    Qualified,
    /// A budget missed (the first run that missed: which, measured).
    Missed { scenario: ScenarioName, why: String },
    /// Transitions or a second owner in the soak: faster is not safer.
    Flapped {
        transitions: usize,
        dual_owner: usize,
    },
    /// A run could not be judged.
    Unjudged { scenario: ScenarioName, why: String },
    /// Not tried: a slower candidate flapped already.
    NotTried,
}

impl Decision {
    pub fn text(&self) -> String {
        match self {
            Decision::Qualified => "qualified".into(),
            Decision::Missed { scenario, why } => {
                format!("rejected: {scenario} missed a budget: {why}")
            }
            Decision::Flapped {
                transitions,
                dual_owner,
            } => {
                let mut s = format!(
                    "rejected: {transitions} spurious VRRP transition{} in the soak",
                    if *transitions == 1 { "" } else { "s" }
                );
                if *dual_owner > 0 {
                    s.push_str(&format!(", {dual_owner} dual-owner window(s)"));
                }
                s
            }
            Decision::Unjudged { scenario, why } => {
                format!("not judged: {scenario}: {why}")
            }
            Decision::NotTried => "not tried: a slower advert flapped in the soak".into(),
        }
    }
}

/// The decision on one candidate from its runs, in the order they ran
/// (the scenarios' runs, then the `idle` soak). The copy stops at the
/// first run that misses, so a missed budget leaves no soak.
pub fn decide(runs: &[RunResult]) -> Decision {
    let (soaks, runs): (Vec<&RunResult>, Vec<&RunResult>) =
        runs.iter().partition(|r| r.scenario == ScenarioName::Idle);
    for r in runs {
        if let Some(why) = &r.unjudged {
            return Decision::Unjudged {
                scenario: r.scenario,
                why: why.clone(),
            };
        }
        if r.status == Status::Fail {
            return Decision::Missed {
                scenario: r.scenario,
                why: if r.missed.is_empty() {
                    "failed".into()
                } else {
                    r.missed.join("; ")
                },
            };
        }
    }
    let Some(soak) = soaks.first() else {
        return Decision::Unjudged {
            scenario: ScenarioName::Idle,
            why: "the soak did not run".into(),
        };
    };
    if soak.transitions > 0 || soak.dual_owner > 0 {
        return Decision::Flapped {
            transitions: soak.transitions,
            dual_owner: soak.dual_owner,
        };
    }
    if let Some(why) = &soak.unjudged {
        return Decision::Unjudged {
            scenario: ScenarioName::Idle,
            why: why.clone(),
        };
    }
    Decision::Qualified
}

/// The next candidate to try (candidates slow → fast, `decisions` for a
/// prefix of them): the next in line, none after one flapped (a faster
/// advert only flaps sooner) or at the end.
pub fn next(decisions: &[Decision], candidates: usize) -> Option<usize> {
    if decisions
        .iter()
        .any(|d| matches!(d, Decision::Flapped { .. }))
    {
        return None;
    }
    (decisions.len() < candidates).then_some(decisions.len())
}

/// The recommended candidate: the fastest that qualified.
pub fn recommend(decisions: &[Decision]) -> Option<usize> {
    decisions.iter().rposition(|d| *d == Decision::Qualified)
}

/// What to relax when no candidate qualified, from what each showed.
pub fn relax(candidates: &[Settings], decisions: &[Decision]) -> String {
    let flapped = decisions
        .iter()
        .position(|d| matches!(d, Decision::Flapped { .. }));
    let missed = decisions
        .iter()
        .any(|d| matches!(d, Decision::Missed { .. }));
    let slowest = candidates
        .first()
        .map(|c| show(c.advert))
        .unwrap_or_default();
    let fastest = candidates
        .last()
        .map(|c| show(c.advert))
        .unwrap_or_default();
    match (flapped, missed) {
        (Some(0), _) => format!(
            "even the slowest advert tried ({slowest}) flapped under the stress: soak under a lighter `--stress`, or try slower adverts (`--advert`)"
        ),
        (Some(i), true) => format!(
            "the slower adverts missed a budget, and {} flapped under the stress (faster ones would flap sooner): relax the lab's budgets (`scenarios:` in the lab file; the misses are above) or soak under a lighter `--stress`",
            show(candidates[i].advert)
        ),
        (None, true) => format!(
            "every advert tried down to {fastest} missed a budget: relax the lab's budgets (`scenarios:` in the lab file; the measured values are above), or add faster adverts to `--advert` where the lab's VRRP version allows"
        ),
        _ => "no candidate could be judged: see the reasons above; `halab status` on a copy shows what is off".into(),
    }
}

/// The evidence of every candidate tried, as a table for the terminal.
pub fn table(candidates: &[Settings], runs: &[Vec<RunResult>], decisions: &[Decision]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "advert",
        "connect / server / retries",
        "scenario runs passed",
        "worst answer",
        "failed",
        "soak transitions",
        "decision",
    ]);
    for (i, c) in candidates.iter().enumerate() {
        let decision = decisions.get(i).cloned().unwrap_or(Decision::NotTried);
        let none = Vec::new();
        let runs = runs.get(i).unwrap_or(&none);
        let (scenario_runs, soak): (Vec<&RunResult>, Vec<&RunResult>) =
            runs.iter().partition(|r| r.scenario != ScenarioName::Idle);
        let mut per: Vec<(ScenarioName, usize, usize)> = Vec::new();
        for r in &scenario_runs {
            match per.iter_mut().find(|p| p.0 == r.scenario) {
                Some(p) => {
                    p.1 += usize::from(r.status == Status::Pass);
                    p.2 += 1;
                }
                None => per.push((r.scenario, usize::from(r.status == Status::Pass), 1)),
            }
        }
        let verdicts = per
            .iter()
            .map(|(s, pass, n)| format!("{s} {pass}/{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let worst = scenario_runs.iter().filter_map(|r| r.worst_answer).max();
        let failed = scenario_runs.iter().map(|r| r.failed).max();
        let soak = match soak.first() {
            Some(s) if s.dual_owner > 0 => {
                format!("{} (+{} dual owner)", s.transitions, s.dual_owner)
            }
            Some(s) => s.transitions.to_string(),
            None => "not run".into(),
        };
        t.add_row(vec![
            show(c.advert),
            format!("{} / {} / {}", show(c.connect), show(c.server), c.retries),
            if verdicts.is_empty() {
                "-".into()
            } else {
                verdicts
            },
            worst.map(fmt_micros).unwrap_or_else(|| "-".into()),
            failed.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
            soak,
            decision.text(),
        ]);
    }
    t.to_string()
}

/// Why a tuned file has the values it has, for its head comment.
pub struct Why<'a> {
    /// The lab file or shipped lab tuned, as given.
    pub source: &'a str,
    /// When (RFC 3339, UTC).
    pub when: &'a str,
    pub before: Settings,
    pub chosen: Settings,
    pub tried: &'a [Settings],
    pub scenarios: &'a [ScenarioName],
    pub runs: u32,
    /// Worst answer and most failed requests over the chosen one's runs.
    pub worst_answer: Option<u64>,
    pub failed: u32,
    pub soak: Duration,
    pub stress: &'a str,
}

impl Why<'_> {
    fn comment(&self) -> String {
        let (b, c) = (&self.before, &self.chosen);
        let rows = [
            (ADVERT, show(b.advert), show(c.advert)),
            (CONNECT, show(b.connect), show(c.connect)),
            (SERVER, show(b.server), show(c.server)),
            (RETRIES, b.retries.to_string(), c.retries.to_string()),
        ];
        // "It changed" over four unchanged rows would read as a contradiction.
        let what = if rows.iter().all(|(_, from, to)| from == to) {
            "it changed nothing: the lab's own settings qualified"
        } else {
            "it changed"
        };
        let mut out = format!(
            "# Tuned by `halab tune` on {} from {}; {what}:\n",
            self.when, self.source
        );
        for (key, from, to) in rows {
            if from == to {
                out.push_str(&format!("#   {key}: {to} (unchanged)\n"));
            } else {
                out.push_str(&format!("#   {key}: {from} → {to}\n"));
            }
        }
        let tried: Vec<String> = self.tried.iter().map(|t| show(t.advert)).collect();
        let scenarios: Vec<String> = self.scenarios.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!(
            "# Why: of the adverts tried ({}), the fastest that\n\
             #   - met the budgets of {} in each of {} run{}\n\
             #     (worst answer {}, most failed requests in a run {}), and\n\
             #   - showed no VRRP transition in a {} idle soak under stress `{}`.\n\
             # The proxy follows the advert: connect = advert, server = {}, retries\n\
             #   cover {} Master_Down intervals (4 × advert each; at most 100).\n\
             # The runs behind this are stored: `halab report --all` shows them.\n",
            tried.join(", "),
            scenarios.join(", "),
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.worst_answer
                .map(fmt_micros)
                .unwrap_or_else(|| "none".into()),
            self.failed,
            show(self.soak),
            self.stress,
            show(SERVER_TIMEOUT),
            RETRY_COVER,
        ));
        out
    }
}

/// The user's lab file with the chosen settings written in, under a head
/// comment saying what changed and why. The values are put in place in
/// the text, so the user's comments and layout stay; where a setting is
/// not written in the file (or not where a light scan finds it), the file
/// is written anew from its parsed form, and the head says the comments
/// were lost.
pub fn tuned_file(original: &str, why: &Why) -> Result<String, SweepError> {
    let point = why.chosen.point();
    let expected = sweep::lab_at(original, &point)?;
    let parse = |t: &str| serde_yaml::from_str::<serde_yaml::Value>(t).ok();
    let edited = point.iter().try_fold(original.to_string(), |text, (k, v)| {
        set_in_text(&text, k, v)
    });
    let head = why.comment();
    Ok(match edited {
        Some(text) if parse(&text).is_some() && parse(&text) == parse(&expected) => {
            format!("{head}\n{text}")
        }
        _ => format!(
            "{head}# (Written anew from the parsed lab: a setting was not in the file where\n\
             #  tune could change it in place, so the original's comments are not here.)\n\n{expected}"
        ),
    })
}

/// `text` with the value at dotted `key` replaced in place (a block
/// `key: value` line, or `key: value` inside a one-line flow mapping on
/// its parent's line), comments kept; none when the scan cannot place it.
fn set_in_text(text: &str, key: &str, value: &str) -> Option<String> {
    let lines = crate::lab::lines::Lines::scan(text);
    let (parent, last) = key.rsplit_once('.').unwrap_or(("", key));
    let mut all: Vec<String> = text.lines().map(String::from).collect();
    if let Some(no) = lines.exact(key) {
        let line = all.get_mut(no - 1)?;
        *line = set_block(line, last, value)?;
    } else {
        let no = lines.exact(parent)?;
        let line = all.get_mut(no - 1)?;
        *line = set_flow(line, last, value)?;
    }
    let mut out = all.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// `  key: old  # note` → `  key: value  # note`.
fn set_block(line: &str, key: &str, value: &str) -> Option<String> {
    let at = line.find(&format!("{key}:"))?;
    let head = &line[..at + key.len() + 1];
    if !head[..at].trim_start_matches([' ', '-']).is_empty() {
        return None;
    }
    let rest = &line[at + key.len() + 1..];
    let comment = rest.find(" #").map(|i| &rest[i..]).unwrap_or("");
    let old = rest[..rest.len() - comment.len()].trim();
    // A nested mapping or flow collection is not a value to replace.
    if old.is_empty() || old.starts_with(['{', '[', '|', '>']) {
        return None;
    }
    let pad = if comment.is_empty() { "" } else { "  " };
    Some(format!("{head} {value}{pad}{}", comment.trim_start()))
}

/// `parent: { a: 1, key: old }` → `parent: { a: 1, key: value }`.
fn set_flow(line: &str, key: &str, value: &str) -> Option<String> {
    let open = line.find('{')?;
    let close = line.rfind('}')?;
    let inner = &line[open + 1..close];
    let mut offset = 0;
    for part in inner.split(',') {
        let trimmed = part.trim_start();
        let lead = part.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let old = rest.trim();
            if old.is_empty() || old.starts_with(['{', '[']) {
                return None;
            }
            let start = open + 1 + offset + lead + key.len() + 1;
            let end = open + 1 + offset + part.len();
            let trail = &line[start..end];
            let trail_ws = trail.len() - trail.trim_end().len();
            return Some(format!(
                "{} {value}{}{}",
                &line[..start],
                " ".repeat(trail_ws),
                &line[end..]
            ));
        }
        offset += part.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn fast_lab() -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/fast-failover.yaml"),
        )
        .unwrap()
    }

    fn run(scenario: ScenarioName, status: Status) -> RunResult {
        RunResult {
            scenario,
            status,
            worst_answer: Some(40_000),
            failed: 0,
            missed: Vec::new(),
            unjudged: None,
            transitions: 0,
            dual_owner: 0,
        }
    }

    fn soak(transitions: usize) -> RunResult {
        RunResult {
            transitions,
            ..run(ScenarioName::Idle, Status::Pass)
        }
    }

    #[test]
    fn ladders_go_slow_to_fast_in_each_versions_steps() {
        let v3 = ladder(3);
        assert!(v3.windows(2).all(|w| w[0] > w[1]));
        assert!(v3.iter().all(|d| d.as_millis() % 10 == 0 && *d >= ms(10)));
        let v2 = ladder(2);
        assert!(v2.windows(2).all(|w| w[0] > w[1]));
        assert!(v2
            .iter()
            .all(|d| d.subsec_nanos() == 0 && *d >= Duration::from_secs(1)));
        assert_eq!(
            parse_adverts("20ms, 100ms,20ms,1s").unwrap(),
            [Duration::from_secs(1), ms(100), ms(20)]
        );
        assert_eq!(
            parse_adverts("20ms,fast").unwrap_err(),
            TuneError::Advert {
                item: "20ms,fast".into(),
                bad: "fast".into()
            }
        );
    }

    #[test]
    fn the_proxy_follows_the_advert() {
        // The fast lab's measured settings come out of the 20 ms advert.
        let s = Settings::derive(ms(20));
        assert_eq!((s.connect, s.server, s.retries), (ms(20), ms(50), 20));
        // The retries cover five Master_Down intervals (4 × advert) of the
        // shorter wait, up to the lab's bound of 100.
        for advert in [ms(10), ms(50), ms(200), ms(250), Duration::from_secs(1)] {
            let s = Settings::derive(advert);
            let wait = s.connect.min(s.server);
            assert!(
                wait * s.retries >= advert * 4 * 5 || s.retries == 100,
                "{s:?}"
            );
            assert_eq!((s.connect, s.server), (advert, SERVER_TIMEOUT));
        }
        assert_eq!(Settings::derive(ms(250)).retries, 100);
        let p = Settings::derive(ms(100)).point();
        assert_eq!(p[ADVERT], "100ms");
        assert_eq!(p[SERVER], "50ms");
        assert_eq!(p[RETRIES], "40");
    }

    #[test]
    fn every_candidate_of_the_fast_lab_is_a_valid_lab() {
        let text = fast_lab();
        let path = Path::new("labs/fast-failover.yaml");
        for advert in ladder(3) {
            let lab = sweep::lab_at(&text, &Settings::derive(advert).point()).unwrap();
            crate::lab::Lab::from_yaml(&lab, path).unwrap();
        }
    }

    #[test]
    fn a_stress_becomes_idle_options_or_is_refused_with_the_fix() {
        let s = Duration::from_secs(30);
        assert_eq!(soak_options(s, "none").unwrap(), ["watch=30s"]);
        assert_eq!(
            soak_options(s, "vrrp-loss:20%").unwrap(),
            ["watch=30s", "stress=vrrp-loss", "loss=20%"]
        );
        assert_eq!(
            soak_options(s, "starve-master").unwrap(),
            ["watch=30s", "stress=starve-master"]
        );
        assert_eq!(
            soak_options(s, "starve-master:0.05").unwrap(),
            ["watch=30s", "stress=starve-master", "share=0.05"]
        );
        let errors: Vec<String> = ["kill-master", "vrrp-loss:2", "none:1"]
            .iter()
            .map(|t| soak_options(s, t).unwrap_err().to_string())
            .collect();
        insta::assert_snapshot!(errors.join("\n---\n"));
    }

    #[test]
    fn the_default_scenarios_are_the_labs_budgeted_ones() {
        let lab = crate::lab::Lab::from_yaml(&fast_lab(), Path::new("f.yaml")).unwrap();
        assert_eq!(
            default_scenarios(lab.spec()),
            [
                ScenarioName::StopMaster,
                ScenarioName::KillMaster,
                ScenarioName::PauseMaster
            ]
        );
        let seed = crate::shipped::resolve(Path::new("seed"));
        let crate::shipped::LabSource::Shipped(seed) = seed else {
            panic!("seed is shipped")
        };
        let lab = crate::lab::Lab::from_yaml(seed.text, Path::new("s.yaml")).unwrap();
        let expected = if lab.spec().scenarios.is_empty() {
            vec![ScenarioName::KillMaster]
        } else {
            lab.spec().scenarios.keys().copied().collect()
        };
        assert_eq!(default_scenarios(lab.spec()), expected);
    }

    #[test]
    fn a_candidate_is_decided_by_its_first_miss_then_its_soak() {
        use ScenarioName::{KillMaster, PauseMaster};
        let pass = run(KillMaster, Status::Pass);
        assert_eq!(decide(&[pass.clone(), soak(0)]), Decision::Qualified);
        let mut missed = run(PauseMaster, Status::Fail);
        missed.missed = vec!["worst answer 212 ms over the budget 150 ms".into()];
        assert_eq!(
            decide(&[pass.clone(), missed]),
            Decision::Missed {
                scenario: PauseMaster,
                why: "worst answer 212 ms over the budget 150 ms".into()
            }
        );
        assert_eq!(
            decide(&[pass.clone(), soak(4)]),
            Decision::Flapped {
                transitions: 4,
                dual_owner: 0
            }
        );
        let mut broken = run(KillMaster, Status::Invalid);
        broken.unjudged = Some("the probe recorded no request".into());
        assert!(matches!(
            decide(&[broken, soak(0)]),
            Decision::Unjudged { .. }
        ));
        assert!(matches!(decide(&[pass]), Decision::Unjudged { .. }));
    }

    /// A budget missed and a flapping soak, as decided.
    fn missed_and_flapped() -> (Decision, Decision) {
        let missed = Decision::Missed {
            scenario: ScenarioName::KillMaster,
            why: "x".into(),
        };
        let flapped = Decision::Flapped {
            transitions: 2,
            dual_owner: 0,
        };
        (missed, flapped)
    }

    #[test]
    fn the_search_goes_faster_until_a_soak_flaps_and_picks_the_fastest_qualified() {
        let (missed, flapped) = missed_and_flapped();
        assert_eq!(next(&[], 3), Some(0));
        assert_eq!(next(std::slice::from_ref(&missed), 3), Some(1));
        assert_eq!(next(&[missed.clone(), Decision::Qualified], 3), Some(2));
        assert_eq!(next(&[missed.clone(), flapped.clone()], 3), None);
        assert_eq!(
            next(&[missed.clone(), missed.clone(), missed.clone()], 3),
            None
        );
        let d = [
            missed.clone(),
            Decision::Qualified,
            Decision::Qualified,
            flapped,
        ];
        assert_eq!(recommend(&d), Some(2));
        assert_eq!(recommend(std::slice::from_ref(&missed)), None);
    }

    #[test]
    fn what_to_relax_follows_what_was_seen() {
        let c: Vec<Settings> = ladder(3).into_iter().map(Settings::derive).collect();
        let (missed, flapped) = missed_and_flapped();
        let texts = [
            relax(&c, std::slice::from_ref(&flapped)),
            relax(&c, &[missed.clone(), missed.clone(), flapped]),
            relax(&c, &vec![missed; c.len()]),
        ];
        insta::assert_snapshot!(texts.join("\n---\n"));
    }

    #[test]
    fn the_evidence_table_says_why_each_candidate_was_rejected() {
        use ScenarioName::KillMaster;
        let c: Vec<Settings> = [ms(100), ms(50), ms(20), ms(10)]
            .into_iter()
            .map(Settings::derive)
            .collect();
        let mut slow = run(KillMaster, Status::Fail);
        slow.worst_answer = Some(212_000);
        slow.failed = 3;
        slow.missed = vec!["worst answer 212 ms, over the budget of 150 ms".into()];
        let runs = vec![
            vec![slow.clone()],
            vec![run(KillMaster, Status::Pass), soak(0)],
            vec![run(KillMaster, Status::Pass), soak(3)],
        ];
        let decisions: Vec<Decision> = runs.iter().map(|r| decide(r)).collect();
        insta::assert_snapshot!(table(&c, &runs, &decisions));
    }

    fn why<'a>(before: Settings, chosen: Settings, tried: &'a [Settings]) -> Why<'a> {
        Why {
            source: "labs/fast-failover.yaml",
            when: "2026-11-27T14:40:00Z",
            before,
            chosen,
            tried,
            scenarios: &[ScenarioName::KillMaster, ScenarioName::PauseMaster],
            runs: 3,
            worst_answer: Some(64_000),
            failed: 0,
            soak: Duration::from_secs(30),
            stress: "vrrp-loss:20%",
        }
    }

    #[test]
    fn the_tuned_file_keeps_the_users_comments_and_says_what_changed() {
        let text = fast_lab();
        let lab = crate::lab::Lab::from_yaml(&text, Path::new("f.yaml")).unwrap();
        let tried: Vec<Settings> = [ms(100), ms(50)].map(Settings::derive).to_vec();
        let out = tuned_file(&text, &why(Settings::of(lab.spec()), tried[1], &tried)).unwrap();
        // Every comment of the original is still there.
        for line in text.lines().filter(|l| l.trim_start().starts_with('#')) {
            assert!(out.contains(line), "lost: {line}");
        }
        let tuned = crate::lab::Lab::from_yaml(&out, Path::new("t.yaml")).unwrap();
        assert_eq!(Settings::of(tuned.spec()), tried[1]);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn a_lab_already_at_the_chosen_settings_is_said_to_be_unchanged() {
        let text = fast_lab();
        let lab = crate::lab::Lab::from_yaml(&text, Path::new("f.yaml")).unwrap();
        let own = Settings::of(lab.spec());
        let head = why(own, own, &[own]).comment();
        let first = head.lines().next().unwrap();
        assert_eq!(
            first,
            "# Tuned by `halab tune` on 2026-11-27T14:40:00Z from labs/fast-failover.yaml; \
             it changed nothing: the lab's own settings qualified:"
        );
        assert_eq!(head.matches("(unchanged)").count(), 4, "{head}");
    }

    #[test]
    fn a_setting_the_file_does_not_write_makes_the_file_anew() {
        // The seed lab writes no `proxy.retries`: the values must still land.
        let text = "name: t\nvrrp:\n  version: 3\n  advert_int: 1s # slow\nproxy:\n  timeouts: {connect: 1s}\n";
        assert_eq!(
            set_in_text(text, ADVERT, "50ms").unwrap(),
            "name: t\nvrrp:\n  version: 3\n  advert_int: 50ms  # slow\nproxy:\n  timeouts: {connect: 1s}\n"
        );
        assert_eq!(
            set_in_text(text, CONNECT, "50ms").unwrap(),
            "name: t\nvrrp:\n  version: 3\n  advert_int: 1s # slow\nproxy:\n  timeouts: {connect: 50ms}\n"
        );
        assert_eq!(set_in_text(text, RETRIES, "20"), None);
        assert_eq!(set_in_text(text, SERVER, "50ms"), None);
        let seed = crate::shipped::resolve(Path::new("seed"));
        let crate::shipped::LabSource::Shipped(seed) = seed else {
            panic!("seed is shipped")
        };
        let lab = crate::lab::Lab::from_yaml(seed.text, Path::new("s.yaml")).unwrap();
        let chosen = Settings::derive(Duration::from_secs(1));
        let out = tuned_file(seed.text, &why(Settings::of(lab.spec()), chosen, &[chosen])).unwrap();
        let tuned = crate::lab::Lab::from_yaml(&out, Path::new("t.yaml")).unwrap();
        assert_eq!(Settings::of(tuned.spec()), chosen);
    }

    #[test]
    fn out_is_never_the_input_and_never_replaced_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let lab = dir.path().join("lab.yaml");
        std::fs::write(&lab, "x").unwrap();
        let out = dir.path().join("tuned.yaml");
        assert_eq!(check_out(&out, &lab, false), Ok(()));
        assert!(matches!(
            check_out(&lab, &lab, true),
            Err(TuneError::OutIsInput { .. })
        ));
        // The same file by another path.
        let other = dir.path().join(".").join("lab.yaml");
        assert!(matches!(
            check_out(&other, &lab, true),
            Err(TuneError::OutIsInput { .. })
        ));
        std::fs::write(&out, "y").unwrap();
        assert!(matches!(
            check_out(&out, &lab, false),
            Err(TuneError::OutExists { .. })
        ));
        assert_eq!(check_out(&out, &lab, true), Ok(()));
    }
}
