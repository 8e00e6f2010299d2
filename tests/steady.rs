//! Labs whose nodes disagree are never called healthy (issue: steady state
//! means one owner and every backup hearing the master). Each lab is the
//! seed lab rendered through a copy of the templates in which the backup's
//! keepalived.conf differs from the master's in one setting; keepalived
//! then puts both nodes in MASTER and both hold the VIP.

mod common;

use std::path::Path;

use common::{engine_or_skip, repo, Lab};

/// A copy of halab's templates whose keepalived.conf gives BACKUP nodes
/// `edit(line)` in place of `line`.
fn templates_with(dir: &Path, line: &str, backup_line: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(repo().join("templates")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let conf = dir.join("keepalived.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(line),
        "keepalived.conf template lacks `{line}`"
    );
    let edited = text.replace(
        line,
        &format!("{{% if node.state == \"BACKUP\" %}}{backup_line}{{% else %}}{line}{{% endif %}}"),
    );
    std::fs::write(conf, edited).unwrap();
}

struct Miswiring {
    name: &'static str,
    subnet: &'static str,
    line: &'static str,
    backup_line: &'static str,
    /// What `up` must say of the backup.
    reason: &'static str,
}

const MISWIRINGS: [Miswiring; 3] = [
    Miswiring {
        name: "itest-steady-pass",
        subnet: "10.210.0.0/16",
        line: "auth_pass {{ vrrp.auth_pass }}",
        backup_line: "auth_pass other",
        reason: "keepalived says `(VI_1) received an invalid passwd!` — the nodes do not share `auth_pass`",
    },
    Miswiring {
        name: "itest-steady-vrid",
        subnet: "10.211.0.0/16",
        line: "virtual_router_id {{ vrrp.virtual_router_id }}",
        backup_line: "virtual_router_id {{ vrrp.virtual_router_id + 1 }}",
        reason: "has received no VRRP advert at all",
    },
    Miswiring {
        name: "itest-steady-peer",
        subnet: "10.212.0.0/16",
        // The backup's unicast_peer list is empty: it sends its adverts to
        // no one and accepts none.
        line: "{{ peer }}",
        backup_line: "",
        reason: "has received no VRRP advert at all",
    },
];

#[test]
fn labs_whose_nodes_disagree_fail_up_status_and_any_scenario_s_baseline() {
    if !engine_or_skip("labs_whose_nodes_disagree") {
        return;
    }
    for m in &MISWIRINGS {
        let lab = Lab::seed(m.name, m.subnet);
        let templates = lab.dir.path().join("templates");
        templates_with(&templates, m.line, m.backup_line);
        let t = templates.display().to_string();

        // `up` gives up within its deadline and says why, by node.
        let started = std::time::Instant::now();
        // Lint would refuse these files before anything starts (it compares
        // the nodes' configs); past it, the steady state must catch them.
        let up = lab.halab(
            &["up"],
            &["--templates", &t, "--timeout", "20s", "--no-lint"],
        );
        assert_eq!(up.code, 2, "{}: {}", m.name, up.all());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{}: up took {:?}",
            m.name,
            started.elapsed()
        );
        assert!(
            up.stderr
                .contains("did not reach its steady state within 20s: SPLIT BRAIN"),
            "{}: {}",
            m.name,
            up.stderr
        );
        assert!(
            up.stderr.contains(&format!("nginx_slave: {}", m.reason))
                || up.stderr.contains(&format!(
                    "nginx_slave: does not hear nginx_master: {}",
                    m.reason
                )),
            "{}: the backup's reason `{}` is missing:\n{}",
            m.name,
            m.reason,
            up.stderr
        );

        // `up --no-wait` leaves it as it is; `status` says what is wrong.
        let again = lab.halab(&["up"], &["--templates", &t, "--no-wait", "--no-lint"]);
        assert_eq!(again.code, 0, "{}", again.all());
        let status = lab.halab(&["status"], &["--templates", &t]);
        assert_eq!(status.code, 1, "{}", status.all());
        assert!(
            status.stdout.contains("SPLIT BRAIN")
                && status
                    .stdout
                    .contains("split brain: nginx_master and nginx_slave hold the VIP"),
            "{}",
            status.stdout
        );
        let json = lab.halab(&["status"], &["--templates", &t, "--json"]);
        assert_eq!(json.code, 1, "{}", json.all());
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["health"], "split-brain", "{}", json.stdout);

        // A scenario never blames its fault for what was there before it.
        let chaos = lab.halab(&["chaos", "stop-master"], &["--templates", &t]);
        assert_eq!(chaos.code, 1, "{}", chaos.all());
        assert!(
            chaos.stdout.contains("INVALID BASELINE") && !chaos.stdout.contains("FAIL "),
            "{}",
            chaos.stdout
        );
        let store = halab::store::Store::at(lab.runs_dir());
        let run = store.last().unwrap();
        assert_eq!(
            run.verdict.status,
            halab::verdict::Status::InvalidBaseline,
            "{:?}",
            run.verdict
        );
        assert!(
            !run.timeline
                .events
                .iter()
                .any(|e| matches!(e.kind, halab::timeline::EventKind::Fault { .. })),
            "no fault may be injected into an unsteady lab"
        );
        // The master still runs: nothing was stopped.
        let ids = common::container_ids(m.name);
        assert_eq!(ids.len(), 3, "{ids:?}");
    }
}
