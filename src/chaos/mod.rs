//! Chaos: inject a scenario's fault into a running lab, watch it through the
//! probe and the node watchers, heal it, and hand back the timeline.
//!
//! The runner only observes; judging the timeline is `verdict`'s job.

pub mod phases;
mod plan;
mod runner;
pub mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use plan::{plan, Action, Plan, PARTITION_COMMENT};
pub use runner::{HttpProbe, Prober, Runner, ScriptedProbe};

use crate::engine::{ContainerState, Engine, EngineError};
use crate::lab::{Budget, Lab, ScenarioName};
use crate::timeline::Timeline;

#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("lab `{lab}` is not up: {detail}\n  fix: run `halab up --lab {file}` first")]
    NotUp {
        lab: String,
        file: String,
        detail: String,
    },
    #[error("could not inject `{scenario}` ({action})\n  the lab was healed as far as possible; check it with `halab status`")]
    Inject {
        scenario: ScenarioName,
        action: String,
        #[source]
        source: ActionError,
    },
    #[error("could not heal `{scenario}` ({action})\n  fix: `halab down` then `halab up` restores the lab")]
    Heal {
        scenario: ScenarioName,
        action: String,
        #[source]
        source: ActionError,
    },
    #[error("the probe could not start")]
    Probe(#[from] crate::probe::ProbeError),
    #[error(transparent)]
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
    /// What is done and expected (the scenario's options applied).
    pub plan: Plan,
}

impl RunOptions {
    pub fn for_lab(lab: &Lab, scenario: ScenarioName) -> RunOptions {
        RunOptions {
            plan: plan(lab, scenario),
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
    /// Ctrl-C cut the run short (a fault that was injected was healed).
    pub aborted: bool,
    /// The heal's actions were applied.
    pub healed: bool,
}

/// The phases of a run, in order (see [`phases`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Watching the lab before the fault.
    Baseline,
    /// Applying the fault's actions.
    Fault,
    /// Watching the fault's effect.
    Observe,
    /// Applying the heal's actions.
    Heal,
    /// Watching the lab come back.
    Recovery,
    Done,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Baseline => "baseline",
            Phase::Fault => "injecting the fault",
            Phase::Observe => "fault injected, watching",
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

/// Runs `scenario` on `lab`. `interrupt` resolving (Ctrl-C) ends the run as
/// aborted, the fault healed if one was injected (none is after a Ctrl-C in
/// the baseline). `on_progress` is told of each phase change
/// and of progress every tick. The phases are decided by [`phases::step`];
/// [`Runner`] gives the same run other seams (a scripted probe, a clock).
pub async fn run(
    engine: Arc<dyn Engine>,
    lab: &Lab,
    scenario: ScenarioName,
    opts: &RunOptions,
    interrupt: impl Future<Output = ()>,
    on_progress: impl FnMut(Phase, Progress),
) -> Result<Observed, ChaosError> {
    Runner::new(engine)
        .check_steady(true)
        .run(lab, scenario, opts, interrupt, on_progress)
        .await
}

/// Every member (nodes, web servers, the front proxy when any) must be
/// running before a fault makes sense.
async fn preflight(engine: &dyn Engine, lab: &Lab) -> Result<(), ChaosError> {
    for member in lab.members() {
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
        Action::UpdateCpu {
            container,
            millicpus,
        } => Ok(engine.update_cpu(container, *millicpus).await?),
        Action::Wait { duration } => {
            tokio::time::sleep(*duration).await;
            Ok(())
        }
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

#[cfg(test)]
mod tests;
