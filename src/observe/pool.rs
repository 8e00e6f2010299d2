//! A load balancer's pool as its own HAProxy says: the stats page in CSV,
//! read by exec in the LB (the stats listener is on its loopback only).

use serde::Serialize;

use crate::engine::Engine;
use crate::lab::Lab;

/// The backend of every LB's haproxy.cfg (`templates/haproxy-lb.cfg`).
pub const BACKEND: &str = "web";

/// Asks an LB's HAProxy for its stats, as CSV.
pub const STATS_CSV: [&str; 5] = [
    "curl",
    "-s",
    "-m1",
    "-o-",
    "http://127.0.0.1:8404/stats;csv",
];

/// One server of the pool as HAProxy reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolServer {
    pub name: String,
    /// HAProxy's word: `UP`, `DOWN`, `UP 1/2` (failing, still in), `DOWN
    /// 1/2` (recovering, still out), `MAINT`, `no check`.
    pub status: String,
    /// The last check's result (`L7OK`, `L4CON`, `L7STS`, …), when checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

impl PoolServer {
    /// HAProxy sends it requests (a failing server stays in until `fall`
    /// checks failed).
    pub fn in_pool(&self) -> bool {
        self.status.starts_with("UP")
    }

    /// In the pool with every recent check passed.
    pub fn is_up(&self) -> bool {
        self.status == "UP"
    }
}

/// The servers of `backend` in HAProxy's stats CSV (its header line names
/// the columns, so their order is not assumed). Nothing when the text is
/// not such a CSV.
pub fn parse_stats(csv: &str, backend: &str) -> Vec<PoolServer> {
    let mut lines = csv.lines();
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split(',').collect();
    let at = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(st)) = (at("pxname"), at("svname"), at("status")) else {
        return Vec::new();
    };
    let check = at("check_status");
    lines
        .map(|l| l.split(',').collect::<Vec<&str>>())
        .filter(|f| f.get(px) == Some(&backend))
        .filter(|f| !matches!(f.get(sv), Some(&"FRONTEND") | Some(&"BACKEND") | None))
        .map(|f| PoolServer {
            name: f[sv].to_string(),
            status: f.get(st).unwrap_or(&"").to_string(),
            check: check
                .and_then(|c| f.get(c))
                .filter(|c| !c.is_empty())
                .map(|c| c.to_string()),
        })
        .collect()
}

/// The pool of load balancer `lb` now; `None` when its HAProxy's stats do
/// not answer (HAProxy dead, container not running).
pub async fn read_pool(engine: &dyn Engine, lab: &Lab, lb: &str) -> Option<Vec<PoolServer>> {
    let out = engine
        .exec(&lab.container_name(lb), &STATS_CSV)
        .await
        .ok()?;
    let servers = parse_stats(&out.stdout, BACKEND);
    (out.success() && !servers.is_empty()).then_some(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from HAProxy 2.6.12 (the base image's) with one server
    /// passing its layer-7 check and one refusing connections.
    const CSV: &str = include_str!("fixtures/haproxy-stats.csv");

    #[test]
    fn the_stats_csv_gives_each_server_s_state_and_last_check() {
        let pool = parse_stats(CSV, "web");
        assert_eq!(
            pool,
            [
                PoolServer {
                    name: "web1".into(),
                    status: "UP".into(),
                    check: Some("L7OK".into()),
                },
                PoolServer {
                    name: "web2".into(),
                    status: "DOWN".into(),
                    check: Some("L4CON".into()),
                },
            ]
        );
        assert!(pool[0].in_pool() && pool[0].is_up());
        assert!(!pool[1].in_pool());
        // Other proxies' rows are not the pool.
        assert!(parse_stats(CSV, "stats").is_empty());
    }

    #[test]
    fn a_failing_server_is_still_in_the_pool_but_not_up() {
        let s = PoolServer {
            name: "web1".into(),
            status: "UP 1/2".into(),
            check: None,
        };
        assert!(s.in_pool() && !s.is_up());
    }

    #[test]
    fn anything_but_the_csv_is_no_pool() {
        assert!(parse_stats("", "web").is_empty());
        assert!(parse_stats("<html>503</html>", "web").is_empty());
        assert!(parse_stats("# a,b\nweb,web1\n", "web").is_empty());
    }
}
