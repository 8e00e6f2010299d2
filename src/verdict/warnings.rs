//! Warnings: every measured finding that no budget judges.

use super::*;

/// Where flapping is the fault's expected symptom, one change of the
/// serving node is the repair coming home (a restarted keepalived taking
/// the VIP back); from this many on, clients bounced between nodes.
pub(super) const NOTEWORTHY_FLAPS: u32 = 2;

/// Every measured finding that no budget of `spec` judges. Each kind is
/// warned of only where its budget is unset: a set budget judges it, met or
/// missed.
pub fn warnings(m: &Metrics, timeline: &Timeline, spec: &RunSpec) -> Vec<Warning> {
    let b = &spec.budget;
    let scenario = spec.scenario();
    let mut out = Vec::new();

    // Two VIP owners are the only witness of a split brain, and clients may
    // not notice it at all: a PASS beside one would read as "no harm done".
    if b.max_dual_owner.is_none() && !m.dual_owner.is_empty() {
        let why = crate::scenario::get(scenario)
            .dual_owner_reported_only
            .map_or(String::new(), |w| format!(" ({w})"));
        let mut detail = format!(
            "split brain: two nodes held the VIP for {}",
            fmt_micros(m.dual_owner_longest)
        );
        if m.dual_owner.len() > 1 {
            detail.push_str(&format!(
                " (longest of {} windows, {} in all)",
                m.dual_owner.len(),
                fmt_micros(m.dual_owner_total)
            ));
        }
        out.push(Warning {
            kind: WarningKind::DualOwner,
            measured: Measure::Micros(m.dual_owner_longest),
            detail,
            unjudged: format!("{scenario} has no max_dual_owner budget{why}"),
        });
    }

    // Failures are split at the heal: those before it are what the fault
    // cost (a slow lab's crash loses requests for a whole
    // Master_Down_Interval, bounded only by the switch budget), those after
    // it what the way back cost (recover_within times it, counts nothing).
    let after_heal = m.heal_at.map_or(0, |h| {
        timeline
            .requests()
            .filter(|r| r.done >= h && r.outcome.is_failure())
            .count() as u32
    });
    let during = m.failed.saturating_sub(after_heal);
    // An outage demonstration judges them itself (its `outage` check).
    if b.max_failed.is_none() && during > 0 && spec.plan.outage.is_none() {
        let bound = if spec.plan.backend.is_some() {
            "pool_remove_within bounds how long the server stays in the pool, not what its requests cost"
        } else {
            "the switch budget bounds the outage, not what it cost"
        };
        out.push(Warning {
            kind: WarningKind::Failed,
            measured: Measure::Count(during as u64),
            detail: format!(
                "{during} request{} failed during the fault",
                plural(during as u64)
            ),
            unjudged: format!("{scenario} has no max_failed budget: {bound}"),
        });
    }
    if b.max_failed.is_none() && after_heal > 0 {
        out.push(Warning {
            kind: WarningKind::LostAfterHeal,
            measured: Measure::Count(after_heal as u64),
            detail: format!(
                "{after_heal} request{} failed after the heal{}",
                plural(after_heal as u64),
                if spec.plan.expect_failback {
                    format!(", on the way back to {}", spec.master)
                } else {
                    String::new()
                }
            ),
            unjudged: format!(
                "{scenario} has no max_failed budget: recover_within times the way back, it counts no request"
            ),
        });
    }

    // HAProxy's retries turn errors into latency: late answers are the
    // disruption a retrying lab shows instead of failures. worst_answer
    // bounds them as well as max_late does.
    if b.max_late.is_none() && b.worst_answer.is_none() && m.late > 0 {
        let slowest = m
            .worst_answer
            .map_or(String::new(), |w| format!(" (slowest {})", fmt_micros(w)));
        out.push(Warning {
            kind: WarningKind::Late,
            measured: Measure::Count(m.late as u64),
            detail: format!(
                "{} answer{} came later than {}{slowest}",
                m.late,
                plural(m.late as u64),
                fmt_micros(micros(spec.late_after))
            ),
            unjudged: format!("{scenario} has neither a max_late nor a worst_answer budget"),
        });
    }

    // Flapping that is not the scenario's expected symptom is a failed
    // check already; expected flapping beyond one change back is noted here.
    if spec.plan.expect_switch && spec.plan.flaps_expected && m.flaps >= NOTEWORTHY_FLAPS {
        out.push(Warning {
            kind: WarningKind::Flaps,
            measured: Measure::Count(m.flaps as u64),
            detail: format!(
                "flapping: the serving node changed {} times after the switch, before the heal",
                m.flaps
            ),
            unjudged: format!(
                "{scenario} expects the serving node to change, so flapping is not a check"
            ),
        });
    }
    out
}
