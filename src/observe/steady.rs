//! What "steady" means, as data: a list of named conditions, each checked
//! on what the nodes say of themselves and reported on its own, so that
//! `up`, `status`, `test` and every scenario's baseline agree — and a lab
//! with two masters is never called healthy because its port answers.
//!
//! A lab is steady when exactly one node holds the VIP; it is the node that
//! should (the configured master, or any one node with `preempt: false`);
//! that node is MASTER and every other BACKUP *hearing it* (keepalived's own
//! data dump names the master whose adverts it accepted); no node counts
//! refused VRRP packets; and the port answers the holder's page. In the
//! production shape (a load-balancer pair) the answers must come through
//! the holder (its `X-Halab-LB` header), and every web server must be UP in
//! the holder's HAProxy (`pool`).

use std::fmt;
#[cfg(test)]
use std::net::Ipv4Addr;

use serde::Serialize;

use super::dump::{self, InstanceData, InstanceStats};
use super::{addr_show, lists_vip, log_lines, meaning, telling, PoolServer, ProxyAnswer};
use crate::engine::{ContainerState, Engine};
use crate::lab::{Lab, Shape};
use crate::timeline::VrrpState;

/// Separates the parts of [`LOOK`]'s output.
const CUT: &str = "@@halab@@";

/// One exec per node: its addresses, then keepalived's data and stats
/// dumps. The files are removed first and read once their size stops
/// changing (keepalived's VRRP process writes them after the signal).
const LOOK: &str = r#"ip -4 -o addr show dev "$1"; echo @@halab@@
p=$(cat /run/keepalived.pid 2>/dev/null) && kill -0 "$p" 2>/dev/null || exit 0
rm -f /tmp/keepalived.data /tmp/keepalived.stats
kill -s "$(keepalived --signum=DATA)" "$p"; kill -s "$(keepalived --signum=STATS)" "$p"
last=; i=0
while [ "$i" -lt 40 ]; do
  now="$(wc -c </tmp/keepalived.data 2>/dev/null):$(wc -c </tmp/keepalived.stats 2>/dev/null)"
  case "$now" in :*|*:|0:*|*:0) ;; *) [ "$now" = "$last" ] && break ;; esac
  last=$now; i=$((i + 1)); sleep 0.025
done
cat /tmp/keepalived.data; echo @@halab@@; cat /tmp/keepalived.stats"#;

/// What one node says of itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeLook {
    pub name: String,
    pub running: bool,
    /// `None`: it could not be asked.
    pub holds_vip: Option<bool>,
    /// keepalived's first instance in its data dump (`None`: no keepalived
    /// answered).
    pub data: Option<InstanceData>,
    pub stats: Option<InstanceStats>,
    /// keepalived's telling log lines, the last few.
    pub said: Vec<String>,
}

/// One named condition of a steady lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// `one-owner`, `right-owner`, `state`, `hears-master`,
    /// `no-vrrp-errors`, `port`, `pool` (production shape: one per web
    /// server).
    pub name: &'static str,
    /// The node it is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub ok: bool,
    pub detail: String,
}

/// The lab's health in the word a person looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Steady,
    /// Two or more nodes hold the VIP.
    SplitBrain,
    /// Anything else that is not steady.
    Degraded,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Steady => "steady",
            Health::SplitBrain => "SPLIT BRAIN",
            Health::Degraded => "DEGRADED",
        })
    }
}

/// Every condition, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Steadiness {
    pub health: Health,
    pub conditions: Vec<Condition>,
}

impl Steadiness {
    pub fn is_steady(&self) -> bool {
        self.health == Health::Steady
    }

    pub fn failed(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| !c.ok)
    }
}

/// One indented line per failed condition.
impl fmt::Display for Steadiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.health)?;
        for c in self.failed() {
            match &c.node {
                Some(n) => write!(f, "\n  - {n}: {}", c.detail)?,
                None => write!(f, "\n  - {}", c.detail)?,
            }
        }
        Ok(())
    }
}

/// The VIP holder's pool, as its HAProxy said (production shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLook {
    /// The load balancer asked.
    pub lb: String,
    /// `None`: its stats did not answer.
    pub servers: Option<Vec<PoolServer>>,
}

/// Judge `nodes` and the port's `answer` against every condition.
pub fn assess(lab: &Lab, nodes: &[NodeLook], answer: &ProxyAnswer) -> Steadiness {
    assess_with_pool(lab, nodes, answer, None)
}

/// [`assess`], with the VIP holder's `pool` in the production shape.
pub fn assess_with_pool(
    lab: &Lab,
    nodes: &[NodeLook],
    answer: &ProxyAnswer,
    pool: Option<&PoolLook>,
) -> Steadiness {
    let mut out = Vec::new();
    let vip = lab.vip_addr();
    let holders: Vec<&NodeLook> = nodes.iter().filter(|n| n.holds_vip == Some(true)).collect();
    let names = |ns: &[&NodeLook]| {
        ns.iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    out.push(Condition {
        name: "one-owner",
        node: None,
        ok: holders.len() == 1,
        detail: match holders.len() {
            0 => format!("no node holds the VIP {vip}"),
            1 => format!("{} holds the VIP {vip}", holders[0].name),
            _ => format!("split brain: {} hold the VIP {vip}", names(&holders)),
        },
    });

    let configured = lab.master().name.as_str();
    let preempt = lab.spec().vrrp.preempt;
    // The node every other should hear: the one holder when there is one
    // (and it may be any with preempt off), else the configured master.
    let master = match holders.as_slice() {
        [one] if !preempt => one.name.as_str(),
        _ => configured,
    };
    if let [one] = holders.as_slice() {
        let ok = !preempt || one.name == configured;
        out.push(Condition {
            name: "right-owner",
            node: Some(one.name.clone()),
            ok,
            detail: if ok {
                "holds the VIP, as it should".into()
            } else {
                format!("holds the VIP, but {configured} should: it has the highest priority and the lab preempts")
            },
        });
    }

    let master_ip = lab.node(master).map(|n| n.ip);
    for n in nodes {
        if !n.running {
            out.push(Condition {
                name: "state",
                node: Some(n.name.clone()),
                ok: false,
                detail: "its container is not running".into(),
            });
            continue;
        }
        let Some(data) = &n.data else {
            out.push(Condition {
                name: "state",
                node: Some(n.name.clone()),
                ok: false,
                detail: "keepalived does not answer (not running?)".into(),
            });
            continue;
        };
        let want = if n.name == master {
            VrrpState::Master
        } else {
            VrrpState::Backup
        };
        let ok = data.state == Some(want);
        let is = data
            .state
            .map_or("in no known state".to_string(), |s| format!("{s}"));
        out.push(Condition {
            name: "state",
            node: Some(n.name.clone()),
            ok,
            detail: if ok {
                format!("keepalived is {is}")
            } else {
                format!("keepalived is {is}, should be {want}")
            },
        });
        if n.name != master {
            let heard = data.master_router.is_some() && data.master_router == master_ip;
            let received = n.stats.as_ref().map(|s| s.adverts_received);
            out.push(Condition {
                name: "hears-master",
                node: Some(n.name.clone()),
                ok: heard,
                detail: if heard {
                    format!("hears {master}'s adverts")
                } else {
                    not_hearing(n, master, received)
                },
            });
        }
        let refused = n.stats.as_ref().map_or(0, |s| s.packet_errors);
        let bad_line = n.said.iter().rev().find(|l| meaning(l).is_some());
        let ok = refused == 0 && bad_line.is_none();
        out.push(Condition {
            name: "no-vrrp-errors",
            node: Some(n.name.clone()),
            ok,
            detail: match bad_line {
                _ if ok => "no refused VRRP packets".into(),
                Some(l) => format!(
                    "keepalived says `{}` — {}",
                    short(l),
                    meaning(l).unwrap_or("")
                ),
                None => format!(
                    "keepalived refused {refused} VRRP packets (see `halab logs {}`)",
                    n.name
                ),
            },
        });
    }

    let serving = match holders.as_slice() {
        [one] => Some(one.name.as_str()),
        _ => None,
    };
    let ok = serving.is_some_and(|s| answer.is_page_of(s));
    let pair = lab.shape() == Shape::LbPair;
    out.push(Condition {
        name: "port",
        node: None,
        ok,
        detail: match serving {
            Some(s) if ok && pair => format!("the VIP answers through {s}"),
            Some(s) if ok => format!("the port answers {s}'s page"),
            Some(s) if pair => format!("the VIP does not answer through {s}: {answer}"),
            Some(s) => format!("the port does not answer {s}'s page: {answer}"),
            None if answer.error.is_some() => {
                format!("the port gave {answer}, and no single node holds the VIP")
            }
            None => format!("the port answered {answer}, but no single node holds the VIP"),
        },
    });
    if pair {
        if let Some(p) = pool {
            out.extend(pool_conditions(lab, p));
        }
    }

    let health = if holders.len() > 1 {
        Health::SplitBrain
    } else if out.iter().all(|c| c.ok) {
        Health::Steady
    } else {
        Health::Degraded
    };
    Steadiness {
        health,
        conditions: out,
    }
}

/// One `pool` condition per web server: UP in the holder's HAProxy.
fn pool_conditions(lab: &Lab, pool: &PoolLook) -> Vec<Condition> {
    let lb = &pool.lb;
    lab.backends()
        .iter()
        .map(|w| {
            let found = pool
                .servers
                .as_ref()
                .map(|s| s.iter().find(|p| p.name == w.name));
            let (ok, detail) = match found {
                None => (
                    false,
                    format!("{lb}'s HAProxy stats do not answer (is HAProxy running?)"),
                ),
                Some(None) => (false, format!("is not in {lb}'s HAProxy backend")),
                Some(Some(p)) if p.is_up() => (true, format!("UP in {lb}'s pool")),
                Some(Some(p)) => (
                    false,
                    format!(
                        "{} in {lb}'s pool (last check {})",
                        p.status,
                        p.check.as_deref().unwrap_or("none")
                    ),
                ),
            };
            Condition {
                name: "pool",
                node: Some(w.name.clone()),
                ok,
                detail,
            }
        })
        .collect()
}

/// Why `n` does not hear `master`, in keepalived's own words where it said
/// any.
fn not_hearing(n: &NodeLook, master: &str, received: Option<u64>) -> String {
    if let Some(l) = n.said.iter().rev().find(|l| meaning(l).is_some()) {
        return format!(
            "does not hear {master}: keepalived says `{}` — {}",
            short(l),
            meaning(l).unwrap_or("")
        );
    }
    match received {
        Some(0) => "has received no VRRP advert at all (keepalived's stats): the nodes do not share `virtual_router_id`, a `unicast_peer` list misses the other node, or VRRP is filtered between them".to_string(),
        _ => format!("does not hear {master}'s adverts (keepalived knows no master router)"),
    }
}

/// keepalived's line without its time stamp.
fn short(line: &str) -> &str {
    let t = line.trim();
    // `Fri Nov 27 10:34:42 2026: (VI_1) received an invalid passwd!`
    match t.find(": ") {
        Some(i) if t[..i].len() == 24 => &t[i + 2..],
        _ => t,
    }
}

/// What [`LOOK`] prints on a node in `state` that hears `master` and lists
/// `addrs`: for fake engines in tests.
#[cfg(test)]
pub(crate) fn look_output(addrs: &str, state: VrrpState, master: Option<Ipv4Addr>) -> String {
    let heard = master.map_or(String::new(), |m| format!("   Master router = {m}\n"));
    format!(
        "{addrs}{CUT}\n------< VRRP Topology >------\n VRRP Instance = VI_1\n   State = {state}\n{heard}{CUT}\nVRRP Instance: VI_1\n  Advertisements:\n    Received: 5\n"
    )
}

/// Read one node: its addresses and keepalived's dumps in one exec, its
/// telling log lines.
pub async fn look_node(engine: &dyn Engine, lab: &Lab, name: &str) -> NodeLook {
    let container = lab.container_name(name);
    let mut look = NodeLook {
        name: name.to_string(),
        ..NodeLook::default()
    };
    look.running = matches!(
        engine.run_state(&container).await,
        Ok(Some(r)) if r.state == ContainerState::Running
    );
    if !look.running {
        return look;
    }
    let interface = lab.spec().vrrp.interface.as_str();
    let argv = ["sh", "-c", LOOK, "look", interface];
    if let Ok(out) = engine.exec(&container, &argv).await {
        let mut parts = out.stdout.split(CUT);
        let addrs = parts.next().unwrap_or("");
        look.holds_vip = Some(lists_vip(addrs, lab.vip_addr()));
        look.data = parts
            .next()
            .and_then(|d| dump::parse_data(d).into_iter().next());
        look.stats = parts
            .next()
            .and_then(|s| dump::parse_stats(s).into_iter().next());
    } else if let Ok(out) = engine.exec(&container, &addr_show(interface)).await {
        look.holds_vip = Some(lists_vip(&out.stdout, lab.vip_addr()));
    }
    let log = log_lines(engine, &container, 200).await;
    look.said = telling(&log).iter().map(|l| l.to_string()).collect();
    look
}

/// Look at every node and the port at once (then, in the production
/// shape, at the VIP holder's pool), and judge.
pub async fn steadiness(engine: &dyn Engine, lab: &Lab) -> (Steadiness, Vec<NodeLook>) {
    let looks = lab
        .spec()
        .nodes
        .iter()
        .map(|n| look_node(engine, lab, &n.name));
    let (nodes, answer) = tokio::join!(
        futures_util::future::join_all(looks),
        super::fetch(lab, super::ANSWER_TIMEOUT)
    );
    let pool = match holder(&nodes) {
        Some(lb) if lab.shape() == Shape::LbPair => Some(PoolLook {
            lb: lb.to_string(),
            servers: super::read_pool(engine, lab, lb).await,
        }),
        _ => None,
    };
    (assess_with_pool(lab, &nodes, &answer, pool.as_ref()), nodes)
}

/// The one node that holds the VIP, if exactly one does.
pub fn holder(nodes: &[NodeLook]) -> Option<&str> {
    let mut holders = nodes.iter().filter(|n| n.holds_vip == Some(true));
    match (holders.next(), holders.next()) {
        (Some(one), None) => Some(&one.name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M_IP: Ipv4Addr = Ipv4Addr::new(172, 20, 128, 2);

    fn data(state: VrrpState, master: Option<Ipv4Addr>) -> InstanceData {
        InstanceData {
            name: "VI_1".into(),
            state: Some(state),
            master_router: master,
            ..InstanceData::default()
        }
    }

    fn lab() -> Lab {
        crate::lab::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml"),
        )
        .unwrap()
    }

    fn stats(received: u64, auth_errors: u64) -> InstanceStats {
        InstanceStats {
            name: "VI_1".into(),
            adverts_received: received,
            auth_errors,
            packet_errors: auth_errors,
            ..InstanceStats::default()
        }
    }

    fn node(name: &str, holds: bool, d: InstanceData, s: InstanceStats) -> NodeLook {
        NodeLook {
            name: name.into(),
            running: true,
            holds_vip: Some(holds),
            data: Some(d),
            stats: Some(s),
            said: vec![],
        }
    }

    fn answer(node: &str) -> ProxyAnswer {
        ProxyAnswer {
            status: Some(200),
            node: Some(node.into()),
            ..ProxyAnswer::default()
        }
    }

    fn healthy() -> Vec<NodeLook> {
        vec![
            node(
                "nginx_master",
                true,
                data(VrrpState::Master, None),
                stats(0, 0),
            ),
            node(
                "nginx_slave",
                false,
                data(VrrpState::Backup, Some(M_IP)),
                stats(12, 0),
            ),
        ]
    }

    #[test]
    fn a_healthy_lab_meets_every_condition() {
        let s = assess(&lab(), &healthy(), &answer("nginx_master"));
        assert_eq!(s.health, Health::Steady, "{s}");
        let names: Vec<_> = s.conditions.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "one-owner",
                "right-owner",
                "state",
                "no-vrrp-errors",
                "state",
                "hears-master",
                "no-vrrp-errors",
                "port"
            ]
        );
    }

    #[test]
    fn two_masters_with_another_password_are_a_split_brain_named_by_keepalived() {
        let mut nodes = healthy();
        for n in &mut nodes {
            n.holds_vip = Some(true);
            n.data = Some(data(VrrpState::Master, None));
            n.stats = Some(stats(0, 5));
            n.said = vec!["Fri Nov 27 10:34:42 2026: (VI_1) received an invalid passwd!".into()];
        }
        let s = assess(&lab(), &nodes, &answer("nginx_slave"));
        assert_eq!(s.health, Health::SplitBrain);
        insta::assert_snapshot!(s.to_string(), @"
        SPLIT BRAIN
          - split brain: nginx_master and nginx_slave hold the VIP 172.20.128.4
          - nginx_master: keepalived says `(VI_1) received an invalid passwd!` — the nodes do not share `auth_pass`
          - nginx_slave: keepalived is MASTER, should be BACKUP
          - nginx_slave: does not hear nginx_master: keepalived says `(VI_1) received an invalid passwd!` — the nodes do not share `auth_pass`
          - nginx_slave: keepalived says `(VI_1) received an invalid passwd!` — the nodes do not share `auth_pass`
          - the port answered 200 with the page of nginx_slave, but no single node holds the VIP
        ");
    }

    #[test]
    fn a_backup_that_hears_nothing_is_told_apart_by_its_stats() {
        let mut nodes = healthy();
        nodes[1].holds_vip = Some(true);
        nodes[1].data = Some(data(VrrpState::Master, None));
        nodes[1].stats = Some(stats(0, 0));
        let s = assess(&lab(), &nodes, &answer("nginx_master"));
        assert_eq!(s.health, Health::SplitBrain);
        let hears = s
            .conditions
            .iter()
            .find(|c| c.name == "hears-master")
            .unwrap();
        assert!(!hears.ok);
        assert!(
            hears
                .detail
                .starts_with("has received no VRRP advert at all"),
            "{}",
            hears.detail
        );
    }

    #[test]
    fn the_backup_holding_the_vip_of_a_preempting_lab_is_degraded() {
        let mut nodes = healthy();
        nodes[0].holds_vip = Some(false);
        nodes[0].data = Some(data(VrrpState::Fault, None));
        nodes[1].holds_vip = Some(true);
        nodes[1].data = Some(data(VrrpState::Master, None));
        let s = assess(&lab(), &nodes, &answer("nginx_slave"));
        assert_eq!(s.health, Health::Degraded);
        let failed: Vec<_> = s.failed().map(|c| c.name).collect();
        assert_eq!(failed, ["right-owner", "state", "state", "hears-master"]);
        assert_eq!(
            s.failed().next().unwrap().detail,
            "holds the VIP, but nginx_master should: it has the highest priority and the lab preempts"
        );
    }

    #[test]
    fn no_owner_a_stopped_node_and_a_silent_keepalived_are_each_named() {
        let mut nodes = healthy();
        nodes[0] = NodeLook {
            name: "nginx_master".into(),
            ..NodeLook::default()
        };
        nodes[1].holds_vip = Some(false);
        nodes[1].data = None;
        let s = assess(&lab(), &nodes, &ProxyAnswer::default());
        assert_eq!(s.health, Health::Degraded);
        // The fake engines' dump is what the parsers read.
        let out = look_output("", VrrpState::Backup, Some(M_IP));
        let mut parts = out.split(CUT).skip(1);
        let d = dump::parse_data(parts.next().unwrap());
        assert_eq!(d[0].state, Some(VrrpState::Backup));
        assert_eq!(d[0].master_router, Some(M_IP));
        assert_eq!(
            dump::parse_stats(parts.next().unwrap())[0].adverts_received,
            5
        );
        let details: Vec<_> = s.failed().map(|c| c.detail.as_str()).collect();
        assert_eq!(details[0], "no node holds the VIP 172.20.128.4");
        assert_eq!(details[1], "its container is not running");
        assert_eq!(details[2], "keepalived does not answer (not running?)");
    }

    fn pair() -> Lab {
        crate::lab::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/lb-pair.yaml"),
        )
        .unwrap()
    }

    fn pair_nodes() -> Vec<NodeLook> {
        let lb1 = Ipv4Addr::new(172, 24, 128, 2);
        vec![
            node("lb1", true, data(VrrpState::Master, None), stats(0, 0)),
            node(
                "lb2",
                false,
                data(VrrpState::Backup, Some(lb1)),
                stats(9, 0),
            ),
        ]
    }

    fn through(lb: &str) -> ProxyAnswer {
        ProxyAnswer {
            status: Some(200),
            node: Some(lb.into()),
            backend: Some("web2".into()),
            ..ProxyAnswer::default()
        }
    }

    fn pool(lb: &str, states: &[(&str, &str)]) -> PoolLook {
        PoolLook {
            lb: lb.into(),
            servers: Some(
                states
                    .iter()
                    .map(|(n, s)| PoolServer {
                        name: n.to_string(),
                        status: s.to_string(),
                        check: Some("L7STS".into()),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn a_pair_is_steady_when_the_holder_carries_the_answers_and_every_web_server_is_up() {
        let up = pool("lb1", &[("web1", "UP"), ("web2", "UP"), ("web3", "UP")]);
        let s = assess_with_pool(&pair(), &pair_nodes(), &through("lb1"), Some(&up));
        assert_eq!(s.health, Health::Steady, "{s}");
        let pools: Vec<_> = s.conditions.iter().filter(|c| c.name == "pool").collect();
        assert_eq!(pools.len(), 3);
        assert_eq!(pools[0].detail, "UP in lb1's pool");
        let port = s.conditions.iter().find(|c| c.name == "port").unwrap();
        assert_eq!(port.detail, "the VIP answers through lb1");
    }

    #[test]
    fn a_pair_answering_through_the_backup_or_with_a_server_down_is_degraded() {
        let up = pool("lb1", &[("web1", "UP"), ("web2", "UP"), ("web3", "UP")]);
        let s = assess_with_pool(&pair(), &pair_nodes(), &through("lb2"), Some(&up));
        assert_eq!(s.failed().map(|c| c.name).collect::<Vec<_>>(), ["port"]);
        let down = pool("lb1", &[("web1", "UP"), ("web2", "DOWN")]);
        let s = assess_with_pool(&pair(), &pair_nodes(), &through("lb1"), Some(&down));
        insta::assert_snapshot!(s.to_string(), @"
        DEGRADED
          - web2: DOWN in lb1's pool (last check L7STS)
          - web3: is not in lb1's HAProxy backend
        ");
        let silent = PoolLook {
            lb: "lb1".into(),
            servers: None,
        };
        let s = assess_with_pool(&pair(), &pair_nodes(), &through("lb1"), Some(&silent));
        assert_eq!(s.failed().count(), 3);
        assert!(s.to_string().contains("lb1's HAProxy stats do not answer"));
    }

    #[test]
    fn the_holder_is_the_one_node_with_the_vip() {
        let mut nodes = pair_nodes();
        assert_eq!(holder(&nodes), Some("lb1"));
        nodes[1].holds_vip = Some(true);
        assert_eq!(holder(&nodes), None);
    }
}
