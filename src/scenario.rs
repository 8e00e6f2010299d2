//! The scenario catalogue: every scenario halab can run, one entry each.
//!
//! An entry owns everything the scenario means: which node it aims at, the
//! engine actions that inject and heal its fault, what a client should see
//! (a switch, a failback, or nothing at all for the control), which budgets
//! it gets by default from the lab's own timers and which are only reported,
//! and its help text. `cli` (help), `chaos::plan`, `verdict` (through the
//! [`Plan`] stored in a run's spec), `report` and `docs/lab-format.md` read
//! it. Adding a scenario is adding a [`ScenarioName`] and one entry here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lab::{Budget, Lab, LabSpec, ScenarioName};

/// Marks halab's own firewall rules so a heal deletes exactly those.
pub const PARTITION_COMMENT: &str = "halab-partition";

/// How long `docker stop` waits before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One operation on the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Action {
    /// `docker stop`: SIGTERM, then SIGKILL after `grace`.
    Stop {
        container: String,
        #[serde(with = "humantime_serde")]
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

/// A scenario made concrete for one lab: what is done, and what a client
/// should then see. Stored in every run's spec, so a run is judged (and
/// re-judged) by what it was asked to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The serving node changing back and forth is the fault's expected
    /// symptom (noted, not failed).
    #[serde(default)]
    pub flaps_expected: bool,
    /// A switch may not come at all (`Expect::MaySwitch`).
    #[serde(default)]
    pub switch_optional: bool,
}

/// Which node a fault is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Master,
    /// The backup with the highest priority.
    FirstBackup,
}

/// What bounds the time until a backup serves: the default `switch_within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// keepalived sends a priority-0 advert on SIGTERM: one advert.
    Advert,
    /// The backup waits Master_Down_Interval for a silent master.
    MasterDown,
    /// The health check fails first (interval × fall), then Master_Down.
    HealthCheck,
}

/// What a client should see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A backup's page; the master's back after the heal where the lab preempts.
    Switch,
    /// The control: no switch and no failed request.
    Nothing,
    /// A crash the node's supervisor repairs: a backup may serve for a
    /// while or never, depending on whether the restart beats the
    /// backup's Master_Down_Interval; what clients lived through and the
    /// dual ownership are judged, not the switch.
    MaySwitch,
}

/// One scenario, whole.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: ScenarioName,
    /// One line for `halab chaos --help`.
    pub help: &'static str,
    /// The fault and the heal, as `docs/lab-format.md` words them.
    pub fault_doc: &'static str,
    pub heal_doc: &'static str,
    pub target: Target,
    /// The actions that inject the fault into `container`.
    pub inject: fn(&str) -> Vec<Action>,
    /// The actions that undo it.
    pub heal: fn(&str) -> Vec<Action>,
    pub expect: Expect,
    pub detection: Detection,
    /// Two VIP owners are the fault's nature (the reason, for the docs):
    /// `max_dual_owner` is reported, and judged only where the lab file sets
    /// one.
    pub dual_owner_reported_only: Option<&'static str>,
    /// Alternating pages are the fault's expected symptom (a split brain):
    /// noted, judged through `max_dual_owner` instead.
    pub flaps_expected: bool,
}

fn stop(c: &str) -> Vec<Action> {
    vec![Action::Stop {
        container: c.into(),
        grace: STOP_GRACE,
    }]
}

fn start(c: &str) -> Vec<Action> {
    vec![Action::Start {
        container: c.into(),
    }]
}

fn kill(c: &str) -> Vec<Action> {
    vec![Action::Kill {
        container: c.into(),
        signal: "SIGKILL".into(),
    }]
}

fn pause(c: &str) -> Vec<Action> {
    vec![Action::Pause {
        container: c.into(),
    }]
}

fn unpause(c: &str) -> Vec<Action> {
    vec![Action::Unpause {
        container: c.into(),
    }]
}

fn sh(container: &str, script: &str) -> Vec<Action> {
    vec![Action::Exec {
        container: container.to_string(),
        argv: vec!["sh".into(), "-c".into(), script.into()],
    }]
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

/// A scenario aimed at the master that expects a switch, stopped in the
/// ordinary way; entries below change what differs.
const MASTER_FAULT: Scenario = Scenario {
    name: ScenarioName::StopMaster,
    help: "",
    fault_doc: "",
    heal_doc: "",
    target: Target::Master,
    inject: stop,
    heal: start,
    expect: Expect::Switch,
    detection: Detection::MasterDown,
    dual_owner_reported_only: None,
    flaps_expected: false,
};

/// Every scenario, in the order `halab test` runs them.
pub const CATALOGUE: [Scenario; 8] = [
    Scenario {
        name: ScenarioName::StopMaster,
        help: "docker stop of the master (keepalived's graceful handover)",
        fault_doc: "`docker stop` the master",
        heal_doc: "start it",
        detection: Detection::Advert,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillMaster,
        help: "SIGKILL of the master container (a crash)",
        fault_doc: "SIGKILL the master container",
        heal_doc: "start it",
        inject: kill,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::PauseMaster,
        help: "the master frozen (docker pause)",
        fault_doc: "`docker pause` the master",
        heal_doc: "unpause",
        inject: pause,
        heal: unpause,
        dual_owner_reported_only: Some(
            "a frozen master's kernel keeps the VIP and answers ARP for it during the whole freeze",
        ),
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::PartitionMaster,
        help: "VRRP (IP protocol 112) dropped both ways inside the master",
        fault_doc: "drop VRRP (protocol 112) inside the master with iptables",
        heal_doc: "remove the rule",
        inject: |c| sh(c, &iptables_vrrp("-I")),
        heal: |c| sh(c, &iptables_vrrp("-D")),
        dual_owner_reported_only: Some("a partition is a split brain by construction"),
        flaps_expected: true,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillNginx,
        help: "every nginx process of the master killed; the host lives",
        fault_doc: "kill every nginx process on the master",
        heal_doc: "start nginx",
        // Every nginx process, workers included: a lone worker would keep
        // serving on the inherited socket.
        inject: |c| {
            sh(
                c,
                "pkill -KILL -x nginx; sleep 0.05; ! pgrep -x nginx >/dev/null",
            )
        },
        heal: |c| sh(c, "nginx"),
        detection: Detection::HealthCheck,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillKeepalived,
        help: "keepalived on the master crashes (SIGKILL); its supervisor restarts it",
        fault_doc: "SIGKILL every keepalived process on the master (a crash: no priority-0 advert); the node's supervisor restarts it after 100 ms, as systemd's `Restart=on-failure` would",
        heal_doc: "start keepalived if its supervisor has not",
        // The parent is frozen first: killed alone, it lets its VRRP child
        // see it die and send a priority-0 advert (a clean handover, not a
        // crash), and a live parent would respawn a killed child.
        inject: |c| {
            sh(
                c,
                "p=$(cat /run/keepalived.pid) && kill -STOP $p && pkill -KILL -P $p -x keepalived; kill -KILL $p",
            )
        },
        heal: |c| sh(c, "/etc/halab/entrypoint.sh start-keepalived"),
        expect: Expect::MaySwitch,
        // The restarted keepalived takes the VIP back before the heal.
        flaps_expected: true,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::StopBackup,
        help: "the control: stop the backup; nothing may be seen",
        fault_doc: "`docker stop` the first backup (the control: clients must see nothing)",
        heal_doc: "start it",
        target: Target::FirstBackup,
        expect: Expect::Nothing,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::Failback,
        help: "stop the master, start it again, judge the way back",
        fault_doc: "like `stop-master`, judged on the return to the master",
        heal_doc: "start it",
        ..MASTER_FAULT
    },
];

/// The catalogue entry of `name`.
pub fn get(name: ScenarioName) -> &'static Scenario {
    CATALOGUE
        .iter()
        .find(|s| s.name == name)
        .expect("every ScenarioName has a catalogue entry (tested)")
}

impl Scenario {
    /// The plan on a lab whose master is `master` and first backup
    /// `backup`; `container` names a node's container.
    pub fn plan_for(
        &self,
        container: &dyn Fn(&str) -> String,
        master: &str,
        backup: &str,
        preempt: bool,
    ) -> Plan {
        let node = match self.target {
            Target::Master => master,
            Target::FirstBackup => backup,
        };
        let container = container(node);
        let expect_switch = self.expect != Expect::Nothing;
        Plan {
            scenario: self.name,
            node: node.to_string(),
            inject: (self.inject)(&container),
            heal: (self.heal)(&container),
            expect_switch,
            expect_failback: expect_switch && preempt,
            flaps_expected: self.flaps_expected,
            switch_optional: self.expect == Expect::MaySwitch,
        }
    }

    /// The plan on `lab`.
    pub fn plan(&self, lab: &Lab) -> Plan {
        let backups = lab.backups();
        let backup = backups
            .first()
            .map(|n| n.name.as_str())
            .expect("validated lab has a backup");
        self.plan_for(
            &|node| lab.container_name(node),
            &lab.master().name,
            backup,
            lab.spec().vrrp.preempt,
        )
    }

    /// Built-in budgets, derived from the lab's own timers so that a slow
    /// lab (VRRPv2, 1 s adverts) and a fast one are each judged fairly.
    pub fn default_budget(&self, spec: &LabSpec) -> Budget {
        let advert = spec.vrrp.advert_int;
        // Master_Down_Interval = 3 × advert + skew (< advert): time for a
        // backup to notice a silent master. Add HAProxy's connect timeout (a
        // retry) and the health check's interval × fall for process faults.
        let master_down = advert * 4;
        let proxy = spec.proxy.timeouts.connect.min(Duration::from_secs(2));
        let check = spec.health_check.interval * spec.health_check.fall.max(1);
        let slack = Duration::from_secs(2);
        let switch = match self.detection {
            Detection::Advert => advert + proxy + slack,
            Detection::MasterDown => master_down + proxy + slack,
            Detection::HealthCheck => check + master_down + proxy + slack,
        };
        let observe = (switch + Duration::from_secs(2)).max(Duration::from_secs(4));
        let control = self.expect == Expect::Nothing;
        Budget {
            // The control: nothing may be seen by a client.
            switch_within: (!control).then_some(switch),
            recover_within: Some(master_down + proxy + Duration::from_secs(10)),
            max_failed: control.then_some(0),
            max_late: None,
            worst_answer: None,
            max_dual_owner: self
                .dual_owner_reported_only
                .is_none()
                .then_some(advert * 2 + Duration::from_millis(500)),
            observe: Some(observe),
        }
    }

    /// The budget on `lab`: the lab file's values over the defaults.
    pub fn budget(&self, lab: &Lab) -> Budget {
        let mut b = self.default_budget(lab.spec());
        if let Some(set) = lab.spec().scenarios.get(&self.name) {
            macro_rules! take {
                ($($f:ident),*) => { $( if set.$f.is_some() { b.$f = set.$f; } )* };
            }
            take!(
                switch_within,
                recover_within,
                max_failed,
                max_late,
                worst_answer,
                max_dual_owner,
                observe
            );
        }
        b
    }
}

/// The long help of `halab chaos`, with one line per scenario.
pub fn chaos_help() -> String {
    let width = CATALOGUE
        .iter()
        .map(|s| s.name.as_str().len())
        .max()
        .unwrap_or(0);
    let mut out = String::from(
        "Inject one fault, watch port 8000, heal, and judge the switch.\n\nScenarios:\n",
    );
    for s in &CATALOGUE {
        out.push_str(&format!("  {:width$}  {}\n", s.name.as_str(), s.help));
    }
    out.push_str(
        "\nWhile the fault lasts, an open-loop probe fires a request every\n\
         `--interval` at the lab's port and every node's VIP ownership is\n\
         watched. The run is stored under `--runs-dir`; Ctrl-C heals the\n\
         fault and stores the run as aborted.",
    );
    out
}

/// The fault/heal table of `docs/lab-format.md`.
pub fn docs_table() -> String {
    let mut out = String::from("| scenario | fault | heal |\n| --- | --- | --- |\n");
    for s in &CATALOGUE {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            s.name, s.fault_doc, s.heal_doc
        ));
    }
    out
}

impl Detection {
    /// The default `switch_within`, as `docs/lab-format.md` writes it.
    fn formula(self) -> &'static str {
        match self {
            Detection::Advert => {
                "`advert + proxy + slack` (keepalived's priority-0 advert on SIGTERM)"
            }
            Detection::MasterDown => "`master_down + proxy + slack`",
            Detection::HealthCheck => "`check + master_down + proxy + slack`",
        }
    }
}

/// The default-budget table of `docs/lab-format.md`.
pub fn docs_budget_table() -> String {
    let mut out =
        String::from("| scenario | `switch_within` | other differences |\n| --- | --- | --- |\n");
    for s in &CATALOGUE {
        let (switch, mut other) = match s.expect {
            Expect::Nothing => (
                "none (no switch expected)",
                vec!["`max_failed: 0`".to_string()],
            ),
            Expect::Switch => (s.detection.formula(), vec![]),
            Expect::MaySwitch => (
                s.detection.formula(),
                vec!["a switch may not come at all (the restart can beat the backup)".to_string()],
            ),
        };
        if let Some(why) = s.dual_owner_reported_only {
            other.push(format!(
                "no `max_dual_owner` ({why}; judged only where the lab sets one)"
            ));
        }
        if s.flaps_expected {
            other.push("flapping is noted, not failed".to_string());
        }
        let other = if other.is_empty() {
            " ".to_string()
        } else {
            format!(" {} ", other.join("; "))
        };
        out.push_str(&format!("| `{}` | {switch} |{other}|\n", s.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_exactly_one_entry_in_run_order() {
        let names: Vec<ScenarioName> = CATALOGUE.iter().map(|s| s.name).collect();
        assert_eq!(names, ScenarioName::ALL);
        for s in ScenarioName::ALL {
            assert_eq!(get(s).name, s);
            assert!(
                !get(s).help.is_empty() && !get(s).fault_doc.is_empty(),
                "{s}"
            );
        }
    }

    #[test]
    fn docs_show_the_catalogue() {
        let docs = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lab-format.md"),
        )
        .unwrap();
        for table in [docs_table(), docs_budget_table()] {
            assert!(
                docs.contains(&table),
                "docs/lab-format.md lacks this table of the catalogue; paste:\n{table}"
            );
        }
    }

    /// The budgets of the shipped labs, pinned when they moved here from
    /// `lab::default_budget`.
    #[test]
    fn default_budgets_of_the_shipped_labs() {
        let mut out = String::new();
        for file in [
            "nginx-keepalived.yaml",
            "fast-failover.yaml",
            "three-node.yaml",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("labs")
                .join(file);
            let lab = crate::lab::load(&path).unwrap();
            for s in ScenarioName::ALL {
                out.push_str(&format!("{file} {s}: {:?}\n", get(s).budget(&lab)));
            }
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn chaos_help_lists_every_scenario() {
        insta::assert_snapshot!(chaos_help());
    }

    #[test]
    fn actions_round_trip_through_json() {
        let p = get(ScenarioName::PartitionMaster).plan_for(&|n| format!("l-{n}"), "m", "b", true);
        let back: Plan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let stop = serde_json::to_string(
            &get(ScenarioName::StopMaster)
                .plan_for(&|n| format!("l-{n}"), "m", "b", true)
                .inject,
        )
        .unwrap();
        assert_eq!(stop, r#"[{"op":"stop","container":"l-m","grace":"10s"}]"#);
    }
}
