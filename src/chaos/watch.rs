//! Watchers beside the probe: which nodes hold the VIP, and keepalived's
//! state, each as events on the run's clock.
//!
//! VIP ownership is streamed from `ip -ts -o monitor address` inside each
//! node (an event the moment the kernel adds or drops the address) rather
//! than polled with `docker exec`, which costs tens of milliseconds a
//! sample here. A snapshot (`ip -o addr show`) after each (re)attach gives
//! the starting value. keepalived's transitions come from its own log
//! lines, read with the engine's stamps.
//!
//! Events are placed at the time their source stamped on them (the
//! monitor's µs wall clock, the engine's time of the log write), mapped
//! onto the run's clock, not when their line reached halab: lines come
//! through `docker exec`/`docker logs` tens of ms late, enough to put the
//! effect (clients see the backup) before its cause (VRRP moved).

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
pub use crate::observe::{vip_change, vip_change_at, vrrp_state, vrrp_state_at};

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
            if let Some((now, stamp)) = vip_change_at(&line, vip) {
                set_at(now, &mut holds, Some(clock.stamped(stamp)));
            }
        }
        // The stream ended: the container stopped, or the watcher was cut.
        ended = Some(clock.now());
    }
}

/// Follows `container`'s log from now on (`tail 0`) across restarts until
/// aborted, handing each stamped line to `on_line`.
async fn follow_log(engine: &dyn Engine, container: &str, mut on_line: impl FnMut(&str)) {
    loop {
        if !matches!(
            state(engine, container).await,
            Ok(Some(ContainerState::Running))
        ) {
            tokio::time::sleep(RETRY).await;
            continue;
        }
        let Ok(mut lines) = engine.logs_stamped(container, Some(0), true).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        while let Some(line) = lines.next().await {
            let Ok(line) = line else { break };
            on_line(&line);
        }
        tokio::time::sleep(RETRY).await;
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
    follow_log(engine.as_ref(), &container, |line| {
        if let Some((state, stamp)) = vrrp_state_at(line) {
            let _ = tx.send(Event {
                at: clock.stamped(stamp),
                kind: EventKind::Vrrp {
                    node: node.clone(),
                    state,
                },
            });
        }
    })
    .await
}

/// Follows a load balancer's HAProxy taking web servers out of its pool
/// and back (its log's server state lines) until aborted. HAProxy may say
/// one change twice (on stderr and through `log stdout`): only changes of
/// a server's state are sent.
pub async fn watch_pool(
    engine: Arc<dyn Engine>,
    container: String,
    lb: String,
    clock: Clock,
    tx: UnboundedSender<Event>,
) {
    let mut known: std::collections::BTreeMap<String, bool> = Default::default();
    follow_log(engine.as_ref(), &container, |line| {
        let Some((change, stamp)) = observe::pool_change_at(line) else {
            return;
        };
        if known.insert(change.server.clone(), change.up) == Some(change.up) {
            return;
        }
        let _ = tx.send(Event {
            at: clock.stamped(stamp),
            kind: EventKind::Pool {
                lb: lb.clone(),
                server: change.server,
                up: change.up,
                reason: change.reason,
            },
        });
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::{ContainerSpec, FakeEngine, Labels};
    use crate::timeline::{Micros, VrrpState};

    const MS: Micros = 1000;
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);

    /// A running container `a` on a fake engine that holds streams open and
    /// records on `clock`.
    async fn node(clock: Clock) -> Arc<FakeEngine> {
        let e = Arc::new(FakeEngine::new());
        e.use_clock(clock);
        e.hold_streams();
        e.add_image("img", Labels::new());
        e.add_network("net", "10.0.0.0/24".parse().unwrap(), Labels::new());
        e.create_container(&ContainerSpec {
            name: "a".into(),
            image: "img".into(),
            env: BTreeMap::new(),
            labels: Labels::new(),
            network: "net".into(),
            ip: None,
            cap_add: vec![],
            publish: None,
        })
        .await
        .unwrap();
        e.start("a").await.unwrap();
        e
    }

    /// `ip -ts -o monitor address` as printed at `at` on `clock`.
    fn monitor_line(clock: &Clock, at: Micros, deleted: bool) -> String {
        let stamp = humantime::format_rfc3339_micros(clock.wall_at(at)).to_string();
        format!(
            "[{}] {}2: eth0    inet {VIP}/32 scope global eth0",
            stamp.trim_end_matches('Z'),
            if deleted { "Deleted " } else { "" }
        )
    }

    fn at_of(events: &[Event], f: impl Fn(&EventKind) -> bool) -> Vec<Micros> {
        events.iter().filter(|e| f(&e.kind)).map(|e| e.at).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_vip_change_is_placed_at_the_monitor_s_stamp_not_its_arrival() {
        let clock = Clock::start();
        let e = node(clock).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(watch_vip(
            e.clone(),
            "a".into(),
            "n".into(),
            "eth0".into(),
            VIP,
            clock,
            tx,
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Added at +40 ms, read at +100 ms (a slow exec stream).
        tokio::time::sleep(Duration::from_millis(90)).await;
        e.exec_line("a", &monitor_line(&clock, 40 * MS, false));
        // A stamp from another zone (hours off) falls back to its arrival.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let wrong = format!("[2000-01-01T00:00:00.000001] Deleted 2: eth0    inet {VIP}/32");
        e.exec_line("a", &wrong);
        // Unstamped: at its arrival.
        tokio::time::sleep(Duration::from_millis(100)).await;
        e.exec_line("a", &format!("2: eth0    inet {VIP}/32 scope global eth0"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        task.abort();
        let mut events = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            events.push(ev);
        }
        let vip = |holds: bool| {
            at_of(
                &events,
                move |k| matches!(k, EventKind::Vip { holds: h, .. } if *h == holds),
            )
        };
        // The snapshot (empty) said "not held" at attach; then the changes.
        // The stamp has µs, the run's origin ns: 1 µs of rounding.
        let added = vip(true);
        assert_eq!(added.len(), 2, "{events:?}");
        assert!(added[0].abs_diff(40 * MS) <= 1, "{events:?}");
        assert_eq!(added[1], 300 * MS, "{events:?}");
        assert_eq!(vip(false).len(), 2, "{events:?}");
        assert_eq!(vip(false)[1], 200 * MS, "{events:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_keepalived_transition_is_placed_at_the_engine_s_stamp() {
        let clock = Clock::start();
        let e = node(clock).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(watch_vrrp(e.clone(), "a".into(), "n".into(), clock, tx));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Written at +60 ms, reaching the follower only now.
        e.log_line_at(
            "a",
            "Fri Nov 27 10:32:50 2026: (VI_1) Entering MASTER STATE",
            clock.wall_at(60 * MS),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        task.abort();
        let ev = rx.try_recv().unwrap();
        assert_eq!(
            ev,
            Event {
                at: 60 * MS,
                kind: EventKind::Vrrp {
                    node: "n".into(),
                    state: VrrpState::Master
                }
            }
        );
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_pool_change_is_sent_once_at_the_engine_s_stamp() {
        let clock = Clock::start();
        let e = node(clock).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(watch_pool(e.clone(), "a".into(), "lb1".into(), clock, tx));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let down = "Server web/web1 is DOWN, reason: Layer4 timeout, check duration: 501ms. 2 active and 0 backup servers left.";
        // The same change on stderr and through `log stdout`.
        e.log_line_at(
            "a",
            &format!("[WARNING]  (8) : {down}"),
            clock.wall_at(70 * MS),
        );
        e.log_line_at(
            "a",
            &format!("<129>Nov 27 14:10:02 haproxy[8]: {down}"),
            clock.wall_at(71 * MS),
        );
        e.log_line_at(
            "a",
            "[NOTICE]   (1) : New worker (8) forked",
            clock.wall_at(80 * MS),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        task.abort();
        let ev = rx.try_recv().unwrap();
        assert_eq!(
            ev,
            Event {
                at: 70 * MS,
                kind: EventKind::Pool {
                    lb: "lb1".into(),
                    server: "web1".into(),
                    up: false,
                    reason: "Layer4 timeout".into()
                }
            }
        );
        assert!(rx.try_recv().is_err());
    }
}
