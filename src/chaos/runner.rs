//! The driver of a run: it starts the watchers and the probe, asks
//! [`phases::step`] what to do at every tick and after every action, does
//! it, and gathers the events. Its effects sit behind seams — the
//! [`Engine`], the [`Prober`] and the [`Clock`] — so that a whole run plays
//! against `FakeEngine` and a [`ScriptedProbe`] on paused Tokio time.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::phases::{self, Command, End, Input, Rules, State};
use super::{apply, preflight, watch, ChaosError, Observed, Phase, Progress, RunOptions};
use crate::engine::Engine;
use crate::lab::{Lab, ScenarioName};
use crate::probe::{Probe, ProbeConfig, ProbeError, ProbeHandle};
use crate::timeline::{Clock, Event, EventKind, Micros, Outcome, Request, Timeline};

/// How often the driver looks at the events (and tells `on_progress`).
const TICK: Duration = Duration::from_millis(50);

/// The probe as the runner sees it: something that, once started, sends
/// each ended request to `sink` as an event on `clock`.
#[async_trait]
pub trait Prober: Send {
    fn start(
        &mut self,
        config: ProbeConfig,
        clock: Clock,
        sink: mpsc::UnboundedSender<Event>,
    ) -> Result<(), ProbeError>;
    /// Stop firing and wait for the requests in flight: every event is sent
    /// (and the sink dropped) when this returns.
    async fn stop(&mut self);
}

/// The real open-loop HTTP probe ([`Probe`]).
#[derive(Default)]
pub struct HttpProbe {
    handle: Option<ProbeHandle>,
}

#[async_trait]
impl Prober for HttpProbe {
    fn start(
        &mut self,
        config: ProbeConfig,
        clock: Clock,
        sink: mpsc::UnboundedSender<Event>,
    ) -> Result<(), ProbeError> {
        self.handle = Some(Probe::start(config, clock, sink)?);
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop().await;
        }
    }
}

/// What a scripted answer is made of: the time the request was sent. The
/// answer, and the web server that gave it (the production shape).
pub type Script = Arc<dyn Fn(Micros) -> (Outcome, Option<String>) + Send + Sync>;

/// A probe that answers from a script instead of a port: one request every
/// `config.interval` on Tokio's clock, answered at once with `script(now)`.
/// For tests (the script can read a `FakeEngine` to play a lab).
pub struct ScriptedProbe {
    script: Script,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ScriptedProbe {
    pub fn new(script: impl Fn(Micros) -> Outcome + Send + Sync + 'static) -> ScriptedProbe {
        Self::with_backend(move |at| (script(at), None))
    }

    /// A script that also names the web server behind each answer.
    pub fn with_backend(
        script: impl Fn(Micros) -> (Outcome, Option<String>) + Send + Sync + 'static,
    ) -> ScriptedProbe {
        ScriptedProbe {
            script: Arc::new(script),
            task: None,
        }
    }
}

#[async_trait]
impl Prober for ScriptedProbe {
    fn start(
        &mut self,
        config: ProbeConfig,
        clock: Clock,
        sink: mpsc::UnboundedSender<Event>,
    ) -> Result<(), ProbeError> {
        if config.interval.is_zero() {
            return Err(ProbeError::ZeroInterval {
                interval: config.interval,
            });
        }
        let script = self.script.clone();
        self.task = Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(config.interval);
            for seq in 0u64.. {
                every.tick().await;
                let at = clock.now();
                let (outcome, backend) = script(at);
                let request = Request {
                    seq,
                    sent: at,
                    done: at,
                    backend,
                    outcome,
                };
                if sink
                    .send(Event {
                        at,
                        kind: EventKind::Request(request),
                    })
                    .is_err()
                {
                    return;
                }
            }
        }));
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// A run with its seams: by default the real probe and a fresh clock.
pub struct Runner {
    engine: Arc<dyn Engine>,
    probe: Box<dyn Prober>,
    clock: Option<Clock>,
    require_steady_baseline: bool,
    check_steady: bool,
}

/// Every event of the run so far, and the counters shown while it goes on.
struct Seen {
    master: String,
    events: Vec<Event>,
    progress: Progress,
}

impl Seen {
    fn push(&mut self, event: Event) {
        if let EventKind::Request(r) = &event.kind {
            self.progress.requests += 1;
            if r.outcome.is_failure() {
                self.progress.failed += 1;
            }
            self.progress.last_node_master = r.outcome.node() == Some(self.master.as_str());
        }
        self.events.push(event);
    }

    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Event>) {
        while let Ok(event) = rx.try_recv() {
            self.push(event);
        }
    }

    fn note(&mut self, clock: &Clock, kind: EventKind) {
        self.push(Event {
            at: clock.now(),
            kind,
        });
    }
}

impl Runner {
    pub fn new(engine: Arc<dyn Engine>) -> Runner {
        Runner {
            engine,
            probe: Box::new(HttpProbe::default()),
            clock: None,
            require_steady_baseline: false,
            check_steady: false,
        }
    }

    /// Before anything else, check every condition of a steady lab (see
    /// `observe::steady`); a lab that fails one gets no fault, and the run
    /// ends with the failed conditions on its timeline.
    pub fn check_steady(mut self, on: bool) -> Runner {
        self.check_steady = on;
        self
    }

    /// Use `probe` instead of the HTTP probe.
    pub fn probe(mut self, probe: impl Prober + 'static) -> Runner {
        self.probe = Box::new(probe);
        self
    }

    /// Stamp events on `clock` (e.g. the one a fake engine records exits on).
    pub fn clock(mut self, clock: Clock) -> Runner {
        self.clock = Some(clock);
        self
    }

    /// End the run before any fault when the baseline never becomes steady
    /// (off: the fault goes ahead and the verdict calls the run invalid).
    pub fn require_steady_baseline(mut self, on: bool) -> Runner {
        self.require_steady_baseline = on;
        self
    }

    /// Runs `scenario` on `lab`; see [`super::run`].
    pub async fn run(
        mut self,
        lab: &Lab,
        scenario: ScenarioName,
        opts: &RunOptions,
        interrupt: impl Future<Output = ()>,
        mut on_progress: impl FnMut(Phase, Progress),
    ) -> Result<Observed, ChaosError> {
        let plan = opts.plan.clone();
        let engine = self.engine.clone();
        preflight(engine.as_ref(), lab).await?;

        let clock = self.clock.unwrap_or_else(Clock::start);
        if self.check_steady {
            let (steadiness, _) = crate::observe::steadiness(engine.as_ref(), lab).await;
            if !steadiness.is_steady() {
                let at = clock.now();
                let events = steadiness
                    .failed()
                    .map(|c| Event {
                        at,
                        kind: EventKind::Unsteady {
                            condition: c.name.to_string(),
                            node: c.node.clone(),
                            detail: c.detail.clone(),
                        },
                    })
                    .collect();
                on_progress(Phase::Done, Progress::default());
                return Ok(Observed {
                    plan,
                    timeline: Timeline { events }.finish(),
                    aborted: false,
                    healed: false,
                });
            }
        }
        let master = lab.master().name.clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let watchers = spawn_watchers(&engine, lab, clock, &tx);
        let started = self.probe.start(
            ProbeConfig {
                url: crate::observe::url(lab),
                interval: opts.probe_interval,
                timeout: opts.probe_timeout,
                pages: crate::render::page_markers(lab),
                lbs: crate::render::lb_markers(lab),
            },
            clock,
            tx,
        );
        if let Err(e) = started {
            // Watchers run until aborted: none may outlive the run.
            for w in &watchers {
                w.abort();
            }
            return Err(e.into());
        }
        let rules = rules(lab, &plan, opts, self.require_steady_baseline);

        let mut seen = Seen {
            master,
            events: Vec::new(),
            progress: Progress::default(),
        };
        let mut state = State::start(clock.now());
        let mut error: Option<ChaosError> = None;
        let mut inputs = VecDeque::new();
        let mut interrupted = false;
        tokio::pin!(interrupt);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let input = match inputs.pop_front() {
                Some(input) => input,
                None => tokio::select! {
                    _ = interrupt.as_mut(), if !interrupted => {
                        interrupted = true;
                        Input::Interrupt
                    }
                    _ = tick.tick() => Input::Tick,
                },
            };
            seen.drain(&mut rx);
            let command;
            (state, command) = phases::step(state, input, &seen.events, clock.now(), &rules);
            on_progress(state.phase, seen.progress);
            let inject = match command {
                Command::Wait => continue,
                Command::Stop => break,
                Command::Inject => true,
                Command::Heal => false,
            };
            if inject {
                seen.note(
                    &clock,
                    EventKind::Note {
                        text: format!("scenario {scenario} on {}", plan.node),
                    },
                );
            }
            let actions = if inject { &plan.inject } else { &plan.heal };
            let work = apply_all(
                engine.as_ref(),
                actions,
                inject,
                scenario,
                &clock,
                &mut seen,
            );
            tokio::pin!(work);
            // Ctrl-C does not cut an action short (half a heal is worse
            // than a late one); it is noted and acted on after.
            let result = loop {
                tokio::select! {
                    result = &mut work => break result,
                    _ = interrupt.as_mut(), if !interrupted => {
                        interrupted = true;
                        inputs.push_back(Input::Interrupt);
                    }
                }
            };
            let ok = result.is_ok();
            if let Err(e) = result {
                // The first failure is the one reported: a heal's error
                // after a failed inject is the inject's consequence.
                error.get_or_insert(e);
            }
            inputs.push_back(Input::Applied { ok });
        }

        self.probe.stop().await;
        for w in &watchers {
            w.abort();
        }
        for w in watchers {
            let _ = w.await;
        }
        // Every sender is gone or stopped: take what is left.
        rx.close();
        seen.drain(&mut rx);
        on_progress(Phase::Done, seen.progress);
        match (state.end, error) {
            (Some(End::InjectFailed | End::HealFailed), Some(e)) => Err(e),
            (end, _) => Ok(Observed {
                plan,
                timeline: Timeline {
                    events: seen.events,
                }
                .finish(),
                aborted: end == Some(End::Aborted),
                healed: state.healed,
            }),
        }
    }
}

/// A VIP and a keepalived watcher per node, and a pool watcher per node
/// running HAProxy, sending on `tx` until aborted.
fn spawn_watchers(
    engine: &Arc<dyn Engine>,
    lab: &Lab,
    clock: Clock,
    tx: &mpsc::UnboundedSender<Event>,
) -> Vec<tokio::task::JoinHandle<()>> {
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
        if node.runs_haproxy() {
            watchers.push(tokio::spawn(watch::watch_pool(
                engine.clone(),
                container.clone(),
                node.name.clone(),
                clock,
                tx.clone(),
            )));
        }
        watchers.push(tokio::spawn(watch::watch_vrrp(
            engine.clone(),
            container,
            node.name.clone(),
            clock,
            tx.clone(),
        )));
    }
    watchers
}

/// The phases' limits for `plan` on `lab`: the baseline watched for
/// `opts.baseline` (up to 5 s more for the master's page), the fault kept
/// at least 1 s and until a backup served for 1 s (at most the budget's
/// `observe`, 8 s by default), the recovery watched until the expected
/// node served for 0.5 s (at most `recover_within` + 1 s).
fn rules(lab: &Lab, plan: &super::Plan, opts: &RunOptions, require_steady_baseline: bool) -> Rules {
    let master = lab.master().name.clone();
    Rules {
        baseline_min: opts.baseline,
        baseline_max: opts.baseline + Duration::from_secs(5),
        require_steady_baseline,
        observe_min: Duration::from_secs(1),
        observe_max: opts.budget.observe.unwrap_or(Duration::from_secs(8)),
        switch_to: if plan.expect_switch {
            lab.backups().iter().map(|n| n.name.clone()).collect()
        } else {
            Vec::new()
        },
        switch_span: Duration::from_secs(1),
        heal: opts.heal,
        recovery_min: Duration::from_millis(500),
        recovery_max: opts
            .budget
            .recover_within
            .unwrap_or(Duration::from_secs(20))
            + Duration::from_secs(1),
        recover_to: if plan.expect_failback {
            vec![master.clone()]
        } else {
            lab.spec().nodes.iter().map(|n| n.name.clone()).collect()
        },
        recovery_span: Duration::from_millis(500),
        master,
    }
}

/// Applies `actions` in order, each stamped in the timeline as a fault or a
/// heal just before it is called. A fault stops at its first failure; a
/// heal tries every action and returns the first failure.
async fn apply_all(
    engine: &dyn Engine,
    actions: &[super::Action],
    inject: bool,
    scenario: ScenarioName,
    clock: &Clock,
    seen: &mut Seen,
) -> Result<(), ChaosError> {
    let mut first = None;
    for action in actions {
        let described = action.describe();
        seen.note(
            clock,
            if inject {
                EventKind::Fault {
                    action: described.clone(),
                }
            } else {
                EventKind::Heal {
                    action: described.clone(),
                }
            },
        );
        if let Err(source) = apply(engine, action).await {
            let e = if inject {
                ChaosError::Inject {
                    scenario,
                    action: described,
                    source,
                }
            } else {
                ChaosError::Heal {
                    scenario,
                    action: described,
                    source,
                }
            };
            if inject {
                return Err(e);
            }
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
