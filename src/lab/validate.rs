//! Semantic checks of a parsed lab: everything a type cannot say.
//!
//! Every check runs and every problem is kept, so a user fixes a lab file in
//! one pass instead of one error at a time. Each problem names its field
//! path, shows the value, says why it is refused and how to fix it.
//!
//! One file on purpose (it is long): a flat list of independent rules, each
//! a few lines with its own message; splitting them would only scatter the
//! wording.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::{Budget, LabSpec, VrrpState};

/// One thing wrong in a lab file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `nodes[1].priority`.
    pub field: String,
    pub message: String,
    pub fix: String,
    /// Who wrote the refused value: a line of the lab file, or a flag.
    pub blame: Blame,
}

/// Where a refused value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blame {
    /// The lab file, on this line when it could be placed.
    File { line: Option<usize> },
    /// A command-line override, as typed (e.g. "`--subnet 8.8.0.0/16`").
    Flag(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {} (fix: {})", self.field, self.message, self.fix)
    }
}

/// Longest name: a DNS label (names become container hostnames).
const MAX_NAME: usize = 63;
/// Linux `IFNAMSIZ` − 1.
const MAX_IFNAME: usize = 15;
/// HAProxy's `retries` above this only hide a dead backend for longer.
const MAX_RETRIES: u32 = 100;
/// HAProxy parses every time value into a signed 32-bit count of ms and
/// refuses a larger one ("timer overflow").
pub const MAX_HAPROXY_TIME: Duration = Duration::from_millis(i32::MAX as u64);
/// keepalived's `vrrp_script interval`: at most `UINT_MAX / TIMER_HZ` s.
pub const MAX_SCRIPT_INTERVAL: Duration = Duration::from_secs(u32::MAX as u64 / 1_000_000);
/// keepalived reads `rise` and `fall` as a signed int.
const MAX_KEEPALIVED_COUNT: u32 = i32::MAX as u32;
/// The probe's schedule and deadlines: a probe slower than this watches
/// nothing a failover test is about.
pub const MAX_PROBE_TIME: Duration = Duration::from_secs(60);
/// A scenario's budgets and watch time; longer runs are soak tests.
pub const MAX_BUDGET: Duration = Duration::from_secs(3600);
/// A page text is a marker the probe looks for in every answer, not a page.
pub const MAX_PAGE_TEXT: usize = 4096;
/// HAProxy's backend checks: more often than this is load, not speed.
pub const MIN_BACKEND_INTER: Duration = Duration::from_millis(10);
/// Nodes in one lab: VRRP priorities are 1..=255 and must differ.
pub const MAX_NODES: usize = 255;

/// `retry-on` keywords HAProxy 2.6 accepts (the version the base image has).
pub const RETRY_ON_KEYWORDS: [&str; 17] = [
    "none",
    "conn-failure",
    "empty-response",
    "junk-response",
    "response-timeout",
    "0rtt-rejected",
    "all-retryable-errors",
    "401",
    "403",
    "404",
    "408",
    "425",
    "500",
    "501",
    "502",
    "503",
    "504",
];

/// Characters that could end a value early or start a comment in a rendered
/// keepalived, HAProxy, nginx or shell file. `!` and `$` are keepalived's
/// comment and variable markers.
const CONFIG_BREAKERS: &[char] = &['"', '\'', '{', '}', '#', '\\', ';', '!', '$'];

/// Every problem found in `spec`; empty when the lab is usable.
pub fn validate(spec: &LabSpec) -> Vec<Problem> {
    let mut c = Checker::default();
    check_names(&mut c, spec);
    check_subnet(&mut c, spec);
    check_addresses(&mut c, spec);
    check_nodes(&mut c, spec);
    check_vrrp(&mut c, spec);
    check_health(&mut c, spec);
    check_shape(&mut c, spec);
    check_proxy(&mut c, spec);
    check_probe(&mut c, spec);
    check_image(&mut c, spec);
    check_texts(&mut c, spec);
    check_budgets(&mut c, spec);
    c.out
}

#[derive(Default)]
struct Checker {
    out: Vec<Problem>,
}

impl Checker {
    fn push(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.out.push(Problem {
            field: field.into(),
            message: message.into(),
            fix: fix.into(),
            blame: Blame::File { line: None },
        });
    }
}

/// A character as a user would type it; control characters escaped.
fn shown(ch: char) -> String {
    if ch.is_control() {
        ch.escape_debug().to_string()
    } else {
        ch.to_string()
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

// ---------------------------------------------------------------- names

fn check_names(c: &mut Checker, spec: &LabSpec) {
    // The lab name prefixes every Docker object and may serve as a compose
    // project name, which must be lower case.
    check_name(c, "name", &spec.name, true);
    check_name(c, "network.name", &spec.network.name, false);
    check_name(c, "proxy.name", &spec.proxy.name, false);
    for (i, n) in spec.nodes.iter().enumerate() {
        check_name(c, format!("nodes[{i}].name"), &n.name, false);
    }

    for (i, w) in spec.backends.servers.iter().enumerate() {
        check_name(c, format!("backends.servers[{i}].name"), &w.name, false);
    }

    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, n) in spec.nodes.iter().enumerate() {
        if let Some(first) = seen.insert(&n.name, i) {
            seen.insert(&n.name, first);
            c.push(
                format!("nodes[{i}].name"),
                format!("`{}` is also the name of nodes[{first}]; containers are named `<lab>-<node>`, so names must be unique", n.name),
                format!("rename one of them, e.g. `{}_2`", n.name),
            );
        }
        if n.name == spec.proxy.name && spec.proxy.front {
            c.push(
                format!("nodes[{i}].name"),
                format!(
                    "`{}` is also the proxy's name (`proxy.name`); both would be container `{}-{}`",
                    n.name, spec.name, n.name
                ),
                "rename the node, or set another `proxy.name`",
            );
        }
    }
    // Web servers share the containers' name space with nodes and proxy.
    let mut web: HashMap<&str, usize> = HashMap::new();
    for (i, w) in spec.backends.servers.iter().enumerate() {
        let field = format!("backends.servers[{i}].name");
        let other = if let Some(&first) = web.get(w.name.as_str()) {
            Some(format!("backends.servers[{first}]"))
        } else if let Some(&n) = seen.get(w.name.as_str()) {
            Some(format!("nodes[{n}]"))
        } else if w.name == spec.proxy.name && spec.proxy.front {
            Some("the proxy (`proxy.name`)".to_string())
        } else {
            None
        };
        match other {
            Some(other) => c.push(
                field,
                format!("`{}` is also the name of {other}; containers are named `<lab>-<name>`, so names must be unique", w.name),
                format!("rename one of them, e.g. `{}_2`", w.name),
            ),
            None => {
                web.insert(&w.name, i);
            }
        }
    }
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 63 characters (lower case only
/// when `lower`).
fn check_name(c: &mut Checker, field: impl Into<String>, value: &str, lower: bool) {
    let field = field.into();
    let rule = if lower {
        "use lower-case letters, digits, `_`, `.` and `-`, starting with a letter or digit, at most 63 characters"
    } else {
        "use letters, digits, `_`, `.` and `-`, starting with a letter or digit, at most 63 characters"
    };
    if value.is_empty() {
        c.push(field, "is empty", rule);
        return;
    }
    if value.chars().count() > MAX_NAME {
        c.push(
            field,
            format!(
                "`{value}` is {} characters long; names become hostnames, which stop at {MAX_NAME}",
                value.chars().count()
            ),
            rule,
        );
        return;
    }
    let first = value.chars().next().expect("not empty");
    if !first.is_ascii_alphanumeric() {
        c.push(
            field,
            format!(
                "{:?} starts with `{}`; a name must start with a letter or digit",
                value,
                shown(first)
            ),
            rule,
        );
        return;
    }
    if let Some(bad) = value
        .chars()
        .find(|&ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')))
    {
        c.push(
            field,
            format!(
                "{:?} contains `{}`, which is not allowed in a container or host name",
                value,
                shown(bad)
            ),
            rule,
        );
        return;
    }
    if lower && value.chars().any(|ch| ch.is_ascii_uppercase()) {
        c.push(
            field,
            format!("`{value}` has upper-case letters; the lab name prefixes Docker objects and compose project names must be lower case"),
            format!("use `{}`", value.to_ascii_lowercase()),
        );
    }
}

// ---------------------------------------------------------------- network

/// Checks `network.subnet` itself (addresses in it: `check_addresses`).
fn check_subnet(c: &mut Checker, spec: &LabSpec) {
    let subnet = spec.network.subnet;
    if subnet.addr() != subnet.network() {
        // Docker refuses it ("invalid subnet … it should be …").
        c.push(
            "network.subnet",
            format!("{subnet} has host bits set; Docker only accepts the network address"),
            format!("write `{}`", subnet.trunc()),
        );
    }
    let net = subnet.trunc();
    let private: [Ipv4Net; 3] = [
        "10.0.0.0/8".parse().expect("literal"),
        "172.16.0.0/12".parse().expect("literal"),
        "192.168.0.0/16".parse().expect("literal"),
    ];
    if !private.iter().any(|p| p.contains(&net)) {
        // A bridge on public addresses would shadow those hosts for the
        // whole machine: lab traffic must stay on the lab's own network.
        c.push(
            "network.subnet",
            format!("{net} is not a private range; a lab bridge on it would hide those real hosts from this machine"),
            "use a subnet inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (e.g. 172.20.0.0/16)",
        );
    }
    // Network, broadcast and the bridge gateway are not for the lab; then
    // one address per node, the VIP and the proxy.
    let needed = spec.nodes.len() as u64 + spec.backends.servers.len() as u64 + 2;
    let size = 1u64 << (32 - u32::from(net.prefix_len()));
    let usable = size.saturating_sub(3);
    if usable < needed {
        c.push(
            "network.subnet",
            format!(
                "{net} has {usable} usable address{} (after network, broadcast and the bridge gateway); the lab needs {needed}: one per node and web server, the VIP and the proxy",
                if usable == 1 { "" } else { "es" }
            ),
            "use a larger subnet, e.g. a /24",
        );
    }
}

fn check_addresses(c: &mut Checker, spec: &LabSpec) {
    let net = spec.network.subnet.trunc();

    // (field, address, who) for every static address of a lab member.
    let mut members: Vec<(String, Ipv4Addr, String)> = spec
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("nodes[{i}].ip"), n.ip, format!("node `{}`", n.name)))
        .collect();
    members.extend(spec.backends.servers.iter().enumerate().map(|(i, w)| {
        (
            format!("backends.servers[{i}].ip"),
            w.ip,
            format!("web server `{}`", w.name),
        )
    }));
    if let Some(ip) = spec.proxy.ip {
        members.push((
            "proxy.ip".into(),
            ip,
            format!("proxy `{}`", spec.proxy.name),
        ));
    }

    let mut taken: Vec<Ipv4Addr> = members.iter().map(|m| m.1).collect();
    taken.push(spec.vip.addr());
    let example = match free_host(net, &taken) {
        Some(ip) => format!(", e.g. {ip}"),
        None => String::new(),
    };

    for (field, ip, _) in &members {
        check_host_addr(c, field, *ip, net, &example);
    }
    check_host_addr(c, "vip", spec.vip.addr(), net, &example);

    let mut seen: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (k, (field, ip, _)) in members.iter().enumerate() {
        match seen.get(ip) {
            Some(&first) => {
                let (ffield, _, fwho) = &members[first];
                c.push(
                    field,
                    format!("{ip} is already used by {fwho} (`{ffield}`); every member needs its own address"),
                    format!("pick a free address inside {net}{example}"),
                );
            }
            None => {
                seen.insert(*ip, k);
            }
        }
    }

    let vip = spec.vip.addr();
    if let Some(&k) = seen.get(&vip) {
        let (ffield, _, fwho) = &members[k];
        c.push(
            "vip",
            format!("{vip} is also the address of {fwho} (`{ffield}`); the VIP must be an address no member owns, it moves between nodes"),
            format!("pick a free address inside {net} for the VIP{example}"),
        );
    }
    let prefix = spec.vip.prefix_len();
    if !(8..=32).contains(&prefix) {
        c.push(
            "vip",
            format!("prefix /{prefix} of {} is outside /8../32", spec.vip),
            format!("write the VIP with a prefix like `{vip}/24`"),
        );
    }
}

/// An address a container may take inside `net`.
fn check_host_addr(c: &mut Checker, field: &str, ip: Ipv4Addr, net: Ipv4Net, example: &str) {
    if !net.contains(&ip) {
        c.push(
            field,
            format!("{ip} is outside network.subnet {net}"),
            format!("pick an address inside {net}{example}, or change `network.subnet`"),
        );
    } else if ip == net.network() {
        c.push(
            field,
            format!("{ip} is the network address of {net}"),
            format!("pick a host address{example}"),
        );
    } else if ip == net.broadcast() {
        c.push(
            field,
            format!("{ip} is the broadcast address of {net}"),
            format!("pick a host address{example}"),
        );
    } else if u32::from(ip) == u32::from(net.network()).wrapping_add(1) {
        c.push(
            field,
            format!("{ip} is the first host of {net}, which the Docker bridge gateway takes"),
            format!("pick another host address{example}"),
        );
    }
}

/// A host address of `net` nobody in `taken` has, near the lab's own
/// addresses, to suggest in a fix.
fn free_host(net: Ipv4Net, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let lo = u32::from(net.network()).checked_add(2)?;
    let hi = u32::from(net.broadcast()).checked_sub(1)?;
    if lo > hi {
        return None;
    }
    let start = taken
        .iter()
        .map(|&ip| u32::from(ip))
        .filter(|a| (lo..=hi).contains(a))
        .min()
        .unwrap_or(lo);
    (start..=hi)
        .chain(lo..start)
        .take(4096)
        .map(Ipv4Addr::from)
        .find(|ip| !taken.contains(ip))
}

// ---------------------------------------------------------------- nodes

fn check_nodes(c: &mut Checker, spec: &LabSpec) {
    let nodes = &spec.nodes;
    if nodes.len() < 2 {
        c.push(
            "nodes",
            format!("{} node(s); a VRRP lab needs at least two", nodes.len()),
            "add a BACKUP node",
        );
    }

    let mut by_prio: HashMap<u16, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if !(1..=255).contains(&n.priority) {
            c.push(
                format!("nodes[{i}].priority"),
                format!("{} is outside VRRP's 1..=255 (255 means address owner)", n.priority),
                "use a priority from 1 to 254, the MASTER's the highest, e.g. 200 for the master and 100 for a backup",
            );
            continue;
        }
        match by_prio.get(&n.priority) {
            Some(&first) => c.push(
                format!("nodes[{i}].priority"),
                format!(
                    "{} is also the priority of nodes[{first}] (`{}`); with equal priorities the election falls to IP addresses",
                    n.priority, nodes[first].name
                ),
                "give every node its own priority",
            ),
            None => {
                by_prio.insert(n.priority, i);
            }
        }
    }

    if !spec.vrrp.preempt {
        if let Some((i, _)) = nodes.iter().enumerate().find(|(_, n)| n.priority == 255) {
            c.push(
                format!("nodes[{i}].priority"),
                "255 makes the node the address owner, and keepalived drops `nopreempt` for an address owner: with `vrrp.preempt: false` it would still take the VIP back",
                "use a priority from 1 to 254 (e.g. 200), or set `vrrp.preempt: true`",
            );
        }
    }
    if nodes.len() > MAX_NODES {
        c.push(
            "nodes",
            format!("{} nodes; VRRP priorities run from 1 to 255 and must differ, so a lab has at most {MAX_NODES}", nodes.len()),
            "use fewer nodes (two are the classic pair)",
        );
    }

    let masters: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].state == VrrpState::Master)
        .collect();
    let top = nodes.iter().enumerate().max_by_key(|(_, n)| n.priority);
    match masters.as_slice() {
        [] if !nodes.is_empty() => {
            let (_, t) = top.expect("nodes not empty");
            c.push(
                "nodes",
                "no node has `state: MASTER`",
                format!(
                    "set `state: MASTER` on the node with the highest priority (`{}`)",
                    t.name
                ),
            );
        }
        [] => {}
        [m] => {
            let m = *m;
            let higher = nodes
                .iter()
                .enumerate()
                .filter(|&(i, n)| i != m && n.priority >= nodes[m].priority)
                .max_by_key(|(_, n)| n.priority);
            if let Some((h, hn)) = higher {
                c.push(
                    format!("nodes[{m}].priority"),
                    format!(
                        "the MASTER `{}` has priority {} but nodes[{h}] (`{}`) has {}; the highest priority wins the election",
                        nodes[m].name, nodes[m].priority, hn.name, hn.priority
                    ),
                    format!("give `{}` the highest priority, or make the highest node the MASTER", nodes[m].name),
                );
            }
        }
        [_, rest @ ..] => {
            for &i in rest {
                c.push(
                    format!("nodes[{i}].state"),
                    format!(
                        "`{}` is a second MASTER; exactly one node starts as MASTER",
                        nodes[i].name
                    ),
                    "set `state: BACKUP` on every node but the one with the highest priority",
                );
            }
        }
    }
}

// ---------------------------------------------------------------- vrrp

fn check_vrrp(c: &mut Checker, spec: &LabSpec) {
    let v = &spec.vrrp;
    if !(1..=255).contains(&v.virtual_router_id) {
        c.push(
            "vrrp.virtual_router_id",
            format!("{} is outside 1..=255", v.virtual_router_id),
            "pick an id from 1 to 255, different from other VRRP routers on the same network",
        );
    }
    if !matches!(v.version, 2 | 3) {
        c.push(
            "vrrp.version",
            format!("{} is not a VRRP version keepalived speaks", v.version),
            "use 2 (whole-second adverts, PASS authentication) or 3 (10 ms steps)",
        );
    }
    check_advert(c, v.version, v.advert_int);

    if let Some(pass) = &v.auth_pass {
        if pass.is_empty() {
            c.push(
                "vrrp.auth_pass",
                "is empty",
                "give a password of 1 to 8 characters, or remove `auth_pass`",
            );
        } else if v.version == 3 {
            c.push(
                "vrrp.auth_pass",
                "is set but VRRPv3 has no authentication",
                "remove `auth_pass`, or use `vrrp.version: 2`",
            );
        } else if pass.len() > 8 {
            // keepalived keeps the first 8 bytes without a word ("Truncating
            // auth_pass to 8 characters" only with -t), so two labs whose
            // passwords differ after byte 8 would talk to each other.
            let cut: String = pass.chars().take(8).collect();
            c.push(
                "vrrp.auth_pass",
                format!(
                    "is {} bytes long; keepalived uses only the first 8 and silently drops the rest",
                    pass.len()
                ),
                format!("use at most 8 characters, e.g. `{cut}`"),
            );
        } else {
            check_config_word(c, "vrrp.auth_pass", pass);
        }
    }

    let ifname_ok = !v.interface.is_empty()
        && v.interface.len() <= MAX_IFNAME
        && v.interface
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'));
    if !ifname_ok {
        c.push(
            "vrrp.interface",
            format!("{:?} is not a plain interface name", v.interface),
            "use 1 to 15 letters, digits, `_`, `.` or `-`, e.g. `eth0` (the lab network's interface in each node)",
        );
    }
}

fn check_advert(c: &mut Checker, version: u8, advert: Duration) {
    let field = "vrrp.advert_int";
    if advert.is_zero() {
        c.push(field, "is 0", "use e.g. `1s` (VRRPv2) or `100ms` (VRRPv3)");
        return;
    }
    let ten_ms = Duration::from_millis(10);
    match version {
        2 if advert.subsec_nanos() != 0 || !(1..=255).contains(&advert.as_secs()) => c.push(
            field,
            format!(
                "{} is not a whole number of seconds from 1s to 255s, which VRRPv2 requires (keepalived rounds it)",
                show(advert)
            ),
            "use whole seconds (e.g. `1s`), or `vrrp.version: 3` for sub-second adverts",
        ),
        3 if advert.as_nanos() % ten_ms.as_nanos() != 0
            || advert < ten_ms
            || advert > Duration::from_millis(40_950) =>
        {
            c.push(
                field,
                format!(
                    "{} is not a multiple of 10ms from 10ms to 40.95s, which VRRPv3 requires",
                    show(advert)
                ),
                "use 10 ms steps, e.g. `100ms`",
            )
        }
        // The version itself is reported by check_vrrp.
        _ => {}
    }
}

/// A value written bare into a config file: printable ASCII with nothing
/// that ends it early or starts a comment.
fn check_config_word(c: &mut Checker, field: &str, value: &str) {
    if let Some(bad) = value
        .chars()
        .find(|&ch| !ch.is_ascii_graphic() || CONFIG_BREAKERS.contains(&ch))
    {
        c.push(
            field,
            format!(
                "{:?} contains `{}`, which would break out of its place in a rendered config",
                value,
                shown(bad)
            ),
            "use printable ASCII without spaces, quotes, `{ } # \\ ; ! $`",
        );
    }
}

// ---------------------------------------------------------------- health

fn check_health(c: &mut Checker, spec: &LabSpec) {
    let h = &spec.health_check;
    if h.interval.subsec_nanos() != 0 || h.interval.is_zero() {
        c.push(
            "health_check.interval",
            format!("{} is not a whole number of seconds", show(h.interval)),
            "use whole seconds from 1s: keepalived refuses a shorter or fractional `vrrp_script` interval",
        );
    } else if h.interval > MAX_SCRIPT_INTERVAL {
        c.push(
            "health_check.interval",
            format!(
                "{} is longer than {}, the longest `vrrp_script` interval keepalived accepts",
                show(h.interval),
                show(MAX_SCRIPT_INTERVAL)
            ),
            "use a few seconds, e.g. `2s`",
        );
    }
    for (name, v) in [("fall", h.fall), ("rise", h.rise)] {
        if v == 0 {
            c.push(format!("health_check.{name}"), "is 0", "use 1 or more");
        } else if v > MAX_KEEPALIVED_COUNT {
            c.push(
                format!("health_check.{name}"),
                format!("{v} is more than keepalived reads ({MAX_KEEPALIVED_COUNT})"),
                "use a small count, e.g. 1 to 3",
            );
        }
    }
    // keepalived.conf(5): vrrp_script weight -253..253.
    let limit = 253;
    if !(-limit..=limit).contains(&h.weight) {
        c.push(
            "health_check.weight",
            format!("{} is outside -{limit}..={limit}, keepalived's range for this check", h.weight),
            "use 0 (a failing check means FAULT, fastest takeover) or a negative weight larger than the priority gap",
        );
    }
}

// ---------------------------------------------------------------- shape

// Roles (`runs`), backends, `proxy.front` and the check kinds that depend
// on them. Two shapes only: every node runs nginx behind the front proxy
// (the seed's), or every node runs HAProxy over `backends` and clients use
// the VIP (the production one).
fn check_shape(c: &mut Checker, spec: &LabSpec) {
    use crate::lab::model::CheckKind;
    let mut lbs = 0;
    for (i, n) in spec.nodes.iter().enumerate() {
        let field = format!("nodes[{i}].runs");
        if n.runs.is_empty() {
            c.push(
                field,
                "is empty; a node serves something beside keepalived",
                "write `[nginx]` (a web node) or `[haproxy]` (a load balancer)",
            );
            continue;
        }
        let mut seen = n.runs.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != n.runs.len() {
            c.push(
                field,
                "names a service twice",
                "name each service once, e.g. `[haproxy]`",
            );
        } else if seen.len() > 1 {
            c.push(
                field,
                "runs nginx and HAProxy on one node, which halab does not model",
                "write `[haproxy]` and put the web servers under `backends.servers`",
            );
        }
        if n.runs_haproxy() {
            lbs += 1;
            // The page of a load balancer is the value of its `X-Halab-LB`
            // response header: one HTTP token, verbatim in haproxy.cfg.
            if let Some(bad) = n
                .page
                .chars()
                .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')))
            {
                c.push(
                    format!("nodes[{i}].page"),
                    format!(
                        "{:?} contains `{}`; on a node running HAProxy the page is the value of its `{}` response header",
                        n.page,
                        shown(bad),
                        crate::lab::LB_HEADER
                    ),
                    format!("use letters, digits, `_`, `.` and `-`, or leave it out (it is then `{}`)", n.name),
                );
            }
        }
    }
    let pair = lbs > 0;
    if pair && lbs < spec.nodes.len() {
        for (i, n) in spec.nodes.iter().enumerate() {
            if !n.runs_haproxy() && !n.runs.is_empty() {
                c.push(
                    format!("nodes[{i}].runs"),
                    format!("`{}` runs {} while other nodes run HAProxy; the VIP would move between a load balancer and a web server", n.name, runs_text(&n.runs)),
                    "make every VRRP node run `[haproxy]`, and put web servers under `backends.servers`",
                );
            }
        }
    }
    if pair {
        if spec.backends.servers.is_empty() {
            c.push(
                "backends.servers",
                "is empty, yet nodes run HAProxy; it would have nothing to balance over",
                "add web servers, e.g. `servers: [{ name: web1, ip: <address>, page: web1 }]`",
            );
        }
        if spec.proxy.front {
            c.push(
                "proxy.front",
                "is true, yet the nodes run HAProxy themselves; a front proxy before the load-balancer pair would be the single point of failure the pair removes",
                "set `proxy.front: false` (clients use http://VIP:proxy.listen/)",
            );
        }
    } else {
        if !spec.backends.servers.is_empty() {
            c.push(
                "backends",
                "lists web servers, but no node runs HAProxy to balance over them",
                "set `runs: [haproxy]` on every node, or remove `backends`",
            );
        }
        if !spec.proxy.front {
            c.push(
                "proxy.front",
                "is false, but no node runs HAProxy: nothing would stand between clients and nginx but the VIP",
                "set `runs: [haproxy]` on every node (with `backends`), or remove `proxy.front`",
            );
        }
    }

    let net = spec.network.subnet.trunc();
    match (spec.health_check.kind, spec.health_check.address) {
        (CheckKind::Icmp, None) => c.push(
            "health_check.address",
            "is missing; the `icmp` check pings it",
            format!("set an address inside {net} to ping, e.g. a web server's or the gateway's"),
        ),
        (CheckKind::Icmp, Some(a)) if !net.contains(&a) => c.push(
            "health_check.address",
            format!(
                "{a} is outside network.subnet {net}; the lab's traffic stays on its own network"
            ),
            format!("ping an address inside {net}"),
        ),
        (CheckKind::Icmp, Some(_)) | (_, None) => {}
        (kind, Some(_)) => c.push(
            "health_check.address",
            format!(
                "is set, but only the `icmp` check uses it (this lab's is `{}`)",
                kind_text(kind)
            ),
            "remove `health_check.address`, or set `kind: icmp`",
        ),
    }
    check_backends(c, spec);
}

fn runs_text(runs: &[crate::lab::Service]) -> String {
    let names: Vec<&str> = runs
        .iter()
        .map(|s| match s {
            crate::lab::Service::Nginx => "nginx",
            crate::lab::Service::Haproxy => "haproxy",
        })
        .collect();
    format!("[{}]", names.join(", "))
}

fn kind_text(k: crate::lab::CheckKind) -> &'static str {
    use crate::lab::CheckKind::*;
    match k {
        Pidof => "pidof",
        Http => "http",
        Tcp => "tcp",
        Icmp => "icmp",
    }
}

/// HAProxy's check of the web servers. Names, addresses and pages of the
/// servers are checked with the other members' (`check_names`,
/// `check_addresses`, `check_texts`).
fn check_backends(c: &mut Checker, spec: &LabSpec) {
    let b = &spec.backends;
    if b.port == 0 {
        c.push(
            "backends.port",
            "is 0, which is not a port",
            "use the port nginx listens on in the web servers, e.g. 80",
        );
    }
    let ck = &b.check;
    if ck.inter < MIN_BACKEND_INTER {
        c.push(
            "backends.check.inter",
            format!(
                "{} is shorter than {}; checks that often load the servers and HAProxy's timer more than they help",
                show(ck.inter),
                show(MIN_BACKEND_INTER)
            ),
            "use e.g. `100ms` or `500ms`",
        );
    } else {
        check_haproxy_max(c, "backends.check.inter", ck.inter, "use e.g. `500ms`");
    }
    for (name, v) in [("rise", ck.rise), ("fall", ck.fall)] {
        if v == 0 {
            c.push(
                format!("backends.check.{name}"),
                "is 0; HAProxy needs at least one check to change a server's state",
                "use 1 or more (e.g. 2)",
            );
        } else if v > MAX_KEEPALIVED_COUNT {
            c.push(
                format!("backends.check.{name}"),
                format!("{v} is more than HAProxy reads"),
                "use a small count, e.g. 2 or 3",
            );
        }
    }
    let path_ok = ck.path.starts_with('/')
        && ck
            .path
            .chars()
            .all(|ch| ch.is_ascii_graphic() && !CONFIG_BREAKERS.contains(&ch));
    if !path_ok {
        c.push(
            "backends.check.path",
            format!(
                "{:?} is not an absolute URL path without spaces or quotes",
                ck.path
            ),
            "use a path like `/` or `/health`",
        );
    }
    if !(100..=599).contains(&ck.expect_status) {
        c.push(
            "backends.check.expect_status",
            format!("{} is not an HTTP status", ck.expect_status),
            "use e.g. 200",
        );
    }
}

// ---------------------------------------------------------------- proxy

fn check_proxy(c: &mut Checker, spec: &LabSpec) {
    let p = &spec.proxy;
    if p.listen == 0 {
        c.push(
            "proxy.listen",
            "is 0, which is not a port",
            "use a port from 1 to 65535 (the seed uses 6301)",
        );
    }
    if p.port == 0 {
        c.push(
            "proxy.port",
            "is 0, which is not a port",
            "use a free host port from 1 to 65535 (the seed uses 8000)",
        );
    }
    if p.maxconn == 0 {
        c.push(
            "proxy.maxconn",
            "is 0: HAProxy would accept no connection",
            "use 1 or more (the seed uses 4096)",
        );
    }
    for (name, d) in [
        ("connect", p.timeouts.connect),
        ("client", p.timeouts.client),
        ("server", p.timeouts.server),
    ] {
        if d < Duration::from_millis(1) {
            c.push(
                format!("proxy.timeouts.{name}"),
                format!("{} is shorter than 1ms, HAProxy's resolution", show(d)),
                "use e.g. `5s` or `50ms`",
            );
        } else {
            check_haproxy_max(
                c,
                &format!("proxy.timeouts.{name}"),
                d,
                "use e.g. `5s` or `50ms`",
            );
        }
    }
    if p.retries > MAX_RETRIES {
        c.push(
            "proxy.retries",
            format!(
                "{} is more than {MAX_RETRIES}; so many retries only hide a dead backend",
                p.retries
            ),
            format!("use at most {MAX_RETRIES} (the fast lab uses 20)"),
        );
    }
    for (i, word) in p.retry_on.iter().enumerate() {
        if !RETRY_ON_KEYWORDS.contains(&word.as_str()) {
            let hint = crate::suggest::did_you_mean(word, RETRY_ON_KEYWORDS)
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            c.push(
                format!("proxy.retry_on[{i}]"),
                format!("{word:?} is not a `retry-on` keyword of HAProxy 2.6"),
                format!("{hint}known: {}", RETRY_ON_KEYWORDS.join(", ")),
            );
        }
    }
    if p.retry_on.len() > 1 && p.retry_on.iter().any(|w| w == "none") {
        c.push(
            "proxy.retry_on",
            "`none` disables retries and cannot be combined with other keywords",
            "write only `[none]`, or remove `none`",
        );
    }
    if let Some(check) = &p.check {
        if check.inter < Duration::from_millis(1) {
            c.push(
                "proxy.check.inter",
                format!("{} is shorter than 1ms", show(check.inter)),
                "use e.g. `2s` (the seed's `inter 2000`)",
            );
        } else {
            check_haproxy_max(
                c,
                "proxy.check.inter",
                check.inter,
                "use e.g. `2s` (the seed's `inter 2000`)",
            );
        }
        for (name, v) in [("rise", check.rise), ("fall", check.fall)] {
            if v == 0 {
                c.push(format!("proxy.check.{name}"), "is 0", "use 1 or more");
            }
        }
    }
}

/// A time HAProxy must parse: at most [`MAX_HAPROXY_TIME`].
fn check_haproxy_max(c: &mut Checker, field: &str, d: Duration, fix: &str) {
    if d > MAX_HAPROXY_TIME {
        c.push(
            field,
            format!(
                "{} is longer than HAProxy accepts: at most {}ms (about 24.8 days)",
                show(d),
                MAX_HAPROXY_TIME.as_millis()
            ),
            fix,
        );
    }
}

/// A duration of at most `max`; `what` says why that bound.
fn check_at_most(c: &mut Checker, field: &str, d: Duration, max: Duration, what: &str, fix: &str) {
    if d > max {
        c.push(
            field,
            format!("{} is longer than {}, {what}", show(d), show(max)),
            fix,
        );
    }
}

// ---------------------------------------------------------------- probe

fn check_probe(c: &mut Checker, spec: &LabSpec) {
    let p = &spec.probe;
    if p.interval < Duration::from_millis(1) {
        c.push(
            "probe.interval",
            format!(
                "{} is shorter than 1ms; the probe fires one request per interval",
                show(p.interval)
            ),
            "use e.g. `20ms`",
        );
    }
    for (name, d, ex) in [
        ("timeout", p.timeout, "1s"),
        ("late_after", p.late_after, "100ms"),
    ] {
        if d.is_zero() {
            c.push(format!("probe.{name}"), "is 0", format!("use e.g. `{ex}`"));
        }
    }
    for (name, d, ex) in [
        ("interval", p.interval, "20ms"),
        ("timeout", p.timeout, "1s"),
        ("late_after", p.late_after, "100ms"),
    ] {
        check_at_most(
            c,
            &format!("probe.{name}"),
            d,
            MAX_PROBE_TIME,
            "too slow for a probe that times a failover",
            &format!("use e.g. `{ex}`"),
        );
    }
}

// ---------------------------------------------------------------- image

fn check_image(c: &mut Checker, spec: &LabSpec) {
    let field = "image.base";
    let image = &spec.image.base;
    let fix = "use a reference like `halab-base:bookworm` or `registry.local/team/base:1.0`";
    if image.is_empty() {
        c.push(field, "is empty", fix);
        return;
    }
    if image.len() > 255 {
        c.push(
            field,
            format!("is {} characters long; Docker stops at 255", image.len()),
            fix,
        );
        return;
    }
    if let Some(bad) = image.chars().find(|&ch| {
        !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | '/' | ':' | '@'))
    }) {
        c.push(
            field,
            format!(
                "{:?} contains `{}`, which an image reference cannot hold",
                image,
                shown(bad)
            ),
            fix,
        );
        return;
    }
    if !image.starts_with(|ch: char| ch.is_ascii_alphanumeric()) {
        c.push(
            field,
            format!("`{image}` must start with a letter or digit"),
            fix,
        );
        return;
    }
    // `name[:tag][@digest]`; the name (repository path) must be lower case.
    let without_digest = image.split('@').next().unwrap_or_default();
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let name = match without_digest[last_slash..].find(':') {
        Some(i) => &without_digest[..last_slash + i],
        None => without_digest,
    };
    // A registry host (first component with `.` or `:`) may have upper case.
    let repo_path = match name.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest
        }
        _ => name,
    };
    if repo_path.chars().any(|ch| ch.is_ascii_uppercase()) {
        c.push(
            field,
            format!("`{image}`: repository name `{repo_path}` has upper-case letters, which Docker refuses"),
            format!("use `{}`", image.replacen(repo_path, &repo_path.to_ascii_lowercase(), 1)),
        );
    }
}

// ---------------------------------------------------------------- texts

fn check_texts(c: &mut Checker, spec: &LabSpec) {
    if let Some(d) = &spec.description {
        check_free_text(c, "description", d);
    }
    // Every page (of nodes and web servers) is a marker a client tells the
    // servers apart by: non-empty, short, and unique across the lab.
    let nodes = spec.nodes.iter().enumerate().map(|(i, n)| {
        (
            format!("nodes[{i}]"),
            n.name.as_str(),
            n.page.as_str(),
            "nodes",
        )
    });
    let webs = spec.backends.servers.iter().enumerate().map(|(i, w)| {
        (
            format!("backends.servers[{i}]"),
            w.name.as_str(),
            w.page.as_str(),
            "web servers",
        )
    });
    let mut pages: HashMap<&str, (String, &str)> = HashMap::new();
    for (at, name, page, apart) in nodes.chain(webs) {
        let field = format!("{at}.page");
        if page.trim().is_empty() {
            c.push(
                field,
                format!("is empty; a client tells the {apart} apart by their pages"),
                format!("give `{name}` a page text of its own, e.g. `{name}`"),
            );
            continue;
        }
        check_free_text(c, &field, page);
        if page.len() > MAX_PAGE_TEXT {
            c.push(
                field,
                format!(
                    "is {} bytes long; a page text is the marker the probe looks for in every answer, at most {MAX_PAGE_TEXT} bytes",
                    page.len()
                ),
                format!("use a short text, e.g. `{name}`"),
            );
            continue;
        }
        match pages.get(page) {
            Some((first, first_name)) => c.push(
                field,
                format!(
                    "{page:?} is also the page of {first} (`{first_name}`); a client tells the {apart} apart by their pages"
                ),
                format!("give `{name}` a page text of its own"),
            ),
            None => {
                pages.insert(page, (at, name));
            }
        }
    }
}

/// Any printable text on one line (rendered pages are HTML-escaped).
fn check_free_text(c: &mut Checker, field: &str, value: &str) {
    if let Some(bad) = value.chars().find(|ch| ch.is_control()) {
        c.push(
            field,
            format!(
                "contains the control character `{}`; the text must be one printable line",
                shown(bad)
            ),
            "remove line breaks, tabs and other control characters",
        );
    }
}

// ---------------------------------------------------------------- budgets

fn check_budgets(c: &mut Checker, spec: &LabSpec) {
    for (scenario, b) in &spec.scenarios {
        let Budget {
            switch_within,
            recover_within,
            max_failed: _,
            max_late: _,
            worst_answer,
            // 0 is a real budget here: no moment with two VIP owners.
            max_dual_owner,
            pool_remove_within,
            observe,
        } = b;
        // A budget nothing judges must not look like one that passed.
        if pool_remove_within.is_some()
            && !matches!(
                crate::scenario::get(*scenario).expect,
                crate::scenario::Expect::PoolChange { .. }
            )
        {
            c.push(
                format!("scenarios.{scenario}.pool_remove_within"),
                format!("is judged only on a scenario that takes a web server out of the pool; `{scenario}` does not"),
                "set it under `stop-web`, `kill-web` or `hang-web`, or remove it",
            );
        }
        for (name, d) in [
            ("switch_within", switch_within),
            ("pool_remove_within", pool_remove_within),
            ("recover_within", recover_within),
            ("worst_answer", worst_answer),
            ("observe", observe),
            ("max_dual_owner", max_dual_owner),
        ] {
            if let Some(d) = *d {
                check_at_most(
                    c,
                    &format!("scenarios.{scenario}.{name}"),
                    d,
                    MAX_BUDGET,
                    "longer than a failover test runs",
                    "give a duration of seconds or minutes, e.g. `5s`",
                );
            }
            if name != "max_dual_owner" && d.is_some_and(|d| d.is_zero()) {
                c.push(
                    format!("scenarios.{scenario}.{name}"),
                    "is 0, a budget nothing can meet",
                    format!("give a positive duration, e.g. `5s`, or remove `{name}` to use the built-in default"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lab::{Lab, LabError};

    /// A small valid lab: every test changes one thing in it.
    const BASE: &str = "\
name: t
network:
  subnet: 10.9.0.0/16
vip: 10.9.128.4/24
nodes:
  - name: a
    ip: 10.9.128.2
    state: MASTER
    priority: 200
    page: A
  - name: b
    ip: 10.9.128.3
    state: BACKUP
    priority: 100
    page: B
";

    /// BASE with each `from` (which must occur exactly once) replaced, then
    /// `extra` appended.
    fn lab(edits: &[(&str, &str)], extra: &str) -> String {
        let mut text = BASE.to_string();
        for (from, to) in edits {
            assert_eq!(
                text.matches(from).count(),
                1,
                "`{from}` must occur once in BASE"
            );
            text = text.replacen(from, to, 1);
        }
        text + extra
    }

    fn problems(text: &str) -> Vec<Problem> {
        match Lab::from_yaml(text, Path::new("t.yaml")) {
            Ok(_) => Vec::new(),
            Err(LabError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("expected validation problems, got: {e}"),
        }
    }

    /// Asserts a problem at `field` whose message contains `part`.
    #[track_caller]
    fn assert_problem(problems: &[Problem], field: &str, part: &str) {
        assert!(
            problems
                .iter()
                .any(|p| p.field == field && p.message.contains(part)),
            "no problem at `{field}` mentioning {part:?}; got:\n{}",
            problems
                .iter()
                .map(|p| format!("  {p}\n"))
                .collect::<String>()
        );
    }

    #[track_caller]
    fn assert_fails(edits: &[(&str, &str)], extra: &str, field: &str, part: &str) {
        assert_problem(&problems(&lab(edits, extra)), field, part);
    }

    #[test]
    fn base_lab_is_valid() {
        assert_eq!(problems(BASE), Vec::new());
    }

    #[test]
    fn priority_300_names_the_field() {
        let p = problems(&lab(&[("priority: 200", "priority: 300")], ""));
        assert_problem(&p, "nodes[0].priority", "300 is outside VRRP's 1..=255");
        let shown = p.iter().map(ToString::to_string).collect::<String>();
        assert!(shown.contains("`nodes[0].priority`"), "{shown}");
    }

    #[test]
    fn priority_zero_is_refused() {
        assert_fails(
            &[("priority: 100", "priority: 0")],
            "",
            "nodes[1].priority",
            "outside VRRP's 1..=255",
        );
    }

    #[test]
    fn vip_outside_subnet() {
        assert_fails(
            &[("vip: 10.9.128.4/24", "vip: 10.10.128.4/24")],
            "",
            "vip",
            "10.10.128.4 is outside network.subnet 10.9.0.0/16",
        );
    }

    #[test]
    fn duplicated_ip() {
        assert_fails(
            &[("ip: 10.9.128.3", "ip: 10.9.128.2")],
            "",
            "nodes[1].ip",
            "10.9.128.2 is already used by node `a` (`nodes[0].ip`)",
        );
        // The fix names an address nobody has, next to the lab's own.
        let p = problems(&lab(&[("ip: 10.9.128.3", "ip: 10.9.128.2")], ""));
        let dup = p.iter().find(|p| p.field == "nodes[1].ip").unwrap();
        assert!(dup.fix.ends_with("e.g. 10.9.128.3"), "{dup}");
    }

    #[test]
    fn proxy_ip_clashing_with_a_node() {
        assert_fails(
            &[],
            "proxy:\n  ip: 10.9.128.3\n",
            "proxy.ip",
            "already used by node `b`",
        );
    }

    #[test]
    fn twelve_character_password() {
        assert_fails(
            &[],
            "vrrp:\n  auth_pass: abcdefghijkl\n",
            "vrrp.auth_pass",
            "12 bytes long; keepalived uses only the first 8",
        );
    }

    #[test]
    fn empty_password() {
        assert_fails(
            &[],
            "vrrp:\n  auth_pass: ''\n",
            "vrrp.auth_pass",
            "is empty",
        );
    }

    #[test]
    fn password_with_vrrp3() {
        assert_fails(
            &[],
            "vrrp:\n  version: 3\n  advert_int: 100ms\n  auth_pass: letmein\n",
            "vrrp.auth_pass",
            "VRRPv3 has no authentication",
        );
    }

    #[test]
    fn password_breaking_out_of_config() {
        assert_fails(
            &[],
            "vrrp:\n  auth_pass: 'a\"}b'\n",
            "vrrp.auth_pass",
            "would break out",
        );
        assert_fails(
            &[],
            "vrrp:\n  auth_pass: 'a b'\n",
            "vrrp.auth_pass",
            "would break out",
        );
    }

    #[test]
    fn node_ip_outside_subnet() {
        assert_fails(
            &[("ip: 10.9.128.3", "ip: 192.168.1.3")],
            "",
            "nodes[1].ip",
            "outside network.subnet",
        );
    }

    #[test]
    fn network_broadcast_and_gateway_addresses() {
        assert_fails(
            &[("ip: 10.9.128.3", "ip: 10.9.0.0")],
            "",
            "nodes[1].ip",
            "network address",
        );
        assert_fails(
            &[("ip: 10.9.128.3", "ip: 10.9.255.255")],
            "",
            "nodes[1].ip",
            "broadcast address",
        );
        assert_fails(
            &[],
            "proxy:\n  ip: 10.9.0.1\n",
            "proxy.ip",
            "Docker bridge gateway",
        );
    }

    #[test]
    fn vip_equal_to_a_node_ip() {
        assert_fails(
            &[("vip: 10.9.128.4/24", "vip: 10.9.128.2/24")],
            "",
            "vip",
            "also the address of node `a`",
        );
    }

    #[test]
    fn vip_prefix_range() {
        assert_fails(
            &[("vip: 10.9.128.4/24", "vip: 10.9.128.4/7")],
            "",
            "vip",
            "prefix /7",
        );
        assert!(problems(&lab(&[("vip: 10.9.128.4/24", "vip: 10.9.128.4/32")], "")).is_empty());
    }

    #[test]
    fn subnet_host_bits_public_and_size() {
        assert_fails(
            &[("subnet: 10.9.0.0/16", "subnet: 10.9.0.5/16")],
            "",
            "network.subnet",
            "host bits",
        );
        assert_fails(
            &[("subnet: 10.9.0.0/16", "subnet: 8.8.0.0/16")],
            "",
            "network.subnet",
            "not a private range",
        );
        assert_fails(
            &[("subnet: 10.9.0.0/16", "subnet: 10.9.128.0/30")],
            "",
            "network.subnet",
            "the lab needs 4",
        );
    }

    #[test]
    fn duplicate_priorities() {
        assert_fails(
            &[("priority: 100", "priority: 200")],
            "",
            "nodes[1].priority",
            "also the priority of nodes[0]",
        );
    }

    #[test]
    fn master_must_hold_the_highest_priority() {
        assert_fails(
            &[("priority: 100", "priority: 250")],
            "",
            "nodes[0].priority",
            "the MASTER `a` has priority 200 but nodes[1] (`b`) has 250",
        );
    }

    #[test]
    fn exactly_one_master() {
        assert_fails(
            &[("state: BACKUP", "state: MASTER")],
            "",
            "nodes[1].state",
            "second MASTER",
        );
        assert_fails(
            &[("state: MASTER", "state: BACKUP")],
            "",
            "nodes",
            "no node has `state: MASTER`",
        );
    }

    #[test]
    fn at_least_two_nodes() {
        let one = "name: t\nnetwork: {subnet: 10.9.0.0/16}\nvip: 10.9.128.4/24\nnodes:\n  - {name: a, ip: 10.9.128.2, state: MASTER, priority: 200, page: A}\n";
        assert_problem(
            &problems(one),
            "nodes",
            "1 node(s); a VRRP lab needs at least two",
        );
    }

    #[test]
    fn names_are_checked() {
        assert_fails(&[("name: t\n", "name: My-Lab\n")], "", "name", "upper-case");
        assert_fails(
            &[("name: a\n", "name: 'nginx master'\n")],
            "",
            "nodes[0].name",
            "contains ` `",
        );
        assert_fails(
            &[("name: a\n", "name: -a\n")],
            "",
            "nodes[0].name",
            "must start with a letter or digit",
        );
        let long = "n".repeat(64);
        assert_fails(
            &[("name: b\n", &format!("name: {long}\n"))],
            "",
            "nodes[1].name",
            "64 characters long",
        );
        assert_fails(
            &[],
            "proxy:\n  name: 'pro{xy'\n",
            "proxy.name",
            "contains `{`",
        );
        assert_fails(
            &[("subnet:", "name: 'net#1'\n  subnet:")],
            "",
            "network.name",
            "contains `#`",
        );
        assert_fails(&[("name: t\n", "name: ''\n")], "", "name", "is empty");
    }

    #[test]
    fn node_names_unique_and_not_the_proxy() {
        assert_fails(
            &[("name: b\n", "name: a\n")],
            "",
            "nodes[1].name",
            "also the name of nodes[0]",
        );
        assert_fails(
            &[],
            "proxy:\n  name: b\n",
            "nodes[1].name",
            "also the proxy's name",
        );
    }

    #[test]
    fn virtual_router_id_and_version() {
        assert_fails(
            &[],
            "vrrp:\n  virtual_router_id: 256\n",
            "vrrp.virtual_router_id",
            "256 is outside 1..=255",
        );
        assert_fails(
            &[],
            "vrrp:\n  virtual_router_id: 0\n",
            "vrrp.virtual_router_id",
            "0 is outside",
        );
        assert_fails(
            &[],
            "vrrp:\n  version: 4\n",
            "vrrp.version",
            "4 is not a VRRP version",
        );
    }

    #[test]
    fn advert_int_per_version() {
        assert_fails(&[], "vrrp:\n  advert_int: 0s\n", "vrrp.advert_int", "is 0");
        assert_fails(
            &[],
            "vrrp:\n  advert_int: 500ms\n",
            "vrrp.advert_int",
            "whole number of seconds",
        );
        assert_fails(
            &[],
            "vrrp:\n  advert_int: 256s\n",
            "vrrp.advert_int",
            "whole number of seconds",
        );
        assert_fails(
            &[],
            "vrrp:\n  version: 3\n  advert_int: 105ms\n",
            "vrrp.advert_int",
            "multiple of 10ms",
        );
        assert_fails(
            &[],
            "vrrp:\n  version: 3\n  advert_int: 41s\n",
            "vrrp.advert_int",
            "multiple of 10ms from 10ms to 40.95s",
        );
        assert!(problems(&lab(&[], "vrrp:\n  version: 3\n  advert_int: 20ms\n")).is_empty());
        assert!(problems(&lab(&[], "vrrp:\n  version: 3\n  advert_int: 40950ms\n")).is_empty());
    }

    #[test]
    fn interface_name() {
        assert_fails(
            &[],
            "vrrp:\n  interface: 'eth0 up'\n",
            "vrrp.interface",
            "not a plain interface name",
        );
        assert_fails(
            &[],
            "vrrp:\n  interface: abcdefghijklmnop\n",
            "vrrp.interface",
            "not a plain interface name",
        );
        assert!(problems(&lab(&[], "vrrp:\n  interface: eth0.100\n")).is_empty());
    }

    #[test]
    fn health_check_rules() {
        assert_fails(
            &[],
            "health_check:\n  interval: 0s\n",
            "health_check.interval",
            "not a whole number of seconds",
        );
        assert_fails(
            &[],
            "health_check:\n  interval: 500ms\n",
            "health_check.interval",
            "not a whole number of seconds",
        );
        assert_fails(
            &[],
            "health_check:\n  fall: 0\n",
            "health_check.fall",
            "is 0",
        );
        assert_fails(
            &[],
            "health_check:\n  rise: 0\n",
            "health_check.rise",
            "is 0",
        );
        assert_fails(
            &[],
            "health_check:\n  weight: -254\n",
            "health_check.weight",
            "outside -253..=253",
        );
        assert!(problems(&lab(&[], "health_check:\n  weight: -253\n")).is_empty());
    }

    #[test]
    fn proxy_ports_and_limits() {
        assert_fails(&[], "proxy:\n  listen: 0\n", "proxy.listen", "is 0");
        assert_fails(&[], "proxy:\n  port: 0\n", "proxy.port", "is 0");
        assert_fails(&[], "proxy:\n  maxconn: 0\n", "proxy.maxconn", "is 0");
        assert_fails(
            &[],
            "proxy:\n  retries: 101\n",
            "proxy.retries",
            "more than 100",
        );
        assert_fails(
            &[],
            "proxy:\n  timeouts: {connect: 0s}\n",
            "proxy.timeouts.connect",
            "shorter than 1ms",
        );
        assert_fails(
            &[],
            "proxy:\n  timeouts: {server: 500us}\n",
            "proxy.timeouts.server",
            "shorter than 1ms",
        );
    }

    #[test]
    fn proxy_retry_on_keywords() {
        let p = problems(&lab(
            &[],
            "proxy:\n  retry_on: [conn-failure, conn-failures, 503, 418]\n",
        ));
        assert_problem(
            &p,
            "proxy.retry_on[1]",
            "\"conn-failures\" is not a `retry-on` keyword",
        );
        assert!(p
            .iter()
            .any(|p| p.field == "proxy.retry_on[1]"
                && p.fix.contains("did you mean `conn-failure`?")));
        assert_problem(&p, "proxy.retry_on[3]", "\"418\"");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_fails(
            &[],
            "proxy:\n  retry_on: [none, conn-failure]\n",
            "proxy.retry_on",
            "`none` disables retries",
        );
    }

    #[test]
    fn proxy_server_check() {
        assert_fails(
            &[],
            "proxy:\n  check: {inter: 0s}\n",
            "proxy.check.inter",
            "shorter than 1ms",
        );
        assert_fails(
            &[],
            "proxy:\n  check: {rise: 0}\n",
            "proxy.check.rise",
            "is 0",
        );
        assert_fails(
            &[],
            "proxy:\n  check: {fall: 0}\n",
            "proxy.check.fall",
            "is 0",
        );
        assert!(problems(&lab(&[], "proxy:\n  check: null\n")).is_empty());
    }

    #[test]
    fn probe_rules() {
        assert_fails(
            &[],
            "probe:\n  interval: 500us\n",
            "probe.interval",
            "shorter than 1ms",
        );
        assert_fails(&[], "probe:\n  timeout: 0s\n", "probe.timeout", "is 0");
        assert_fails(
            &[],
            "probe:\n  late_after: 0s\n",
            "probe.late_after",
            "is 0",
        );
    }

    #[test]
    fn image_reference() {
        assert_fails(
            &[],
            "image:\n  base: 'halab base'\n",
            "image.base",
            "contains ` `",
        );
        assert_fails(
            &[],
            "image:\n  base: \"a\\nb\"\n",
            "image.base",
            "contains `\\n`",
        );
        assert_fails(
            &[],
            "image:\n  base: 'x\"y'\n",
            "image.base",
            "contains `\"`",
        );
        assert_fails(&[], "image:\n  base: ''\n", "image.base", "is empty");
        assert_fails(&[], "image:\n  base: Halab:1\n", "image.base", "upper-case");
        let ok = [
            "debian:bookworm",
            "Registry.Local:5000/team/base:V1",
            "base@sha256:abcdef0123",
        ];
        for image in ok {
            assert!(
                problems(&lab(&[], &format!("image:\n  base: '{image}'\n"))).is_empty(),
                "{image}"
            );
        }
    }

    #[test]
    fn pages_and_description() {
        assert_fails(
            &[("page: B", "page: A")],
            "",
            "nodes[1].page",
            "also the page of nodes[0]",
        );
        assert_fails(&[("page: B", "page: ' '")], "", "nodes[1].page", "is empty");
        assert_fails(
            &[("page: B", "page: \"B\\nC\"")],
            "",
            "nodes[1].page",
            "control character",
        );
        assert_fails(
            &[],
            "description: \"one\\ntwo\"\n",
            "description",
            "control character",
        );
        // HTML-escaped when rendered: quotes, braces and `<` are fine in pages.
        assert!(problems(&lab(&[("page: B", "page: '<b>\"{从机}\"</b> #1;'")], "")).is_empty());
    }

    #[test]
    fn scenario_budgets_positive() {
        let p = problems(&lab(
            &[],
            "scenarios:\n  kill-master: {switch_within: 0s, observe: 0s, max_dual_owner: 0s}\n",
        ));
        assert_problem(&p, "scenarios.kill-master.switch_within", "is 0");
        assert_problem(&p, "scenarios.kill-master.observe", "is 0");
        assert_eq!(p.len(), 2, "max_dual_owner: 0s is a real budget: {p:?}");
    }

    #[test]
    fn pool_remove_within_only_where_a_web_server_leaves_the_pool() {
        let p = problems(&lab(
            &[],
            "scenarios:\n  kill-master: {pool_remove_within: 2s}\n",
        ));
        assert_problem(
            &p,
            "scenarios.kill-master.pool_remove_within",
            "is judged only on a scenario that takes a web server out of the pool",
        );
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn every_problem_is_collected() {
        let p = problems(&lab(
            &[
                ("priority: 200", "priority: 300"),
                ("vip: 10.9.128.4/24", "vip: 10.10.0.4/24"),
            ],
            "vrrp:\n  auth_pass: abcdefghijkl\n",
        ));
        assert_problem(&p, "nodes[0].priority", "300");
        assert_problem(&p, "vip", "outside network.subnet");
        assert_problem(&p, "vrrp.auth_pass", "12 bytes");
    }

    #[test]
    fn an_address_owner_cannot_be_kept_from_preempting() {
        assert_fails(
            &[("priority: 200", "priority: 255")],
            "vrrp:\n  preempt: false\n",
            "nodes[0].priority",
            "keepalived drops `nopreempt` for an address owner",
        );
        // With preemption, 255 is a legal (if unusual) master.
        assert!(problems(&lab(&[("priority: 200", "priority: 255")], "")).is_empty());
    }

    #[test]
    fn haproxy_times_stop_at_its_32_bit_ms_limit() {
        assert_fails(
            &[],
            "proxy:\n  timeouts: {connect: 18446744073709552s}\n",
            "proxy.timeouts.connect",
            "longer than HAProxy accepts",
        );
        assert_fails(
            &[],
            "proxy:\n  check: {inter: 600000000years}\n",
            "proxy.check.inter",
            "at most 2147483647ms",
        );
        assert_fails(
            &[],
            "proxy:\n  timeouts: {server: 2147483648ms}\n",
            "proxy.timeouts.server",
            "at most 2147483647ms",
        );
        assert!(problems(&lab(&[], "proxy:\n  timeouts: {client: 2147483647ms}\n")).is_empty());
    }

    #[test]
    fn script_intervals_stop_at_keepalived_limit() {
        assert_fails(
            &[],
            "health_check:\n  interval: 100years\n",
            "health_check.interval",
            "longest `vrrp_script` interval keepalived accepts",
        );
        assert!(problems(&lab(&[], "health_check:\n  interval: 4294s\n")).is_empty());
        assert_fails(
            &[],
            "health_check:\n  interval: 4295s\n",
            "health_check.interval",
            "longer than 1h 11m 34s",
        );
        assert_fails(
            &[],
            "health_check:\n  fall: 4000000000\n",
            "health_check.fall",
            "more than keepalived reads",
        );
    }

    #[test]
    fn probe_times_and_budgets_are_bounded() {
        assert_fails(
            &[],
            "probe:\n  timeout: 100years\n",
            "probe.timeout",
            "too slow for a probe",
        );
        assert_fails(
            &[],
            "scenarios:\n  kill-master: {observe: 600000000years, max_dual_owner: 2h}\n",
            "scenarios.kill-master.observe",
            "longer than a failover test runs",
        );
        assert_fails(
            &[],
            "scenarios:\n  kill-master: {max_dual_owner: 2h}\n",
            "scenarios.kill-master.max_dual_owner",
            "longer than 1h",
        );
    }

    #[test]
    fn a_page_text_is_a_short_marker() {
        let long = "x".repeat(MAX_PAGE_TEXT + 1);
        assert_fails(
            &[("page: B", &format!("page: {long}"))],
            "",
            "nodes[1].page",
            "at most 4096 bytes",
        );
    }

    #[test]
    fn too_many_nodes_is_one_problem_not_one_per_node() {
        let mut text = lab(&[], "");
        for i in 0..300 {
            text.push_str(&format!(
                "  - {{name: n{i}, ip: 10.9.{}.{}, state: BACKUP, priority: 50, page: P{i}x}}\n",
                1 + i / 200,
                2 + i % 200
            ));
        }
        let p = problems(&text);
        assert_problem(&p, "nodes", "302 nodes");
    }

    #[test]
    fn every_problem_says_how_to_fix_it() {
        let p = problems(&lab(
            &[
                ("name: t\n", "name: T\n"),
                ("ip: 10.9.128.3", "ip: 10.9.0.1"),
                ("page: B", "page: A"),
            ],
            "proxy:\n  port: 0\n  retry_on: [x]\nimage:\n  base: ''\n",
        ));
        assert!(p.len() >= 5, "{p:?}");
        for problem in &p {
            assert!(
                !problem.fix.is_empty() && !problem.message.is_empty(),
                "{problem:?}"
            );
        }
    }

    // ------------------------------------------------ the production shape

    /// A valid load-balancer pair over two web servers: the shape tests
    /// change one thing in it.
    const PAIR: &str = "\
name: t
network:
  subnet: 10.9.0.0/16
vip: 10.9.128.4/24
nodes:
  - name: a
    ip: 10.9.128.2
    state: MASTER
    priority: 200
    runs: [haproxy]
  - name: b
    ip: 10.9.128.3
    state: BACKUP
    priority: 100
    runs: [haproxy]
backends:
  servers:
    - { name: w1, ip: 10.9.128.11, page: W1 }
    - { name: w2, ip: 10.9.128.12, page: W2 }
proxy:
  front: false
  listen: 80
";

    fn pair(edits: &[(&str, &str)], extra: &str) -> String {
        let mut text = PAIR.to_string();
        for (from, to) in edits {
            assert_eq!(
                text.matches(from).count(),
                1,
                "`{from}` must occur once in PAIR"
            );
            text = text.replacen(from, to, 1);
        }
        text + extra
    }

    #[track_caller]
    fn assert_pair_fails(edits: &[(&str, &str)], extra: &str, field: &str, part: &str) {
        assert_problem(&problems(&pair(edits, extra)), field, part);
    }

    #[test]
    fn a_load_balancer_pair_is_valid_and_its_pages_default_to_the_names() {
        assert_eq!(problems(PAIR), Vec::new());
        let lab = Lab::from_yaml(PAIR, Path::new("t.yaml")).unwrap();
        assert_eq!(lab.spec().nodes[0].page, "a");
        assert_eq!(lab.shape(), crate::lab::Shape::LbPair);
        assert_eq!(lab.client_target().to_string(), "10.9.128.4:80");
    }

    #[test]
    fn runs_must_name_one_service_once() {
        assert_pair_fails(
            &[("runs: [haproxy]\n  - name: b", "runs: []\n  - name: b")],
            "",
            "nodes[0].runs",
            "is empty",
        );
        assert_pair_fails(
            &[(
                "runs: [haproxy]\n  - name: b",
                "runs: [haproxy, haproxy]\n  - name: b",
            )],
            "",
            "nodes[0].runs",
            "names a service twice",
        );
        assert_pair_fails(
            &[(
                "runs: [haproxy]\n  - name: b",
                "runs: [haproxy, nginx]\n  - name: b",
            )],
            "",
            "nodes[0].runs",
            "nginx and HAProxy on one node",
        );
    }

    #[test]
    fn every_node_of_a_pair_runs_haproxy() {
        assert_pair_fails(
            &[(
                "runs: [haproxy]\n  - name: b",
                "runs: [nginx]\n    page: A\n  - name: b",
            )],
            "",
            "nodes[0].runs",
            "while other nodes run HAProxy",
        );
    }

    #[test]
    fn a_pair_needs_web_servers_and_no_front_proxy() {
        let no_servers = PAIR.replace(
            "  servers:\n    - { name: w1, ip: 10.9.128.11, page: W1 }\n    - { name: w2, ip: 10.9.128.12, page: W2 }\n",
            "  port: 80\n",
        );
        assert_problem(
            &problems(&no_servers),
            "backends.servers",
            "is empty, yet nodes run HAProxy",
        );
        assert_pair_fails(
            &[("front: false", "front: true")],
            "",
            "proxy.front",
            "single point of failure",
        );
    }

    #[test]
    fn the_seed_shape_refuses_backends_and_a_missing_front_proxy() {
        assert_fails(
            &[],
            "backends:\n  servers: [{ name: w1, ip: 10.9.128.11, page: W1 }]\n",
            "backends",
            "no node runs HAProxy",
        );
        assert_fails(
            &[],
            "proxy:\n  front: false\n",
            "proxy.front",
            "no node runs HAProxy",
        );
    }

    #[test]
    fn names_are_unique_across_nodes_web_servers_and_the_proxy() {
        assert_pair_fails(
            &[("name: w2,", "name: w1,")],
            "",
            "backends.servers[1].name",
            "also the name of backends.servers[0]",
        );
        assert_pair_fails(
            &[("name: w2,", "name: a,")],
            "",
            "backends.servers[1].name",
            "also the name of nodes[0]",
        );
        assert_pair_fails(
            &[("name: w2,", "name: 'w 2',")],
            "",
            "backends.servers[1].name",
            "contains ` `",
        );
        // The proxy's name is free when there is no front proxy.
        assert_eq!(
            problems(&pair(&[("name: w2,", "name: proxy,")], "")),
            Vec::new()
        );
        assert_fails(
            &[("name: b\n", "name: proxy\n")],
            "",
            "nodes[1].name",
            "also the proxy's name",
        );
    }

    #[test]
    fn web_server_addresses_are_in_the_subnet_unique_and_not_the_vip() {
        assert_pair_fails(
            &[("ip: 10.9.128.12", "ip: 10.10.128.12")],
            "",
            "backends.servers[1].ip",
            "outside network.subnet",
        );
        assert_pair_fails(
            &[("ip: 10.9.128.12", "ip: 10.9.128.11")],
            "",
            "backends.servers[1].ip",
            "already used by web server `w1`",
        );
        assert_pair_fails(
            &[("ip: 10.9.128.12", "ip: 10.9.128.2")],
            "",
            "backends.servers[1].ip",
            "already used by node `a`",
        );
        assert_pair_fails(
            &[("ip: 10.9.128.12", "ip: 10.9.128.4")],
            "",
            "vip",
            "also the address of web server `w2`",
        );
    }

    #[test]
    fn web_pages_are_non_empty_and_unique() {
        assert_pair_fails(
            &[("page: W2", "page: ''")],
            "",
            "backends.servers[1].page",
            "is empty",
        );
        assert_pair_fails(
            &[("page: W2", "page: W1")],
            "",
            "backends.servers[1].page",
            "also the page of backends.servers[0]",
        );
        assert_pair_fails(
            &[("page: W2", "page: \"a\\tb\"")],
            "",
            "backends.servers[1].page",
            "control character",
        );
    }

    #[test]
    fn a_load_balancer_page_is_one_header_token() {
        assert_pair_fails(
            &[(
                "runs: [haproxy]\n  - name: b",
                "runs: [haproxy]\n    page: 主机\n  - name: b",
            )],
            "",
            "nodes[0].page",
            "value of its `X-Halab-LB` response header",
        );
    }

    #[test]
    fn nginx_nodes_still_need_a_page() {
        assert_fails(&[("    page: A\n", "")], "", "nodes[0].page", "is empty");
    }

    #[test]
    fn backend_checks_are_bounded() {
        let check = |c: &str| format!("backends:\n  check: {c}\n");
        let text = PAIR.replace(
            "backends:\n",
            &check("{ inter: 5ms, rise: 0, fall: 0, path: 'no slash', expect_status: 42 }"),
        );
        let p = problems(&text);
        assert_problem(&p, "backends.check.inter", "shorter than 10ms");
        assert_problem(&p, "backends.check.rise", "is 0");
        assert_problem(&p, "backends.check.fall", "is 0");
        assert_problem(&p, "backends.check.path", "not an absolute URL path");
        assert_problem(&p, "backends.check.expect_status", "not an HTTP status");
        let ok = PAIR.replace(
            "backends:\n",
            &check("{ kind: tcp, inter: 10ms, rise: 1, fall: 1 }"),
        );
        assert_eq!(problems(&ok), Vec::new());
        assert_pair_fails(
            &[("backends:\n", "backends:\n  port: 0\n")],
            "",
            "backends.port",
            "is 0",
        );
    }

    #[test]
    fn icmp_needs_an_address_in_the_subnet_and_only_icmp_takes_one() {
        assert_pair_fails(
            &[],
            "health_check: { kind: icmp }\n",
            "health_check.address",
            "is missing",
        );
        assert_pair_fails(
            &[],
            "health_check: { kind: icmp, address: 10.10.0.1 }\n",
            "health_check.address",
            "outside network.subnet",
        );
        assert_pair_fails(
            &[],
            "health_check: { kind: tcp, address: 10.9.0.1 }\n",
            "health_check.address",
            "only the `icmp` check uses it",
        );
        assert_eq!(
            problems(&pair(
                &[],
                "health_check: { kind: icmp, address: 10.9.128.11 }\n"
            )),
            Vec::new()
        );
        assert_eq!(
            problems(&pair(&[], "health_check: { kind: tcp }\n")),
            Vec::new()
        );
    }

    #[test]
    fn a_subnet_override_moves_web_servers_and_the_ping_target_too() {
        let text = pair(&[], "health_check: { kind: icmp, address: 10.9.128.11 }\n");
        let o = crate::lab::Overrides {
            subnet: Some("10.231.0.0/16".parse().unwrap()),
            ..Default::default()
        };
        let lab = Lab::from_yaml_with(&text, Path::new("t.yaml"), &o).unwrap();
        assert_eq!(lab.backends()[1].ip.to_string(), "10.231.128.12");
        assert_eq!(
            lab.spec().health_check.address.unwrap().to_string(),
            "10.231.128.11"
        );
    }
}
