//! The checks: each budget of the spec against what was measured.

use super::warnings::NOTEWORTHY_FLAPS;
use super::*;

pub(super) fn checks(m: &Metrics, spec: &RunSpec, notes: &mut Vec<String>) -> Vec<Check> {
    let b = &spec.budget;
    let mut out = Vec::new();
    let observed = m.end_at.saturating_sub(m.fault_at.unwrap_or(0));

    if spec.plan.expect_switch && spec.plan.switch_optional && m.switch.is_none() {
        notes.push(format!(
            "no switch: no backup page was received in the {} observed after the fault (the node repaired itself first)",
            fmt_micros(observed)
        ));
    } else if spec.plan.expect_switch {
        if let Some(budget) = b.switch_within.map(micros) {
            out.push(match m.switch {
                Some(s) => duration_check("switch_within", "switch took", s, budget),
                None => Check {
                    name: "switch_within".into(),
                    measured: Measure::Never,
                    budget: Measure::Micros(budget),
                    passed: false,
                    detail: format!(
                        "no switch: no backup page ({}) was received in the {} observed after the fault ({} failed, {} late)",
                        spec.backups.join(", "),
                        fmt_micros(observed),
                        m.failed,
                        m.late
                    ),
                },
            });
        } else if m.switch.is_none() {
            out.push(Check {
                name: "switch".into(),
                measured: Measure::Never,
                budget: Measure::Never,
                passed: false,
                detail: format!(
                    "no switch: no backup page was received in the {} observed after the fault",
                    fmt_micros(observed)
                ),
            });
        }
        if m.flaps > 0 {
            let detail = format!(
                "flapping: the serving node changed {} time{} after the switch, before the heal",
                m.flaps,
                plural(m.flaps as u64)
            );
            // A partition is a split brain by construction: alternating pages
            // are its expected symptom, judged through max_dual_owner. More
            // than one change is a warning (see `warnings`).
            if spec.plan.flaps_expected {
                if m.flaps < NOTEWORTHY_FLAPS {
                    notes.push(detail);
                }
            } else {
                out.push(Check {
                    name: "flaps".into(),
                    measured: Measure::Count(m.flaps as u64),
                    budget: Measure::Count(0),
                    passed: false,
                    detail,
                });
            }
        }
    } else if let Some(why) = &spec.plan.outage {
        // A demonstration: any failed request during the fault fails it,
        // whatever budgets the lab sets, and the failure says why.
        // It never passes: one that shows no failure demonstrated nothing.
        let failed = m.errors_by_phase.fault;
        out.push(Check {
            name: "outage".into(),
            measured: Measure::Count(failed as u64),
            budget: Measure::Count(0),
            passed: false,
            detail: if failed == 0 {
                format!("no request failed during `{}`: the outage it demonstrates did not happen (was the fault injected?)", spec.scenario())
            } else {
                format!(
                    "{why} {failed} of {} requests failed during the fault",
                    m.requests_by_phase.fault
                )
            },
        });
    } else {
        // The control: a client must not notice the backup going away.
        let seen = m.switch.is_some();
        out.push(Check {
            name: "no_switch".into(),
            measured: Measure::Count(seen as u64),
            budget: Measure::Count(0),
            passed: !seen,
            detail: match (&m.switch_node, m.switch) {
                (Some(n), Some(s)) => format!(
                    "control failed: {n}'s page was served {} after the fault, but `{}` must not move the VIP",
                    fmt_offset(s as i64),
                    spec.scenario()
                ),
                _ => format!("{} kept serving, as it should", spec.master),
            },
        });
    }

    if let (Some(budget), Some(server)) = (b.pool_remove_within.map(micros), &spec.plan.backend) {
        let holder = m.pool_holder.as_deref().unwrap_or(&spec.master);
        out.push(match m.pool_removed {
            Some(r) => duration_check(
                "pool_remove_within",
                &format!("{holder}'s HAProxy took {server} out of its pool after"),
                r,
                budget,
            ),
            None => Check {
                name: "pool_remove_within".into(),
                measured: Measure::Never,
                budget: Measure::Micros(budget),
                passed: false,
                detail: format!(
                    "{server} was never marked DOWN by {holder}'s HAProxy in the {} the fault lasted: its health check did not see the fault{}",
                    fmt_micros(
                        m.heal_at
                            .unwrap_or(m.end_at)
                            .saturating_sub(m.fault_at.unwrap_or(0))
                    ),
                    if spec.scenario() == crate::lab::ScenarioName::HangWeb {
                        " (a layer-4 check passes a server that accepts connections and never answers; `backends.check.kind: http` catches it)"
                    } else {
                        ""
                    }
                ),
            },
        });
    }
    if let Some(n) = b.max_failed {
        out.push(count_check("max_failed", "failed request", m.failed, n));
    }
    if let Some(n) = b.max_late {
        out.push(count_check("max_late", "late answer", m.late, n));
    }
    if let Some(budget) = b.worst_answer.map(micros) {
        out.push(match m.worst_answer {
            Some(w) => duration_check("worst_answer", "slowest answer took", w, budget),
            None => Check {
                name: "worst_answer".into(),
                measured: Measure::Never,
                budget: Measure::Micros(budget),
                passed: false,
                detail: "no answer at all was received during the fault window".into(),
            },
        });
    }
    if let Some(budget) = b.max_dual_owner.map(micros) {
        let mut c = duration_check(
            "max_dual_owner",
            "two nodes held the VIP for",
            m.dual_owner_longest,
            budget,
        );
        if m.dual_owner.is_empty() {
            c.detail = "the VIP never had two owners".into();
        } else if m.dual_owner.len() > 1 {
            c.detail.push_str(&format!(
                " (longest of {} windows, {} in all)",
                m.dual_owner.len(),
                fmt_micros(m.dual_owner_total)
            ));
        }
        if !c.passed {
            // Say what it is: a reader scanning a failed run looks for it.
            c.detail = format!("split brain: {}", c.detail);
        }
        out.push(c);
    }
    if let Some(budget) = b.recover_within.map(micros) {
        match (m.heal_at, m.recovery) {
            (None, _) => notes.push("recover_within not judged: the run did not heal".into()),
            (Some(_), Some(r)) => {
                out.push(duration_check("recover_within", "recovery took", r, budget))
            }
            (Some(h), None) => out.push(Check {
                name: "recover_within".into(),
                measured: Measure::Never,
                budget: Measure::Micros(budget),
                passed: false,
                detail: format!(
                    "no recovery: no {} was received in the {} observed after the heal",
                    if spec.plan.expect_failback {
                        format!("{} page", spec.master)
                    } else {
                        "good page".to_string()
                    },
                    fmt_micros(m.end_at.saturating_sub(h))
                ),
            }),
        }
    }
    out
}

fn duration_check(name: &str, what: &str, measured: Micros, budget: Micros) -> Check {
    let passed = measured <= budget;
    let margin = if passed {
        format!("{} to spare", fmt_micros(budget - measured))
    } else {
        format!("{} over", fmt_micros(measured - budget))
    };
    Check {
        name: name.into(),
        measured: Measure::Micros(measured),
        budget: Measure::Micros(budget),
        passed,
        detail: format!(
            "{what} {}, budget {}: {margin}",
            fmt_micros(measured),
            fmt_micros(budget)
        ),
    }
}

fn count_check(name: &str, what: &str, measured: u32, budget: u32) -> Check {
    let passed = measured <= budget;
    let margin = if passed {
        format!("{} to spare", budget - measured)
    } else {
        format!("{} over", measured - budget)
    };
    Check {
        name: name.into(),
        measured: Measure::Count(measured as u64),
        budget: Measure::Count(budget as u64),
        passed,
        detail: format!(
            "{measured} {what}{}, budget {budget}: {margin}",
            plural(measured as u64)
        ),
    }
}
