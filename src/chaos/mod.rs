//! Chaos: inject a scenario's fault into a running lab, watch it through the
//! probe and the node watchers, heal it, and hand back the timeline.
//!
//! The runner only observes; judging the timeline is `verdict`'s job.

mod plan;
pub mod watch;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

pub use plan::{plan, Action, Plan, PARTITION_COMMENT};

use crate::engine::{ContainerState, Engine, EngineError};
use crate::lab::{Budget, Lab, ScenarioName};
use crate::probe::{Probe, ProbeConfig};
use crate::timeline::{Clock, Event, EventKind, Outcome, Timeline};

#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("lab `{lab}` is not up: {detail}\n  fix: run `halab up --lab {file}` first")]
    NotUp {
        lab: String,
        file: String,
        detail: String,
    },
    #[error("could not inject `{scenario}` ({action}): {source}\n  the lab was healed as far as possible; check it with `halab status`")]
    Inject {
        scenario: ScenarioName,
        action: String,
        #[source]
        source: ActionError,
    },
    #[error("could not heal `{scenario}` ({action}): {source}\n  fix: `halab down` then `halab up` restores the lab")]
    Heal {
        scenario: ScenarioName,
        action: String,
        #[source]
        source: ActionError,
    },
    #[error("the probe could not start: {0}")]
    Probe(#[from] crate::probe::ProbeError),
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
}

/// Why one action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("`{command}` in `{container}` exited with {exit_code}: {output}")]
    Exit {
        container: String,
        command: String,
        exit_code: i64,
        output: String,
    },
}

/// How one scenario run is done.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub probe_interval: Duration,
    pub probe_timeout: Duration,
    /// Heal at the end (otherwise the fault stays).
    pub heal: bool,
    /// Watch at least this long before the fault.
    pub baseline: Duration,
    pub budget: Budget,
}

impl RunOptions {
    pub fn for_lab(lab: &Lab, scenario: ScenarioName) -> RunOptions {
        RunOptions {
            probe_interval: lab.spec().probe.interval,
            probe_timeout: lab.spec().probe.timeout,
            heal: true,
            baseline: Duration::from_millis(1000),
            budget: lab.budget(scenario),
        }
    }
}

/// What a run saw.
#[derive(Debug, Clone)]
pub struct Observed {
    pub plan: Plan,
    pub timeline: Timeline,
    /// Ctrl-C cut the run short (the fault was healed).
    pub aborted: bool,
    pub healed: bool,
}

/// Phase names shown while a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Baseline,
    Fault,
    Heal,
    Recovery,
    Done,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Baseline => "baseline",
            Phase::Fault => "fault injected, watching",
            Phase::Heal => "healing",
            Phase::Recovery => "healed, watching recovery",
            Phase::Done => "done",
        }
    }
}

/// Live counters for a progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub requests: u64,
    pub failed: u64,
    pub last_node_master: bool,
}

/// Collects every event and keeps what the phase logic asks about.
#[derive(Default)]
struct Collected {
    events: Vec<Event>,
    progress: Progress,
}

/// Runs `scenario` on `lab`. `interrupt` resolving (Ctrl-C) heals the fault
/// and ends the run as aborted. `on_phase` is told of each phase change and
/// of progress every tick.
pub async fn run(
    engine: Arc<dyn Engine>,
    lab: &Lab,
    scenario: ScenarioName,
    opts: &RunOptions,
    interrupt: impl Future<Output = ()>,
    mut on_progress: impl FnMut(Phase, Progress),
) -> Result<Observed, ChaosError> {
    let plan = plan(lab, scenario);
    preflight(engine.as_ref(), lab).await?;

    let clock = Clock::start();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let collected = Arc::new(Mutex::new(Collected::default()));
    let master = lab.master().name.clone();
    let collector = {
        let collected = collected.clone();
        let master = master.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let mut c = collected.lock().expect("collector lock");
                if let EventKind::Request(r) = &event.kind {
                    c.progress.requests += 1;
                    if r.outcome.is_failure() {
                        c.progress.failed += 1;
                    }
                    c.progress.last_node_master = r.outcome.node() == Some(master.as_str());
                }
                c.events.push(event);
            }
        })
    };

    let spec = lab.spec();
    let mut watchers = Vec::new();
    for node in &spec.nodes {
        let container = lab.container_name(&node.name);
        watchers.push(tokio::spawn(watch::watch_vip(
            engine.clone(),
            container.clone(),
            node.name.clone(),
            spec.vrrp.interface.clone(),
            lab.vip_addr(),
            clock,
            tx.clone(),
        )));
        watchers.push(tokio::spawn(watch::watch_vrrp(
            engine.clone(),
            container,
            node.name.clone(),
            clock,
            tx.clone(),
        )));
    }
    let probe = Probe::start(
        ProbeConfig {
            url: format!("http://127.0.0.1:{}/", spec.proxy.port),
            interval: opts.probe_interval,
            timeout: opts.probe_timeout,
            pages: crate::render::page_markers(lab),
        },
        clock,
        tx.clone(),
    )?;

    tokio::pin!(interrupt);
    let mut aborted = false;
    let mut healed = false;
    let backups: Vec<String> = lab.backups().iter().map(|n| n.name.clone()).collect();

    // Baseline: the master's page must be seen before the fault.
    let ok = watch_until(
        &collected,
        &mut interrupt,
        opts.baseline,
        opts.baseline + Duration::from_secs(5),
        |c| c.progress.last_node_master,
        Phase::Baseline,
        &mut on_progress,
    )
    .await;
    aborted |= ok.is_none();

    let mut fault_err = None;
    if !aborted {
        send(
            &tx,
            &clock,
            EventKind::Note {
                text: format!("scenario {scenario} on {}", plan.node),
            },
        );
        for action in &plan.inject {
            send(
                &tx,
                &clock,
                EventKind::Fault {
                    action: action.describe(),
                },
            );
            if let Err(source) = apply(engine.as_ref(), action).await {
                fault_err = Some(ChaosError::Inject {
                    scenario,
                    action: action.describe(),
                    source,
                });
                break;
            }
        }
        if fault_err.is_none() {
            let observe = opts.budget.observe.unwrap_or(Duration::from_secs(8));
            let expect_switch = plan.expect_switch;
            let fault_at = events_len(&collected);
            let done = watch_until(
                &collected,
                &mut interrupt,
                // Leave the fault in place for at least a second so a
                // switch-and-back is seen, then stop early once a backup
                // has served steadily.
                Duration::from_secs(1),
                observe,
                |c| {
                    expect_switch
                        && steady_on(&c.events[fault_at..], &backups, Duration::from_secs(1))
                },
                Phase::Fault,
                &mut on_progress,
            )
            .await;
            aborted |= done.is_none();
        }
    }

    if opts.heal || aborted || fault_err.is_some() {
        on_progress(Phase::Heal, progress(&collected));
        for action in &plan.heal {
            send(
                &tx,
                &clock,
                EventKind::Heal {
                    action: action.describe(),
                },
            );
            if let Err(source) = apply(engine.as_ref(), action).await {
                if fault_err.is_none() {
                    // Only a fault that was fully injected must heal cleanly.
                    fault_err = Some(ChaosError::Heal {
                        scenario,
                        action: action.describe(),
                        source,
                    });
                }
            }
        }
        healed = true;
        if !aborted && fault_err.is_none() {
            let recover = opts
                .budget
                .recover_within
                .unwrap_or(Duration::from_secs(20));
            let heal_at = events_len(&collected);
            let want: Vec<String> = if plan.expect_failback {
                vec![master.clone()]
            } else {
                lab.spec().nodes.iter().map(|n| n.name.clone()).collect()
            };
            let done = watch_until(
                &collected,
                &mut interrupt,
                Duration::from_millis(500),
                recover + Duration::from_secs(1),
                |c| steady_on(&c.events[heal_at..], &want, Duration::from_millis(500)),
                Phase::Recovery,
                &mut on_progress,
            )
            .await;
            aborted |= done.is_none();
        }
    }

    let _ = probe.stop().await;
    for w in &watchers {
        w.abort();
    }
    drop(tx);
    for w in watchers {
        let _ = w.await;
    }
    let _ = collector.await;
    on_progress(Phase::Done, progress(&collected));
    if let Some(err) = fault_err {
        return Err(err);
    }
    let events = std::mem::take(&mut collected.lock().expect("collector lock").events);
    Ok(Observed {
        plan,
        timeline: Timeline { events }.finish(),
        aborted,
        healed,
    })
}

fn send(tx: &mpsc::UnboundedSender<Event>, clock: &Clock, kind: EventKind) {
    let _ = tx.send(Event {
        at: clock.now(),
        kind,
    });
}

fn events_len(c: &Mutex<Collected>) -> usize {
    c.lock().expect("collector lock").events.len()
}

fn progress(c: &Mutex<Collected>) -> Progress {
    c.lock().expect("collector lock").progress
}

/// True when the last `span` of answers (and at least one) all came from
/// `nodes`' pages, with no failure among them.
fn steady_on(events: &[Event], nodes: &[String], span: Duration) -> bool {
    let requests: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request(r) => Some(r),
            _ => None,
        })
        .collect();
    let Some(last) = requests.iter().map(|r| r.done).max() else {
        return false;
    };
    let from = last.saturating_sub(span.as_micros() as u64);
    let window: Vec<_> = requests.iter().filter(|r| r.done >= from).collect();
    let first_done = requests.iter().map(|r| r.done).min().unwrap_or(last);
    last - first_done >= span.as_micros() as u64
        && !window.is_empty()
        && window.iter().all(|r| match &r.outcome {
            Outcome::Page { node } => nodes.contains(node),
            _ => false,
        })
}

/// Waits at least `min` and until `done` holds, at most `max`. `None` when
/// interrupted, `Some(met)` otherwise.
async fn watch_until(
    collected: &Mutex<Collected>,
    interrupt: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    min: Duration,
    max: Duration,
    done: impl Fn(&Collected) -> bool,
    phase: Phase,
    on_progress: &mut impl FnMut(Phase, Progress),
) -> Option<bool> {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = interrupt.as_mut() => return None,
            _ = tick.tick() => {}
        }
        let elapsed = start.elapsed();
        let (met, p) = {
            let c = collected.lock().expect("collector lock");
            (done(&c), c.progress)
        };
        on_progress(phase, p);
        if elapsed >= max {
            return Some(met);
        }
        if elapsed >= min && met {
            return Some(true);
        }
    }
}

/// Every node and the proxy must be running before a fault makes sense.
async fn preflight(engine: &dyn Engine, lab: &Lab) -> Result<(), ChaosError> {
    let spec = lab.spec();
    let members = spec
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .chain(std::iter::once(spec.proxy.name.as_str()));
    for member in members {
        let name = lab.container_name(member);
        match watch::state(engine, &name).await? {
            Some(ContainerState::Running) => {}
            other => {
                return Err(ChaosError::NotUp {
                    lab: lab.name().to_string(),
                    file: lab.source().display().to_string(),
                    detail: match other {
                        None => format!("container `{name}` does not exist"),
                        Some(s) => format!("container `{name}` is {s:?}"),
                    },
                })
            }
        }
    }
    Ok(())
}

/// Carries out one action on the engine.
pub async fn apply(engine: &dyn Engine, action: &Action) -> Result<(), ActionError> {
    match action {
        Action::Stop { container, grace } => Ok(engine.stop(container, *grace).await?),
        Action::Kill { container, signal } => Ok(engine.kill(container, signal).await?),
        Action::Pause { container } => Ok(engine.pause(container).await?),
        Action::Unpause { container } => Ok(engine.unpause(container).await?),
        Action::Start { container } => Ok(engine.start(container).await?),
        Action::Exec { container, argv } => {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = engine.exec(container, &argv).await?;
            if out.exit_code == 0 {
                Ok(())
            } else {
                Err(ActionError::Exit {
                    container: container.clone(),
                    command: argv.join(" "),
                    exit_code: out.exit_code,
                    output: format!("{}{}", out.stdout, out.stderr),
                })
            }
        }
    }
}
