//! Every measurement of a run, from its timeline, before any budget.

use super::*;

/// Every measurement, before any budget is applied.
pub fn measure(timeline: &Timeline, spec: &RunSpec) -> Metrics {
    let fault = timeline.first_fault();
    let heal = timeline.first_heal();
    let late_after = micros(spec.late_after);
    let end_at = timeline
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Request(r) => r.done.max(e.at),
            _ => e.at,
        })
        .max()
        .unwrap_or(0);

    // Client-side order is the order answers arrived.
    let mut requests: Vec<&Request> = timeline.requests().collect();
    requests.sort_by_key(|r| (r.done, r.seq));
    let is_backup = |r: &Request| {
        r.outcome
            .node()
            .is_some_and(|n| spec.backups.iter().any(|b| b == n))
    };
    let is_master = |r: &Request| r.outcome.node() == Some(spec.master.as_str());
    let is_late =
        |r: &Request| !r.outcome.is_failure() && r.done.saturating_sub(r.sent) > late_after;

    let mut m = Metrics {
        fault_at: fault,
        heal_at: heal,
        end_at,
        requests: requests.len() as u32,
        ..Metrics::default()
    };

    let f = fault.unwrap_or(0);
    let (before, after): (Vec<&Request>, Vec<&Request>) =
        requests.iter().partition(|r| fault.is_some() && r.done < f);
    m.baseline_ok = before.iter().any(|r| is_master(r));
    m.failed_before_fault = before.iter().filter(|r| r.outcome.is_failure()).count() as u32;
    m.requests_after_fault = after.len() as u32;

    if let Some(first) = after.iter().find(|r| is_backup(r)) {
        m.switch = Some(first.done - f);
        m.switch_node = first.outcome.node().map(str::to_string);
        // Flaps: changes of the serving node after the switch, until the heal
        // (a failback after the heal is expected, not a flap).
        let mut serving = first.outcome.node();
        for r in after
            .iter()
            .filter(|r| r.done > first.done && heal.map_or(true, |h| r.done < h))
        {
            if let Some(n) = r.outcome.node() {
                if Some(n) != serving {
                    m.flaps += 1;
                    serving = Some(n);
                }
            }
        }
    }

    let bad: Vec<&&Request> = after
        .iter()
        .filter(|r| r.outcome.is_failure() || is_late(r))
        .collect();
    m.failed = bad.iter().filter(|r| r.outcome.is_failure()).count() as u32;
    m.late = bad.len() as u32 - m.failed;
    if !bad.is_empty() {
        m.disruption = Some(Span {
            start: bad.iter().map(|r| r.sent).min().unwrap_or(f),
            end: bad.iter().map(|r| r.done).max().unwrap_or(f),
        });
    }

    // Latency of what came back over HTTP during the fault window; timeouts
    // and refused connections are counted as failures instead.
    let mut lat: Vec<Micros> = after
        .iter()
        .filter(|r| heal.map_or(true, |h| r.done < h))
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Page { .. } | Outcome::UnknownPage | Outcome::Http { .. }
            )
        })
        .map(|r| r.done.saturating_sub(r.sent))
        .collect();
    lat.sort_unstable();
    m.worst_answer = lat.last().copied();
    if !lat.is_empty() {
        let rank = (lat.len() * 99).div_ceil(100).max(1);
        m.p99_answer = Some(lat[rank - 1]);
    }

    if let Some(h) = heal {
        let back = after.iter().filter(|r| r.done >= h).find(|r| {
            if spec.plan.expect_failback {
                is_master(r)
            } else {
                !r.outcome.is_failure()
            }
        });
        m.recovery = back.map(|r| r.done - h);
    }

    for r in &requests {
        let phase = if fault.is_some_and(|f| r.done < f) {
            0
        } else if heal.is_some_and(|h| r.done >= h) {
            2
        } else {
            1
        };
        let bump = |c: &mut PhaseCounts| match phase {
            0 => c.before += 1,
            1 => c.fault += 1,
            _ => c.after_heal += 1,
        };
        bump(&mut m.requests_by_phase);
        if r.outcome.is_failure() {
            bump(&mut m.errors_by_phase);
        } else if let Some(b) = &r.backend {
            bump(m.per_backend.entry(b.clone()).or_default());
        }
    }
    pool(&mut m, timeline, spec);

    m.dual_owner = dual_ownership(timeline, end_at);
    m.dual_owner_total = m.dual_owner.iter().map(Span::len).sum();
    m.dual_owner_longest = m.dual_owner.iter().map(Span::len).max().unwrap_or(0);

    for e in &timeline.events {
        if let EventKind::Vrrp { node, state } = &e.kind {
            let offset = e.at as i64 - f as i64;
            if fault.is_some()
                && m.vrrp_takeover.is_none()
                && offset >= 0
                && *state == VrrpState::Master
                && spec.backups.contains(node)
            {
                m.vrrp_takeover = Some(offset);
                // keepalived enters MASTER, then adds the VIP; its line is
                // stamped by the engine as it passes through (a few ms
                // late, docs/benchmarks.md), the VIP by the kernel lane
                // (sub-ms): the takeover came no later than that VIP.
                let gained = timeline.events.iter().rfind(|v| {
                    v.at >= f
                        && v.at <= e.at
                        && matches!(&v.kind, EventKind::Vip { node: n, holds: true } if n == node)
                });
                if let Some(v) = gained {
                    m.vrrp_takeover = Some(v.at as i64 - f as i64);
                }
            }
            m.vrrp.push(VrrpChange {
                node: node.clone(),
                state: *state,
                at: e.at,
                offset,
            });
        }
    }
    m
}

/// The pool's view: every change, who held the VIP at the fault, and when
/// the holder's HAProxy took the faulted server out.
fn pool(m: &mut Metrics, timeline: &Timeline, spec: &RunSpec) {
    let f = m.fault_at.unwrap_or(0);
    let mut holders: BTreeSet<&str> = BTreeSet::new();
    for e in &timeline.events {
        match &e.kind {
            EventKind::Vip { node, holds } if m.fault_at.is_some_and(|f| e.at <= f) => {
                if *holds {
                    holders.insert(node);
                } else {
                    holders.remove(node.as_str());
                }
            }
            EventKind::Pool {
                lb,
                server,
                up,
                reason,
            } => m.pool.push(PoolChange {
                lb: lb.clone(),
                server: server.clone(),
                up: *up,
                reason: reason.clone(),
                at: e.at,
                offset: e.at as i64 - f as i64,
            }),
            _ => {}
        }
    }
    if m.pool.is_empty() && spec.plan.backend.is_none() {
        return;
    }
    // Two holders at the fault (a split brain): the master's pool.
    let holder = if holders.contains(spec.master.as_str()) || holders.is_empty() {
        spec.master.clone()
    } else {
        holders
            .iter()
            .next()
            .map_or(spec.master.clone(), |h| h.to_string())
    };
    if let (Some(fault), Some(server)) = (m.fault_at, &spec.plan.backend) {
        m.pool_removed = m
            .pool
            .iter()
            .find(|c| c.lb == holder && &c.server == server && !c.up && c.at >= fault)
            .map(|c| c.at - fault);
    }
    m.pool_holder = Some(holder);
}

/// Dual ownership this short is a VRRP handover, not a split brain, and
/// is below what the VIP lanes can tell apart: the new master adds the VIP
/// and then sends its advert, the old one drops the VIP when the advert
/// arrives (0.1–1.8 ms of overlap measured at failback), and two nodes'
/// lanes disagree by up to 0.75 ms (the spread of independent `ip -ts
/// monitor`s stamping one change, load 7.5 on 2 cores). Both measured in
/// docs/benchmarks.md; a split brain lasts hundreds of ms or more.
pub const DUAL_OWNER_RESOLUTION: Micros = 5_000;

/// Intervals in which at least two nodes held the VIP, from `Vip` events,
/// longer than [`DUAL_OWNER_RESOLUTION`]. An interval still open at the
/// end is closed at `end_at`.
pub fn dual_ownership(timeline: &Timeline, end_at: Micros) -> Vec<Span> {
    let mut holders: BTreeSet<&str> = BTreeSet::new();
    let mut spans = Vec::new();
    let mut open: Option<Micros> = None;
    for e in &timeline.events {
        if let EventKind::Vip { node, holds } = &e.kind {
            if *holds {
                holders.insert(node);
            } else {
                holders.remove(node.as_str());
            }
            match (holders.len() >= 2, open) {
                (true, None) => open = Some(e.at),
                (false, Some(start)) => {
                    spans.push(Span { start, end: e.at });
                    open = None;
                }
                _ => {}
            }
        }
    }
    if let Some(start) = open {
        spans.push(Span {
            start,
            end: end_at.max(start),
        });
    }
    spans.retain(|s| s.len() > DUAL_OWNER_RESOLUTION);
    spans
}
