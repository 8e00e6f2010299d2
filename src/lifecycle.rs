//! A lab's life on an engine: `up`, `down`, `status`, `logs`.
//!
//! Generic over [`Engine`] so that the order of operations, idempotence and
//! refusals are unit-tested with the fake engine. Every object is labelled
//! (`halab.lab`, `halab.role`, `halab.node`, `halab.lab-file`, `halab.hash`)
//! and `down` selects by `halab.lab` alone, so it needs no lab file.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ipnet::Ipv4Net;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::{
    lab_selector, ContainerInfo, ContainerSpec, ContainerState, Engine, EngineError, Labels,
    NetworkInfo, PublishedPort, LABEL_HASH, LABEL_LAB, LABEL_LAB_FILE, LABEL_NODE, LABEL_ROLE,
};
use crate::image::{self, ImageError};
use crate::lab::Lab;
use crate::render::Rendered;

/// How often `up` looks at the lab while waiting for its steady state.
const POLL: Duration = Duration::from_millis(150);

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("port {port} on 127.0.0.1 is taken ({source}); lab `{lab}` publishes its proxy there\n  fix: stop what holds it, or run the lab on another port with `--port N`")]
    PortTaken {
        lab: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("subnet {subnet} of lab `{lab}` overlaps network `{network}` ({other})\n  fix: remove that network, or run the lab on another subnet with `--subnet CIDR`")]
    SubnetOverlap {
        lab: String,
        subnet: Ipv4Net,
        network: String,
        other: Ipv4Net,
    },
    #[error("a network named `{network}` exists but does not belong to lab `{lab}`\n  fix: remove it (`docker network rm {network}`) or rename the lab with `--name NAME`")]
    NetworkTaken { lab: String, network: String },
    #[error("{step} failed: {source}\n  {cleanup}")]
    PartFailed {
        step: String,
        #[source]
        source: Box<LifecycleError>,
        cleanup: String,
    },
    #[error("lab `{lab}` did not reach its steady state within {}: {diagnosis}\n  the lab is left running so it can be inspected (`halab status`, `halab logs`); `halab down` removes it", humantime::format_duration(*.waited))]
    NotSteady {
        lab: String,
        waited: Duration,
        diagnosis: String,
    },
    #[error("lab `{lab}` is not up; run `halab up --lab {file}`")]
    NotUp { lab: String, file: String },
    #[error("`{name}` is no member of lab `{lab}`{hint}; members: {members}")]
    NoSuchMember {
        lab: String,
        name: String,
        hint: String,
        members: String,
    },
    #[error("cannot write logs: {0}")]
    Write(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Deadline for the steady state (master holds the VIP, the proxy
    /// answers with the master's page).
    pub timeout: Duration,
    /// No progress lines.
    pub quiet: bool,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            timeout: Duration::from_secs(30),
            quiet: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    pub lab: String,
    /// The lab was already up with the same content: nothing was done.
    pub already_up: bool,
    pub image: String,
    pub image_built: bool,
    /// Content hash of the lab (image and settings). Each container's
    /// `halab.hash` is its own definition's ([`container_hash`]).
    pub hash: String,
    pub network: String,
    /// Containers this `up` created (new ones and replacements).
    pub created: Vec<String>,
    /// Containers whose definition changed: removed and created anew.
    pub replaced: Vec<String>,
    /// Containers of the lab no longer in its file: removed.
    pub removed: Vec<String>,
    /// Unchanged containers that were stopped (or paused) and were started.
    pub started: Vec<String>,
    /// Unchanged, running containers left alone.
    pub kept: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub elapsed: Duration,
    /// From the containers' start to the steady state.
    #[serde(with = "humantime_serde")]
    pub steady_after: Option<Duration>,
    pub url: String,
    pub answer: ProxyAnswer,
}

/// What `http://127.0.0.1:<port>/` answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyAnswer {
    pub status: Option<u16>,
    /// The node whose page came back.
    pub node: Option<String>,
    /// The body (cut) when it is no node's page.
    pub body: Option<String>,
    pub error: Option<String>,
}

impl fmt::Display for ProxyAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.node, &self.error) {
            (_, _, Some(e)) => write!(f, "no answer ({e})"),
            (Some(s), Some(n), _) => write!(f, "{s} with the page of {n}"),
            (Some(s), None, _) => write!(
                f,
                "{s} {}",
                self.body.as_deref().unwrap_or("").trim().replace('\n', " ")
            ),
            (None, _, None) => f.write_str("nothing"),
        }
    }
}

/// Progress: one line per step, a spinner while it runs, ✓ and its time
/// when done. Hidden under `quiet` and when stderr is not a terminal.
struct Progress {
    quiet: bool,
}

struct Step {
    bar: ProgressBar,
    title: String,
    started: Instant,
}

impl Progress {
    fn step(&self, title: impl Into<String>) -> Step {
        let target = if self.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        let title = title.into();
        bar.set_message(title.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        Step {
            bar,
            title,
            started: Instant::now(),
        }
    }
}

impl Step {
    /// A sink for the step's detail lines (build output).
    fn detail(&self) -> impl Fn(&str) + Send + Sync {
        let bar = self.bar.clone();
        let title = self.title.clone();
        move |line: &str| bar.set_message(format!("{title}: {}", line.trim()))
    }

    fn done(self, note: &str) {
        let note = if note.is_empty() {
            String::new()
        } else {
            format!(" {note}")
        };
        self.bar
            .set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
        self.bar.finish_with_message(format!(
            "✓ {}{note} ({:.1?})",
            self.title,
            self.started.elapsed()
        ));
    }

    fn fail(self) {
        self.bar
            .set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
        self.bar.finish_with_message(format!("✗ {}", self.title));
    }
}

/// Labels of one object of `lab`.
fn labels(lab: &Lab, role: &str, node: Option<&str>, hash: &str) -> Labels {
    let mut l = Labels::from([
        (LABEL_LAB.to_string(), lab.name().to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (
            LABEL_LAB_FILE.to_string(),
            lab.source().display().to_string(),
        ),
        (LABEL_HASH.to_string(), hash.to_string()),
    ]);
    if let Some(n) = node {
        l.insert(LABEL_NODE.to_string(), n.to_string());
    }
    l
}

/// The lab's hash: its image's content hash and every setting that shapes
/// its containers (addresses, ports). Reported by `up`; the containers each
/// carry their own [`container_hash`].
pub fn lab_hash(lab: &Lab, image_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(image_hash.as_bytes());
    h.update(serde_json::to_vec(lab.spec()).expect("a lab serialises"));
    format!("{:x}", h.finalize())
}

/// The hash of one container's definition, its `halab.hash` label: `up`
/// keeps a container whose label matches and recreates one whose does not.
/// Labels are left out (they carry the hash, and the lab file's path is no
/// reason to recreate anything); the image tag stands for the image's
/// content (it carries the content hash).
pub fn container_hash(spec: &ContainerSpec) -> String {
    #[derive(Serialize)]
    struct Definition<'a> {
        name: &'a str,
        image: &'a str,
        env: &'a BTreeMap<String, String>,
        network: &'a str,
        ip: Option<Ipv4Addr>,
        cap_add: &'a [String],
        publish: Option<(Ipv4Addr, u16, u16)>,
    }
    let d = Definition {
        name: &spec.name,
        image: &spec.image,
        env: &spec.env,
        network: &spec.network,
        ip: spec.ip,
        cap_add: &spec.cap_add,
        publish: spec
            .publish
            .map(|p| (p.host_ip, p.host_port, p.container_port)),
    };
    let json = serde_json::to_vec(&d).expect("a container definition serialises");
    format!("{:x}", Sha256::digest(json))
}

/// The hash of the lab's network: its name and subnet.
fn network_hash(name: &str, subnet: Ipv4Net) -> String {
    format!("{:x}", Sha256::digest(format!("{name} {subnet}")))
}

/// Set on the proxy: the host port it publishes, so that `up` knows before
/// building anything whether a taken port is held by the lab's own proxy.
const LABEL_PORT: &str = "halab.port";

/// The containers `up` makes: every node, then the proxy, each labelled
/// with its own [`container_hash`].
pub fn container_specs(lab: &Lab, image: &str) -> Vec<ContainerSpec> {
    let spec = lab.spec();
    let network = lab.network_name();
    let mut out: Vec<ContainerSpec> = spec
        .nodes
        .iter()
        .map(|n| ContainerSpec {
            name: lab.container_name(&n.name),
            image: image.to_string(),
            env: BTreeMap::from([
                ("HALAB_ROLE".to_string(), "node".to_string()),
                ("HALAB_NODE".to_string(), n.name.clone()),
            ]),
            labels: Labels::new(),
            network: network.clone(),
            ip: Some(n.ip),
            // keepalived adds and removes the VIP.
            cap_add: vec!["NET_ADMIN".to_string()],
            publish: None,
        })
        .collect();
    out.push(ContainerSpec {
        name: lab.container_name(&spec.proxy.name),
        image: image.to_string(),
        env: BTreeMap::from([
            ("HALAB_ROLE".to_string(), "proxy".to_string()),
            ("HALAB_NODE".to_string(), spec.proxy.name.clone()),
        ]),
        labels: Labels::new(),
        network,
        ip: Some(lab.proxy_ip()),
        cap_add: vec![],
        publish: Some(PublishedPort {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: spec.proxy.port,
            container_port: spec.proxy.listen,
        }),
    });
    let members = spec
        .nodes
        .iter()
        .map(|n| ("node", n.name.as_str()))
        .chain([("proxy", spec.proxy.name.as_str())]);
    for (s, (role, member)) in out.iter_mut().zip(members) {
        s.labels = labels(lab, role, Some(member), &container_hash(s));
        if let Some(p) = s.publish {
            s.labels
                .insert(LABEL_PORT.to_string(), p.host_port.to_string());
        }
    }
    out
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// A network that stops `lab` from being created: one of another owner by
/// the lab's network name, or any other network overlapping its subnet.
/// `Ok(true)` when the lab's own network exists and can be kept.
fn network_conflicts(lab: &Lab, nets: &[NetworkInfo]) -> Result<bool, LifecycleError> {
    let network = lab.network_name();
    let subnet = lab.spec().network.subnet;
    let mut keep_net = false;
    if let Some(n) = nets.iter().find(|n| n.name == network) {
        if n.labels.get(LABEL_LAB).map(String::as_str) != Some(lab.name()) {
            return Err(LifecycleError::NetworkTaken {
                lab: lab.name().to_string(),
                network,
            });
        }
        keep_net = n.subnets == [subnet];
    }
    for n in nets.iter().filter(|n| n.name != network) {
        if let Some(other) = n.subnets.iter().find(|s| overlaps(**s, subnet)) {
            return Err(LifecycleError::SubnetOverlap {
                lab: lab.name().to_string(),
                subnet,
                network: n.name.clone(),
                other: *other,
            });
        }
    }
    Ok(keep_net)
}

/// What `up` does with each container of the lab, from comparing the
/// lab's definitions with what the engine holds. Names in the lab's order
/// (nodes, then the proxy).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Plan {
    /// Same definition and running: left alone.
    keep: Vec<String>,
    /// Same definition, stopped or never started: started.
    start: Vec<String>,
    /// Same definition, paused: unpaused.
    unpause: Vec<String>,
    /// Changed definition (or off the old network): removed, created anew.
    replace: Vec<String>,
    /// Not there: created.
    create: Vec<String>,
    /// The lab's, but no longer in the lab file: removed.
    remove: Vec<String>,
    /// The network is (re)created: it is missing or its subnet changed.
    network: bool,
}

impl Plan {
    /// `keep_net`: the lab's network exists with the lab's subnet. When it
    /// does not, every container is recreated (a container cannot move to
    /// a new network with its address).
    fn of(specs: &[ContainerSpec], existing: &[ContainerInfo], keep_net: bool) -> Plan {
        use ContainerState::*;
        let mut p = Plan {
            network: !keep_net,
            ..Plan::default()
        };
        for s in specs {
            let name = s.name.clone();
            let Some(c) = existing.iter().find(|c| c.name == s.name) else {
                p.create.push(name);
                continue;
            };
            if !keep_net || c.labels.get(LABEL_HASH) != s.labels.get(LABEL_HASH) {
                p.replace.push(name);
                continue;
            }
            match c.state {
                Running | Restarting => p.keep.push(name),
                Created | Exited => p.start.push(name),
                Paused => p.unpause.push(name),
                Removing | Dead | Unknown => p.replace.push(name),
            }
        }
        p.remove = existing
            .iter()
            .filter(|c| !specs.iter().any(|s| s.name == c.name))
            .map(|c| c.name.clone())
            .collect();
        p
    }

    /// Nothing to do: the lab is up as defined.
    fn unchanged(&self) -> bool {
        !self.network
            && self.start.is_empty()
            && self.unpause.is_empty()
            && self.replace.is_empty()
            && self.create.is_empty()
            && self.remove.is_empty()
    }
}

/// Whether a container of the lab holds `port`: its proxy, running or
/// paused, published there (or from before the port label, so unknown).
fn port_held_by_lab(existing: &[ContainerInfo], port: u16) -> bool {
    existing.iter().any(|c| {
        c.labels.get(LABEL_ROLE).map(String::as_str) == Some("proxy")
            && matches!(c.state, ContainerState::Running | ContainerState::Paused)
            && c.labels
                .get(LABEL_PORT)
                .map_or(true, |p| *p == port.to_string())
    })
}

/// Bring `lab` up from `rendered`: images, network, nodes, proxy, start,
/// then wait until the master holds the VIP and the proxy serves its page.
///
/// Idempotent: a container whose definition ([`container_hash`]) is
/// unchanged is kept (started if it was stopped), a changed one is
/// recreated, one no longer in the lab is removed. A lab that is up as
/// defined is left alone (`already_up`).
pub async fn up(
    engine: &dyn Engine,
    lab: &Lab,
    rendered: &Rendered,
    opts: &UpOptions,
) -> Result<UpReport, LifecycleError> {
    let started = Instant::now();
    let progress = Progress { quiet: opts.quiet };
    let spec = lab.spec();
    let network = lab.network_name();
    let url = format!("http://127.0.0.1:{}/", spec.proxy.port);

    // Refuse what cannot work before any image is built: a foreign network
    // by our name, another network on our subnet, a taken port (unless it
    // is this lab's own proxy holding it).
    network_conflicts(lab, &engine.list_networks(&Labels::new()).await?)?;
    let present = engine.list_containers(&lab_selector(lab.name())).await?;
    if !port_held_by_lab(&present, spec.proxy.port) {
        if let Err(source) = port_free(spec.proxy.port, Duration::ZERO).await {
            return Err(LifecycleError::PortTaken {
                lab: lab.name().to_string(),
                port: spec.proxy.port,
                source,
            });
        }
    }

    let step = progress.step(format!("base image {}", spec.image.base));
    let base = match image::ensure_base(engine, &spec.image.base, false, &step.detail()).await {
        Ok(b) => b,
        Err(e) => {
            step.fail();
            return Err(e.into());
        }
    };
    step.done("");

    let step = progress.step("lab image");
    let img = match image::ensure_lab_image(engine, lab, rendered, &base, &step.detail()).await {
        Ok(i) => i,
        Err(e) => {
            step.fail();
            return Err(e.into());
        }
    };
    step.done(&format!(
        "{} ({})",
        img.tag,
        if img.built { "built" } else { "cached" }
    ));
    let hash = lab_hash(lab, &img.hash);
    let specs = container_specs(lab, &img.tag);

    // Looked at again (the engine may have moved while the images were
    // built), then compared container by container.
    let existing = engine.list_containers(&lab_selector(lab.name())).await?;
    let nets = engine.list_networks(&Labels::new()).await?;
    let keep_net = network_conflicts(lab, &nets)?;
    let plan = Plan::of(&specs, &existing, keep_net);
    let mut report = UpReport {
        lab: lab.name().to_string(),
        already_up: plan.unchanged(),
        image: img.tag,
        image_built: img.built,
        hash,
        network: network.clone(),
        created: vec![],
        replaced: plan.replace.clone(),
        removed: plan.remove.clone(),
        started: plan.start.iter().chain(&plan.unpause).cloned().collect(),
        kept: plan.keep.clone(),
        elapsed: Duration::ZERO,
        steady_after: None,
        url,
        answer: ProxyAnswer {
            status: None,
            node: None,
            body: None,
            error: None,
        },
    };
    if report.already_up {
        report.answer = fetch(spec.proxy.port, lab, Duration::from_secs(2)).await;
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    // What goes goes first: the old proxy lets go of the port, and the
    // network can only be removed once no container is on it.
    let old: Vec<&String> = plan.replace.iter().chain(&plan.remove).collect();
    if !old.is_empty() {
        let step = progress.step("remove changed containers");
        for c in &old {
            remove_quietly(engine, c).await?;
        }
        step.done(
            &old.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if plan.network && nets.iter().any(|n| n.name == network) {
        engine.remove_network(&network).await?;
    }

    let proxy = lab.container_name(&spec.proxy.name);
    let new_proxy = plan.create.contains(&proxy) || plan.replace.contains(&proxy);
    if new_proxy {
        // The old proxy's release of the port may lag its removal a little.
        let grace = if plan.replace.contains(&proxy) {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        if let Err(source) = port_free(spec.proxy.port, grace).await {
            return Err(LifecycleError::PortTaken {
                lab: lab.name().to_string(),
                port: spec.proxy.port,
                source,
            });
        }
    }

    let mut made = Made::default();
    let result = create_and_start(engine, lab, &specs, &plan, &progress, &mut made).await;
    if let Err((step, e)) = result {
        let cleanup = made.undo(engine, &network).await;
        return Err(LifecycleError::PartFailed {
            step,
            source: Box::new(e),
            cleanup,
        });
    }
    report.created = made.containers;
    let containers_started = Instant::now();

    let step = progress.step(format!(
        "steady state: {} holds {}, {} serves its page",
        lab.master().name,
        lab.vip_addr(),
        report.url
    ));
    match wait_steady(engine, lab, opts.timeout).await {
        Ok(answer) => {
            report.steady_after = Some(containers_started.elapsed());
            step.done("");
            report.answer = answer;
            report.elapsed = started.elapsed();
            Ok(report)
        }
        Err(e) => {
            step.fail();
            Err(e)
        }
    }
}

/// Whether `port` on 127.0.0.1 can be bound, trying again for `grace`.
async fn port_free(port: u16, grace: Duration) -> Result<(), std::io::Error> {
    let deadline = Instant::now() + grace;
    loop {
        match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// What one `up` created, so that a failure part-way can take it back.
#[derive(Default)]
struct Made {
    network: bool,
    containers: Vec<String>,
}

impl Made {
    async fn undo(&self, engine: &dyn Engine, network: &str) -> String {
        let mut left = Vec::new();
        for c in self.containers.iter().rev() {
            if let Err(e) = engine.remove(c, true).await {
                if !e.is_not_found() {
                    left.push(c.clone());
                }
            }
        }
        if self.network {
            if let Err(e) = engine.remove_network(network).await {
                if !e.is_not_found() {
                    left.push(network.to_string());
                }
            }
        }
        let mut made: Vec<&str> = self.containers.iter().map(String::as_str).collect();
        if self.network {
            made.push(network);
        }
        if made.is_empty() {
            "nothing had been created".to_string()
        } else if left.is_empty() {
            format!("removed what this `up` had created: {}", made.join(", "))
        } else {
            format!(
                "could not remove {} (labelled: `halab down` removes them)",
                left.join(", ")
            )
        }
    }
}

/// Carry out `plan` after its removals: the network, the new containers,
/// then start (or unpause) in the lab's order.
async fn create_and_start(
    engine: &dyn Engine,
    lab: &Lab,
    specs: &[ContainerSpec],
    plan: &Plan,
    progress: &Progress,
    made: &mut Made,
) -> Result<(), (String, LifecycleError)> {
    let spec = lab.spec();
    let network = lab.network_name();
    if plan.network {
        let title = format!("network {network} ({})", spec.network.subnet);
        let step = progress.step(title.clone());
        let labels = labels(
            lab,
            "network",
            None,
            &network_hash(&network, spec.network.subnet),
        );
        if let Err(e) = engine
            .create_network(&network, spec.network.subnet, &labels)
            .await
        {
            step.fail();
            return Err((title, e.into()));
        }
        made.network = true;
        step.done("");
    }
    let new = |s: &&ContainerSpec| plan.create.contains(&s.name) || plan.replace.contains(&s.name);
    for s in specs.iter().filter(new) {
        let title = match s.ip {
            Some(ip) => format!("container {} ({ip})", s.name),
            None => format!("container {}", s.name),
        };
        let step = progress.step(title.clone());
        if let Err(e) = engine.create_container(s).await {
            step.fail();
            return Err((title, e.into()));
        }
        made.containers.push(s.name.clone());
        step.done("");
    }
    // Nodes first: the proxy's first health checks then find the VIP.
    let step = progress.step("start");
    for s in specs {
        let result = if plan.unpause.contains(&s.name) {
            engine.unpause(&s.name).await
        } else if made.containers.contains(&s.name) || plan.start.contains(&s.name) {
            engine.start(&s.name).await
        } else {
            continue;
        };
        if let Err(e) = result {
            step.fail();
            return Err((format!("start {}", s.name), e.into()));
        }
    }
    step.done("");
    Ok(())
}

async fn remove_quietly(engine: &dyn Engine, name: &str) -> Result<(), EngineError> {
    match engine.remove(name, true).await {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// Whether `container` has the VIP on the lab's interface.
pub async fn holds_vip(
    engine: &dyn Engine,
    lab: &Lab,
    container: &str,
) -> Result<bool, EngineError> {
    let iface = lab.spec().vrrp.interface.as_str();
    let out = engine
        .exec(container, &["ip", "-4", "-o", "addr", "show", "dev", iface])
        .await?;
    Ok(vip_in(&out.stdout, lab.vip_addr()))
}

/// `ip -4 -o addr show` output lists `inet <vip>/<len>`.
fn vip_in(ip_output: &str, vip: Ipv4Addr) -> bool {
    let needle = format!("inet {vip}/");
    ip_output.lines().any(|l| l.contains(&needle))
}

/// Which node's page `body` is.
fn page_of(lab: &Lab, body: &str) -> Option<String> {
    crate::probe::Pages::new(&crate::render::page_markers(lab))
        .node_of(body)
        .map(str::to_string)
}

/// GET http://127.0.0.1:<port>/ once.
pub async fn fetch(port: u16, lab: &Lab, timeout: Duration) -> ProxyAnswer {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return ProxyAnswer {
                status: None,
                node: None,
                body: None,
                error: Some(e.to_string()),
            }
        }
    };
    let url = format!("http://127.0.0.1:{port}/");
    match client.get(&url).send().await {
        Err(e) => ProxyAnswer {
            status: None,
            node: None,
            body: None,
            error: Some(error_chain(&e)),
        },
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let node = page_of(lab, &body);
            ProxyAnswer {
                status: Some(status),
                body: node.is_none().then(|| body.chars().take(200).collect()),
                node,
                error: None,
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Poll (every 150 ms, one overall deadline) until the master holds the VIP
/// and the proxy serves its page; on timeout, a diagnosis from the nodes.
pub async fn wait_steady(
    engine: &dyn Engine,
    lab: &Lab,
    timeout: Duration,
) -> Result<ProxyAnswer, LifecycleError> {
    let deadline = Instant::now() + timeout;
    let master = lab.master();
    let master_container = lab.container_name(&master.name);
    loop {
        let tick = Instant::now();
        if holds_vip(engine, lab, &master_container)
            .await
            .unwrap_or(false)
        {
            let answer = fetch(lab.spec().proxy.port, lab, Duration::from_secs(1)).await;
            if answer.status == Some(200) && answer.node.as_deref() == Some(master.name.as_str()) {
                return Ok(answer);
            }
        }
        if Instant::now() >= deadline {
            return Err(LifecycleError::NotSteady {
                lab: lab.name().to_string(),
                waited: timeout,
                diagnosis: diagnose(engine, lab).await,
            });
        }
        tokio::time::sleep(POLL.saturating_sub(tick.elapsed())).await;
    }
}

/// keepalived's lines that tell why a node is not where it should be.
fn keepalived_lines(lines: &[String]) -> Vec<&str> {
    const KEYS: [&str; 4] = ["Entering", "VRRP_Script", "failed", "FAULT"];
    lines
        .iter()
        .map(String::as_str)
        .filter(|l| KEYS.iter().any(|k| l.contains(k)))
        .collect()
}

/// The last `Entering <STATE> STATE` keepalived logged.
fn last_vrrp_state(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        let rest = &l[l.find("Entering ")? + "Entering ".len()..];
        let state = rest.split_whitespace().next()?;
        rest.contains("STATE").then(|| state.to_string())
    })
}

async fn log_lines(engine: &dyn Engine, container: &str, tail: usize) -> Vec<String> {
    match engine.logs(container, Some(tail), false).await {
        Ok(s) => s.filter_map(|l| async { l.ok() }).collect().await,
        Err(_) => Vec::new(),
    }
}

/// Who holds the VIP, what keepalived said on each node, what the port
/// answered.
async fn diagnose(engine: &dyn Engine, lab: &Lab) -> String {
    let mut out = String::new();
    let mut holders = Vec::new();
    for n in &lab.spec().nodes {
        let c = lab.container_name(&n.name);
        if let Ok(true) = holds_vip(engine, lab, &c).await {
            holders.push(n.name.clone());
        }
    }
    out.push_str(&format!(
        "\n    VIP {} held by: {}",
        lab.vip_addr(),
        if holders.is_empty() {
            "no node".to_string()
        } else {
            holders.join(", ")
        }
    ));
    for n in &lab.spec().nodes {
        let c = lab.container_name(&n.name);
        let lines = log_lines(engine, &c, 300).await;
        let interesting = keepalived_lines(&lines);
        out.push_str(&format!("\n    {}: ", n.name));
        if interesting.is_empty() {
            out.push_str("no keepalived state lines in its log");
            if let Some(last) = lines.last() {
                out.push_str(&format!(" (last line: {})", last.trim()));
            }
        } else {
            out.push_str("keepalived said:");
            let skip = interesting.len().saturating_sub(8);
            for l in &interesting[skip..] {
                out.push_str(&format!("\n      {}", l.trim()));
            }
        }
    }
    let answer = fetch(lab.spec().proxy.port, lab, Duration::from_secs(1)).await;
    out.push_str(&format!(
        "\n    http://127.0.0.1:{}/ answered: {answer}",
        lab.spec().proxy.port
    ));
    out
}

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownReport {
    pub lab: String,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub images: Vec<String>,
}

impl DownReport {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.images.is_empty()
    }
}

/// Remove every container and network labelled `halab.lab=<lab>` (and its
/// images with `images`; never the base). Nothing there is success.
pub async fn down(
    engine: &dyn Engine,
    lab: &str,
    images: bool,
) -> Result<DownReport, LifecycleError> {
    let sel = lab_selector(lab);
    let mut report = DownReport {
        lab: lab.to_string(),
        ..Default::default()
    };
    for c in engine.list_containers(&sel).await? {
        remove_quietly(engine, &c.name).await?;
        report.containers.push(c.name);
    }
    for n in engine.list_networks(&sel).await? {
        match engine.remove_network(&n.name).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => report.networks.push(n.name),
        }
    }
    if images {
        for i in engine.list_images(&sel).await? {
            let name = i.tags.first().cloned().unwrap_or(i.id.clone());
            match engine.remove_image(&i.id, true).await {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => report.images.push(name),
            }
        }
    }
    Ok(report)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub container: String,
    /// `None`: the container does not exist.
    pub state: Option<ContainerState>,
    pub ip: Option<Ipv4Addr>,
    /// keepalived's last `Entering <STATE> STATE` (MASTER, BACKUP, FAULT…).
    pub vrrp: Option<String>,
    /// `None` when it cannot be asked (not running).
    pub holds_vip: Option<bool>,
    pub nginx_alive: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyStatus {
    pub name: String,
    pub container: String,
    pub state: Option<ContainerState>,
    pub ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabStatus {
    pub lab: String,
    pub network: String,
    pub subnet: Ipv4Net,
    pub vip: Ipv4Net,
    pub nodes: Vec<NodeStatus>,
    pub proxy: ProxyStatus,
    pub url: String,
    pub answer: ProxyAnswer,
}

/// What each member of `lab` is doing now.
pub async fn status(engine: &dyn Engine, lab: &Lab) -> Result<LabStatus, LifecycleError> {
    let containers = engine.list_containers(&lab_selector(lab.name())).await?;
    if containers.is_empty() {
        return Err(LifecycleError::NotUp {
            lab: lab.name().to_string(),
            file: lab.source().display().to_string(),
        });
    }
    let find = |name: &str| -> Option<&ContainerInfo> {
        let cname = lab.container_name(name);
        containers.iter().find(|c| c.name == cname)
    };
    let mut nodes = Vec::new();
    for n in &lab.spec().nodes {
        let container = lab.container_name(&n.name);
        let c = find(&n.name);
        let state = c.map(|c| c.state);
        let running = state == Some(ContainerState::Running);
        let (mut holds, mut nginx) = (None, None);
        if running {
            holds = holds_vip(engine, lab, &container).await.ok();
            nginx = engine
                .exec(&container, &["pgrep", "-x", "nginx"])
                .await
                .ok()
                .map(|o| o.success());
        }
        let vrrp = match c {
            Some(_) => last_vrrp_state(&log_lines(engine, &container, 500).await),
            None => None,
        };
        nodes.push(NodeStatus {
            name: n.name.clone(),
            container,
            state,
            ip: c.and_then(|c| c.ip),
            vrrp,
            holds_vip: holds,
            nginx_alive: nginx,
        });
    }
    let p = &lab.spec().proxy;
    let pc = find(&p.name);
    let proxy = ProxyStatus {
        name: p.name.clone(),
        container: lab.container_name(&p.name),
        state: pc.map(|c| c.state),
        ip: pc.and_then(|c| c.ip),
    };
    let answer = fetch(p.port, lab, Duration::from_secs(1)).await;
    Ok(LabStatus {
        lab: lab.name().to_string(),
        network: lab.network_name(),
        subnet: lab.spec().network.subnet,
        vip: lab.spec().vip,
        nodes,
        proxy,
        url: format!("http://127.0.0.1:{}/", p.port),
        answer,
    })
}

/// `status` as a terminal table plus the proxy's answer.
pub fn status_table(s: &LabStatus) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let yes_no = |v: Option<bool>| opt(v.map(|b| if b { "yes" } else { "no" }.to_string()));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "member",
        "container",
        "state",
        "ip",
        "vrrp",
        "VIP",
        "nginx",
    ]);
    for n in &s.nodes {
        t.add_row(vec![
            n.name.clone(),
            n.container.clone(),
            opt(n.state.map(|x| x.to_string())).replace('-', "missing"),
            opt(n.ip.map(|x| x.to_string())),
            opt(n.vrrp.clone()),
            yes_no(n.holds_vip),
            yes_no(n.nginx_alive),
        ]);
    }
    t.add_row(vec![
        s.proxy.name.clone(),
        s.proxy.container.clone(),
        s.proxy
            .state
            .map_or_else(|| "missing".to_string(), |x| x.to_string()),
        opt(s.proxy.ip.map(|x| x.to_string())),
        "-".into(),
        "-".into(),
        "-".into(),
    ]);
    format!(
        "lab {} on {} ({}), VIP {}\n{t}\n{} → {}\n",
        s.lab, s.network, s.subnet, s.vip, s.url, s.answer
    )
}

/// Print the logs of every member of `lab` (or of `member` only), each line
/// prefixed with the member's name; `follow` keeps streaming.
pub async fn logs(
    engine: &dyn Engine,
    lab: &Lab,
    member: Option<&str>,
    follow: bool,
    tail: Option<usize>,
    out: &mut (dyn Write + Send),
) -> Result<(), LifecycleError> {
    let spec = lab.spec();
    let mut members: Vec<&str> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
    members.push(spec.proxy.name.as_str());
    if let Some(m) = member {
        if !members.contains(&m) {
            let hint = crate::suggest::did_you_mean(m, members.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(LifecycleError::NoSuchMember {
                lab: lab.name().to_string(),
                name: m.to_string(),
                hint,
                members: members.join(", "),
            });
        }
        members = vec![m];
    }
    let present = engine.list_containers(&lab_selector(lab.name())).await?;
    if present.is_empty() {
        return Err(LifecycleError::NotUp {
            lab: lab.name().to_string(),
            file: lab.source().display().to_string(),
        });
    }
    let width = members.iter().map(|m| m.chars().count()).max().unwrap_or(0);
    let mut streams = Vec::new();
    for m in members {
        let container = lab.container_name(m);
        if !present.iter().any(|c| c.name == container) {
            continue;
        }
        let prefix = format!("{m:<width$} | ");
        let s = engine.logs(&container, tail, follow).await?;
        streams.push(s.map(move |l| l.map(|l| format!("{prefix}{l}"))).boxed());
    }
    if follow {
        // Interleave as lines arrive.
        let mut all = futures_util::stream::select_all(streams);
        while let Some(line) = all.next().await {
            writeln!(out, "{}", line?)?;
        }
    } else {
        for mut s in streams {
            while let Some(line) = s.next().await {
                writeln!(out, "{}", line?)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ExecOutput, FakeEngine};
    use crate::lab::{Overrides, DEFAULT_BASE_IMAGE};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn lab_on(port: u16) -> Lab {
        edited_lab(port, "10.231.0.0/16", |t| t)
    }

    /// The seed lab with its file edited by `edit`, on `port` and `subnet`.
    fn edited_lab(port: u16, subnet: &str, edit: impl Fn(String) -> String) -> Lab {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        let text = edit(std::fs::read_to_string(&path).unwrap());
        let o = Overrides {
            port: Some(port),
            subnet: Some(subnet.parse().unwrap()),
            ..Default::default()
        };
        Lab::from_yaml_with(&text, &path, &o).unwrap()
    }

    fn rendered() -> Rendered {
        Rendered {
            files: BTreeMap::from([(
                PathBuf::from("Dockerfile"),
                "FROM halab-base:bookworm\n".into(),
            )]),
        }
    }

    /// An HTTP server on 127.0.0.1:`port` that answers every request with
    /// `page`, like the proxy would.
    fn serve(port: u16, page: String) -> tokio::task::JoinHandle<()> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let page = page.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = s.read(&mut buf).await;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                        page.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        })
    }

    /// A fake engine whose master holds the VIP and whose proxy, once
    /// started, serves the master's page.
    fn healthy_engine(lab: &Lab) -> Arc<FakeEngine> {
        let e = Arc::new(FakeEngine::new());
        e.add_image(DEFAULT_BASE_IMAGE, Labels::new());
        vip_on_master(&e, lab);
        let proxy = lab.container_name(&lab.spec().proxy.name);
        let page = format!("<div>{}</div>", lab.master().page);
        // The port is held while the proxy container exists, as Docker does.
        let server = Arc::new(std::sync::Mutex::new(None::<tokio::task::JoinHandle<()>>));
        let (p, s) = (proxy.clone(), server.clone());
        e.on_start(move |spec| {
            if spec.name == p {
                let mut s = s.lock().unwrap();
                if s.is_none() {
                    *s = Some(serve(spec.publish.unwrap().host_port, page.clone()));
                }
            }
        });
        e.on_remove(move |spec| {
            if spec.name == proxy {
                if let Some(h) = server.lock().unwrap().take() {
                    h.abort();
                }
            }
        });
        e
    }

    /// `ip addr` in `lab`'s master lists the VIP.
    fn vip_on_master(e: &FakeEngine, lab: &Lab) {
        let master = lab.container_name(&lab.master().name);
        let vip = lab.vip_addr();
        e.set_exec(move |c, argv| ExecOutput {
            exit_code: 0,
            stdout: if c == master && argv[0] == "ip" {
                format!("2: eth0    inet {vip}/24 scope global eth0\n")
            } else {
                String::new()
            },
            stderr: String::new(),
        });
    }

    fn quick() -> UpOptions {
        UpOptions {
            timeout: Duration::from_secs(5),
            quiet: true,
        }
    }

    fn creating(calls: &[String]) -> Vec<&str> {
        calls
            .iter()
            .map(String::as_str)
            .filter(|c| {
                ["build_image", "create_", "start", "remove"]
                    .iter()
                    .any(|p| c.starts_with(p))
            })
            .collect()
    }

    #[tokio::test]
    async fn up_builds_then_creates_network_nodes_proxy_then_starts() {
        let port = free_port();
        let lab = lab_on(port);
        let e = healthy_engine(&lab);
        let r = up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        assert!(!r.already_up);
        assert_eq!(r.answer.node.as_deref(), Some("nginx_master"));
        let tag = r.image.clone();
        assert_eq!(
            creating(&e.calls()),
            vec![
                format!("build_image {tag}").as_str(),
                "create_network nginx-keepalived-static-network",
                "create_container nginx-keepalived-nginx_master",
                "create_container nginx-keepalived-nginx_slave",
                "create_container nginx-keepalived-proxy",
                "start nginx-keepalived-nginx_master",
                "start nginx-keepalived-nginx_slave",
                "start nginx-keepalived-proxy",
            ]
        );
        let master = e.container("nginx-keepalived-nginx_master").unwrap();
        assert_eq!(master.spec.ip, Some("10.231.128.2".parse().unwrap()));
        assert_eq!(master.spec.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(master.spec.env["HALAB_ROLE"], "node");
        assert_eq!(master.spec.env["HALAB_NODE"], "nginx_master");
        assert_eq!(master.spec.labels[LABEL_LAB], "nginx-keepalived");
        assert_eq!(master.spec.labels[LABEL_NODE], "nginx_master");
        assert_eq!(master.spec.labels[LABEL_HASH], container_hash(&master.spec));
        let proxy = e.container("nginx-keepalived-proxy").unwrap();
        assert_eq!(proxy.spec.env["HALAB_ROLE"], "proxy");
        assert_eq!(proxy.spec.labels[LABEL_PORT], port.to_string());
        assert_ne!(
            proxy.spec.labels[LABEL_HASH],
            master.spec.labels[LABEL_HASH]
        );
        assert_eq!(r.created.len(), 3);
        assert!(r.kept.is_empty() && r.replaced.is_empty());
        assert_eq!(
            proxy.spec.publish,
            Some(PublishedPort {
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: port,
                container_port: 6301
            })
        );
    }

    #[tokio::test]
    async fn a_second_up_of_the_same_lab_does_nothing() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        e.clear_calls();
        let r = up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        assert!(r.already_up);
        assert!(creating(&e.calls()).is_empty(), "{:?}", e.calls());
        assert_eq!(r.kept, members());
        assert!(r.created.is_empty() && r.replaced.is_empty() && r.started.is_empty());
        assert_eq!(r.answer.node.as_deref(), Some("nginx_master"));
    }

    /// The seed lab's containers in the lab's order.
    fn members() -> Vec<String> {
        ["nginx_master", "nginx_slave", "proxy"]
            .map(|m| format!("nginx-keepalived-{m}"))
            .to_vec()
    }

    #[tokio::test]
    async fn a_new_port_recreates_only_the_proxy() {
        let (old_port, new_port) = (free_port(), free_port());
        let e = healthy_engine(&lab_on(old_port));
        up(e.as_ref(), &lab_on(old_port), &rendered(), &quick())
            .await
            .unwrap();
        let image = e.container("nginx-keepalived-proxy").unwrap().spec.image;
        e.clear_calls();
        let r = up(e.as_ref(), &lab_on(new_port), &rendered(), &quick())
            .await
            .unwrap();
        assert!(!r.already_up);
        assert_eq!(
            creating(&e.calls()),
            vec![
                "remove nginx-keepalived-proxy",
                "create_container nginx-keepalived-proxy",
                "start nginx-keepalived-proxy",
            ]
        );
        assert_eq!(r.replaced, vec!["nginx-keepalived-proxy"]);
        assert_eq!(r.created, vec!["nginx-keepalived-proxy"]);
        assert_eq!(r.kept, members()[..2].to_vec());
        assert_eq!(r.image, image, "the port is not part of the image");
        let proxy = e.container("nginx-keepalived-proxy").unwrap();
        assert_eq!(proxy.spec.publish.unwrap().host_port, new_port);
        assert_eq!(r.answer.node.as_deref(), Some("nginx_master"));
        assert!(std::net::TcpListener::bind(("127.0.0.1", old_port)).is_ok());
    }

    #[tokio::test]
    async fn a_taken_new_port_is_refused_and_the_running_lab_left_alone() {
        let port = free_port();
        let e = healthy_engine(&lab_on(port));
        up(e.as_ref(), &lab_on(port), &rendered(), &quick())
            .await
            .unwrap();
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = holder.local_addr().unwrap().port();
        e.clear_calls();
        let err = up(e.as_ref(), &lab_on(taken), &rendered(), &quick())
            .await
            .unwrap_err();
        assert!(matches!(err, LifecycleError::PortTaken { .. }), "{err}");
        assert!(creating(&e.calls()).is_empty(), "{:?}", e.calls());
        assert!(e.container("nginx-keepalived-proxy").is_some());
    }

    #[tokio::test]
    async fn a_stopped_or_paused_member_is_started_not_recreated() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        // As a scenario run with --no-heal leaves them.
        e.stop("nginx-keepalived-nginx_master", Duration::ZERO)
            .await
            .unwrap();
        e.pause("nginx-keepalived-nginx_slave").await.unwrap();
        e.clear_calls();
        let r = up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        assert!(!r.already_up);
        let calls = e.calls();
        assert_eq!(
            creating(&calls),
            vec!["start nginx-keepalived-nginx_master"],
            "{calls:?}"
        );
        assert!(calls.contains(&"unpause nginx-keepalived-nginx_slave".to_string()));
        assert_eq!(r.started, members()[..2].to_vec());
        assert_eq!(r.kept, vec!["nginx-keepalived-proxy"]);
        assert!(r.created.is_empty() && r.replaced.is_empty());
        for m in members() {
            assert_eq!(e.container(&m).unwrap().state, ContainerState::Running);
        }
    }

    #[tokio::test]
    async fn a_node_removed_from_the_file_loses_its_container() {
        let port = free_port();
        let three = edited_lab(port, "10.231.0.0/16", |t| {
            t.replace(
                "proxy:\n",
                "  - name: nginx_extra\n    ip: 172.20.128.5\n    state: BACKUP\n    priority: 50\n    page: 三号\nproxy:\n",
            )
        });
        let e = healthy_engine(&three);
        up(e.as_ref(), &three, &rendered(), &quick()).await.unwrap();
        assert!(e.container("nginx-keepalived-nginx_extra").is_some());
        e.clear_calls();
        // The same image (rendered files held fixed): only the node count moved.
        let r = up(e.as_ref(), &lab_on(port), &rendered(), &quick())
            .await
            .unwrap();
        assert_eq!(
            creating(&e.calls()),
            vec!["remove nginx-keepalived-nginx_extra"]
        );
        assert_eq!(r.removed, vec!["nginx-keepalived-nginx_extra"]);
        assert_eq!(r.kept, members());
        assert!(e.container("nginx-keepalived-nginx_extra").is_none());
    }

    #[tokio::test]
    async fn a_new_subnet_recreates_the_network_and_every_member() {
        let port = free_port();
        let e = healthy_engine(&lab_on(port));
        up(e.as_ref(), &lab_on(port), &rendered(), &quick())
            .await
            .unwrap();
        e.clear_calls();
        let moved = edited_lab(port, "10.232.0.0/16", |t| t);
        vip_on_master(&e, &moved);
        let r = up(e.as_ref(), &moved, &rendered(), &quick()).await.unwrap();
        let calls = e.calls();
        let creating = creating(&calls);
        // Containers leave the old network before it goes.
        assert_eq!(
            creating[..5],
            [
                "remove nginx-keepalived-nginx_master",
                "remove nginx-keepalived-nginx_slave",
                "remove nginx-keepalived-proxy",
                "remove_network nginx-keepalived-static-network",
                "create_network nginx-keepalived-static-network",
            ]
        );
        assert_eq!(r.replaced, members());
        assert_eq!(r.created, members());
        assert_eq!(
            e.container("nginx-keepalived-nginx_master")
                .unwrap()
                .spec
                .ip,
            Some("10.232.128.2".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn a_changed_page_recreates_every_member_and_keeps_the_network() {
        let port = free_port();
        let lab = lab_on(port);
        let e = healthy_engine(&lab);
        let before = crate::render::render(&lab, None).unwrap();
        up(e.as_ref(), &lab, &before, &quick()).await.unwrap();
        e.clear_calls();
        // The backup's page: the master's stays, so the fake proxy's answer
        // still fits; the image changes all the same.
        let changed = edited_lab(port, "10.231.0.0/16", |t| {
            t.replace("page: 从机", "page: 备机")
        });
        let after = crate::render::render(&changed, None).unwrap();
        let r = up(e.as_ref(), &changed, &after, &quick()).await.unwrap();
        assert_eq!(r.replaced, members());
        assert_eq!(r.created, members());
        assert!(r.kept.is_empty());
        let calls = e.calls();
        let creating = creating(&calls);
        assert!(
            creating.iter().all(|c| !c.contains("network")),
            "{creating:?}"
        );
        assert_eq!(
            creating.iter().filter(|c| c.starts_with("remove ")).count(),
            3
        );
        assert_eq!(
            e.container("nginx-keepalived-proxy").unwrap().spec.image,
            r.image
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_refused_before_anything_is_created() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let lab = lab_on(port);
        let e = healthy_engine(&lab);
        let err = up(e.as_ref(), &lab, &rendered(), &quick())
            .await
            .unwrap_err();
        assert!(matches!(err, LifecycleError::PortTaken { .. }), "{err}");
        assert!(err.to_string().contains(&format!("port {port}")));
        let calls = e.calls();
        assert!(calls.iter().all(|c| !c.starts_with("create_")), "{calls:?}");
        assert!(e.builds().is_empty(), "refused after building an image");
    }

    #[tokio::test]
    async fn an_overlapping_network_is_named_and_nothing_is_created() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        e.add_network(
            "someone-else",
            "10.231.5.0/24".parse().unwrap(),
            Labels::new(),
        );
        let err = up(e.as_ref(), &lab, &rendered(), &quick())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`someone-else` (10.231.5.0/24)"), "{msg}");
        assert!(e.calls().iter().all(|c| !c.starts_with("create_")));
        assert!(e.builds().is_empty(), "refused after building an image");
    }

    #[tokio::test]
    async fn a_failure_part_way_removes_what_was_created() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        e.fail("create_container nginx-keepalived-proxy", "no space left");
        let err = up(e.as_ref(), &lab, &rendered(), &quick())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no space left"), "{msg}");
        assert!(msg.contains("removed what this `up` had created"), "{msg}");
        assert!(e.container("nginx-keepalived-nginx_master").is_none());
        assert!(e.network_names().is_empty());
    }

    #[tokio::test]
    async fn a_lab_that_never_settles_is_diagnosed_from_keepalived_logs() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        e.set_exec(|_, _| ExecOutput {
            exit_code: 0,
            stdout: String::new(),
            stderr: String::new(),
        });
        let opts = UpOptions {
            timeout: Duration::from_millis(400),
            quiet: true,
        };
        // Logs exist only once the containers do: set them when they start.
        let e2 = e.clone();
        let master = lab.container_name("nginx_master");
        e.on_start(move |spec| {
            if spec.name == master {
                e2.set_logs(
                    &master,
                    &[
                        "nginx started",
                        "VRRP_Script(chk_nginx) failed (exited with status 1)",
                        "(VI_1) Entering FAULT STATE",
                    ],
                );
            }
        });
        let err = up(e.as_ref(), &lab, &rendered(), &opts).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("held by: no node"), "{msg}");
        assert!(msg.contains("(VI_1) Entering FAULT STATE"), "{msg}");
        assert!(msg.contains("VRRP_Script(chk_nginx) failed"), "{msg}");
        assert!(!msg.contains("nginx started"), "{msg}");
        assert!(msg.contains("`halab down` removes it"), "{msg}");
        // Left running for inspection.
        assert!(e.container("nginx-keepalived-nginx_master").is_some());
    }

    #[tokio::test]
    async fn down_selects_by_lab_label_only() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        // Someone else's container and network, same image, other label.
        e.add_network(
            "other-net",
            "10.99.0.0/24".parse().unwrap(),
            lab_selector("other"),
        );
        let mut other = container_specs(&lab, DEFAULT_BASE_IMAGE)[0].clone();
        other.name = "not-ours".into();
        other.network = "other-net".into();
        other.labels = lab_selector("other");
        e.create_container(&other).await.unwrap();

        let r = down(e.as_ref(), "nginx-keepalived", true).await.unwrap();
        assert_eq!(r.containers.len(), 3);
        assert_eq!(r.networks, vec!["nginx-keepalived-static-network"]);
        assert_eq!(r.images.len(), 1, "the lab image, not the base");
        assert!(e.container("not-ours").is_some());
        assert_eq!(e.network_names(), vec!["other-net"]);
        assert_eq!(e.image_tags(), vec![DEFAULT_BASE_IMAGE]);
        // Nothing left: still a success.
        assert!(down(e.as_ref(), "nginx-keepalived", true)
            .await
            .unwrap()
            .is_empty());
    }

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
        assert_eq!(m.vrrp.as_deref(), Some("MASTER"));
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

    #[tokio::test]
    async fn logs_prefix_each_line_with_the_member() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        e.set_logs("nginx-keepalived-nginx_slave", &["a", "b"]);
        e.set_logs("nginx-keepalived-proxy", &["c"]);
        let mut out = Vec::new();
        logs(e.as_ref(), &lab, None, false, None, &mut out)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "nginx_slave  | a\nnginx_slave  | b\nproxy        | c\n"
        );
        let err = logs(
            e.as_ref(),
            &lab,
            Some("nginx_slav"),
            false,
            None,
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("did you mean `nginx_slave`"),
            "{err}"
        );
    }

    #[test]
    fn vrrp_state_and_vip_are_parsed_from_real_output() {
        let lines: Vec<String> = [
            "Fri Jan  1 keepalived[1]: (VI_1) Entering BACKUP STATE (init)",
            "Fri Jan  1 keepalived[1]: (VI_1) Entering MASTER STATE",
            "Fri Jan  1 keepalived[1]: (VI_1) sent 5 gratuitous ARPs",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(last_vrrp_state(&lines).as_deref(), Some("MASTER"));
        assert_eq!(last_vrrp_state(&lines[..1]).as_deref(), Some("BACKUP"));
        let ip = "41: eth0    inet 172.20.128.2/16 brd 172.20.255.255 scope global eth0\\       valid_lft forever\n41: eth0    inet 172.20.128.4/24 scope global eth0\\       valid_lft forever\n";
        assert!(vip_in(ip, "172.20.128.4".parse().unwrap()));
        assert!(!vip_in(ip, "172.20.128.40".parse().unwrap()));
    }
}
