//! The lab file's shape: what a user writes under `labs/`, with its defaults.
//!
//! Deserialisation only checks types; `lab::validate` checks meaning. Every
//! struct refuses unknown fields so a typo is an error, not a silent default.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// A whole lab. Two shapes share this model (see [`Shape`]): the seed's (VRRP
/// nodes running nginx behind one front HAProxy) and the production one (VRRP
/// nodes running HAProxy over plain web servers, `backends`, clients on the
/// VIP itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabSpec {
    /// Lab name: prefixes every Docker object and labels it (`halab.lab`).
    pub name: String,
    /// Free text shown by `halab status`.
    #[serde(default)]
    pub description: Option<String>,
    pub network: Network,
    /// The virtual IP with its prefix length, e.g. `172.20.128.4/24`.
    pub vip: Ipv4Net,
    #[serde(default)]
    pub vrrp: Vrrp,
    #[serde(default)]
    pub health_check: HealthCheck,
    pub nodes: Vec<Node>,
    /// Plain web servers (nginx, no keepalived) that the nodes running
    /// HAProxy balance over. Empty in the seed's shape.
    #[serde(default, skip_serializing_if = "Backends::is_empty")]
    pub backends: Backends,
    /// HAProxy's settings: of the front proxy container in the seed's shape,
    /// of the HAProxy each load-balancer node runs in the production shape.
    #[serde(default)]
    pub proxy: Proxy,
    #[serde(default)]
    pub probe: ProbeSettings,
    #[serde(default)]
    pub image: ImageSettings,
    /// Per-scenario budgets; scenarios not named here use built-in defaults.
    #[serde(default)]
    pub scenarios: BTreeMap<ScenarioName, Budget>,
    /// Warnings (findings no budget judges) fail every run, as `--strict`.
    #[serde(default)]
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Network name inside the lab (the Docker network is `<lab>-<name>`).
    #[serde(default = "default_network_name")]
    pub name: String,
    pub subnet: Ipv4Net,
}

fn default_network_name() -> String {
    "static-network".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VrrpState {
    #[serde(rename = "MASTER")]
    Master,
    #[serde(rename = "BACKUP")]
    Backup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vrrp {
    /// VRRP protocol version: 2 (whole-second adverts, PASS auth) or 3.
    #[serde(default = "default_vrrp_version")]
    pub version: u8,
    #[serde(default = "default_vrid")]
    pub virtual_router_id: u16,
    /// Advertisement interval: whole seconds for VRRPv2, 10 ms steps for v3.
    #[serde(default = "default_advert", with = "humantime_serde")]
    pub advert_int: Duration,
    /// Interface the VIP lives on inside each node.
    #[serde(default = "default_interface")]
    pub interface: String,
    /// Unicast adverts to the peers (the seed's choice) instead of multicast.
    #[serde(default = "yes")]
    pub unicast: bool,
    /// `auth_type PASS` password (VRRPv2 only, at most 8 characters).
    #[serde(default)]
    pub auth_pass: Option<String>,
    /// When false every node starts BACKUP with `nopreempt`: a recovered
    /// master does not take the VIP back.
    #[serde(default = "yes")]
    pub preempt: bool,
    /// Gratuitous ARPs sent after a takeover, and again after this delay.
    #[serde(default)]
    pub garp_master_delay: Option<u16>,
}

impl Default for Vrrp {
    fn default() -> Self {
        Vrrp {
            version: default_vrrp_version(),
            virtual_router_id: default_vrid(),
            advert_int: default_advert(),
            interface: default_interface(),
            unicast: true,
            auth_pass: None,
            preempt: true,
            garp_master_delay: None,
        }
    }
}

fn default_vrrp_version() -> u8 {
    2
}
fn default_vrid() -> u16 {
    51
}
fn default_advert() -> Duration {
    Duration::from_secs(1)
}
fn default_interface() -> String {
    "eth0".into()
}
fn yes() -> bool {
    true
}

/// How keepalived decides that nginx on a node is healthy. (keepalived's
/// `track_process` is not offered: it listens to the kernel's process
/// connector, which a container's network namespace does not have, and the
/// node then stays in FAULT.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// A `vrrp_script` wrapper running `pidof nginx` (bare `pidof` never
    /// succeeds on Debian: it is killall5).
    Pidof,
    /// A `vrrp_script` that fetches http://127.0.0.1/ with curl (layer 7).
    Http,
    /// A `vrrp_script` that connects to the served port (layer 4).
    Tcp,
    /// A `vrrp_script` that pings `health_check.address` (layer 3).
    Icmp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(default = "default_check_kind")]
    pub kind: CheckKind,
    /// How often the check runs: whole seconds, at least 1 (keepalived
    /// refuses a shorter `vrrp_script` interval).
    #[serde(default = "default_check_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Failures in a row before the node goes to FAULT.
    #[serde(default = "one")]
    pub fall: u32,
    /// Successes in a row before it counts as healthy again.
    #[serde(default = "one")]
    pub rise: u32,
    /// 0 puts a failing node in FAULT (fast takeover); a negative weight
    /// only lowers its priority.
    #[serde(default)]
    pub weight: i32,
    /// What `icmp` pings (an address in the lab's subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            kind: default_check_kind(),
            interval: default_check_interval(),
            fall: 1,
            rise: 1,
            weight: 0,
            address: None,
        }
    }
}

fn default_check_kind() -> CheckKind {
    CheckKind::Pidof
}
fn default_check_interval() -> Duration {
    Duration::from_secs(2)
}
fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub ip: Ipv4Addr,
    pub state: VrrpState,
    pub priority: u16,
    /// What the node serves beside keepalived: `[nginx]` (the seed's shape,
    /// the default) or `[haproxy]` (a load balancer over `backends`).
    #[serde(default = "default_runs", skip_serializing_if = "is_default_runs")]
    pub runs: Vec<Service>,
    /// Text of the node's page: how a client tells the nodes apart. With
    /// `page_file`, a text that occurs in that file and in no other page.
    /// On a node running HAProxy only, the value of the `X-Halab-LB`
    /// response header its HAProxy adds (default: the node's name).
    #[serde(default)]
    pub page: String,
    /// The user's own keepalived.conf (relative to the lab file), used in
    /// place of the rendered one; its VRRP settings become the lab's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalived_conf: Option<PathBuf>,
    /// The VRRP instance of `keepalived_conf` halab judges, when it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The user's own page (relative to the lab file), served as the node's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_file: Option<PathBuf>,
    /// More files of the user's put into the node at start: container
    /// path → file (relative to the lab file), e.g. a check script the
    /// user's keepalived.conf runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, PathBuf>,
}

/// A service a VRRP node runs beside keepalived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Nginx,
    Haproxy,
}

fn default_runs() -> Vec<Service> {
    vec![Service::Nginx]
}
fn is_default_runs(r: &[Service]) -> bool {
    r == [Service::Nginx]
}

/// The response header by which a load balancer's HAProxy names itself, so
/// a client knows which LB carried its request.
pub const LB_HEADER: &str = "X-Halab-LB";

/// Plain web servers behind the load balancers, and how HAProxy checks them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backends {
    /// HAProxy's health check of every server.
    #[serde(default)]
    pub check: BackendCheck,
    /// Port nginx listens on in each web server.
    #[serde(default = "default_web_port")]
    pub port: u16,
    #[serde(default)]
    pub servers: Vec<WebServer>,
}

// Not derived: a lab without `backends` has nginx's port 80, not 0.
impl Default for Backends {
    fn default() -> Self {
        Backends {
            check: BackendCheck::default(),
            port: default_web_port(),
            servers: Vec::new(),
        }
    }
}

impl Backends {
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }
}

fn default_web_port() -> u16 {
    80
}

/// One web server: nginx alone, serving its own page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebServer {
    pub name: String,
    pub ip: Ipv4Addr,
    /// Text of its page: how a client tells which web server answered.
    pub page: String,
}

impl WebServer {
    /// The page text as the rendered page carries it (HTML-escaped).
    pub fn marker(&self) -> String {
        tera::escape_html(&self.page)
    }
}

/// The layer at which HAProxy checks a web server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendCheckKind {
    /// Layer 4: the port accepts a connection (`check`).
    Tcp,
    /// Layer 7: a GET answers with the expected status (`option httpchk`).
    Http,
}

/// HAProxy's check of the web servers: a server is out of the pool after
/// `fall` failures `inter` apart, back after `rise` successes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendCheck {
    #[serde(default = "default_backend_check_kind")]
    pub kind: BackendCheckKind,
    #[serde(default = "default_backend_inter", with = "humantime_serde")]
    pub inter: Duration,
    #[serde(default = "two")]
    pub rise: u32,
    #[serde(default = "two")]
    pub fall: u32,
    /// `http`: the path requested.
    #[serde(default = "default_check_path")]
    pub path: String,
    /// `http`: the status a healthy server answers.
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
}

impl Default for BackendCheck {
    fn default() -> Self {
        BackendCheck {
            kind: default_backend_check_kind(),
            inter: default_backend_inter(),
            rise: 2,
            fall: 2,
            path: default_check_path(),
            expect_status: default_expect_status(),
        }
    }
}

impl BackendCheck {
    /// The longest a dead server stays in the pool: `fall × inter`.
    pub fn removal_time(&self) -> Duration {
        self.inter * self.fall
    }
}

fn default_backend_check_kind() -> BackendCheckKind {
    BackendCheckKind::Http
}
fn default_backend_inter() -> Duration {
    Duration::from_millis(500)
}
fn default_check_path() -> String {
    "/".into()
}
fn default_expect_status() -> u16 {
    200
}

impl Node {
    /// Whether the node runs nginx (the seed's shape).
    pub fn runs_nginx(&self) -> bool {
        self.runs.contains(&Service::Nginx)
    }

    /// Whether the node runs HAProxy over the lab's backends.
    pub fn runs_haproxy(&self) -> bool {
        self.runs.contains(&Service::Haproxy)
    }

    /// The page text as the rendered page carries it (HTML-escaped): what a
    /// client finds in an answer to tell this node's page from the others.
    pub fn marker(&self) -> String {
        tera::escape_html(&self.page)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// Whether a front HAProxy container stands before the VIP (the seed's
    /// shape, publishing `port` on 127.0.0.1). False in the production
    /// shape: clients reach `http://VIP:listen/` on the lab's bridge, and
    /// these settings configure the HAProxy of every node that runs one.
    #[serde(default = "yes")]
    pub front: bool,
    #[serde(default = "default_proxy_name")]
    pub name: String,
    /// Static address; when absent the engine picks a free one.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// Port HAProxy listens on inside its container.
    #[serde(default = "default_listen")]
    pub listen: u16,
    /// Host port published on 127.0.0.1.
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_maxconn")]
    pub maxconn: u32,
    #[serde(default)]
    pub timeouts: ProxyTimeouts,
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// HAProxy `retry-on` keywords, e.g. `conn-failure`, `empty-response`.
    #[serde(default)]
    pub retry_on: Vec<String>,
    /// Active health check of the VIP server; `null` for none.
    #[serde(default = "default_server_check")]
    pub check: Option<ServerCheck>,
    /// HAProxy `http-reuse`; absent leaves HAProxy's default (`safe`).
    /// `never` keeps the turn-around pause (`timeout connect`) between
    /// retries after a request was reset; under `safe` HAProxy 2.6 retries
    /// such a request at once and can spend every retry in a few ms on a
    /// node whose kernel still refuses connections after its processes died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_reuse: Option<HttpReuse>,
    /// The user's own haproxy.cfg (relative to the lab file), used in place
    /// of the rendered one; its `bind` port becomes `listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy_cfg: Option<PathBuf>,
}

/// HAProxy's server-connection sharing modes (`http-reuse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpReuse {
    Never,
    Safe,
    Aggressive,
    Always,
}

impl HttpReuse {
    /// The keyword as HAProxy reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpReuse::Never => "never",
            HttpReuse::Safe => "safe",
            HttpReuse::Aggressive => "aggressive",
            HttpReuse::Always => "always",
        }
    }
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            front: true,
            name: default_proxy_name(),
            ip: None,
            listen: default_listen(),
            port: default_port(),
            maxconn: default_maxconn(),
            timeouts: ProxyTimeouts::default(),
            retries: default_retries(),
            retry_on: Vec::new(),
            check: default_server_check(),
            http_reuse: None,
            haproxy_cfg: None,
        }
    }
}

fn default_proxy_name() -> String {
    "proxy".into()
}
fn default_listen() -> u16 {
    6301
}
fn default_port() -> u16 {
    8000
}
fn default_maxconn() -> u32 {
    4096
}
fn default_retries() -> u32 {
    2
}
fn default_server_check() -> Option<ServerCheck> {
    Some(ServerCheck::default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyTimeouts {
    #[serde(default = "five_s", with = "humantime_serde")]
    pub connect: Duration,
    #[serde(default = "five_s", with = "humantime_serde")]
    pub client: Duration,
    #[serde(default = "five_s", with = "humantime_serde")]
    pub server: Duration,
}

impl Default for ProxyTimeouts {
    fn default() -> Self {
        ProxyTimeouts {
            connect: five_s(),
            client: five_s(),
            server: five_s(),
        }
    }
}

fn five_s() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCheck {
    #[serde(default = "two_s", with = "humantime_serde")]
    pub inter: Duration,
    #[serde(default = "two")]
    pub rise: u32,
    #[serde(default = "five")]
    pub fall: u32,
}

impl Default for ServerCheck {
    fn default() -> Self {
        ServerCheck {
            inter: two_s(),
            rise: 2,
            fall: 5,
        }
    }
}

fn two_s() -> Duration {
    Duration::from_secs(2)
}
fn two() -> u32 {
    2
}
fn five() -> u32 {
    5
}

/// How the open-loop probe watches port 8000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSettings {
    /// One request is fired every `interval`, whatever the others do.
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Each request's own deadline.
    #[serde(default = "default_probe_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// An answer slower than this counts as late (a disruption).
    #[serde(default = "default_late_after", with = "humantime_serde")]
    pub late_after: Duration,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            interval: default_probe_interval(),
            timeout: default_probe_timeout(),
            late_after: default_late_after(),
        }
    }
}

fn default_probe_interval() -> Duration {
    Duration::from_millis(20)
}
fn default_probe_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_late_after() -> Duration {
    Duration::from_millis(100)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    /// Base image of the node and proxy image. `halab-base:bookworm` is
    /// built offline with mmdebstrap when it is not in the engine.
    #[serde(default = "default_base")]
    pub base: String,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            base: default_base(),
        }
    }
}

pub const DEFAULT_BASE_IMAGE: &str = "halab-base:bookworm";

fn default_base() -> String {
    DEFAULT_BASE_IMAGE.into()
}

/// The scenarios halab knows how to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioName {
    StopMaster,
    KillMaster,
    PauseMaster,
    PartitionMaster,
    KillNginx,
    KillKeepalived,
    StopBackup,
    Failback,
    VrrpLoss,
    ClientLoss,
    StarveMaster,
    LinkFlap,
    FailoverStorm,
    Delay,
    Jitter,
    Idle,
    StopProxy,
    StopLbMaster,
    KillLbMaster,
    KillHaproxy,
    StopWeb,
    KillWeb,
    HangWeb,
    StopAllWeb,
}

impl ScenarioName {
    pub const ALL: [ScenarioName; 24] = [
        ScenarioName::StopMaster,
        ScenarioName::KillMaster,
        ScenarioName::PauseMaster,
        ScenarioName::PartitionMaster,
        ScenarioName::KillNginx,
        ScenarioName::KillKeepalived,
        ScenarioName::StopBackup,
        ScenarioName::Failback,
        ScenarioName::VrrpLoss,
        ScenarioName::ClientLoss,
        ScenarioName::StarveMaster,
        ScenarioName::LinkFlap,
        ScenarioName::FailoverStorm,
        ScenarioName::Delay,
        ScenarioName::Jitter,
        ScenarioName::Idle,
        ScenarioName::StopProxy,
        ScenarioName::StopLbMaster,
        ScenarioName::KillLbMaster,
        ScenarioName::KillHaproxy,
        ScenarioName::StopWeb,
        ScenarioName::KillWeb,
        ScenarioName::HangWeb,
        ScenarioName::StopAllWeb,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioName::StopMaster => "stop-master",
            ScenarioName::KillMaster => "kill-master",
            ScenarioName::PauseMaster => "pause-master",
            ScenarioName::PartitionMaster => "partition-master",
            ScenarioName::KillNginx => "kill-nginx",
            ScenarioName::KillKeepalived => "kill-keepalived",
            ScenarioName::StopBackup => "stop-backup",
            ScenarioName::Failback => "failback",
            ScenarioName::VrrpLoss => "vrrp-loss",
            ScenarioName::ClientLoss => "client-loss",
            ScenarioName::StarveMaster => "starve-master",
            ScenarioName::LinkFlap => "link-flap",
            ScenarioName::FailoverStorm => "failover-storm",
            ScenarioName::Delay => "delay",
            ScenarioName::Jitter => "jitter",
            ScenarioName::Idle => "idle",
            ScenarioName::StopProxy => "stop-proxy",
            ScenarioName::StopLbMaster => "stop-lb-master",
            ScenarioName::KillLbMaster => "kill-lb-master",
            ScenarioName::KillHaproxy => "kill-haproxy",
            ScenarioName::StopWeb => "stop-web",
            ScenarioName::KillWeb => "kill-web",
            ScenarioName::HangWeb => "hang-web",
            ScenarioName::StopAllWeb => "stop-all-web",
        }
    }
}

impl std::fmt::Display for ScenarioName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ScenarioName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ScenarioName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ScenarioName::ALL.iter().map(|n| n.as_str()).collect();
                let hint = crate::suggest::did_you_mean(s, names.iter().copied())
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                format!("unknown scenario `{s}`{hint}; known: {}", names.join(", "))
            })
    }
}

/// Budgets of one scenario. Absent fields take the scenario's built-in
/// defaults (`scenario::Scenario::default_budget`, derived from the lab's own
/// timers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Fault → first backup page received.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub switch_within: Option<Duration>,
    /// Heal → steady state again (master page for a preempting lab).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub recover_within: Option<Duration>,
    /// Failed requests (errors and timeouts) allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed: Option<u32>,
    /// Answers slower than `probe.late_after` allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_late: Option<u32>,
    /// Slowest answer allowed during the fault window.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub worst_answer: Option<Duration>,
    /// Longest time two nodes may hold the VIP at once (split brain).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_dual_owner: Option<Duration>,
    /// Fault → the faulted web server marked DOWN by the VIP holder's
    /// HAProxy (the web faults of the production shape).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub pool_remove_within: Option<Duration>,
    /// How long to watch after the fault before healing.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub observe: Option<Duration>,
}
