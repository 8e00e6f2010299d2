//! Before `up` makes anything: what stops the lab from being created (a
//! foreign network by its name, an overlapping subnet, a taken port), and
//! what it does with each of the lab's containers ([`UpPlan`]).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;

use super::spec::LABEL_PORT;
use super::LifecycleError;
use crate::engine::{
    ContainerInfo, ContainerSpec, ContainerState, NetworkInfo, LABEL_HASH, LABEL_LAB, LABEL_ROLE,
};
use crate::lab::Lab;

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// A network that stops `lab` from being created: one of another owner by
/// the lab's network name, or any other network overlapping its subnet.
/// `Ok(true)` when the lab's own network exists and can be kept.
pub(super) fn network_conflicts(lab: &Lab, nets: &[NetworkInfo]) -> Result<bool, LifecycleError> {
    let network = lab.network_name();
    let subnet = lab.spec().network.subnet;
    let mut keep_net = false;
    if let Some(n) = nets.iter().find(|n| n.name == network) {
        if n.labels.get(LABEL_LAB).map(String::as_str) != Some(lab.name()) {
            return Err(LifecycleError::NetworkTaken {
                lab: lab.name().to_string(),
                network,
            });
        }
        keep_net = n.subnets == [subnet];
    }
    for n in nets.iter().filter(|n| n.name != network) {
        if let Some(other) = n.subnets.iter().find(|s| overlaps(**s, subnet)) {
            return Err(LifecycleError::SubnetOverlap {
                lab: lab.name().to_string(),
                subnet,
                network: n.name.clone(),
                other: *other,
            });
        }
    }
    Ok(keep_net)
}

/// What `up` does with each container of the lab, from comparing the
/// lab's definitions with what the engine holds. Names in the lab's order
/// (nodes, then the proxy).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct UpPlan {
    /// Same definition and running: left alone.
    pub keep: Vec<String>,
    /// Same definition, stopped or never started: started.
    pub start: Vec<String>,
    /// Same definition, paused: unpaused.
    pub unpause: Vec<String>,
    /// Changed definition (or off the old network): removed, created anew.
    pub replace: Vec<String>,
    /// Not there: created.
    pub create: Vec<String>,
    /// The lab's, but no longer in the lab file: removed.
    pub remove: Vec<String>,
    /// The network is (re)created: it is missing or its subnet changed.
    pub network: bool,
}

impl UpPlan {
    /// `keep_net`: the lab's network exists with the lab's subnet. When it
    /// does not, every container is recreated (a container cannot move to
    /// a new network with its address).
    pub fn of(specs: &[ContainerSpec], existing: &[ContainerInfo], keep_net: bool) -> UpPlan {
        use ContainerState::*;
        let mut p = UpPlan {
            network: !keep_net,
            ..UpPlan::default()
        };
        for s in specs {
            let name = s.name.clone();
            let Some(c) = existing.iter().find(|c| c.name == s.name) else {
                p.create.push(name);
                continue;
            };
            if !keep_net || c.labels.get(LABEL_HASH) != s.labels.get(LABEL_HASH) {
                p.replace.push(name);
                continue;
            }
            match c.state {
                Running | Restarting => p.keep.push(name),
                Created | Exited => p.start.push(name),
                Paused => p.unpause.push(name),
                Removing | Dead | Unknown => p.replace.push(name),
            }
        }
        p.remove = existing
            .iter()
            .filter(|c| !specs.iter().any(|s| s.name == c.name))
            .map(|c| c.name.clone())
            .collect();
        p
    }

    /// Nothing to do: the lab is up as defined.
    pub fn unchanged(&self) -> bool {
        !self.network
            && self.start.is_empty()
            && self.unpause.is_empty()
            && self.replace.is_empty()
            && self.create.is_empty()
            && self.remove.is_empty()
    }

    /// The container is made by this `up` (new or a replacement).
    pub fn makes(&self, name: &str) -> bool {
        self.create.iter().chain(&self.replace).any(|c| c == name)
    }
}

/// Whether a container of the lab holds `port`: its proxy, running or
/// paused, published there (or from before the port label, so unknown).
pub(super) fn port_held_by_lab(existing: &[ContainerInfo], port: u16) -> bool {
    existing.iter().any(|c| {
        c.labels.get(LABEL_ROLE).map(String::as_str) == Some("proxy")
            && matches!(c.state, ContainerState::Running | ContainerState::Paused)
            && c.labels
                .get(LABEL_PORT)
                .map_or(true, |p| *p == port.to_string())
    })
}

/// Refuses `lab`'s port when 127.0.0.1 cannot bind it, trying again for
/// `grace`.
pub(super) async fn port_free(lab: &Lab, grace: Duration) -> Result<(), LifecycleError> {
    let port = lab.spec().proxy.port;
    let deadline = Instant::now() + grace;
    loop {
        match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_) => return Ok(()),
            Err(source) if Instant::now() >= deadline => {
                return Err(LifecycleError::PortTaken {
                    lab: lab.name().to_string(),
                    port,
                    source,
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Labels;

    fn spec(name: &str, hash: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: "i".into(),
            env: Default::default(),
            labels: Labels::from([(LABEL_HASH.to_string(), hash.to_string())]),
            network: "n".into(),
            ip: None,
            cap_add: vec![],
            publish: None,
        }
    }

    fn info(name: &str, hash: &str, state: ContainerState) -> ContainerInfo {
        ContainerInfo {
            id: name.into(),
            name: name.into(),
            state,
            labels: spec(name, hash).labels,
            ip: None,
        }
    }

    #[test]
    fn each_container_is_kept_started_replaced_created_or_removed() {
        use ContainerState::*;
        let specs = ["a", "b", "c", "d", "e", "f"].map(|n| spec(n, "h1"));
        let existing = [
            info("a", "h1", Running),
            info("b", "h1", Exited),
            info("c", "h1", Paused),
            info("d", "h0", Running),
            info("e", "h1", Dead),
            info("gone", "h1", Running),
        ];
        let p = UpPlan::of(&specs, &existing, true);
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            p,
            UpPlan {
                keep: names(&["a"]),
                start: names(&["b"]),
                unpause: names(&["c"]),
                replace: names(&["d", "e"]),
                create: names(&["f"]),
                remove: names(&["gone"]),
                network: false,
            }
        );
        assert!(!p.unchanged());
        assert!(p.makes("d") && p.makes("f") && !p.makes("a"));
        // A new network: nothing can stay.
        let moved = UpPlan::of(&specs[..1], &existing[..1], false);
        assert_eq!((moved.replace, moved.network), (names(&["a"]), true));
        assert!(UpPlan::of(&specs[..1], &existing[..1], true).unchanged());
    }

    #[test]
    fn subnets_overlap_when_either_holds_the_other() {
        let net = |s: &str| s.parse::<Ipv4Net>().unwrap();
        assert!(overlaps(net("10.1.0.0/16"), net("10.1.5.0/24")));
        assert!(overlaps(net("10.1.5.0/24"), net("10.1.0.0/16")));
        assert!(!overlaps(net("10.1.0.0/16"), net("10.2.0.0/16")));
    }
}
