//! What each scenario does to the lab, as data: which node, which actions
//! inject the fault, which heal it, and what a client should then see.

use std::time::Duration;

use crate::lab::{Lab, ScenarioName};

/// Marks halab's own firewall rules so a heal deletes exactly those.
pub const PARTITION_COMMENT: &str = "halab-partition";

/// One operation on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `docker stop`: SIGTERM, then SIGKILL after `grace`.
    Stop {
        container: String,
        grace: Duration,
    },
    /// `docker kill --signal`.
    Kill {
        container: String,
        signal: String,
    },
    Pause {
        container: String,
    },
    Unpause {
        container: String,
    },
    Start {
        container: String,
    },
    /// A command inside the container that must exit 0.
    Exec {
        container: String,
        argv: Vec<String>,
    },
}

impl Action {
    /// Short human label, also stored in the timeline.
    pub fn describe(&self) -> String {
        match self {
            Action::Stop { container, .. } => format!("docker stop {container}"),
            Action::Kill { container, signal } => format!("docker kill -s {signal} {container}"),
            Action::Pause { container } => format!("docker pause {container}"),
            Action::Unpause { container } => format!("docker unpause {container}"),
            Action::Start { container } => format!("docker start {container}"),
            Action::Exec { container, argv } => {
                format!("docker exec {container} {}", argv.join(" "))
            }
        }
    }
}

/// A scenario made concrete for one lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub scenario: ScenarioName,
    /// The node the fault is aimed at.
    pub node: String,
    pub inject: Vec<Action>,
    pub heal: Vec<Action>,
    /// A backup's page should reach clients after the fault.
    pub expect_switch: bool,
    /// After the heal the master's page should come back (preempting labs).
    pub expect_failback: bool,
}

fn sh(container: &str, script: &str) -> Action {
    Action::Exec {
        container: container.to_string(),
        argv: vec!["sh".into(), "-c".into(), script.into()],
    }
}

fn iptables_vrrp(op: &str) -> String {
    // VRRP is IP protocol 112; both directions, so neither side hears the other.
    ["INPUT", "OUTPUT"]
        .iter()
        .map(|chain| {
            format!(
                "iptables -w {op} {chain} -p 112 -m comment --comment {PARTITION_COMMENT} -j DROP"
            )
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The plan of `scenario` on `lab`.
pub fn plan(lab: &Lab, scenario: ScenarioName) -> Plan {
    let master = lab.master().name.clone();
    let backup = lab
        .backups()
        .first()
        .map(|n| n.name.clone())
        .expect("validated lab has a backup");
    let m = lab.container_name(&master);
    let preempt = lab.spec().vrrp.preempt;
    let grace = Duration::from_secs(10);
    let (node, inject, heal, expect_switch) = match scenario {
        ScenarioName::StopMaster | ScenarioName::Failback => (
            master,
            vec![Action::Stop {
                container: m.clone(),
                grace,
            }],
            vec![Action::Start { container: m }],
            true,
        ),
        ScenarioName::KillMaster => (
            master,
            vec![Action::Kill {
                container: m.clone(),
                signal: "SIGKILL".into(),
            }],
            vec![Action::Start { container: m }],
            true,
        ),
        ScenarioName::PauseMaster => (
            master,
            vec![Action::Pause {
                container: m.clone(),
            }],
            vec![Action::Unpause { container: m }],
            true,
        ),
        ScenarioName::PartitionMaster => (
            master,
            vec![sh(&m, &iptables_vrrp("-I"))],
            vec![sh(&m, &iptables_vrrp("-D"))],
            true,
        ),
        ScenarioName::KillNginx => (
            master,
            // Every nginx process, workers included: a lone worker would
            // keep serving on the inherited socket.
            vec![sh(
                &m,
                "pkill -KILL -x nginx; sleep 0.05; ! pgrep -x nginx >/dev/null",
            )],
            vec![sh(&m, "nginx")],
            true,
        ),
        ScenarioName::KillKeepalived => (
            master,
            vec![sh(&m, "pkill -KILL -x keepalived")],
            vec![sh(&m, "/etc/halab/entrypoint.sh start-keepalived")],
            true,
        ),
        ScenarioName::StopBackup => {
            let b = lab.container_name(&backup);
            (
                backup,
                vec![Action::Stop {
                    container: b.clone(),
                    grace,
                }],
                vec![Action::Start { container: b }],
                false,
            )
        }
    };
    let expect_failback = expect_switch && preempt;
    Plan {
        scenario,
        node,
        inject,
        heal,
        expect_switch,
        expect_failback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn seed() -> Lab {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        crate::lab::load(&path).expect("seed lab loads")
    }

    #[test]
    fn master_faults_target_the_master_container() {
        let lab = seed();
        for s in ScenarioName::ALL {
            if s == ScenarioName::StopBackup {
                continue;
            }
            let p = plan(&lab, s);
            assert_eq!(p.node, "nginx_master", "{s}");
            assert!(p.expect_switch, "{s}");
            assert!(p.expect_failback, "{s}: the seed lab preempts");
            let text = format!("{:?}", p.inject);
            assert!(
                text.contains("nginx-keepalived-nginx_master"),
                "{s}: {text}"
            );
        }
    }

    #[test]
    fn stop_backup_is_the_control() {
        let p = plan(&seed(), ScenarioName::StopBackup);
        assert_eq!(p.node, "nginx_slave");
        assert!(!p.expect_switch && !p.expect_failback);
        assert_eq!(
            p.inject,
            vec![Action::Stop {
                container: "nginx-keepalived-nginx_slave".into(),
                grace: Duration::from_secs(10)
            }]
        );
    }

    #[test]
    fn partition_cuts_vrrp_both_ways_and_heal_deletes_the_same_rules() {
        let p = plan(&seed(), ScenarioName::PartitionMaster);
        let (Action::Exec { argv: cut, .. }, Action::Exec { argv: heal, .. }) =
            (&p.inject[0], &p.heal[0])
        else {
            panic!("partition is an exec");
        };
        assert!(cut[2].contains("-I INPUT -p 112") && cut[2].contains("-I OUTPUT -p 112"));
        assert_eq!(cut[2].replace("-I ", "-D "), heal[2]);
    }

    #[test]
    fn nopreempt_lab_does_not_expect_failback() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("  unicast: true\n", "  unicast: true\n  preempt: false\n");
        let lab = Lab::from_yaml(&text, &path).unwrap();
        let p = plan(&lab, ScenarioName::Failback);
        assert!(p.expect_switch && !p.expect_failback);
    }
}
