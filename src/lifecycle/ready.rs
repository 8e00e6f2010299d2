//! Waiting for a lab's steady state (what steady means, and why a lab is
//! not, is `observe`'s to say).

use std::time::{Duration, Instant};

use super::LifecycleError;
use crate::engine::Engine;
use crate::lab::Lab;
use crate::observe::{self, ProxyAnswer};

/// How often the lab is looked at while waiting. A look costs a local
/// request, and an exec only once the port answers the master's page.
const POLL: Duration = Duration::from_millis(50);
/// How often, at most, every condition is checked: each check makes
/// keepalived dump its state on every node (and say so in its log).
const FULL_LOOK: Duration = Duration::from_millis(500);

/// Poll (one overall deadline) until the master holds the VIP, the proxy
/// serves its page and every condition of a steady lab holds (one owner,
/// every backup hearing the master, no refused VRRP packet); on timeout,
/// the failed conditions and a diagnosis from the nodes.
pub async fn wait_steady(
    engine: &dyn Engine,
    lab: &Lab,
    timeout: Duration,
) -> Result<ProxyAnswer, LifecycleError> {
    let deadline = Instant::now() + timeout;
    let mut last_full: Option<Instant> = None;
    loop {
        let tick = Instant::now();
        if let Some(answer) = observe::steady(engine, lab).await {
            if !last_full.is_some_and(|t| t.elapsed() < FULL_LOOK) {
                last_full = Some(Instant::now());
                if observe::steadiness(engine, lab).await.0.is_steady() {
                    return Ok(answer);
                }
            }
        }
        if Instant::now() >= deadline {
            let (steadiness, _) = observe::steadiness(engine, lab).await;
            return Err(LifecycleError::NotSteady {
                lab: lab.name().to_string(),
                waited: timeout,
                steadiness: Box::new(steadiness),
                diagnosis: Box::new(observe::diagnose(engine, lab).await),
            });
        }
        tokio::time::sleep(POLL.saturating_sub(tick.elapsed())).await;
    }
}
