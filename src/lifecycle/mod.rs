//! A lab's life on an engine: `up`, `down`, `status`, `logs`.
//!
//! Generic over [`Engine`](crate::engine::Engine) so that the order of
//! operations, idempotence and refusals are unit-tested with the fake
//! engine. Every object is labelled (`halab.lab`, `halab.role`,
//! `halab.node`, `halab.lab-file`, `halab.hash`) and `down` selects by
//! `halab.lab` alone, so it needs no lab file.
//!
//! - [`spec`]: what `up` makes (container definitions), their labels and
//!   hashes;
//! - [`plan`]: what stops a lab from being created, and what `up` does with
//!   each container, from comparing the definitions with the engine;
//! - [`up`](mod@up): carries the plan out (concurrently where it can),
//!   takes back what it made when a step fails, and waits ([`ready`]) for
//!   the steady state;
//! - [`down`](mod@down), [`status`](mod@status), [`logs`](mod@logs).
//!
//! Reading the nodes (VIP, keepalived, the port) is `observe`'s job.

mod down;
mod logs;
mod plan;
mod ready;
mod spec;
mod status;
mod up;

#[cfg(test)]
mod testkit;

use std::time::Duration;

use ipnet::Ipv4Net;

use crate::engine::EngineError;
use crate::image::ImageError;
use crate::observe::{Diagnosis, Steadiness};

pub use crate::observe::{fetch, holds_vip, NodeStatus, ProxyAnswer};
pub use down::{down, DownReport};
pub use logs::logs;
pub use ready::wait_steady;
pub use spec::{container_hash, container_specs, lab_hash};
pub use status::{status, status_table, LabStatus, ProxyStatus};
pub use up::{up, UpOptions, UpReport};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("port {port} on 127.0.0.1 is taken; lab `{lab}` publishes its proxy there\n  fix: stop what holds it, or run the lab on another port with `--port N`")]
    PortTaken {
        lab: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("subnet {subnet} of lab `{lab}` overlaps network `{network}` ({other})\n  fix: remove that network, or run the lab on another subnet with `--subnet CIDR`")]
    SubnetOverlap {
        lab: String,
        subnet: Ipv4Net,
        network: String,
        other: Ipv4Net,
    },
    #[error("a network named `{network}` exists but does not belong to lab `{lab}`\n  fix: remove it (`docker network rm {network}`) or rename the lab with `--name NAME`")]
    NetworkTaken { lab: String, network: String },
    #[error("{step} failed\n  {cleanup}")]
    PartFailed {
        step: String,
        #[source]
        source: Box<LifecycleError>,
        cleanup: String,
    },
    #[error("lab `{lab}` did not reach its steady state within {}: {steadiness}\n  what the nodes show:{diagnosis}\n  the lab is left running so it can be inspected (`halab status`, `halab logs`); `halab down` removes it", humantime::format_duration(*.waited))]
    NotSteady {
        lab: String,
        waited: Duration,
        steadiness: Box<Steadiness>,
        diagnosis: Box<Diagnosis>,
    },
    #[error("lab `{lab}` is not up; run `halab up --lab {file}`")]
    NotUp { lab: String, file: String },
    #[error("`{name}` is no member of lab `{lab}`{hint}; members: {members}")]
    NoSuchMember {
        lab: String,
        name: String,
        hint: String,
        members: String,
    },
    #[error("cannot write logs")]
    Write(#[from] std::io::Error),
}

impl LifecycleError {
    fn not_up(lab: &crate::lab::Lab) -> LifecycleError {
        LifecycleError::NotUp {
            lab: lab.name().to_string(),
            file: lab.source().display().to_string(),
        }
    }
}
