//! Lint rules over the models of a user's configs: pure functions that say,
//! for each defect, where it is, what happens at run time (against the
//! daemons in halab's image: keepalived 2.2.7, HAProxy 2.6 on Debian, in a
//! container) and the fix. The wording of every rule lives here.
//!
//! One file on purpose (it is long): every rule's wording lives here, in one
//! place, as the rule functions that produce it.

use super::compose::ComposeProject;
use super::haproxy::HaproxyConf;
use super::keepalived::{KeepalivedConf, State, VrrpInstance};
use super::{keepalived, read_text, ConfError, Loc};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One rule per defect; its code names it in output and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    HaproxyNbproc,
    HaproxyDaemon,
    CheckNeverSucceeds,
    KeepalivedInBackground,
    LvsVirtualServer,
    OutsideLab,
    NopreemptIgnored,
    AuthPassTooLong,
    FractionalAdvertV2,
    MismatchBetweenNodes,
    ScriptInterval,
    UnknownTrackScript,
}

impl Rule {
    pub fn code(self) -> &'static str {
        match self {
            Rule::HaproxyNbproc => "haproxy-nbproc",
            Rule::HaproxyDaemon => "haproxy-daemon",
            Rule::CheckNeverSucceeds => "check-never-succeeds",
            Rule::KeepalivedInBackground => "keepalived-in-background",
            Rule::LvsVirtualServer => "lvs-virtual-server",
            Rule::OutsideLab => "outside-lab",
            Rule::NopreemptIgnored => "nopreempt-ignored",
            Rule::AuthPassTooLong => "auth-pass-too-long",
            Rule::FractionalAdvertV2 => "fractional-advert-v2",
            Rule::MismatchBetweenNodes => "mismatch-between-nodes",
            Rule::ScriptInterval => "script-interval",
            Rule::UnknownTrackScript => "unknown-track-script",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub at: Loc,
    /// What was found, quoting the file.
    pub what: String,
    /// What happens at run time because of it.
    pub effect: String,
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{sev}[{}]: {}: {}\n  at run time: {}\n  fix: {}",
            self.rule.code(),
            self.at,
            self.what,
            self.effect,
            self.fix
        )
    }
}

fn finding(
    rule: Rule,
    severity: Severity,
    at: &Loc,
    what: impl Into<String>,
    effect: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        rule,
        severity,
        at: at.clone(),
        what: what.into(),
        effect: effect.into(),
        fix: fix.into(),
    }
}

const OUTSIDE_EFFECT: &str =
    "halab never sends traffic outside the lab's own network, so it refuses to run this";

fn outside(at: &Loc, what: String, subnet: IpNet, fix: &str) -> Finding {
    finding(
        Rule::OutsideLab,
        Severity::Error,
        at,
        format!("{what} is outside the lab subnet {subnet}"),
        OUTSIDE_EFFECT,
        fix,
    )
}

/// One keepalived node: its file and the instance halab judges.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub name: &'a str,
    pub conf: &'a KeepalivedConf,
    pub instance: &'a VrrpInstance,
}

/// Rules that read one node's keepalived.conf. `subnet` is the lab's; with
/// none, addresses are not checked.
pub fn keepalived_node(node: &Node, subnet: Option<IpNet>) -> Vec<Finding> {
    let (conf, inst) = (node.conf, node.instance);
    let mut out = Vec::new();
    for s in &conf.scripts {
        if let Some(script) = &s.script {
            let cmd = script.value.split_whitespace().next().unwrap_or("");
            if cmd.rsplit('/').next() == Some("pidof") {
                out.push(finding(
                    Rule::CheckNeverSucceeds,
                    Severity::Error,
                    &script.at,
                    format!("vrrp_script `{}` runs a bare `{}`", s.name, script.value),
                    "keepalived runs the resolved binary without a shell; on Debian `pidof` is a link to killall5, which does not act as pidof when run that way, so the check never succeeds: the instance stays in FAULT, never holds the VIP, and the proxy answers 503",
                    format!("run it from a script (`#!/bin/sh` then `{}`) and name that script, or check the page: `script \"/usr/bin/curl -fsS -o /dev/null http://127.0.0.1/\"`", script.value),
                ));
            }
        }
        if let Some(iv) = &s.interval {
            let v = iv.value.value;
            if v < 1.0 || v.fract() != 0.0 {
                out.push(finding(
                    Rule::ScriptInterval,
                    Severity::Warning,
                    &iv.at,
                    format!("vrrp_script `{}` has `interval {}`", s.name, iv.value.text),
                    format!("keepalived 2.2.7 takes a script interval in whole seconds ≥ 1 only, so the check does not run every {} s as written", iv.value.text),
                    "write a whole number of seconds ≥ 1; for a faster reaction use `track_process` (event-driven) instead of a polled script",
                ));
            }
        }
    }
    for t in &inst.track_scripts {
        if conf.script(&t.name).is_none() {
            let known: Vec<String> = conf
                .scripts
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect();
            out.push(finding(
                Rule::UnknownTrackScript,
                Severity::Warning,
                &t.at,
                format!(
                    "track_script names `{}`, which no vrrp_script defines",
                    t.name
                ),
                "keepalived ignores it: nothing is checked",
                if known.is_empty() {
                    "define the vrrp_script or remove the line".to_string()
                } else {
                    format!("use one of {}", known.join(", "))
                },
            ));
        }
    }
    if let Some(at) = &inst.nopreempt {
        let master = inst
            .state
            .as_ref()
            .filter(|s| s.value == State::Master)
            .map(|_| {
                (
                    "`state MASTER`",
                    "write `state BACKUP` on every node that has `nopreempt`",
                )
            });
        let owner = inst.priority.as_ref().filter(|p| p.value == 255).map(|_| {
            (
                "priority 255 (the address owner, which always preempts)",
                "use a priority below 255",
            )
        });
        if let Some((why, fix)) = master.or(owner) {
            out.push(finding(
                Rule::NopreemptIgnored,
                Severity::Warning,
                at,
                format!("instance `{}` has `nopreempt` with {why}", inst.name),
                "keepalived drops `nopreempt` with only a log line, so this node takes the VIP back when it returns",
                fix,
            ));
        }
    }
    if let Some(pass) = inst.auth.as_ref().and_then(|a| a.pass.as_ref()) {
        if pass.value.len() > 8 {
            let kept = String::from_utf8_lossy(&pass.value.as_bytes()[..8]).into_owned();
            out.push(finding(
                Rule::AuthPassTooLong,
                Severity::Warning,
                &pass.at,
                format!("`auth_pass` is {} characters long", pass.value.len()),
                format!("keepalived uses only the first 8 (`{kept}`): passwords that differ after them are taken as equal"),
                "use at most 8 characters",
            ));
        }
    }
    if let Some(adv) = &inst.advert_int {
        if conf.version_of(inst) == 2 && adv.value.value.fract() != 0.0 {
            out.push(finding(
                Rule::FractionalAdvertV2,
                Severity::Warning,
                &adv.at,
                format!("`advert_int {}` under VRRPv2", adv.value.text),
                format!("VRRPv2 adverts carry whole seconds, so keepalived does not advertise every {} s (0.1 becomes 1 s): failover is slower than written", adv.value.text),
                "write whole seconds, or put `vrrp_version 3` in `global_defs` on every node (VRRPv3 takes 10 ms steps)",
            ));
        }
    }
    for vs in &conf.virtual_servers {
        out.push(finding(
            Rule::LvsVirtualServer,
            Severity::Error,
            &vs.at,
            format!(
                "`virtual_server {}{}` (LVS, {} real servers)",
                vs.addr,
                vs.port.as_deref().map(|p| format!(" {p}")).unwrap_or_default(),
                vs.real_servers.len()
            ),
            lvs_reason(),
            "remove the `virtual_server` block: in this topology HAProxy balances, keepalived only moves the VIP",
        ));
        if let Some(net) = subnet {
            for rs in &vs.real_servers {
                if let Ok(ip) = rs.addr.parse::<IpAddr>() {
                    if !net.contains(&ip) {
                        out.push(outside(
                            &rs.at,
                            format!("real_server {ip}"),
                            net,
                            "remove it with its `virtual_server`, or name a lab node",
                        ));
                    }
                }
            }
        }
    }
    if let Some(net) = subnet {
        for vip in &inst.vips {
            if !net.contains(&vip.addr) {
                out.push(outside(
                    &vip.at,
                    format!("VIP {}", vip.addr),
                    net,
                    "choose a free address inside the lab subnet",
                ));
            }
        }
        for peer in &inst.unicast_peers {
            if !net.contains(&peer.value) {
                out.push(outside(
                    &peer.at,
                    format!("unicast_peer {}", peer.value),
                    net,
                    "list the other lab nodes' addresses only",
                ));
            }
        }
        if let Some(src) = &inst.unicast_src_ip {
            if !net.contains(&src.value) {
                out.push(outside(
                    &src.at,
                    format!("unicast_src_ip {}", src.value),
                    net,
                    "use this node's own lab address",
                ));
            }
        }
    }
    out
}

/// Rules that compare the nodes: each node against the first.
pub fn between_nodes(nodes: &[Node]) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((first, rest)) = nodes.split_first() else {
        return out;
    };
    let split_brain = "the nodes do not accept each other's adverts: both become MASTER and both hold the VIP (a split brain before any fault)";
    for n in rest {
        let (a, b) = (first.instance, n.instance);
        let rid = |i: &VrrpInstance| i.virtual_router_id.as_ref().map(|v| v.value);
        if rid(a) != rid(b) {
            out.push(mismatch(
                n,
                b.virtual_router_id.as_ref().map(|v| &v.at),
                "virtual_router_id",
                Some((show(rid(b)), show(rid(a)))),
                first,
                split_brain,
            ));
        }
        let pass = |i: &VrrpInstance| {
            i.auth
                .as_ref()
                .and_then(|x| x.pass.as_ref())
                .map(|p| p.value.clone())
        };
        if pass(a) != pass(b) {
            let at = b.auth.as_ref().and_then(|x| x.pass.as_ref()).map(|p| &p.at);
            // The passwords themselves are not repeated in the output.
            out.push(mismatch(n, at, "auth_pass", None, first, split_brain));
        }
        let adv = |i: &VrrpInstance| i.advert_int.as_ref().map(|v| v.value.value).unwrap_or(1.0);
        if adv(a) != adv(b) {
            out.push(mismatch(
                n,
                b.advert_int.as_ref().map(|v| &v.at),
                "advert_int",
                Some((format!("{} s", adv(b)), format!("{} s", adv(a)))),
                first,
                "under VRRPv2 keepalived drops adverts with another interval, so both nodes become MASTER; under VRRPv3 the backup times its takeover from the master's interval, not its own",
            ));
        }
        let vips = |i: &VrrpInstance| {
            let mut v: Vec<String> = i
                .vips
                .iter()
                .map(|x| format!("{}/{}", x.addr, x.prefix.unwrap_or(32)))
                .collect();
            v.sort();
            v.join(", ")
        };
        if vips(a) != vips(b) {
            out.push(mismatch(
                n,
                b.vips.first().map(|v| &v.at),
                "virtual_ipaddress",
                Some((vips(b), vips(a))),
                first,
                "after a failover the new master brings up other addresses than the old one: clients of the missing ones find nobody",
            ));
        }
        out.extend(peer_findings(first, n));
    }
    out
}

/// Unicast on one node and multicast on the other, or a unicast node whose
/// peers leave out the other's source address: adverts do not arrive.
fn peer_findings(first: &Node, n: &Node) -> Vec<Finding> {
    let (a, b) = (first.instance, n.instance);
    if a.is_unicast() != b.is_unicast() {
        let (uni, multi) = if a.is_unicast() {
            (first, n)
        } else {
            (n, first)
        };
        return vec![finding(
            Rule::MismatchBetweenNodes,
            Severity::Error,
            &multi.instance.at,
            format!(
                "`{}` uses multicast (no `unicast_peer`) but `{}` unicast",
                multi.name, uni.name
            ),
            format!(
                "`{}` sends its adverts only to the peers it lists and `{}` to the multicast group: neither hears the other, both become MASTER and both hold the VIP (a split brain before any fault)",
                uni.name, multi.name
            ),
            format!(
                "give `{}` a `unicast_src_ip` and a `unicast_peer` block listing the other nodes, or remove `unicast_peer` from every node",
                multi.name
            ),
        )];
    }
    let mut out = Vec::new();
    for (from, to) in [(first, n), (n, first)] {
        let (Some(src), true) = (&to.instance.unicast_src_ip, from.instance.is_unicast()) else {
            continue;
        };
        if !from
            .instance
            .unicast_peers
            .iter()
            .any(|p| p.value == src.value)
        {
            out.push(finding(
                Rule::MismatchBetweenNodes,
                Severity::Error,
                from.instance.unicast_peers.first().map(|p| &p.at).unwrap_or(&from.instance.at),
                format!(
                    "`unicast_peer` of `{}` does not list {}, the `unicast_src_ip` of `{}`",
                    from.name, src.value, to.name
                ),
                format!(
                    "`{}` sends its adverts only to the peers it lists, so `{}` never hears it and becomes MASTER too: both hold the VIP (a split brain before any fault)",
                    from.name, to.name
                ),
                format!("list {} under `unicast_peer` on `{}`", src.value, from.name),
            ));
        }
    }
    out
}

fn show<T: fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into())
}

fn mismatch(
    node: &Node,
    at: Option<&Loc>,
    key: &str,
    values: Option<(String, String)>,
    first: &Node,
    effect: &str,
) -> Finding {
    let what = match values {
        Some((value, first_value)) => format!(
            "`{key}` is {value} on `{}` but {first_value} on `{}`",
            node.name, first.name
        ),
        None => format!(
            "`{key}` differs between `{}` and `{}`",
            node.name, first.name
        ),
    };
    finding(
        Rule::MismatchBetweenNodes,
        Severity::Error,
        at.unwrap_or(&node.instance.at),
        what,
        effect,
        format!(
            "give every node of instance `{}` the same `{key}`",
            node.instance.name
        ),
    )
}

/// Rules that read haproxy.cfg.
pub fn haproxy(cfg: &HaproxyConf, subnet: Option<IpNet>) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in cfg.global("nbproc") {
        out.push(finding(
            Rule::HaproxyNbproc,
            Severity::Error,
            &d.at,
            format!("`nbproc {}`", d.args.join(" ")),
            "HAProxy removed `nbproc` in 2.5 and halab's image has 2.6: the configuration is refused and the proxy does not start",
            "remove the line (HAProxy 2.5+ uses threads on its own; `nbthread N` sets their number)",
        ));
    }
    for d in cfg.global("daemon") {
        out.push(finding(
            Rule::HaproxyDaemon,
            Severity::Warning,
            &d.at,
            "`daemon` in a container",
            "HAProxy forks into the background and the container's main process exits, so the container stops; halab runs HAProxy with `-W -db`, which keeps it in the foreground",
            "remove `daemon` and run `haproxy -W -db -f haproxy.cfg` as the container's main process",
        ));
    }
    if let Some(net) = subnet {
        for s in cfg.servers() {
            if let Ok(ip) = s.addr.parse::<IpAddr>() {
                if !net.contains(&ip) {
                    out.push(outside(
                        &s.at,
                        format!("backend server `{}` {ip}", s.name),
                        net,
                        "point the server at the VIP or a lab node",
                    ));
                }
            }
        }
    }
    out
}

/// Rules that read a script an image runs at start (an entrypoint).
pub fn start_script(path: &Path, text: &str) -> Vec<Finding> {
    let lines = shell_lines(text);
    // A script that traps SIGTERM is taken for a supervisor that hands it on
    // to keepalived (halab's own entrypoint is one).
    let traps_term = lines.iter().any(|(_, l)| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.first() == Some(&"trap")
            && w[1..]
                .iter()
                .any(|s| matches!(*s, "TERM" | "SIGTERM" | "15"))
    });
    if traps_term {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (line_no, line) in &lines {
        let Some(cmd) = keepalived_command(line) else {
            continue;
        };
        let why = if cmd.background {
            "keepalived is started in the background (`&`)"
        } else if !cmd.dont_fork {
            "keepalived forks into the background (no `--dont-fork`)"
        } else if !cmd.exec {
            "keepalived is not the container's main process (no `exec`)"
        } else {
            continue;
        };
        out.push(finding(
            Rule::KeepalivedInBackground,
            Severity::Warning,
            &Loc::new(path, *line_no),
            format!("`{line}`: {why}"),
            "`docker stop` sends SIGTERM to the main process only; keepalived dies with the container without sending its priority-0 advert, so the backup waits Master_Down_Interval (3 × advert_int + skew; ≈4 s of failed requests measured with the seed's project) instead of taking over at once. halab runs its own supervisor, which signals keepalived first",
            "start the other daemons first and end the entrypoint with `exec keepalived --dont-fork --log-console -f /etc/keepalived/keepalived.conf`, or use a supervisor that forwards SIGTERM to keepalived",
        ));
    }
    out
}

/// A script's logical lines with the number of their first line: comments
/// dropped, `\`-continued lines joined.
fn shell_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let mut line = raw.trim();
        if line.starts_with('#') {
            line = "";
        }
        let line = line.split(" #").next().unwrap_or(line);
        let (body, continued) = match line.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        if !acc.is_empty() {
            acc.push(' ');
        }
        acc.push_str(body.trim());
        if continued {
            pending = Some((start, acc));
        } else if !acc.is_empty() {
            out.push((start, acc));
        }
    }
    out.extend(pending);
    out
}

struct KeepalivedCommand {
    exec: bool,
    background: bool,
    dont_fork: bool,
}

/// keepalived started by `line` in command position (not a word in an
/// `echo` or the argument of `pkill`), and how.
fn keepalived_command(line: &str) -> Option<KeepalivedCommand> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut at_start = true;
    let mut exec = false;
    for (i, w) in words.iter().enumerate() {
        let is_sep = matches!(*w, ";" | "&&" | "||" | "|" | "&" | "then" | "do" | "else");
        if is_sep {
            at_start = true;
            exec = false;
            continue;
        }
        if !at_start {
            at_start = w.ends_with(';');
            continue;
        }
        match *w {
            "exec" => exec = true,
            "nohup" | "setsid" | "sudo" | "env" | "command" => {}
            w if w.contains('=') && !w.starts_with('-') => {}
            w if w.trim_end_matches(['&', ';']).rsplit('/').next() == Some("keepalived") => {
                let rest: Vec<&str> = words[i..]
                    .iter()
                    .take_while(|x| !matches!(**x, ";" | "&&" | "||" | "|"))
                    .copied()
                    .collect();
                let background = rest.iter().any(|x| x.ends_with('&') && !x.ends_with("&&"));
                let dont_fork = rest.iter().any(|x| {
                    let x = x.trim_end_matches('&');
                    x == "-n" || x == "--dont-fork"
                });
                return Some(KeepalivedCommand {
                    exec,
                    background,
                    dont_fork,
                });
            }
            _ => at_start = w.ends_with(';'),
        }
    }
    None
}

/// The configs of a compose project, read, and the lab subnet.
#[derive(Debug, Clone)]
pub struct ProjectConfs {
    pub subnet: Option<IpNet>,
    /// (service, keepalived.conf) for each node that mounts one.
    pub nodes: Vec<(String, KeepalivedConf)>,
    pub haproxy: Option<HaproxyConf>,
    /// (host path, text) of each start script of the nodes' images.
    pub start_scripts: Vec<(PathBuf, String)>,
}

/// Reads every config a compose project mounts (nothing is written).
pub fn read_project(project: &ComposeProject) -> Result<ProjectConfs, ConfError> {
    let nodes = project.keepalived_nodes();
    // The lab subnet: that of the network the nodes have their addresses on.
    let subnet = nodes
        .iter()
        .flat_map(|n| n.addresses.iter().map(|(net, _)| net).chain(&n.networks))
        .find_map(|net| project.subnet(net))
        .or_else(|| {
            project
                .networks
                .iter()
                .find_map(|n| n.subnets.first().copied())
        });
    let mut confs = ProjectConfs {
        subnet,
        nodes: Vec::new(),
        haproxy: None,
        start_scripts: Vec::new(),
    };
    for n in &nodes {
        if let Some(host) = n
            .mount_ending("keepalived.conf")
            .and_then(|m| m.host.as_ref())
        {
            confs.nodes.push((n.name.clone(), keepalived::load(host)?));
        }
        for s in project.start_scripts(n)? {
            if s.host.is_file() && !confs.start_scripts.iter().any(|(p, _)| p == &s.host) {
                let text = read_text(&s.host)?;
                confs.start_scripts.push((s.host, text));
            }
        }
    }
    if let Some(host) = project
        .proxy()
        .and_then(|p| p.mount_ending("haproxy.cfg"))
        .and_then(|m| m.host.as_ref())
    {
        confs.haproxy = Some(super::haproxy::load(host)?);
    }
    Ok(confs)
}

/// Every rule over a project's configs; `instance` chooses the VRRP
/// instance where a file has several.
pub fn project(confs: &ProjectConfs, instance: Option<&str>) -> Result<Vec<Finding>, ConfError> {
    let mut nodes = Vec::new();
    for (name, conf) in &confs.nodes {
        nodes.push(Node {
            name,
            conf,
            instance: conf.instance(instance)?,
        });
    }
    let mut out: Vec<Finding> = nodes
        .iter()
        .flat_map(|n| keepalived_node(n, confs.subnet))
        .collect();
    out.extend(between_nodes(&nodes));
    if let Some(h) = &confs.haproxy {
        out.extend(haproxy(h, confs.subnet));
    }
    for (path, text) in &confs.start_scripts {
        out.extend(start_script(path, text));
    }
    Ok(out)
}

/// Where the kernel lists IPVS's virtual servers when it has IPVS (the
/// `ip_vs` module loaded or built in); containers share the host's kernel.
pub const IPVS_PROC: &str = "/proc/net/ip_vs";

/// Whether this machine's kernel has IPVS, which LVS (`virtual_server`)
/// needs.
pub fn kernel_has_ipvs() -> bool {
    std::path::Path::new(IPVS_PROC).exists()
}

/// Why a `virtual_server` block cannot run here, as this kernel says.
fn lvs_reason() -> String {
    if kernel_has_ipvs() {
        "halab's labs balance with HAProxy, not LVS: the block's real servers are not lab members; halab leaves it out".into()
    } else {
        format!("it needs IPVS in the kernel, and this kernel has no IPVS ({IPVS_PROC} is absent): the block cannot balance anything here; halab leaves it out")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Option<IpNet> {
        Some("172.20.0.0/16".parse().unwrap())
    }

    fn node_findings(text: &str) -> String {
        let conf = keepalived::parse(text, Path::new("keepalived.conf")).unwrap();
        let inst = conf.instance(None).unwrap();
        let node = Node {
            name: "nginx_master",
            conf: &conf,
            instance: inst,
        };
        render(&keepalived_node(&node, net()))
    }

    fn node<'a>(name: &'a str, conf: &'a KeepalivedConf) -> Node<'a> {
        Node {
            name,
            conf,
            instance: &conf.instances[0],
        }
    }

    fn render(findings: &[Finding]) -> String {
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn haproxy_findings(text: &str) -> String {
        let cfg = super::super::haproxy::parse(text, Path::new("haproxy.cfg")).unwrap();
        render(&haproxy(&cfg, net()))
    }

    #[test]
    fn nbproc_is_an_error() {
        insta::assert_snapshot!(haproxy_findings("global\n    nbproc 4\n"));
    }

    #[test]
    fn daemon_in_a_container_is_a_warning() {
        insta::assert_snapshot!(haproxy_findings("global\n    daemon\n"));
    }

    #[test]
    fn a_backend_server_outside_the_lab_is_an_error_and_one_inside_is_not() {
        insta::assert_snapshot!(haproxy_findings(
            "backend web\n    server in 172.20.128.4:80 check\n    server out 10.1.2.3:80 check\n"
        ));
    }

    #[test]
    fn a_bare_pidof_check_can_never_succeed() {
        insta::assert_snapshot!(node_findings(
            "vrrp_script chk_nginx {\n    script \"/usr/bin/pidof nginx\"\n    interval 2\n}\nvrrp_instance VI_1 {\n    track_script {\n        chk_nginx\n    }\n}\n"
        ));
    }

    #[test]
    fn a_check_run_from_a_script_is_clean() {
        assert_eq!(
            node_findings("vrrp_script chk {\n    script \"/etc/keepalived/check_nginx.sh\"\n    interval 1\n}\nvrrp_instance VI_1 {\n    track_script {\n        chk\n    }\n}\n"),
            ""
        );
    }

    #[test]
    fn a_fractional_script_interval_is_not_what_keepalived_runs() {
        insta::assert_snapshot!(node_findings(
            "vrrp_script chk {\n    script \"/check.sh\"\n    interval 0.5\n}\nvrrp_instance VI_1 {\n}\n"
        ));
    }

    #[test]
    fn a_track_script_without_its_vrrp_script_checks_nothing() {
        insta::assert_snapshot!(node_findings(
            "vrrp_script chk_nginx {\n    script \"/check.sh\"\n}\nvrrp_instance VI_1 {\n    track_script {\n        chk_ngnix\n    }\n}\n"
        ));
    }

    #[test]
    fn nopreempt_with_state_master_or_priority_255_is_dropped() {
        insta::assert_snapshot!(
            "nopreempt_with_state_master",
            node_findings("vrrp_instance VI_1 {\n    state MASTER\n    nopreempt\n}\n")
        );
        insta::assert_snapshot!(
            "nopreempt_with_priority_255",
            node_findings(
                "vrrp_instance VI_1 {\n    state BACKUP\n    priority 255\n    nopreempt\n}\n"
            )
        );
        assert_eq!(
            node_findings(
                "vrrp_instance VI_1 {\n    state BACKUP\n    priority 200\n    nopreempt\n}\n"
            ),
            ""
        );
    }

    #[test]
    fn an_auth_pass_longer_than_8_is_cut() {
        insta::assert_snapshot!(node_findings(
            "vrrp_instance VI_1 {\n    authentication {\n        auth_type PASS\n        auth_pass letmein123\n    }\n}\n"
        ));
    }

    #[test]
    fn a_fractional_advert_int_under_vrrpv2_is_rounded_but_not_under_v3() {
        insta::assert_snapshot!(node_findings(
            "vrrp_instance VI_1 {\n    advert_int 0.1\n}\n"
        ));
        assert_eq!(
            node_findings("global_defs {\n    vrrp_version 3\n}\nvrrp_instance VI_1 {\n    advert_int 0.1\n}\n"),
            ""
        );
    }

    #[test]
    fn an_lvs_virtual_server_is_refused_and_outside_real_servers_named() {
        insta::assert_snapshot!(node_findings(
            "vrrp_instance VI_1 {\n}\nvirtual_server 172.20.128.2 80 {\n    real_server 172.16.16.177 80 {\n        weight 1\n    }\n    real_server 172.20.128.3 80 {\n    }\n}\n"
        ));
    }

    #[test]
    fn vip_peer_and_source_outside_the_lab_are_errors() {
        insta::assert_snapshot!(node_findings(
            "vrrp_instance VI_1 {\n    unicast_src_ip 10.0.0.2\n    unicast_peer {\n        10.0.0.3\n        172.20.128.3\n    }\n    virtual_ipaddress {\n        192.168.1.10/24 dev eth0\n        172.20.128.4/24\n    }\n}\n"
        ));
    }

    #[test]
    fn nodes_that_disagree_on_router_id_password_advert_and_vip_are_errors() {
        let a = keepalived::parse(
            "vrrp_instance VI_1 {\n    virtual_router_id 33\n    advert_int 1\n    authentication {\n        auth_pass letmein\n    }\n    virtual_ipaddress {\n        172.20.128.4/24\n    }\n}\n",
            Path::new("master.conf"),
        )
        .unwrap();
        let b = keepalived::parse(
            "vrrp_instance VI_1 {\n    virtual_router_id 34\n    advert_int 2\n    authentication {\n        auth_pass letmeout\n    }\n    virtual_ipaddress {\n        172.20.128.5/24\n    }\n}\n",
            Path::new("backup.conf"),
        )
        .unwrap();
        let nodes = [
            Node {
                name: "nginx_master",
                conf: &a,
                instance: &a.instances[0],
            },
            Node {
                name: "nginx_slave",
                conf: &b,
                instance: &b.instances[0],
            },
        ];
        insta::assert_snapshot!(render(&between_nodes(&nodes)));
        assert!(between_nodes(&[nodes[0], nodes[0]]).is_empty());
    }

    #[test]
    fn nodes_whose_unicast_peers_miss_each_other_or_mix_with_multicast_are_errors() {
        let conf = |text: &str, file: &str| keepalived::parse(text, Path::new(file)).unwrap();
        let a = conf("vrrp_instance VI_1 {\n    unicast_src_ip 172.20.128.2\n    unicast_peer {\n        172.20.128.3\n    }\n}\n", "master.conf");
        let b = conf("vrrp_instance VI_1 {\n    unicast_src_ip 172.20.128.3\n    unicast_peer {\n        172.20.128.9\n    }\n}\n", "backup.conf");
        let m = conf("vrrp_instance VI_1 {\n}\n", "multicast.conf");
        insta::assert_snapshot!(render(&between_nodes(&[
            node("nginx_master", &a),
            node("nginx_slave", &b)
        ])));
        insta::assert_snapshot!(
            "unicast_beside_multicast",
            render(&between_nodes(&[
                node("nginx_master", &a),
                node("nginx_slave", &m)
            ]))
        );
    }

    #[test]
    fn keepalived_in_the_background_of_an_entrypoint_gets_no_sigterm() {
        insta::assert_snapshot!(render(&start_script(
            Path::new("entrypoint.sh"),
            "#!/bin/sh\n# keepalived & is fine in a comment\n/usr/sbin/keepalived -n -l -D -f /etc/keepalived/keepalived.conf --dont-fork --log-console &\nkeepalived -f /etc/k.conf\n/usr/sbin/keepalived --dont-fork\nnginx -g \"daemon off;\"\n"
        )));
        for clean in [
            "nginx\nexec /usr/sbin/keepalived --dont-fork --log-console\n",
            "nginx; exec keepalived \\\n  --dont-fork -f /k.conf\n",
            "echo starting keepalived &\npkill -x keepalived\nexec keepalived -n\n",
            // A supervisor that traps SIGTERM hands it on to keepalived.
            "trap 'pkill -TERM keepalived' TERM\nkeepalived --dont-fork &\nwait\n",
        ] {
            assert!(start_script(Path::new("e.sh"), clean).is_empty(), "{clean}");
        }
        let continued = start_script(
            Path::new("e.sh"),
            "true && keepalived \\\n  --dont-fork \\\n  -f /k.conf &\nnginx\n",
        );
        assert_eq!(continued.len(), 1);
        assert_eq!(continued[0].at.line, 1);
        assert!(
            continued[0]
                .what
                .starts_with("`true && keepalived --dont-fork -f /k.conf &`"),
            "{}",
            continued[0].what
        );
    }

    #[test]
    fn a_project_whose_mounted_config_is_missing_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let compose = dir.path().join("docker-compose.yml");
        std::fs::write(
            &compose,
            "services:\n  n1:\n    volumes:\n      - ./gone.conf:/etc/keepalived/keepalived.conf\n",
        )
        .unwrap();
        let project = super::super::compose::load(dir.path()).unwrap();
        let e = read_project(&project).unwrap_err();
        assert!(
            matches!(&e, ConfError::Read { path, .. } if path == &dir.path().join("gone.conf")),
            "{e}"
        );
    }

    #[test]
    fn findings_serialize_with_rule_codes_and_severities() {
        let f = &start_script(Path::new("e.sh"), "keepalived -n &\n")[0];
        let json = serde_json::to_value(f).unwrap();
        assert_eq!(json["rule"], "keepalived-in-background");
        assert_eq!(json["severity"], "warning");
        assert_eq!(json["at"]["line"], 1);
    }
}
