//! `status`: every member of the lab as the engine and its nodes say, and
//! what the port answers; as data (`--json`) or a terminal table.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::LifecycleError;
use crate::engine::{ContainerState, Engine};
use crate::lab::Lab;
use crate::observe::{self, NodeStatus, PoolServer, ProxyAnswer, Steadiness};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyStatus {
    pub name: String,
    pub container: String,
    pub state: Option<ContainerState>,
    pub ip: Option<Ipv4Addr>,
}

/// A web server of the production shape: its container, and its place in
/// the pool of the load balancer that holds the VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebStatus {
    pub name: String,
    pub container: String,
    pub state: Option<ContainerState>,
    pub ip: Option<Ipv4Addr>,
    /// HAProxy sends it requests (`None`: no pool could be read).
    pub in_pool: Option<bool>,
    /// HAProxy's word for it (`UP`, `DOWN`, `UP 1/2`, …).
    pub pool_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabStatus {
    pub lab: String,
    pub network: String,
    pub subnet: Ipv4Net,
    pub vip: Ipv4Net,
    pub nodes: Vec<NodeStatus>,
    /// Web servers (production shape; empty in the seed's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub web: Vec<WebStatus>,
    /// The load balancer whose HAProxy said what `web[].in_pool` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_of: Option<String>,
    /// The front proxy (`None` in the production shape: clients use the VIP).
    pub proxy: Option<ProxyStatus>,
    pub url: String,
    pub answer: ProxyAnswer,
    /// Every condition of a steady lab, checked (see `observe::steady`).
    #[serde(flatten)]
    pub steadiness: Steadiness,
}

/// What each member of `lab` is doing now.
pub async fn status(engine: &dyn Engine, lab: &Lab) -> Result<LabStatus, LifecycleError> {
    let containers = crate::engine::lab_containers(engine, lab.name()).await?;
    if containers.is_empty() {
        return Err(LifecycleError::not_up(lab));
    }
    let ((nodes, answer), (steadiness, _)) = tokio::join!(
        observe::read_lab(engine, lab, &containers),
        observe::steadiness(engine, lab)
    );
    let p = &lab.spec().proxy;
    let found = |container: &str| containers.iter().find(|c| c.name == container);
    let proxy = lab.has_front_proxy().then(|| {
        let container = lab.container_name(&p.name);
        let pc = found(&container);
        ProxyStatus {
            name: p.name.clone(),
            state: pc.map(|c| c.state),
            ip: pc.and_then(|c| c.ip),
            container,
        }
    });
    // The pool that matters is the VIP holder's: it carries the answers.
    let pool_of = match nodes
        .iter()
        .filter(|n| n.holds_vip == Some(true))
        .collect::<Vec<_>>()[..]
    {
        [one] if !lab.backends().is_empty() => Some(one.name.clone()),
        _ => None,
    };
    let pool = match &pool_of {
        Some(lb) => observe::read_pool(engine, lab, lb).await,
        None => None,
    };
    let web = lab
        .backends()
        .iter()
        .map(|w| {
            let container = lab.container_name(&w.name);
            let wc = found(&container);
            let in_pool: Option<&PoolServer> = pool
                .as_ref()
                .and_then(|p| p.iter().find(|s| s.name == w.name));
            WebStatus {
                name: w.name.clone(),
                state: wc.map(|c| c.state),
                ip: wc.and_then(|c| c.ip),
                in_pool: pool
                    .as_ref()
                    .map(|_| in_pool.is_some_and(PoolServer::in_pool)),
                pool_status: in_pool.map(|s| s.status.clone()),
                container,
            }
        })
        .collect();
    Ok(LabStatus {
        lab: lab.name().to_string(),
        network: lab.network_name(),
        subnet: lab.spec().network.subnet,
        vip: lab.spec().vip,
        nodes,
        web,
        pool_of,
        proxy,
        url: observe::url(lab),
        answer,
        steadiness,
    })
}

/// `status` as a terminal table plus the proxy's answer.
pub fn status_table(s: &LabStatus) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let yes_no = |v: Option<bool>| opt(v.map(|b| if b { "yes" } else { "no" }.to_string()));
    let state = |v: Option<ContainerState>| v.map_or_else(|| "missing".into(), |x| x.to_string());
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    // The service column: nginx on the seed's nodes, HAProxy on an LB
    // pair's (and the pool state of its web servers).
    let pair = s.proxy.is_none();
    t.set_header(vec![
        "member",
        "container",
        "state",
        "ip",
        "vrrp",
        "VIP",
        if pair { "haproxy / pool" } else { "nginx" },
    ]);
    for n in &s.nodes {
        t.add_row(vec![
            n.name.clone(),
            n.container.clone(),
            state(n.state),
            opt(n.ip.map(|x| x.to_string())),
            opt(n.vrrp.map(|x| x.to_string())),
            yes_no(n.holds_vip),
            yes_no(if pair { n.haproxy_alive } else { n.nginx_alive }),
        ]);
    }
    for w in &s.web {
        let pool = match (&w.pool_status, &s.pool_of) {
            (Some(st), Some(lb)) => format!("{st} in {lb}'s pool"),
            (None, Some(lb)) => format!("not in {lb}'s pool"),
            _ => "-".into(),
        };
        t.add_row(vec![
            w.name.clone(),
            w.container.clone(),
            state(w.state),
            opt(w.ip.map(|x| x.to_string())),
            "-".into(),
            "-".into(),
            pool,
        ]);
    }
    if let Some(p) = &s.proxy {
        t.add_row(vec![
            p.name.clone(),
            p.container.clone(),
            state(p.state),
            opt(p.ip.map(|x| x.to_string())),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }
    let mut out = format!(
        "lab {} on {} ({}), VIP {}\n{t}\n{} → {}\n",
        s.lab, s.network, s.subnet, s.vip, s.url, s.answer
    );
    if s.steadiness.is_steady() {
        out.push_str("steady: one owner, every backup hears the master, no refused VRRP packet\n");
    } else {
        out.push_str(&format!("{}\n", s.steadiness));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::testkit::*;
    use crate::lifecycle::up;

    #[tokio::test]
    async fn status_reads_state_vip_nginx_and_the_answer() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        assert!(matches!(
            status(e.as_ref(), &lab).await.unwrap_err(),
            LifecycleError::NotUp { .. }
        ));
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        e.set_logs(
            "nginx-keepalived-nginx_master",
            &[
                "(VI_1) Entering BACKUP STATE",
                "(VI_1) Entering MASTER STATE",
            ],
        );
        e.pause("nginx-keepalived-nginx_slave").await.unwrap();
        let s = status(e.as_ref(), &lab).await.unwrap();
        let m = &s.nodes[0];
        assert_eq!(m.vrrp, Some(crate::timeline::VrrpState::Master));
        assert_eq!(m.holds_vip, Some(true));
        assert_eq!(m.nginx_alive, Some(true));
        let b = &s.nodes[1];
        assert_eq!(b.state, Some(ContainerState::Paused));
        assert_eq!(b.holds_vip, None);
        assert_eq!(s.answer.node.as_deref(), Some("nginx_master"));
        let table = status_table(&s);
        assert!(
            table.contains("paused") && table.contains("MASTER"),
            "{table}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["nodes"][1]["state"], "paused");
    }
}
