//! Watchers beside the probe: which nodes hold the VIP, and keepalived's
//! state, each as events on the run's clock.
//!
//! VIP ownership is streamed from `ip -o monitor address` inside each node
//! (an event the moment the kernel adds or drops the address) rather than
//! polled with `docker exec`, which costs tens of milliseconds a sample
//! here. A snapshot (`ip -o addr show`) after each (re)attach gives the
//! starting value. keepalived's transitions come from its own log lines.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::engine::{ContainerState, Engine, EngineError, RunState};
use crate::observe;
use crate::timeline::{Clock, Event, EventKind};

/// Longest a watcher process may live inside a node, so one left behind by
/// a dropped connection ends on its own.
const WATCH_LIFETIME_S: u32 = 3600;
const RETRY: Duration = Duration::from_millis(50);

// Node output is read by `observe`, once for the whole crate; these are
// the names chaos has always used for it.
pub use crate::observe::{vip_change, vrrp_state};

/// The state of container `name`, `None` when it does not exist.
pub async fn state(engine: &dyn Engine, name: &str) -> Result<Option<ContainerState>, EngineError> {
    Ok(engine.run_state(name).await?.map(|r| r.state))
}

fn send(tx: &UnboundedSender<Event>, clock: &Clock, kind: EventKind) {
    let _ = tx.send(Event {
        at: clock.now(),
        kind,
    });
}

/// Follows VIP ownership on one node until the task is aborted.
pub async fn watch_vip(
    engine: Arc<dyn Engine>,
    container: String,
    node: String,
    interface: String,
    vip: Ipv4Addr,
    clock: Clock,
    tx: UnboundedSender<Event>,
) {
    send(&tx, &clock, EventKind::WatchStart { node: node.clone() });
    let mut holds: Option<bool> = None;
    // `at`: when the change happened, if known better than "now".
    let set_at = |now: bool, holds: &mut Option<bool>, at: Option<u64>| {
        if *holds != Some(now) {
            *holds = Some(now);
            let _ = tx.send(Event {
                at: at.unwrap_or_else(|| clock.now()),
                kind: EventKind::Vip {
                    node: node.clone(),
                    holds: now,
                },
            });
        }
    };
    let set = |now: bool, holds: &mut Option<bool>| set_at(now, holds, None);
    // When the node's monitor stream last ended: a container that died
    // took its address with it then, not when the engine was next asked.
    let mut ended: Option<u64> = None;
    // Last time the container was seen running: an exit recorded before it
    // belongs to an earlier life.
    let mut seen_running: Option<u64> = None;
    loop {
        let run = engine.run_state(&container).await;
        match run.as_ref().map(|r| r.map(|r| r.state)) {
            Ok(Some(ContainerState::Running)) => {
                ended = None;
                seen_running = Some(clock.now());
            }
            Ok(Some(ContainerState::Paused)) => {
                // Frozen processes, live kernel: the address stays configured.
                tokio::time::sleep(RETRY).await;
                continue;
            }
            // Stopped, gone or unreadable: its network namespace holds nothing.
            _ => {
                // The engine's record of the exit beats when we noticed it
                // (the monitor's stream ends ~0.1 s after a SIGKILL).
                let died = match &run {
                    Ok(Some(RunState {
                        finished_at: Some(t),
                        ..
                    })) => {
                        Some(clock.from_wall(*t)).filter(|d| seen_running.is_some_and(|r| *d >= r))
                    }
                    _ => None,
                };
                let seen = ended.take();
                let at = match (died, seen) {
                    (Some(d), Some(s)) => Some(d.min(s)),
                    (d, s) => d.or(s),
                };
                set_at(false, &mut holds, at);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        }
        let lifetime = WATCH_LIFETIME_S.to_string();
        let mut monitor = vec!["timeout", lifetime.as_str()];
        monitor.extend(observe::addr_monitor(&interface));
        let Ok(mut lines) = engine.exec_lines(&container, &monitor).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        // Snapshot after attaching, so no change falls between the two.
        if let Ok(out) = engine
            .exec(&container, &observe::addr_show(&interface))
            .await
        {
            set(observe::lists_vip(&out.stdout, vip), &mut holds);
        }
        while let Some(line) = lines.next().await {
            let Ok(line) = line else { break };
            if let Some(now) = vip_change(&line, vip) {
                set(now, &mut holds);
            }
        }
        // The stream ended: the container stopped, or the watcher was cut.
        ended = Some(clock.now());
    }
}

/// Follows keepalived's state transitions on one node until aborted.
pub async fn watch_vrrp(
    engine: Arc<dyn Engine>,
    container: String,
    node: String,
    clock: Clock,
    tx: UnboundedSender<Event>,
) {
    loop {
        if !matches!(
            state(engine.as_ref(), &container).await,
            Ok(Some(ContainerState::Running))
        ) {
            tokio::time::sleep(RETRY).await;
            continue;
        }
        // `tail 0`: only lines written from now on.
        let Ok(mut lines) = engine.logs(&container, Some(0), true).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        while let Some(line) = lines.next().await {
            let Ok(line) = line else { break };
            if let Some(state) = vrrp_state(&line) {
                send(
                    &tx,
                    &clock,
                    EventKind::Vrrp {
                        node: node.clone(),
                        state,
                    },
                );
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}
