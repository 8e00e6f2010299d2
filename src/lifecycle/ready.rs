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

/// Poll (one overall deadline) until the master holds the VIP and the
/// proxy serves its page; on timeout, a diagnosis from the nodes.
pub async fn wait_steady(
    engine: &dyn Engine,
    lab: &Lab,
    timeout: Duration,
) -> Result<ProxyAnswer, LifecycleError> {
    let deadline = Instant::now() + timeout;
    loop {
        let tick = Instant::now();
        if let Some(answer) = observe::steady(engine, lab).await {
            return Ok(answer);
        }
        if Instant::now() >= deadline {
            return Err(LifecycleError::NotSteady {
                lab: lab.name().to_string(),
                waited: timeout,
                diagnosis: Box::new(observe::diagnose(engine, lab).await),
            });
        }
        tokio::time::sleep(POLL.saturating_sub(tick.elapsed())).await;
    }
}
