//! The scenario catalogue: every scenario halab can run, one entry each.
//!
//! An entry owns everything the scenario means: which node it aims at, the
//! engine actions that inject and heal its fault, what a client should see
//! (a switch, a failback, or nothing at all for the control), which budgets
//! it gets by default from the lab's own timers and which are only reported,
//! and its help text. `cli` (help), `chaos::plan`, `verdict` (through the
//! [`Plan`] stored in a run's spec), `report` and `docs/lab-format.md` read
//! it. Adding a scenario is adding a [`ScenarioName`] and one entry here.
//!
//! One file on purpose (it is long): the catalogue is data, one entry per
//! scenario, and keeping every entry beside the option parsing and the
//! budget formulas they share is what makes "one place per scenario" true.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lab::{Budget, Lab, LabSpec, ScenarioName, Shape};

/// Marks halab's own firewall rules so a heal deletes exactly those.
pub const PARTITION_COMMENT: &str = "halab-partition";

/// Tags of the rules `vrrp-loss` and `client-loss` add (their heal deletes
/// every rule so tagged, whatever part of the inject went through).
pub const VRRP_LOSS_COMMENT: &str = "halab-vrrp-loss";
pub const CLIENT_LOSS_COMMENT: &str = "halab-client-loss";

/// Where `link-flap` keeps the master's default route while its link is
/// down (the kernel drops it with the link; the heal puts it back).
const FLAP_ROUTE_FILE: &str = "/run/halab-link-flap.route";

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
    /// Cap the container's CPU (thousandths of a core), or lift the cap.
    UpdateCpu {
        container: String,
        millicpus: Option<u32>,
    },
    /// Let time pass between two steps of a fault (a flap's period).
    Wait {
        #[serde(with = "humantime_serde")]
        duration: Duration,
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
            Action::UpdateCpu {
                container,
                millicpus: Some(m),
            } => format!(
                "docker update --cpus {} {container}",
                f64::from(*m) / 1000.0
            ),
            Action::UpdateCpu {
                container,
                millicpus: None,
            } => format!("docker update --cpu-quota -1 {container}"),
            Action::Wait { duration } => {
                format!("wait {}", humantime::format_duration(*duration))
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
    /// The scenario's options this run was made with (`--set`).
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub params: Params,
    /// The fault takes away every way to the page (`Expect::Outage`): what
    /// that is, as the failure says it ("single point of failure: …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<String>,
    /// The faulted web server whose removal from the VIP holder's pool is
    /// judged (`pool_remove_within`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

/// The lab as a plan needs it.
struct Site<'a> {
    master: &'a str,
    backup: &'a str,
    preempt: bool,
    interface: &'a str,
    vip: std::net::Ipv4Addr,
    /// The front proxy's name (the seed's shape).
    proxy: &'a str,
    /// The web servers, in the lab's order (the production shape).
    backends: Vec<&'a str>,
}

/// What a scenario's actions are aimed at.
#[derive(Debug, Clone, Copy)]
pub struct Aim<'a> {
    pub container: &'a str,
    /// Every container the fault is aimed at (`stop-all-web`: each web
    /// server); `container` is the first.
    pub all: &'a [String],
    /// The lab's VRRP interface inside the container.
    pub interface: &'a str,
    pub vip: std::net::Ipv4Addr,
    pub params: &'a Params,
}

/// The kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// `0.2` or `20%`, from 0 to 1.
    Fraction,
    /// A whole number from 1 to 100.
    Count,
    /// `500ms`, `2s`.
    Duration,
    /// A scenario that can run as background stress, or `none`.
    Stress,
    /// A web server's name (checked against the lab when the plan is made);
    /// empty: the lab's first.
    Server,
}

/// One option of a scenario, set with `--set NAME=VALUE`.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub name: &'static str,
    pub kind: OptKind,
    pub default: &'static str,
    pub help: &'static str,
}

/// The scenarios `idle` can run beneath it as background stress.
pub const STRESSES: [ScenarioName; 3] = [
    ScenarioName::VrrpLoss,
    ScenarioName::ClientLoss,
    ScenarioName::StarveMaster,
];

/// A scenario's options for one run: every option it takes, checked, the
/// defaults filled in, each value written the one way it is read back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, String>);

/// Why `--set` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("`{scenario}` has no option `{name}`{hint}\n  fix: {known}")]
    Unknown {
        scenario: ScenarioName,
        name: String,
        hint: String,
        known: String,
    },
    #[error("`--set {item}` is not NAME=VALUE\n  fix: e.g. `--set loss=0.2`")]
    Shape { item: String },
    #[error("`{name}={value}` of `{scenario}`: `{name}` wants {why}")]
    Value {
        scenario: ScenarioName,
        name: String,
        value: String,
        why: String,
    },
}

impl Params {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The options of `scenario` from `--set NAME=VALUE` items.
    pub fn parse(scenario: ScenarioName, items: &[String]) -> Result<Params, ParamError> {
        let options = get(scenario).options;
        let mut out: BTreeMap<String, String> = options
            .iter()
            .map(|o| (o.name.to_string(), o.default.to_string()))
            .collect();
        for item in items {
            let Some((name, value)) = item.split_once('=') else {
                return Err(ParamError::Shape { item: item.clone() });
            };
            let (name, value) = (name.trim(), value.trim());
            let Some(opt) = options.iter().find(|o| o.name == name) else {
                let names = options.iter().map(|o| o.name);
                return Err(ParamError::Unknown {
                    scenario,
                    name: name.to_string(),
                    hint: crate::suggest::did_you_mean(name, names.clone())
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default(),
                    known: if options.is_empty() {
                        format!("drop `--set`: `{scenario}` takes no options")
                    } else {
                        format!(
                            "`{scenario}` takes {}",
                            names.collect::<Vec<_>>().join(", ")
                        )
                    },
                });
            };
            let canonical = opt.kind.check(value).map_err(|why| ParamError::Value {
                scenario,
                name: name.to_string(),
                value: value.to_string(),
                why,
            })?;
            out.insert(name.to_string(), canonical);
        }
        Ok(Params(out))
    }

    fn raw(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// A fraction option (0 where unset: a checked set has every option).
    pub fn fraction(&self, name: &str) -> f64 {
        parse_fraction(self.raw(name)).unwrap_or(0.0)
    }

    pub fn count(&self, name: &str) -> u32 {
        self.raw(name).parse().unwrap_or(1)
    }

    pub fn duration(&self, name: &str) -> Duration {
        humantime::parse_duration(self.raw(name)).unwrap_or(Duration::ZERO)
    }

    /// The `server` option: a web server's name, `None` for the default
    /// (the lab's first).
    pub fn server(&self) -> Option<&str> {
        Some(self.raw("server")).filter(|s| !s.is_empty())
    }

    pub fn stress(&self) -> Option<ScenarioName> {
        self.raw("stress").parse().ok()
    }
}

fn parse_fraction(text: &str) -> Option<f64> {
    let v = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

impl OptKind {
    /// The value written the one way it is stored, or why it is refused.
    fn check(self, value: &str) -> Result<String, String> {
        match self {
            OptKind::Fraction => parse_fraction(value)
                .map(|v| v.to_string())
                .ok_or_else(|| "a fraction from 0 to 1 (`0.2` or `20%`)".to_string()),
            OptKind::Count => match value.parse::<u32>() {
                Ok(n @ 1..=100) => Ok(n.to_string()),
                _ => Err("a whole number from 1 to 100".to_string()),
            },
            OptKind::Duration => match humantime::parse_duration(value) {
                Ok(d) if d <= Duration::from_secs(3600) => {
                    Ok(humantime::format_duration(d).to_string())
                }
                _ => Err("a duration up to 1h (`500ms`, `2s`)".to_string()),
            },
            OptKind::Server => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    Err("a web server's name from the lab's `backends.servers`".to_string())
                } else {
                    Ok(value.to_string())
                }
            }
            OptKind::Stress => {
                if value == "none" {
                    return Ok(value.to_string());
                }
                match value.parse::<ScenarioName>() {
                    Ok(s) if STRESSES.contains(&s) => Ok(s.to_string()),
                    _ => Err(format!(
                        "`none` or one of {}",
                        STRESSES.map(|s| s.as_str()).join(", ")
                    )),
                }
            }
        }
    }
}

/// Which node a fault is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Master,
    /// The backup with the highest priority.
    FirstBackup,
    /// The front proxy container (the seed's shape).
    FrontProxy,
    /// One web server: `--set server=NAME`, the lab's first by default.
    Backend,
    /// Every web server at once.
    AllBackends,
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
    /// A web server leaves the pool: no switch of load balancer, and the
    /// VIP holder's HAProxy marks it DOWN within `pool_remove_within`.
    /// `retried`: its requests fail at connect, so HAProxy retries them
    /// elsewhere and none may fail (a hung server's are only reported:
    /// nothing retries a request a server accepted and never answered).
    PoolChange { retried: bool },
    /// Every way to the page is gone: a demonstration that must fail, its
    /// failure naming what the lab lacks (the string).
    Outage(&'static str),
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
    /// The actions that inject the fault at `aim`.
    pub inject: fn(&Aim) -> Vec<Action>,
    /// The actions that undo it, whatever part of the inject went through.
    pub heal: fn(&Aim) -> Vec<Action>,
    /// What `--set` can change.
    pub options: &'static [Opt],
    /// Run by `halab test` when no scenario is named.
    pub in_default_set: bool,
    pub expect: Expect,
    pub detection: Detection,
    /// Two VIP owners are the fault's nature (the reason, for the docs):
    /// `max_dual_owner` is reported, and judged only where the lab file sets
    /// one.
    pub dual_owner_reported_only: Option<&'static str>,
    /// Alternating pages are the fault's expected symptom (a split brain):
    /// noted, judged through `max_dual_owner` instead.
    pub flaps_expected: bool,
    /// The lab shapes it fits; another lab refuses it ([`fit`]).
    pub shapes: &'static [Shape],
    /// The scenario that does the same on the other shape, if any (the fix
    /// a refusal offers).
    pub instead: Option<ScenarioName>,
}

/// Both shapes: faults of VRRP nodes, whatever they serve.
const ANY_SHAPE: &[Shape] = &[Shape::ProxyInFront, Shape::LbPair];
const SEED_SHAPE: &[Shape] = &[Shape::ProxyInFront];
const LB_SHAPE: &[Shape] = &[Shape::LbPair];

fn stop(a: &Aim) -> Vec<Action> {
    let c = a.container;
    vec![Action::Stop {
        container: c.into(),
        grace: STOP_GRACE,
    }]
}

fn start(a: &Aim) -> Vec<Action> {
    let c = a.container;
    vec![Action::Start {
        container: c.into(),
    }]
}

fn kill(a: &Aim) -> Vec<Action> {
    let c = a.container;
    vec![Action::Kill {
        container: c.into(),
        signal: "SIGKILL".into(),
    }]
}

fn pause(a: &Aim) -> Vec<Action> {
    let c = a.container;
    vec![Action::Pause {
        container: c.into(),
    }]
}

fn unpause(a: &Aim) -> Vec<Action> {
    let c = a.container;
    vec![Action::Unpause {
        container: c.into(),
    }]
}

fn stop_all(a: &Aim) -> Vec<Action> {
    a.all
        .iter()
        .map(|c| Action::Stop {
            container: c.clone(),
            grace: STOP_GRACE,
        })
        .collect()
}

fn start_all(a: &Aim) -> Vec<Action> {
    a.all
        .iter()
        .map(|c| Action::Start {
            container: c.clone(),
        })
        .collect()
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
    options: &[],
    in_default_set: true,
    expect: Expect::Switch,
    detection: Detection::MasterDown,
    dual_owner_reported_only: None,
    flaps_expected: false,
    shapes: ANY_SHAPE,
    instead: None,
};

const LOSS: Opt = Opt {
    name: "loss",
    kind: OptKind::Fraction,
    default: "0.2",
    help: "fraction of packets dropped",
};
const SHARE: Opt = Opt {
    name: "share",
    kind: OptKind::Fraction,
    default: "0.02",
    help: "the master's CPU cap, in cores (at least 0.01)",
};
const COUNT: Opt = Opt {
    name: "count",
    kind: OptKind::Count,
    default: "3",
    help: "how many times",
};
const PERIOD: Opt = Opt {
    name: "period",
    kind: OptKind::Duration,
    default: "1s",
    help: "time down, then time up, in each cycle",
};
const SERVER: Opt = Opt {
    name: "server",
    kind: OptKind::Server,
    default: "",
    help: "the web server (default: the lab's first)",
};
const DELAY: Opt = Opt {
    name: "delay",
    kind: OptKind::Duration,
    default: "50ms",
    help: "added latency",
};

/// A probability iptables' `statistic` match reads (`0.2`, never `2e-1`).
fn probability(a: &Aim) -> String {
    format!("{:.6}", a.params.fraction("loss"))
}

/// Drops `a`'s fraction of the packets `matches` selects in `chain`s,
/// tagged `tag`.
fn iptables_loss(a: &Aim, rules: &[(&str, String)], tag: &str) -> Vec<Action> {
    let p = probability(a);
    let script = rules
        .iter()
        .map(|(chain, m)| {
            format!(
                "iptables -w -I {chain} {m} -m statistic --mode random --probability {p} -m comment --comment {tag} -j DROP"
            )
        })
        .collect::<Vec<_>>()
        .join(" && ");
    sh(a.container, &script)
}

/// Deletes every rule tagged `tag` (by number, last first, so the numbers
/// of the rest hold), then checks none is left.
fn iptables_unloss(a: &Aim, tag: &str) -> Vec<Action> {
    sh(
        a.container,
        &format!(
            "for c in INPUT OUTPUT; do \
               for n in $(iptables -w -L $c -n --line-numbers | grep -F '/* {tag} */' | cut -d' ' -f1 | sort -rn); do \
                 iptables -w -D $c $n || exit 1; \
               done; \
             done; \
             ! iptables -w -S | grep -q -F -- '{tag}'"
        ),
    )
}

fn vrrp_loss(a: &Aim) -> Vec<Action> {
    // Both ways, like the partition it becomes at 1.
    iptables_loss(
        a,
        &[("INPUT", "-p 112".into()), ("OUTPUT", "-p 112".into())],
        VRRP_LOSS_COMMENT,
    )
}

fn client_loss(a: &Aim) -> Vec<Action> {
    // What reaches the VIP while this node holds it: the proxy's
    // connections and whatever else the clients send.
    iptables_loss(
        a,
        &[("INPUT", format!("-d {} -p tcp", a.vip))],
        CLIENT_LOSS_COMMENT,
    )
}

fn starve(a: &Aim) -> Vec<Action> {
    vec![Action::UpdateCpu {
        container: a.container.into(),
        // The engine's floor is 10 (a 1 ms quota in 100 ms).
        millicpus: Some(((a.params.fraction("share") * 1000.0).round() as u32).max(10)),
    }]
}

fn unstarve(a: &Aim) -> Vec<Action> {
    vec![Action::UpdateCpu {
        container: a.container.into(),
        millicpus: None,
    }]
}

fn wait(duration: Duration) -> Action {
    Action::Wait { duration }
}

fn link_flap(a: &Aim) -> Vec<Action> {
    let period = a.params.duration("period");
    let (c, i) = (a.container, a.interface);
    // The first down keeps the default route the kernel drops with the link.
    let down = format!(
        "[ -e {FLAP_ROUTE_FILE} ] || ip route show default > {FLAP_ROUTE_FILE}; ip link set {i} down"
    );
    let up = format!("ip link set {i} up");
    (0..a.params.count("count"))
        .flat_map(|_| {
            [
                sh(c, &down),
                vec![wait(period)],
                sh(c, &up),
                vec![wait(period)],
            ]
        })
        .flatten()
        .collect()
}

fn link_unflap(a: &Aim) -> Vec<Action> {
    sh(
        a.container,
        &format!(
            "ip link set {i} up && \
             if [ -s {FLAP_ROUTE_FILE} ]; then ip route replace $(cat {FLAP_ROUTE_FILE}); fi && \
             rm -f {FLAP_ROUTE_FILE}",
            i = a.interface
        ),
    )
}

fn storm(a: &Aim) -> Vec<Action> {
    let period = a.params.duration("period");
    (0..a.params.count("count"))
        .flat_map(|_| [stop(a), vec![wait(period)], start(a), vec![wait(period)]])
        .flatten()
        .collect()
}

/// The refusal where the kernel lacks netem (DESIGN.md §2b: this one does);
/// it goes between single quotes in a shell script, so none inside.
const NO_NETEM: &str = "the kernel of the engine has no sch_netem (tc netem), so halab cannot add delay or jitter here; use a kernel with CONFIG_NET_SCH_NETEM";

fn netem(a: &Aim, what: &str) -> Vec<Action> {
    let script = format!(
        "tc qdisc add dev {i} root netem {what} 2>/tmp/halab-netem.err || \
         {{ if grep -q 'qdisc kind is unknown' /tmp/halab-netem.err; then echo '{NO_NETEM}'; else cat /tmp/halab-netem.err; fi; exit 1; }}",
        i = a.interface
    );
    sh(a.container, &script)
}

fn unnetem(a: &Aim) -> Vec<Action> {
    // Nothing to delete where the add never went through.
    sh(
        a.container,
        &format!(
            "if tc qdisc show dev {i} | grep -q netem; then tc qdisc del dev {i} root; fi",
            i = a.interface
        ),
    )
}

fn idle_inject(a: &Aim) -> Vec<Action> {
    match a.params.stress() {
        Some(s) => (get(s).inject)(a),
        // A marker: the watch starts here.
        None => vec![wait(Duration::ZERO)],
    }
}

fn idle_heal(a: &Aim) -> Vec<Action> {
    match a.params.stress() {
        Some(s) => (get(s).heal)(a),
        None => vec![wait(Duration::ZERO)],
    }
}

/// A measuring scenario: a degraded network or host, where clients should
/// ideally see nothing; not in `halab test`'s default set (see each entry).
const DEGRADED: Scenario = Scenario {
    expect: Expect::Nothing,
    in_default_set: false,
    ..MASTER_FAULT
};

/// Every scenario, in the order `halab test` runs them (those in its
/// default set, unless named).
pub const CATALOGUE: [Scenario; 24] = [
    Scenario {
        name: ScenarioName::StopMaster,
        help: "docker stop of the master (keepalived's graceful handover)",
        fault_doc: "`docker stop` the master",
        heal_doc: "start it",
        detection: Detection::Advert,
        shapes: SEED_SHAPE,
        instead: Some(ScenarioName::StopLbMaster),
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillMaster,
        help: "SIGKILL of the master container (a crash)",
        fault_doc: "SIGKILL the master container",
        heal_doc: "start it",
        inject: kill,
        shapes: SEED_SHAPE,
        instead: Some(ScenarioName::KillLbMaster),
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
        inject: |a| sh(a.container, &iptables_vrrp("-I")),
        heal: |a| sh(a.container, &iptables_vrrp("-D")),
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
        inject: |a| {
            sh(
                a.container,
                "pkill -KILL -x nginx; sleep 0.05; ! pgrep -x nginx >/dev/null",
            )
        },
        heal: |a| sh(a.container, "nginx"),
        detection: Detection::HealthCheck,
        shapes: SEED_SHAPE,
        instead: Some(ScenarioName::KillHaproxy),
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
        inject: |a| {
            sh(
                a.container,
                "p=$(cat /run/keepalived.pid) && kill -STOP $p && pkill -KILL -P $p -x keepalived; kill -KILL $p",
            )
        },
        heal: |a| sh(a.container, "/etc/halab/entrypoint.sh start-keepalived"),
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
    // Not in the default set: random loss makes its verdict a draw, and at
    // `loss=1` it is a split brain by construction.
    Scenario {
        name: ScenarioName::VrrpLoss,
        help: "a fraction of VRRP packets dropped both ways at the master",
        fault_doc: "drop a fraction (`loss`, 0.2) of VRRP packets both ways inside the master (iptables `statistic`)",
        heal_doc: "remove every rule tagged `halab-vrrp-loss`",
        inject: vrrp_loss,
        heal: |a| iptables_unloss(a, VRRP_LOSS_COMMENT),
        options: &[LOSS],
        flaps_expected: true,
        ..DEGRADED
    },
    // Not in the default set: what it costs clients is the measurement
    // (HAProxy's retries turn drops into latency), not a pass/fail.
    Scenario {
        name: ScenarioName::ClientLoss,
        help: "a fraction of the packets to the VIP dropped at the master",
        fault_doc: "drop a fraction (`loss`, 0.2) of TCP packets to the VIP inside the master",
        heal_doc: "remove every rule tagged `halab-client-loss`",
        inject: client_loss,
        heal: |a| iptables_unloss(a, CLIENT_LOSS_COMMENT),
        options: &[LOSS],
        ..DEGRADED
    },
    // Not in the default set: on a 20 ms-advert lab a starved master's late
    // adverts are the spurious failover this scenario exists to show.
    Scenario {
        name: ScenarioName::StarveMaster,
        help: "the master's CPU capped to a small share",
        fault_doc: "cap the master's CPU at `share` (0.02) of a core (CFS quota)",
        heal_doc: "lift the cap",
        inject: starve,
        heal: unstarve,
        options: &[SHARE],
        flaps_expected: true,
        ..DEGRADED
    },
    // Not in the default set: unmeasured on the shipped labs so far.
    Scenario {
        name: ScenarioName::LinkFlap,
        help: "the master's lab interface down and up `count` times",
        fault_doc: "take the master's VRRP interface down for `period` (1s) and up for `period`, `count` (3) times; the VIP goes with it",
        heal_doc: "link up, default route restored",
        inject: link_flap,
        heal: link_unflap,
        options: &[COUNT, PERIOD],
        expect: Expect::Switch,
        flaps_expected: true,
        ..DEGRADED
    },
    // Not in the default set: its length grows with `count`.
    Scenario {
        name: ScenarioName::FailoverStorm,
        help: "stop and start the master `count` times",
        fault_doc: "`docker stop` the master, wait `period` (1s), start it, wait `period`; `count` (3) times",
        heal_doc: "start it",
        inject: storm,
        heal: start,
        options: &[COUNT, PERIOD],
        expect: Expect::Switch,
        detection: Detection::Advert,
        flaps_expected: true,
        ..DEGRADED
    },
    // Not in the default set: refused where the kernel has no netem.
    Scenario {
        name: ScenarioName::Delay,
        help: "latency added at the master's interface (needs netem)",
        fault_doc: "`tc netem delay` on the master's interface; refused with the reason where the kernel has no netem",
        heal_doc: "remove the qdisc",
        inject: |a| netem(a, &format!("delay {}", humantime::format_duration(a.params.duration("delay")))),
        heal: unnetem,
        options: &[DELAY],
        ..DEGRADED
    },
    Scenario {
        name: ScenarioName::Jitter,
        help: "latency with jitter at the master's interface (needs netem)",
        fault_doc: "`tc netem delay D D/2 distribution normal`; refused with the reason where the kernel has no netem",
        heal_doc: "remove the qdisc",
        inject: |a| {
            let d = a.params.duration("delay");
            netem(
                a,
                &format!(
                    "delay {}us {}us distribution normal",
                    d.as_micros(),
                    d.as_micros() / 2
                ),
            )
        },
        heal: unnetem,
        options: &[DELAY],
        ..DEGRADED
    },
    // Not in the default set: it measures a cost over a chosen window.
    Scenario {
        name: ScenarioName::Idle,
        help: "no fault: watch `watch` (10s) and count VRRP transitions",
        fault_doc: "none (or the `stress` scenario beneath it); watch for `watch` (10s) and count VRRP transitions and dual-owner windows",
        heal_doc: "undo the stress, if any",
        inject: idle_inject,
        heal: idle_heal,
        options: &[
            Opt {
                name: "watch",
                kind: OptKind::Duration,
                default: "10s",
                help: "how long to watch",
            },
            Opt {
                name: "stress",
                kind: OptKind::Stress,
                default: "none",
                help: "a scenario run beneath: vrrp-loss, client-loss, starve-master",
            },
            LOSS,
            SHARE,
        ],
        ..DEGRADED
    },
    // Not in the default set: an outage demonstration, run when named.
    Scenario {
        name: ScenarioName::StopProxy,
        help: "docker stop of the front proxy: the seed's single point of failure (must fail)",
        fault_doc: "`docker stop` the front proxy: every client loses the page, whichever node holds the VIP (a demonstration: the run fails, naming the single point of failure)",
        heal_doc: "start it",
        target: Target::FrontProxy,
        in_default_set: false,
        expect: Expect::Outage(
            "single point of failure: the front proxy is the only way to the VIP, and with it stopped",
        ),
        shapes: SEED_SHAPE,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::StopLbMaster,
        help: "docker stop of the load balancer holding the VIP",
        fault_doc: "`docker stop` the master load balancer (keepalived's graceful handover to the backup LB)",
        heal_doc: "start it",
        detection: Detection::Advert,
        shapes: LB_SHAPE,
        instead: Some(ScenarioName::StopMaster),
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillLbMaster,
        help: "SIGKILL of the master load balancer's container (a crash)",
        fault_doc: "SIGKILL the master load balancer's container",
        heal_doc: "start it",
        inject: kill,
        shapes: LB_SHAPE,
        instead: Some(ScenarioName::KillMaster),
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillHaproxy,
        help: "HAProxy killed on the VIP holder; keepalived's check must move the VIP",
        fault_doc: "SIGKILL every HAProxy process on the master load balancer (the host lives; the `vrrp_script` tracking HAProxy must move the VIP)",
        heal_doc: "start HAProxy (`/usr/local/bin/halab-haproxy`)",
        inject: |a| {
            sh(
                a.container,
                "pkill -KILL -x haproxy; sleep 0.05; ! pgrep -x haproxy >/dev/null",
            )
        },
        heal: |a| sh(a.container, "pgrep -x haproxy >/dev/null || /usr/local/bin/halab-haproxy"),
        detection: Detection::HealthCheck,
        shapes: LB_SHAPE,
        instead: Some(ScenarioName::KillNginx),
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::StopWeb,
        help: "docker stop of one web server: out of the pool, no LB switch",
        fault_doc: "`docker stop` one web server (`server`, the lab's first): the LBs' HAProxy must take it out of the pool; no switch of LB, no failed request",
        heal_doc: "start it",
        target: Target::Backend,
        options: &[SERVER],
        expect: Expect::PoolChange { retried: true },
        shapes: LB_SHAPE,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::KillWeb,
        help: "SIGKILL of one web server's container: out of the pool, no LB switch",
        fault_doc: "SIGKILL one web server's container (`server`, the lab's first): out of the pool within `fall × inter`; no switch of LB, no failed request",
        heal_doc: "start it",
        target: Target::Backend,
        inject: kill,
        options: &[SERVER],
        expect: Expect::PoolChange { retried: true },
        shapes: LB_SHAPE,
        ..MASTER_FAULT
    },
    Scenario {
        name: ScenarioName::HangWeb,
        help: "one web server frozen: accepts connections, never answers",
        fault_doc: "`docker pause` one web server (`server`, the lab's first): its kernel still completes TCP handshakes, nothing answers; a layer-7 check takes it out of the pool, a layer-4 check never does (the run fails)",
        heal_doc: "unpause",
        target: Target::Backend,
        inject: pause,
        heal: unpause,
        options: &[SERVER],
        expect: Expect::PoolChange { retried: false },
        shapes: LB_SHAPE,
        ..MASTER_FAULT
    },
    // Not in the default set: an outage demonstration, run when named.
    Scenario {
        name: ScenarioName::StopAllWeb,
        help: "docker stop of every web server: a total outage (must fail)",
        fault_doc: "`docker stop` every web server: HAProxy has no server left (a demonstration: the run fails)",
        heal_doc: "start them",
        target: Target::AllBackends,
        inject: stop_all,
        heal: start_all,
        in_default_set: false,
        expect: Expect::Outage(
            "total outage: every web server is down, so the load balancers have nothing to send to, and",
        ),
        shapes: LB_SHAPE,
        ..MASTER_FAULT
    },
];

/// The scenario a new user of a lab of `shape` tries first.
pub fn first_to_try(shape: Shape) -> ScenarioName {
    match shape {
        Shape::ProxyInFront => ScenarioName::StopMaster,
        Shape::LbPair => ScenarioName::StopLbMaster,
    }
}

/// What `halab test` runs on a seed-shaped lab when no scenario is named.
pub fn default_set() -> Vec<ScenarioName> {
    default_set_for(Shape::ProxyInFront)
}

/// What `halab test` runs on a lab of `shape` when no scenario is named, in
/// catalogue order: the scenarios that fit it, except the measuring ones
/// and the outage demonstrations.
pub fn default_set_for(shape: Shape) -> Vec<ScenarioName> {
    CATALOGUE
        .iter()
        .filter(|s| s.in_default_set && s.fits(shape))
        .map(|s| s.name)
        .collect()
}

/// The catalogue entry of `name`.
pub fn get(name: ScenarioName) -> &'static Scenario {
    CATALOGUE
        .iter()
        .find(|s| s.name == name)
        .expect("every ScenarioName has a catalogue entry (tested)")
}

impl Scenario {
    /// The plan on a lab whose master is `master` and first backup
    /// `backup`; `container` names a node's container. The options take
    /// their defaults; the interface is `eth0` and the VIP unknown.
    pub fn plan_for(
        &self,
        container: &dyn Fn(&str) -> String,
        master: &str,
        backup: &str,
        preempt: bool,
    ) -> Plan {
        let params = self.default_params();
        self.plan_at(
            container,
            &Site {
                master,
                backup,
                preempt,
                interface: "eth0",
                vip: std::net::Ipv4Addr::UNSPECIFIED,
                proxy: "proxy",
                backends: vec!["web1", "web2", "web3"],
            },
            &params,
        )
    }

    fn plan_at(&self, container: &dyn Fn(&str) -> String, site: &Site, params: &Params) -> Plan {
        let first_backend = site.backends.first().copied().unwrap_or("web");
        let (node, aimed): (String, Vec<&str>) = match self.target {
            Target::Master => (site.master.into(), vec![site.master]),
            Target::FirstBackup => (site.backup.into(), vec![site.backup]),
            Target::FrontProxy => (site.proxy.into(), vec![site.proxy]),
            Target::Backend => {
                let server = params.server().unwrap_or(first_backend);
                (server.into(), vec![server])
            }
            Target::AllBackends => (site.backends.join("+"), site.backends.clone()),
        };
        let all: Vec<String> = aimed.iter().map(|n| container(n)).collect();
        let first = all.first().cloned().unwrap_or_default();
        let aim = Aim {
            container: &first,
            all: &all,
            interface: site.interface,
            vip: site.vip,
            params,
        };
        let expect_switch = matches!(self.expect, Expect::Switch | Expect::MaySwitch);
        Plan {
            scenario: self.name,
            inject: (self.inject)(&aim),
            heal: (self.heal)(&aim),
            expect_switch,
            expect_failback: expect_switch && site.preempt,
            flaps_expected: self.flaps_expected,
            switch_optional: self.expect == Expect::MaySwitch,
            params: params.clone(),
            outage: match self.expect {
                Expect::Outage(why) => Some(why.to_string()),
                _ => None,
            },
            backend: matches!(self.expect, Expect::PoolChange { .. }).then(|| node.clone()),
            node,
        }
    }

    /// Every option at its default.
    pub fn default_params(&self) -> Params {
        Params::parse(self.name, &[]).unwrap_or_default()
    }

    /// The plan on `lab`, the options at their defaults.
    pub fn plan(&self, lab: &Lab) -> Plan {
        self.plan_with(lab, &self.default_params())
    }

    /// The plan on `lab` with `params` (from [`Params::parse`]).
    pub fn plan_with(&self, lab: &Lab, params: &Params) -> Plan {
        let backups = lab.backups();
        let backup = backups
            .first()
            .map(|n| n.name.as_str())
            .expect("validated lab has a backup");
        self.plan_at(
            &|node| lab.container_name(node),
            &Site {
                master: &lab.master().name,
                backup,
                preempt: lab.spec().vrrp.preempt,
                interface: &lab.spec().vrrp.interface,
                vip: lab.vip_addr(),
                proxy: &lab.spec().proxy.name,
                backends: lab.backends().iter().map(|w| w.name.as_str()).collect(),
            },
            params,
        )
    }

    /// Whether it fits `shape`.
    pub fn fits(&self, shape: Shape) -> bool {
        self.shapes.contains(&shape)
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
        // A dead web server is out of the pool after `fall` failed checks
        // `inter` apart; the first may start up to `inter` after the fault.
        let bc = &spec.backends.check;
        let pool_remove = bc.removal_time() + bc.inter + Duration::from_secs(1);
        let mut observe = (switch + Duration::from_secs(2)).max(Duration::from_secs(4));
        let (switch_within, max_failed, pool_remove_within) = match self.expect {
            // The control: nothing may be seen by a client.
            Expect::Nothing => (None, Some(0), None),
            Expect::Switch | Expect::MaySwitch => (Some(switch), None, None),
            Expect::PoolChange { retried } => {
                observe = observe.max(pool_remove + Duration::from_secs(2));
                (None, retried.then_some(0), Some(pool_remove))
            }
            // Judged by the outage check, whatever the budgets.
            Expect::Outage(_) => (None, None, None),
        };
        Budget {
            switch_within,
            recover_within: Some(master_down + proxy + Duration::from_secs(10)),
            max_failed,
            max_late: None,
            worst_answer: None,
            max_dual_owner: self
                .dual_owner_reported_only
                .is_none()
                .then_some(advert * 2 + Duration::from_millis(500)),
            pool_remove_within,
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
                pool_remove_within,
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
        "Inject one fault, watch what clients see (the published port, or the VIP of an lb-pair lab), heal, and judge.\n\nScenarios:\n",
    );
    for s in &CATALOGUE {
        let only = match shape_column(s.shapes) {
            "both" => String::new(),
            one => format!(" [{one} only]"),
        };
        out.push_str(&format!("  {:width$}  {}{only}\n", s.name.as_str(), s.help));
        for o in s.options {
            let default = if o.default.is_empty() {
                "NAME"
            } else {
                o.default
            };
            out.push_str(&format!(
                "  {:width$}    --set {}={default}: {}\n",
                "", o.name, o.help
            ));
        }
    }
    for shape in [Shape::ProxyInFront, Shape::LbPair] {
        let default: Vec<_> = default_set_for(shape).iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "\n`halab test` on {} runs {} unless told which.",
            shape_words(shape),
            default.join(", ")
        ));
    }
    out.push('\n');
    out.push_str(
        "\nWhile the fault lasts, an open-loop probe fires a request every\n\
         `--interval` at the lab's port and every node's VIP ownership is\n\
         watched. The run is stored under `--runs-dir`; Ctrl-C heals the\n\
         fault and stores the run as aborted.",
    );
    out
}

/// A shape as help and errors name it.
pub fn shape_words(shape: Shape) -> &'static str {
    match shape {
        Shape::ProxyInFront => "a seed-shaped lab (nginx on the VRRP nodes, one front proxy)",
        Shape::LbPair => {
            "an lb-pair lab (HAProxy on the VRRP nodes over web servers, clients on the VIP)"
        }
    }
}

fn shape_column(shapes: &[Shape]) -> &'static str {
    match shapes {
        [Shape::ProxyInFront] => "seed",
        [Shape::LbPair] => "lb-pair",
        _ => "both",
    }
}

/// The fault/heal table of `docs/lab-format.md`.
pub fn docs_table() -> String {
    let mut out = String::from("| scenario | shape | fault | heal |\n| --- | --- | --- | --- |\n");
    for s in &CATALOGUE {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.name,
            shape_column(s.shapes),
            s.fault_doc,
            s.heal_doc
        ));
    }
    out
}

/// Why a scenario was refused on a lab.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("`{scenario}` does not fit lab `{lab}`: it is {shape}, and `{scenario}` {needs}\n  fix: {fix}")]
    Shape {
        scenario: ScenarioName,
        lab: String,
        shape: &'static str,
        needs: &'static str,
        fix: String,
    },
    #[error("`{scenario}`: lab `{lab}` has no web server `{server}`\n  fix: `--set server=` one of {known}")]
    Server {
        scenario: ScenarioName,
        lab: String,
        server: String,
        known: String,
    },
}

/// `scenario` (with `params`) on `lab`, or why it cannot run there.
pub fn fit(scenario: ScenarioName, lab: &Lab, params: &Params) -> Result<(), FitError> {
    let s = get(scenario);
    let shape = lab.shape();
    if !s.fits(shape) {
        let needs = match s.shapes {
            [Shape::LbPair] => "needs load balancers over web servers (`backends`)",
            [Shape::ProxyInFront] if s.target == Target::FrontProxy => {
                "needs a front proxy before the VIP"
            }
            _ => "needs nginx on the VRRP nodes (the seed's shape)",
        };
        let fix = match s.instead {
            Some(other) => format!("run `{other}`, its counterpart on this shape"),
            None => {
                let here: Vec<_> = CATALOGUE
                    .iter()
                    .filter(|c| c.fits(shape))
                    .map(|c| c.name.as_str())
                    .collect();
                format!(
                    "run it on a lab of the other shape (e.g. {}); here: {}",
                    if shape == Shape::LbPair {
                        "labs/nginx-keepalived.yaml"
                    } else {
                        "labs/lb-pair.yaml"
                    },
                    here.join(", ")
                )
            }
        };
        return Err(FitError::Shape {
            scenario,
            lab: lab.name().to_string(),
            shape: shape_words(shape),
            needs,
            fix,
        });
    }
    if let Some(server) = params.server() {
        if lab.backend(server).is_none() {
            let known: Vec<_> = lab
                .backends()
                .iter()
                .map(|w| format!("`{}`", w.name))
                .collect();
            return Err(FitError::Server {
                scenario,
                lab: lab.name().to_string(),
                server: server.to_string(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
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
            Expect::PoolChange { retried } => (
                "none (no switch of LB expected)",
                [
                    "`pool_remove_within` = `fall × inter + inter + 1s` (the server marked DOWN by the VIP holder's HAProxy)",
                    if retried {
                        "`max_failed: 0` (HAProxy retries elsewhere)"
                    } else {
                        "failed requests reported, not judged (nothing retries a request a server accepted)"
                    },
                ]
                .map(String::from)
                .to_vec(),
            ),
            Expect::Outage(_) => (
                "none",
                vec!["an outage: fails whenever a request failed during the fault, naming why".to_string()],
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

/// A shell script that deletes every iptables rule halab tagged (comment
/// `halab-…`, e.g. [`PARTITION_COMMENT`]) in the container it runs in, and
/// prints how many it deleted. `up` runs it on a lab's running nodes: a
/// `chaos` killed before its heal leaves its rules behind.
pub fn sweep_tagged_rules_script() -> String {
    // `iptables -S` prints each rule as the `-A …` that made it; the same
    // words after `-D` delete it. One at a time: each deletion renumbers.
    r#"n=0
for chain in INPUT OUTPUT FORWARD; do
  while rule=$(iptables -w -S "$chain" 2>/dev/null | grep -m1 -- '--comment "\{0,1\}halab-'); do
    eval "iptables -w $(echo "$rule" | sed 's/^-A /-D /')" || exit 1
    n=$((n+1))
  done
done
echo "$n""#
        .to_string()
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
            "lb-pair.yaml",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("labs")
                .join(file);
            let lab = crate::lab::load(&path).unwrap();
            for s in ScenarioName::ALL
                .into_iter()
                .filter(|s| get(*s).fits(lab.shape()))
            {
                out.push_str(&format!("{file} {s}: {:?}\n", get(s).budget(&lab)));
            }
        }
        insta::assert_snapshot!(out);
    }

    fn shipped(file: &str) -> Lab {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("labs")
            .join(file);
        crate::lab::load(&path).unwrap()
    }

    #[test]
    fn a_scenario_of_the_other_shape_is_refused_naming_what_to_run() {
        let seed = shipped("nginx-keepalived.yaml");
        let refuse = |s: ScenarioName, set: &[&str]| {
            let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            fit(s, &seed, &Params::parse(s, &set).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(fit(
            ScenarioName::StopProxy,
            &seed,
            &get(ScenarioName::StopProxy).default_params()
        )
        .is_ok());
        let lb = shipped("lb-pair.yaml");
        let refuse_lb = |s: ScenarioName, set: &[&str]| {
            let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            fit(s, &lb, &Params::parse(s, &set).unwrap())
                .unwrap_err()
                .to_string()
        };
        let p = Params::parse(ScenarioName::KillWeb, &["server=web2".into()]).unwrap();
        assert!(fit(ScenarioName::KillWeb, &lb, &p).is_ok());
        let plan = get(ScenarioName::KillWeb).plan_with(&lb, &p);
        assert_eq!(plan.backend.as_deref(), Some("web2"));
        assert_eq!(
            plan.inject,
            [Action::Kill {
                container: "lb-pair-web2".into(),
                signal: "SIGKILL".into()
            }]
        );
        let all = get(ScenarioName::StopAllWeb).plan(&lb);
        assert_eq!(all.inject.len(), 3);
        assert_eq!(all.heal.len(), 3);
        assert_eq!(all.node, "web1+web2+web3");
        let errors = [
            refuse(ScenarioName::KillWeb, &[]),
            refuse(ScenarioName::KillHaproxy, &[]),
            refuse(ScenarioName::StopAllWeb, &[]),
            refuse_lb(ScenarioName::KillNginx, &[]),
            refuse_lb(ScenarioName::StopProxy, &[]),
            refuse_lb(ScenarioName::HangWeb, &["server=web9"]),
        ];
        insta::assert_snapshot!(errors.join("\n---\n"));
    }

    #[test]
    fn chaos_help_lists_every_scenario() {
        insta::assert_snapshot!(chaos_help());
    }

    fn aim_plan(name: ScenarioName, set: &[&str]) -> Plan {
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        let params = Params::parse(name, &set).unwrap();
        get(name).plan_at(
            &|n| format!("l-{n}"),
            &Site {
                master: "m",
                backup: "b",
                preempt: true,
                interface: "eth1",
                vip: std::net::Ipv4Addr::new(10, 1, 0, 4),
                proxy: "p",
                backends: vec!["w1", "w2"],
            },
            &params,
        )
    }

    fn script(actions: &[Action]) -> String {
        actions
            .iter()
            .map(|a| match a {
                Action::Exec { argv, .. } => argv.last().cloned().unwrap_or_default(),
                other => other.describe(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn options_are_checked_and_written_one_way() {
        let p = Params::parse(ScenarioName::VrrpLoss, &["loss=20%".into()]).unwrap();
        assert_eq!(p.iter().collect::<Vec<_>>(), [("loss", "0.2")]);
        let p = Params::parse(ScenarioName::LinkFlap, &["period=0.5s".into()]).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [("count", "3"), ("period", "500ms")]
        );
        assert_eq!(p.duration("period"), Duration::from_millis(500));
        assert_eq!(p.count("count"), 3);
        let errors: Vec<String> = [
            (ScenarioName::VrrpLoss, "loss=1.5"),
            (ScenarioName::VrrpLoss, "los=0.1"),
            (ScenarioName::StopMaster, "loss=0.1"),
            (ScenarioName::FailoverStorm, "count=0"),
            (ScenarioName::Idle, "stress=kill-master"),
            (ScenarioName::Idle, "watch"),
        ]
        .iter()
        .map(|(s, item)| {
            Params::parse(*s, &[item.to_string()])
                .unwrap_err()
                .to_string()
        })
        .collect();
        insta::assert_snapshot!(errors.join("\n---\n"));
    }

    #[test]
    fn loss_rules_are_tagged_and_the_heal_deletes_every_tagged_rule() {
        let p = aim_plan(ScenarioName::VrrpLoss, &["loss=0.25"]);
        let inject = script(&p.inject);
        assert_eq!(
            inject,
            "iptables -w -I INPUT -p 112 -m statistic --mode random --probability 0.250000 -m comment --comment halab-vrrp-loss -j DROP && \
             iptables -w -I OUTPUT -p 112 -m statistic --mode random --probability 0.250000 -m comment --comment halab-vrrp-loss -j DROP"
        );
        assert!(script(&p.heal).contains("'/* halab-vrrp-loss */'"));
        assert!(script(&p.heal).ends_with("! iptables -w -S | grep -q -F -- 'halab-vrrp-loss'"));
        let c = aim_plan(ScenarioName::ClientLoss, &[]);
        assert!(script(&c.inject).contains("-I INPUT -d 10.1.0.4 -p tcp -m statistic --mode random --probability 0.200000 -m comment --comment halab-client-loss"));
        assert!(script(&c.heal).contains("halab-client-loss"));
    }

    #[test]
    fn link_flap_downs_the_lab_interface_count_times_and_its_heal_restores_link_and_route() {
        let p = aim_plan(ScenarioName::LinkFlap, &["count=2", "period=300ms"]);
        insta::assert_snapshot!(format!(
            "{}\n--- heal\n{}",
            script(&p.inject),
            script(&p.heal)
        ));
    }

    #[test]
    fn starving_caps_then_lifts_and_idle_runs_its_stress_beneath() {
        let p = aim_plan(ScenarioName::StarveMaster, &["share=0.001"]);
        assert_eq!(
            p.inject,
            [Action::UpdateCpu {
                container: "l-m".into(),
                millicpus: Some(10)
            }],
            "the engine's floor"
        );
        assert_eq!(
            p.heal,
            [Action::UpdateCpu {
                container: "l-m".into(),
                millicpus: None
            }]
        );
        let idle = aim_plan(ScenarioName::Idle, &["stress=starve-master", "share=0.5"]);
        assert_eq!(
            idle.inject,
            [Action::UpdateCpu {
                container: "l-m".into(),
                millicpus: Some(500)
            }]
        );
        assert_eq!(idle.heal, p.heal);
        let quiet = aim_plan(ScenarioName::Idle, &[]);
        assert_eq!(quiet.inject, [wait(Duration::ZERO)]);
        assert!(!quiet.expect_switch);
    }

    #[test]
    fn the_default_set_is_the_scenarios_that_pass_on_the_shipped_labs() {
        assert_eq!(default_set(), ScenarioName::ALL[..8]);
        assert_eq!(
            default_set_for(Shape::LbPair),
            [2, 3, 5, 6, 7, 17, 18, 19, 20, 21, 22].map(|i| ScenarioName::ALL[i]),
            "the VRRP faults that fit both shapes, then the lb-pair ones but the outage"
        );
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
