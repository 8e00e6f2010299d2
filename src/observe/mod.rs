//! Reading a lab from outside, the one place where what a node prints is
//! turned into typed values: who holds the VIP ([`addr`]: `ip -o addr`,
//! `ip -o monitor address`), what keepalived says ([`keepalived`]: its log
//! lines), what HAProxy says of its servers ([`haproxy`]), what the port answers ([`port`]), and, built on those, each
//! node's status and the diagnosis of a lab that is not steady.
//!
//! `lifecycle` (up's readiness, status) and `chaos::watch` (the run's
//! watchers) both read nodes through here.

mod addr;
mod dump;
mod haproxy;
mod keepalived;
mod pool;
mod port;
mod steady;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;

use crate::engine::{ContainerInfo, ContainerState, Engine, EngineError};
use crate::lab::Lab;
use crate::timeline::VrrpState;

pub use addr::{lists_vip, vip_change, vip_change_at, AddrLine};
pub use dump::{InstanceData, InstanceStats};
pub use haproxy::{pool_change, pool_change_at, PoolLine};
pub use keepalived::{
    engine_stamp, last_state, meaning, telling, vrrp_state, vrrp_state_at, LogLine, Said,
};
pub use pool::{parse_stats, read_pool, PoolServer};
pub use port::{fetch, url, ProxyAnswer};
#[cfg(test)]
pub(crate) use steady::look_output;
pub use steady::{
    assess, assess_with_pool, holder, look_node, steadiness, Condition, Health, NodeLook, PoolLook,
    Steadiness,
};

/// How much of a node's log is read for its keepalived state.
const LOG_TAIL: usize = 500;
/// How many of keepalived's telling lines a diagnosis shows per node.
const SHOWN_LINES: usize = 8;
/// How long a status or diagnosis waits for the port's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// `ip -4 -o addr show dev <interface>`: the node's IPv4 addresses now.
pub fn addr_show(interface: &str) -> [&str; 7] {
    ["ip", "-4", "-o", "addr", "show", "dev", interface]
}

/// `ip -ts -o monitor address dev <interface>`: every address added or
/// removed from now on, one line each, stamped with the time the monitor
/// saw it (see [`AddrLine`]).
pub fn addr_monitor(interface: &str) -> [&str; 7] {
    ["ip", "-ts", "-o", "monitor", "address", "dev", interface]
}

/// Whether `container` has the lab's VIP on the lab's interface.
pub async fn holds_vip(
    engine: &dyn Engine,
    lab: &Lab,
    container: &str,
) -> Result<bool, EngineError> {
    let out = engine
        .exec(container, &addr_show(&lab.spec().vrrp.interface))
        .await?;
    Ok(lists_vip(&out.stdout, lab.vip_addr()))
}

/// The last `tail` lines of `container`'s log; none when it cannot be read.
pub async fn log_lines(engine: &dyn Engine, container: &str, tail: usize) -> Vec<String> {
    match engine.logs(container, Some(tail), false).await {
        Ok(s) => s.filter_map(|l| async { l.ok() }).collect().await,
        Err(_) => Vec::new(),
    }
}

/// One look at whether `lab` is steady: the port answers with the
/// master's page (through the master, in the production shape) and the
/// master holds the VIP. The answer when it is.
pub async fn steady(engine: &dyn Engine, lab: &Lab) -> Option<ProxyAnswer> {
    let master = lab.master();
    // The port first: it costs a local request, the VIP an exec.
    let answer = fetch(lab, ANSWER_TIMEOUT).await;
    if !answer.is_page_of(&master.name) {
        return None;
    }
    let holds = holds_vip(engine, lab, &lab.container_name(&master.name)).await;
    holds.unwrap_or(false).then_some(answer)
}

/// What one node is doing now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub container: String,
    /// `None`: the container does not exist.
    pub state: Option<ContainerState>,
    pub ip: Option<Ipv4Addr>,
    /// The last state keepalived logged entering.
    pub vrrp: Option<VrrpState>,
    /// `None` when it cannot be asked (not running).
    pub holds_vip: Option<bool>,
    /// On a node running nginx (the seed's shape).
    pub nginx_alive: Option<bool>,
    /// On a node running HAProxy (the production shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub haproxy_alive: Option<bool>,
    /// keepalived's telling lines (see [`Said`]), the last few.
    #[serde(skip)]
    pub said: Vec<String>,
    /// The log's last line, whatever it is.
    #[serde(skip)]
    pub last_line: Option<String>,
}

/// Read node `name` of `lab`, whose container the engine listed as `found`.
pub async fn read_node(
    engine: &dyn Engine,
    lab: &Lab,
    name: &str,
    found: Option<&ContainerInfo>,
) -> NodeStatus {
    let container = lab.container_name(name);
    let state = found.map(|c| c.state);
    let (mut holds_vip, mut nginx_alive, mut haproxy_alive) = (None, None, None);
    if state == Some(ContainerState::Running) {
        holds_vip = self::holds_vip(engine, lab, &container).await.ok();
        let c = container.as_str();
        let alive = |process: &'static str| async move {
            engine
                .exec(c, &["pgrep", "-x", process])
                .await
                .ok()
                .map(|o| o.success())
        };
        match lab.node(name).is_some_and(|n| n.runs_haproxy()) {
            true => haproxy_alive = alive("haproxy").await,
            false => nginx_alive = alive("nginx").await,
        }
    }
    let log = match found {
        Some(_) => log_lines(engine, &container, LOG_TAIL).await,
        None => Vec::new(),
    };
    let said = telling(&log);
    let skip = said.len().saturating_sub(SHOWN_LINES);
    NodeStatus {
        name: name.to_string(),
        state,
        ip: found.and_then(|c| c.ip),
        vrrp: last_state(&log),
        holds_vip,
        nginx_alive,
        haproxy_alive,
        said: said[skip..].iter().map(|l| l.trim().to_string()).collect(),
        last_line: log.last().map(|l| l.trim().to_string()),
        container,
    }
}

/// Every node of `lab` as the engine lists its containers, and what the
/// port answers.
pub async fn read_lab(
    engine: &dyn Engine,
    lab: &Lab,
    containers: &[ContainerInfo],
) -> (Vec<NodeStatus>, ProxyAnswer) {
    let reads = lab.spec().nodes.iter().map(|n| {
        let cname = lab.container_name(&n.name);
        let found = containers.iter().find(|c| c.name == cname);
        read_node(engine, lab, &n.name, found)
    });
    // The nodes are asked at the same time: each costs a few execs.
    let (nodes, answer) = tokio::join!(
        futures_util::future::join_all(reads),
        fetch(lab, ANSWER_TIMEOUT)
    );
    (nodes, answer)
}

/// Why a lab is not steady, from its nodes and its port: who holds the
/// VIP, what keepalived said on each node, what the port answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub vip: Ipv4Addr,
    pub nodes: Vec<NodeStatus>,
    pub url: String,
    pub answer: ProxyAnswer,
}

impl Diagnosis {
    /// The nodes that hold the VIP.
    pub fn holders(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.holds_vip == Some(true))
            .map(|n| n.name.as_str())
            .collect()
    }
}

/// Look at `lab` now and say why it is not steady.
pub async fn diagnose(engine: &dyn Engine, lab: &Lab) -> Diagnosis {
    let containers = crate::engine::lab_containers(engine, lab.name())
        .await
        .unwrap_or_default();
    let (nodes, answer) = read_lab(engine, lab, &containers).await;
    Diagnosis {
        vip: lab.vip_addr(),
        nodes,
        url: url(lab),
        answer,
    }
}

/// One indented line per finding, each starting on a new line: it follows
/// the error's first line.
impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holders = self.holders();
        let holders = if holders.is_empty() {
            "no node".to_string()
        } else {
            holders.join(", ")
        };
        write!(f, "\n    VIP {} held by: {holders}", self.vip)?;
        for n in &self.nodes {
            write!(f, "\n    {}: ", n.name)?;
            if n.said.is_empty() {
                f.write_str("no keepalived state lines in its log")?;
                if let Some(last) = &n.last_line {
                    write!(f, " (last line: {last})")?;
                }
            } else {
                f.write_str("keepalived said:")?;
                for l in &n.said {
                    write!(f, "\n      {l}")?;
                }
            }
        }
        match self.answer.error {
            Some(_) => write!(f, "\n    {} gave {}", self.url, self.answer),
            None => write!(f, "\n    {} answered: {}", self.url, self.answer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{lab_selector, ExecOutput, FakeEngine, Labels};

    fn lab() -> Lab {
        crate::lab::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml"),
        )
        .unwrap()
    }

    fn node(name: &str, holds: Option<bool>, said: &[&str], last: Option<&str>) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            container: format!("nginx-keepalived-{name}"),
            state: Some(ContainerState::Running),
            ip: None,
            vrrp: None,
            holds_vip: holds,
            nginx_alive: None,
            haproxy_alive: None,
            said: said.iter().map(|s| s.to_string()).collect(),
            last_line: last.map(str::to_string),
        }
    }

    #[test]
    fn a_diagnosis_names_the_holders_keepalived_s_words_and_the_answer() {
        let d = Diagnosis {
            vip: "172.20.128.4".parse().unwrap(),
            nodes: vec![
                node(
                    "nginx_master",
                    Some(false),
                    &["VRRP_Script(chk_nginx) failed (exited with status 1)"],
                    None,
                ),
                node("nginx_slave", None, &[], Some("nginx started")),
            ],
            url: "http://127.0.0.1:8000/".into(),
            answer: ProxyAnswer {
                status: Some(503),
                body: Some("no server".into()),
                ..ProxyAnswer::default()
            },
        };
        insta::assert_snapshot!(d.to_string(), @r"

            VIP 172.20.128.4 held by: no node
            nginx_master: keepalived said:
              VRRP_Script(chk_nginx) failed (exited with status 1)
            nginx_slave: no keepalived state lines in its log (last line: nginx started)
            http://127.0.0.1:8000/ answered: 503 no server
        ");
    }

    #[tokio::test]
    async fn a_node_is_read_from_its_addresses_processes_and_log() {
        let lab = lab();
        let e = FakeEngine::new();
        e.add_network("n", "10.1.0.0/16".parse().unwrap(), Labels::new());
        e.add_image("i", Labels::new());
        let spec = crate::engine::ContainerSpec {
            name: lab.container_name("nginx_master"),
            image: "i".into(),
            env: Default::default(),
            labels: lab_selector(lab.name()),
            network: "n".into(),
            ip: None,
            cap_add: vec![],
            publish: None,
        };
        e.create_container(&spec).await.unwrap();
        e.start(&spec.name).await.unwrap();
        e.set_exec(|_, argv| ExecOutput {
            exit_code: 0,
            stdout: if argv[0] == "ip" {
                "117: eth0    inet 172.20.128.4/24 scope global eth0\\       valid_lft forever\n"
                    .into()
            } else {
                String::new()
            },
            stderr: String::new(),
        });
        let log: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    "Fri Nov 27 10:34:54 2026: (VI_1) Entering {} STATE",
                    if i % 2 == 0 { "BACKUP" } else { "MASTER" }
                )
            })
            .chain(["Fri Nov 27 10:34:54 2026: (VI_1) setting VIPs.".to_string()])
            .collect();
        let refs: Vec<&str> = log.iter().map(String::as_str).collect();
        e.set_logs(&spec.name, &refs);
        let listed = e.list_containers(&lab_selector(lab.name())).await.unwrap();
        let n = read_node(&e, &lab, "nginx_master", listed.first()).await;
        assert_eq!(n.state, Some(ContainerState::Running));
        assert_eq!(n.vrrp, Some(VrrpState::Master));
        assert_eq!(n.holds_vip, Some(true));
        assert_eq!(n.nginx_alive, Some(true));
        assert_eq!(n.said.len(), SHOWN_LINES);
        assert_eq!(n.said[SHOWN_LINES - 1], log[19]);
        assert_eq!(n.last_line.as_deref(), Some(log[20].as_str()));
        // The log's lines are no part of the status JSON.
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["vrrp"], "MASTER");
        assert!(json.get("said").is_none() && json.get("last_line").is_none());

        let gone = read_node(&e, &lab, "nginx_slave", None).await;
        assert_eq!(
            (gone.state, gone.vrrp, gone.holds_vip, gone.nginx_alive),
            (None, None, None, None)
        );
    }
}
