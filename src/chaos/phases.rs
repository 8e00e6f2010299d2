//! The runner's decisions as a pure function: given where a run is, an
//! input (time passed, Ctrl-C, an action's result), the events seen so far
//! and the time, [`step`] says where it is next and what to do. No I/O here:
//! the driver (`runner`) carries out the command and feeds back what came of
//! it, so every path — a switch that never comes, a failed heal, Ctrl-C in
//! any phase — can be checked by calling `step` with made-up events.
//!
//! Phases: baseline → fault (the inject actions) → observe → heal (the heal
//! actions) → recovery → done. A fault that was started is always healed,
//! whatever ends the run.

use std::time::Duration;

use super::Phase;
use crate::timeline::{micros, Event, EventKind, Micros, Outcome, Request};

/// The limits and expectations of one run, fixed before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The node whose page a steady baseline answers with.
    pub master: String,
    /// Watch at least this long before the fault…
    pub baseline_min: Duration,
    /// …and at most this long for a steady baseline.
    pub baseline_max: Duration,
    /// A baseline that is still not steady at `baseline_max` ends the run
    /// before any fault; otherwise the fault goes ahead (and the verdict
    /// calls the run invalid).
    pub require_steady_baseline: bool,
    /// Keep the fault at least this long (so a switch-and-back is seen)…
    pub observe_min: Duration,
    /// …and at most this long.
    pub observe_max: Duration,
    /// Nodes whose pages mean "switched"; empty when no switch is expected,
    /// so the fault is watched for `observe_max`.
    pub switch_to: Vec<String>,
    /// Answers from `switch_to` for this long end the observation early.
    pub switch_span: Duration,
    /// Heal after observing (otherwise the fault stays).
    pub heal: bool,
    pub recovery_min: Duration,
    pub recovery_max: Duration,
    /// Nodes whose pages mean "recovered".
    pub recover_to: Vec<String>,
    pub recovery_span: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every phase ran (a recovery that never came is the verdict's to judge).
    Completed,
    /// Ctrl-C; a fault that was started was healed.
    Aborted,
    /// An inject action failed; the heal was applied.
    InjectFailed,
    /// A heal action failed after a fault that was fully injected.
    HealFailed,
    /// The baseline never became steady; no fault was injected.
    UnsteadyBaseline,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub phase: Phase,
    /// When `phase` began, on the run's clock.
    pub since: Micros,
    /// Ctrl-C was pressed.
    pub interrupted: bool,
    /// The heal actions were applied.
    pub healed: bool,
    inject_failed: bool,
    heal_failed: bool,
    /// Set once `phase` is `Done`.
    pub end: Option<End>,
}

/// What happened since the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Time passed (the driver ticks; new events may have come).
    Tick,
    /// Ctrl-C.
    Interrupt,
    /// The actions of the current phase (fault or heal) were applied; `ok`
    /// is false when one failed.
    Applied { ok: bool },
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Nothing: wait for the next tick (or the running actions).
    Wait,
    /// Apply the fault's actions, then feed back `Applied`.
    Inject,
    /// Apply the heal's actions, then feed back `Applied`.
    Heal,
    /// The run is over: stop the probe and the watchers.
    Stop,
}

impl State {
    pub fn start(now: Micros) -> State {
        State {
            phase: Phase::Baseline,
            since: now,
            interrupted: false,
            healed: false,
            inject_failed: false,
            heal_failed: false,
            end: None,
        }
    }

    fn enter(self, phase: Phase, now: Micros) -> State {
        State {
            phase,
            since: now,
            ..self
        }
    }

    fn done(self, now: Micros, end: End) -> (State, Command) {
        let s = State {
            end: Some(end),
            ..self.enter(Phase::Done, now)
        };
        (s, Command::Stop)
    }

    /// Done, the end read from what went wrong (a failure outranks Ctrl-C).
    fn finish(self, now: Micros) -> (State, Command) {
        let end = if self.inject_failed {
            End::InjectFailed
        } else if self.heal_failed {
            End::HealFailed
        } else if self.interrupted {
            End::Aborted
        } else {
            End::Completed
        };
        self.done(now, end)
    }

    fn heal(self, now: Micros) -> (State, Command) {
        (self.enter(Phase::Heal, now), Command::Heal)
    }
}

/// The next state and command. Pure: the same arguments give the same answer.
pub fn step(
    state: State,
    input: Input,
    events: &[Event],
    now: Micros,
    rules: &Rules,
) -> (State, Command) {
    let elapsed = Duration::from_micros(now.saturating_sub(state.since));
    let wait = (state, Command::Wait);
    match (state.phase, input) {
        (Phase::Done, _) => (state, Command::Stop),
        (phase, Input::Interrupt) => {
            let s = State {
                interrupted: true,
                ..state
            };
            match phase {
                // Nothing was injected: nothing to heal.
                Phase::Baseline => s.done(now, End::Aborted),
                // The actions under way finish; `Applied` then heals.
                Phase::Fault | Phase::Heal => (s, Command::Wait),
                Phase::Observe => s.heal(now),
                Phase::Recovery => s.finish(now),
                Phase::Done => (state, Command::Stop),
            }
        }
        (Phase::Fault, Input::Applied { ok }) => {
            let s = State {
                inject_failed: !ok,
                ..state
            };
            if !ok || s.interrupted {
                s.heal(now)
            } else {
                (s.enter(Phase::Observe, now), Command::Wait)
            }
        }
        (Phase::Heal, Input::Applied { ok }) => {
            let s = State {
                healed: true,
                // Only a fault that was fully injected must heal cleanly.
                heal_failed: !ok && !state.inject_failed,
                ..state
            };
            if s.inject_failed || s.heal_failed || s.interrupted {
                s.finish(now)
            } else {
                (s.enter(Phase::Recovery, now), Command::Wait)
            }
        }
        (Phase::Baseline, Input::Tick) => {
            let steady = baseline_steady(events, &rules.master);
            if (elapsed >= rules.baseline_min && steady) || elapsed >= rules.baseline_max {
                if steady || !rules.require_steady_baseline {
                    (state.enter(Phase::Fault, now), Command::Inject)
                } else {
                    state.done(now, End::UnsteadyBaseline)
                }
            } else {
                wait
            }
        }
        (Phase::Observe, Input::Tick) => {
            let switched = !rules.switch_to.is_empty()
                && steady_on(
                    since(events, state.since),
                    &rules.switch_to,
                    rules.switch_span,
                );
            if elapsed >= rules.observe_max || (elapsed >= rules.observe_min && switched) {
                if rules.heal {
                    state.heal(now)
                } else {
                    state.finish(now)
                }
            } else {
                wait
            }
        }
        (Phase::Recovery, Input::Tick) => {
            let recovered = steady_on(
                since(events, state.since),
                &rules.recover_to,
                rules.recovery_span,
            );
            if elapsed >= rules.recovery_max || (elapsed >= rules.recovery_min && recovered) {
                state.finish(now)
            } else {
                wait
            }
        }
        // Actions under way, or a result nobody asked for: nothing to do.
        (Phase::Fault | Phase::Heal, Input::Tick)
        | (Phase::Baseline | Phase::Observe | Phase::Recovery, Input::Applied { .. }) => wait,
    }
}

fn requests(events: &[Event]) -> impl Iterator<Item = &Request> {
    events.iter().filter_map(|e| match &e.kind {
        EventKind::Request(r) => Some(r),
        _ => None,
    })
}

/// Events from `at` on.
fn since(events: &[Event], at: Micros) -> Vec<&Event> {
    events.iter().filter(|e| e.at >= at).collect()
}

/// The lab is steady before a fault: the latest answer is the master's page.
pub fn baseline_steady(events: &[Event], master: &str) -> bool {
    requests(events)
        .max_by_key(|r| r.done)
        .is_some_and(|r| r.outcome.node() == Some(master))
}

/// True when answers have come for at least `span`, and those of the last
/// `span` (at least one) all came from `nodes`' pages, none failed.
pub fn steady_on(events: Vec<&Event>, nodes: &[String], span: Duration) -> bool {
    let done: Vec<(Micros, &Outcome)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request(r) => Some((r.done, &r.outcome)),
            _ => None,
        })
        .collect();
    let (Some(first), Some(last)) = (
        done.iter().map(|(t, _)| *t).min(),
        done.iter().map(|(t, _)| *t).max(),
    ) else {
        return false;
    };
    let span = micros(span);
    let from = last.saturating_sub(span);
    last - first >= span
        && done
            .iter()
            .filter(|(t, _)| *t >= from)
            .all(|(_, o)| o.node().is_some_and(|n| nodes.iter().any(|m| m == n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Micros = 1000;

    fn rules() -> Rules {
        Rules {
            master: "m".into(),
            baseline_min: Duration::from_secs(1),
            baseline_max: Duration::from_secs(6),
            require_steady_baseline: false,
            observe_min: Duration::from_secs(1),
            observe_max: Duration::from_secs(8),
            switch_to: vec!["b".into()],
            switch_span: Duration::from_secs(1),
            heal: true,
            recovery_min: Duration::from_millis(500),
            recovery_max: Duration::from_secs(21),
            recover_to: vec!["m".into()],
            recovery_span: Duration::from_millis(500),
        }
    }

    /// One answer every 20 ms from `from` to `to` (ms), by `node` (`None`: failed).
    fn answers(from: u64, to: u64, node: Option<&str>) -> Vec<Event> {
        (from..to)
            .step_by(20)
            .map(|t| Event {
                at: t * MS,
                kind: EventKind::Request(Request {
                    seq: t,
                    sent: t * MS,
                    done: t * MS,
                    backend: None,
                    outcome: match node {
                        Some(n) => Outcome::Page { node: n.into() },
                        None => Outcome::Timeout,
                    },
                }),
            })
            .collect()
    }

    fn at(phase: Phase, since_ms: u64) -> State {
        State::start(0).enter(phase, since_ms * MS)
    }

    #[test]
    fn a_steady_baseline_injects_after_its_minimum_and_not_before() {
        let ev = answers(0, 1200, Some("m"));
        let s = State::start(0);
        assert_eq!(
            step(s, Input::Tick, &ev, 900 * MS, &rules()),
            (s, Command::Wait)
        );
        let (next, cmd) = step(s, Input::Tick, &ev, 1000 * MS, &rules());
        assert_eq!(
            (next.phase, next.since, cmd),
            (Phase::Fault, 1000 * MS, Command::Inject)
        );
    }

    #[test]
    fn an_unsteady_baseline_waits_its_maximum_then_injects_or_ends_as_the_rules_say() {
        let ev = answers(0, 6000, None);
        let s = State::start(0);
        assert_eq!(
            step(s, Input::Tick, &ev, 5999 * MS, &rules()).1,
            Command::Wait
        );
        assert_eq!(
            step(s, Input::Tick, &ev, 6000 * MS, &rules()).1,
            Command::Inject
        );
        let strict = Rules {
            require_steady_baseline: true,
            ..rules()
        };
        let (next, cmd) = step(s, Input::Tick, &ev, 6000 * MS, &strict);
        assert_eq!(
            (next.end, cmd),
            (Some(End::UnsteadyBaseline), Command::Stop)
        );
        assert!(!next.healed);
    }

    #[test]
    fn observation_ends_once_a_backup_served_a_whole_span_but_not_before_its_minimum() {
        let mut ev = answers(1000, 1300, None);
        ev.extend(answers(1300, 2500, Some("b")));
        let s = at(Phase::Observe, 1000);
        // 1.2 s of backup pages by 2.5 s: switched.
        assert_eq!(
            step(s, Input::Tick, &ev, 2500 * MS, &rules()).1,
            Command::Heal
        );
        // Only 0.7 s of them by 2.0 s.
        assert_eq!(
            step(s, Input::Tick, &ev[..50], 2000 * MS, &rules()).1,
            Command::Wait
        );
    }

    #[test]
    fn a_switch_that_never_comes_is_watched_for_the_whole_observation() {
        let ev = answers(1000, 9000, None);
        let s = at(Phase::Observe, 1000);
        assert_eq!(
            step(s, Input::Tick, &ev, 8999 * MS, &rules()).1,
            Command::Wait
        );
        assert_eq!(
            step(s, Input::Tick, &ev, 9000 * MS, &rules()).1,
            Command::Heal
        );
    }

    #[test]
    fn answers_from_before_the_phase_do_not_count_as_a_switch() {
        let ev = answers(0, 3000, Some("b"));
        let s = at(Phase::Observe, 2990);
        assert_eq!(
            step(s, Input::Tick, &ev, 3000 * MS, &rules()).1,
            Command::Wait
        );
    }

    #[test]
    fn without_heal_the_run_ends_with_the_fault_in_place() {
        let r = Rules {
            heal: false,
            ..rules()
        };
        let (s, cmd) = step(at(Phase::Observe, 0), Input::Tick, &[], 8000 * MS, &r);
        assert_eq!(
            (s.end, s.healed, cmd),
            (Some(End::Completed), false, Command::Stop)
        );
    }

    #[test]
    fn a_failed_inject_heals_and_its_heal_errors_do_not_count() {
        let (s, cmd) = step(
            at(Phase::Fault, 1000),
            Input::Applied { ok: false },
            &[],
            1010 * MS,
            &rules(),
        );
        assert_eq!((s.phase, cmd), (Phase::Heal, Command::Heal));
        let (s, cmd) = step(s, Input::Applied { ok: false }, &[], 1020 * MS, &rules());
        assert_eq!(
            (s.end, s.healed, cmd),
            (Some(End::InjectFailed), true, Command::Stop)
        );
    }

    #[test]
    fn a_failed_heal_ends_the_run_without_recovery() {
        let (s, cmd) = step(
            at(Phase::Heal, 5000),
            Input::Applied { ok: false },
            &[],
            5010 * MS,
            &rules(),
        );
        assert_eq!(
            (s.end, s.healed, cmd),
            (Some(End::HealFailed), true, Command::Stop)
        );
    }

    #[test]
    fn ctrl_c_heals_whatever_was_injected_and_ends_aborted() {
        let r = rules();
        // Baseline: nothing injected, nothing healed.
        let (s, cmd) = step(State::start(0), Input::Interrupt, &[], 10, &r);
        assert_eq!(
            (s.end, s.healed, cmd),
            (Some(End::Aborted), false, Command::Stop)
        );
        // While injecting: wait for the actions, then heal.
        let (s, cmd) = step(at(Phase::Fault, 0), Input::Interrupt, &[], 10, &r);
        assert_eq!((s.phase, cmd), (Phase::Fault, Command::Wait));
        let (s, cmd) = step(s, Input::Applied { ok: true }, &[], 20, &r);
        assert_eq!((s.phase, cmd), (Phase::Heal, Command::Heal));
        let (s, cmd) = step(s, Input::Applied { ok: true }, &[], 30, &r);
        assert_eq!(
            (s.end, s.healed, cmd),
            (Some(End::Aborted), true, Command::Stop)
        );
        // While observing: heal at once.
        let (s, cmd) = step(at(Phase::Observe, 0), Input::Interrupt, &[], 10, &r);
        assert_eq!((s.phase, cmd), (Phase::Heal, Command::Heal));
        // While healing: the heal finishes, no recovery is watched.
        let (s, _) = step(at(Phase::Heal, 0), Input::Interrupt, &[], 10, &r);
        let (s, cmd) = step(s, Input::Applied { ok: true }, &[], 20, &r);
        assert_eq!((s.end, cmd), (Some(End::Aborted), Command::Stop));
        // While recovering: stop watching.
        let (s, cmd) = step(at(Phase::Recovery, 0), Input::Interrupt, &[], 10, &r);
        assert_eq!((s.end, cmd), (Some(End::Aborted), Command::Stop));
    }

    #[test]
    fn recovery_ends_on_the_master_page_or_at_its_maximum() {
        let mut ev = answers(5000, 5200, Some("b"));
        ev.extend(answers(5200, 5800, Some("m")));
        let s = at(Phase::Recovery, 5000);
        let (done, cmd) = step(s, Input::Tick, &ev, 5800 * MS, &rules());
        assert_eq!((done.end, cmd), (Some(End::Completed), Command::Stop));
        let never = answers(5000, 26000, Some("b"));
        assert_eq!(
            step(s, Input::Tick, &never, 25999 * MS, &rules()).1,
            Command::Wait
        );
        assert_eq!(
            step(s, Input::Tick, &never, 26000 * MS, &rules()).1,
            Command::Stop
        );
    }

    #[test]
    fn done_stays_done() {
        let (s, _) = step(State::start(0), Input::Interrupt, &[], 0, &rules());
        for input in [Input::Tick, Input::Interrupt, Input::Applied { ok: false }] {
            assert_eq!(step(s, input, &[], 99, &rules()), (s, Command::Stop));
        }
    }
}
