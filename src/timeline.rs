//! One stream of events on one monotonic clock: what a scenario run saw.
//!
//! The probe, the fault injector and the VIP/VRRP watchers all append here;
//! the verdict, the run store and every report only read it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Microseconds since the run's origin (its `Clock` was made).
pub type Micros = u64;

pub fn micros(d: Duration) -> Micros {
    d.as_micros() as Micros
}

pub fn duration(us: Micros) -> Duration {
    Duration::from_micros(us)
}

/// The longest a stamped line may take to reach halab and still be placed
/// at its stamp. Lines arrive within milliseconds even on a loaded machine;
/// a stamp hours old means the source's clock speaks another time zone.
pub const STAMP_MAX_LAG: Duration = Duration::from_secs(60);

/// The run's monotonic clock. Every event's time is read from one of these.
///
/// It reads Tokio's clock, which is the system's monotonic clock except in
/// tests that pause time: there a whole chaos run plays on virtual time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
    /// The wall clock at `origin`, to place instants the engine reports.
    wall: std::time::SystemTime,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            origin: tokio::time::Instant::now().into_std(),
            wall: std::time::SystemTime::now(),
        }
    }

    /// A wall-clock instant (e.g. a container's exit as the engine recorded
    /// it) on this clock; before the origin reads as 0.
    pub fn from_wall(&self, t: std::time::SystemTime) -> Micros {
        t.duration_since(self.wall).map(micros).unwrap_or(0)
    }

    /// The wall-clock instant of `at` (the inverse of [`Clock::from_wall`]),
    /// e.g. for a fake engine that records exits as Docker does.
    pub fn wall_at(&self, at: Micros) -> std::time::SystemTime {
        self.wall + duration(at)
    }

    /// Where to place an event whose source stamped it `wall` (the kernel,
    /// the engine) and that was read just now: at its own time when that is
    /// credible, else now. A stamp cannot be later than its reading (a few
    /// µs of disagreement between the wall and monotonic clocks are cut
    /// off); one older than [`STAMP_MAX_LAG`] is taken for another time
    /// zone or clock, not for a slow reader.
    pub fn stamped(&self, wall: Option<std::time::SystemTime>) -> Micros {
        let now = self.now();
        let Some(wall) = wall else { return now };
        // Before the origin: not this run's, or a wrong clock.
        if wall < self.wall {
            return now;
        }
        let at = self.from_wall(wall);
        if at > now {
            // The future: a zone east of UTC, or the few µs the two clocks
            // disagree by; either way `now` is the best bound.
            return now;
        }
        if now - at > micros(STAMP_MAX_LAG) {
            return now;
        }
        at
    }

    pub fn now(&self) -> Micros {
        self.at(tokio::time::Instant::now().into_std())
    }

    pub fn at(&self, instant: std::time::Instant) -> Micros {
        micros(instant.saturating_duration_since(self.origin))
    }
}

/// What one probe request got back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// HTTP 200 with the page of this node.
    Page { node: String },
    /// HTTP 200 with a body that is no node's page.
    UnknownPage,
    /// Any non-200 status (HAProxy's 503 when no server is up).
    Http { status: u16 },
    /// The connection was refused or reset.
    Connect { error: String },
    /// No answer within the probe's timeout.
    Timeout,
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Page { .. })
    }

    pub fn node(&self) -> Option<&str> {
        match self {
            Outcome::Page { node } => Some(node),
            _ => None,
        }
    }
}

/// One probe request: fired at `sent`, answered (or given up) at `done`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub seq: u64,
    pub sent: Micros,
    pub done: Micros,
    pub outcome: Outcome,
    /// In the production shape, the web server whose page answered (the
    /// `outcome`'s node is then the load balancer that carried it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

impl Request {
    pub fn latency(&self) -> Duration {
        duration(self.done.saturating_sub(self.sent))
    }
}

/// keepalived's view of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The fault's injection started (stamped just before the call).
    Fault { action: String },
    /// The fault was undone.
    Heal { action: String },
    /// A probe request (timed by `Request::sent`/`done`; `at` = `done`).
    Request(Request),
    /// A node gained (`holds: true`) or lost the VIP.
    Vip { node: String, holds: bool },
    /// keepalived on a node entered a state.
    Vrrp { node: String, state: VrrpState },
    /// Ownership watching started on a node (its first sample is a `Vip`).
    WatchStart { node: String },
    /// A load balancer's HAProxy put a web server into its pool (`up`) or
    /// took it out, as its own log says, with HAProxy's reason.
    Pool {
        lb: String,
        server: String,
        up: bool,
        reason: String,
    },
    /// Something worth showing beside the timeline (a log line, a warning).
    Note { text: String },
    /// A condition of a steady lab that failed before the fault (see
    /// `observe::steady`): the run then injects nothing.
    Unsteady {
        condition: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Micros,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// All events of a run, kept in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub events: Vec<Event>,
}

impl Timeline {
    pub fn push(&mut self, at: Micros, kind: EventKind) {
        self.events.push(Event { at, kind });
    }

    /// Sort by time; equal times keep insertion order.
    pub fn finish(mut self) -> Timeline {
        self.events.sort_by_key(|e| e.at);
        self
    }

    pub fn requests(&self) -> impl Iterator<Item = &Request> {
        self.events.iter().filter_map(|e| match &e.kind {
            EventKind::Request(r) => Some(r),
            _ => None,
        })
    }

    pub fn first_fault(&self) -> Option<Micros> {
        self.events.iter().find_map(|e| match e.kind {
            EventKind::Fault { .. } => Some(e.at),
            _ => None,
        })
    }

    pub fn first_heal(&self) -> Option<Micros> {
        self.events.iter().find_map(|e| match e.kind {
            EventKind::Heal { .. } => Some(e.at),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stamp_is_used_when_credible() {
        let clock = Clock::start();
        tokio::time::advance(Duration::from_millis(500)).await;
        let now = clock.now();
        assert_eq!(now, 500_000);
        // Its own time: before its reading.
        assert_eq!(clock.stamped(Some(clock.wall_at(120_000))), 120_000);
        assert_eq!(clock.stamped(None), now);
        // Later than its reading (a zone east of UTC): now.
        assert_eq!(clock.stamped(Some(clock.wall_at(now + 1))), now);
        let hours = Duration::from_secs(3 * 3600);
        assert_eq!(clock.stamped(Some(clock.wall_at(0) + hours)), now);
        // Before the run, or older than the longest lag: now.
        assert_eq!(clock.stamped(Some(clock.wall_at(0) - hours)), now);
        tokio::time::advance(STAMP_MAX_LAG + Duration::from_secs(1)).await;
        assert_eq!(clock.stamped(Some(clock.wall_at(120_000))), clock.now());
    }
}
