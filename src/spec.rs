//! The run spec: everything a run is made with and judged by, built once
//! from the lab and the command line and stored with the run, so that
//! `verdict::judge(&timeline, &spec)` gives the same verdict today and when
//! the run is re-judged months later.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lab::{Budget, Lab, ScenarioName};
use crate::scenario::{Params, Plan};

/// What the command line changes in a run (`--budget`, `--interval`,
/// `--no-heal`, `--strict`, `--set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// Replaces the switch budget.
    pub switch_within: Option<Duration>,
    /// Replaces the lab's probe interval.
    pub interval: Option<Duration>,
    /// Undo the fault at the end of the observation.
    pub heal: bool,
    /// The scenario's options (`None`: their defaults).
    pub params: Option<Params>,
    /// Warnings fail the run (also when the lab file says `strict: true`).
    pub strict: bool,
}

impl Default for Choices {
    fn default() -> Self {
        Choices {
            switch_within: None,
            interval: None,
            heal: true,
            params: None,
            strict: false,
        }
    }
}

/// One run's settings and expectations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The fault, the heal, and what a client should see.
    pub plan: Plan,
    /// Probe schedule, per-request deadline, and the latency above which an
    /// answer counts as late.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub late_after: Duration,
    /// The budgets judged, with the command line's override applied.
    pub budget: Budget,
    /// Whether the fault was undone at the end of the observation.
    pub heal: bool,
    /// The node that started as MASTER, and the others: reports draw one
    /// VIP lane per node in this order.
    pub master: String,
    pub backups: Vec<String>,
    /// Every node's VIP ownership was watched: a node without a sample makes
    /// the run invalid.
    pub watched_vip: bool,
    /// The lab settings of a sweep's grid point (`halab sweep --set`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub point: BTreeMap<String, String>,
    /// Warnings (findings no budget judges) fail the run. Stored, so that a
    /// re-judged run is as strict as it was.
    #[serde(default)]
    pub strict: bool,
}

impl RunSpec {
    /// The spec of `scenario` on `lab`, as the command line chose.
    pub fn new(lab: &Lab, scenario: ScenarioName, choices: &Choices) -> RunSpec {
        let probe = &lab.spec().probe;
        let mut budget = lab.budget(scenario);
        if let Some(b) = choices.switch_within {
            budget.switch_within = Some(b);
        }
        let entry = crate::scenario::get(scenario);
        let params = choices
            .params
            .clone()
            .unwrap_or_else(|| entry.default_params());
        // A watch window is the observation (`idle`).
        if entry.options.iter().any(|o| o.name == "watch") {
            budget.observe = Some(params.duration("watch"));
        }
        RunSpec {
            plan: entry.plan_with(lab, &params),
            interval: choices.interval.unwrap_or(probe.interval),
            timeout: probe.timeout,
            late_after: probe.late_after,
            budget,
            heal: choices.heal,
            master: lab.master().name.clone(),
            backups: lab.backups().iter().map(|n| n.name.clone()).collect(),
            watched_vip: true,
            point: BTreeMap::new(),
            strict: choices.strict || lab.spec().strict,
        }
    }

    pub fn scenario(&self) -> ScenarioName {
        self.plan.scenario
    }

    /// Every node, master first.
    pub fn nodes(&self) -> Vec<&str> {
        std::iter::once(self.master.as_str())
            .chain(self.backups.iter().map(String::as_str))
            .filter(|n| !n.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn seed() -> Lab {
        crate::lab::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml"))
            .unwrap()
    }

    #[test]
    fn the_command_line_replaces_the_switch_budget_and_interval_only() {
        let lab = seed();
        let plain = RunSpec::new(&lab, ScenarioName::KillMaster, &Choices::default());
        assert_eq!(plain.budget, lab.budget(ScenarioName::KillMaster));
        assert_eq!(plain.interval, lab.spec().probe.interval);
        let chosen = RunSpec::new(
            &lab,
            ScenarioName::KillMaster,
            &Choices {
                switch_within: Some(Duration::from_secs(3)),
                interval: Some(Duration::from_millis(50)),
                heal: false,
                params: None,
                strict: false,
            },
        );
        assert_eq!(chosen.budget.switch_within, Some(Duration::from_secs(3)));
        assert_eq!(
            Budget {
                switch_within: None,
                ..chosen.budget.clone()
            },
            Budget {
                switch_within: None,
                ..plain.budget.clone()
            }
        );
        assert_eq!(chosen.interval, Duration::from_millis(50));
        assert!(!chosen.heal && plain.heal);
        assert_eq!(chosen.plan, plain.plan);
        assert_eq!(chosen.nodes(), ["nginx_master", "nginx_slave"]);
    }

    #[test]
    fn strict_comes_from_the_flag_or_the_lab_file() {
        let lab = seed();
        let lenient = RunSpec::new(&lab, ScenarioName::PartitionMaster, &Choices::default());
        assert!(!lenient.strict);
        let flag = Choices {
            strict: true,
            ..Choices::default()
        };
        assert!(RunSpec::new(&lab, ScenarioName::PartitionMaster, &flag).strict);
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let strict_lab = Lab::from_yaml(&format!("strict: true\n{text}"), &path).unwrap();
        assert!(strict_lab.spec().strict);
        let spec = RunSpec::new(
            &strict_lab,
            ScenarioName::PartitionMaster,
            &Choices::default(),
        );
        assert!(spec.strict);
        // Stored runs made before `strict` existed read as lenient.
        let mut json = serde_json::to_value(&lenient).unwrap();
        json.as_object_mut().unwrap().remove("strict");
        assert_eq!(serde_json::from_value::<RunSpec>(json).unwrap(), lenient);
    }

    #[test]
    fn the_control_expects_no_switch_and_no_failback() {
        let s = RunSpec::new(&seed(), ScenarioName::StopBackup, &Choices::default());
        assert!(!s.plan.expect_switch && !s.plan.expect_failback);
        assert_eq!(s.plan.node, "nginx_slave");
    }
}
