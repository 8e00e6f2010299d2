//! A scenario made concrete for one lab. What each scenario does and
//! expects is its entry in the catalogue (`crate::scenario`); this is the
//! runner's way in.

pub use crate::scenario::{Action, Plan, PARTITION_COMMENT};

use crate::lab::{Lab, ScenarioName};

/// The plan of `scenario` on `lab`.
pub fn plan(lab: &Lab, scenario: ScenarioName) -> Plan {
    crate::scenario::get(scenario).plan(lab)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn seed() -> Lab {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        crate::lab::load(&path).expect("seed lab loads")
    }

    #[test]
    fn master_faults_target_the_master_container() {
        let lab = seed();
        for s in crate::scenario::default_set() {
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
