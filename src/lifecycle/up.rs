//! `up`: refuse what cannot work, make the images (and a missing network
//! beside them), compare the lab with the engine ([`UpPlan`]), carry the
//! plan out concurrently where order does not matter, take back what this
//! `up` made when a step fails, then wait for the steady state.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use super::plan::{network_conflicts, port_free, port_held_by_lab, UpPlan};
use super::spec::{container_specs, lab_hash, network_labels};
use super::{ready, LifecycleError};
use crate::engine::{lab_containers, ContainerSpec, Engine, EngineError, Labels};
use crate::image::{self, LabImage};
use crate::lab::{Lab, Shape};
use crate::observe::{self, ProxyAnswer};
use crate::render::Rendered;
use crate::ui::{Progress, Step};

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Deadline for the steady state (master holds the VIP, the proxy
    /// answers with the master's page).
    pub timeout: Duration,
    /// Wait for the steady state at all (`--no-wait`: return once started).
    pub wait: bool,
    /// No progress lines.
    pub quiet: bool,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            timeout: Duration::from_secs(30),
            wait: true,
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
    /// `halab.hash` is its own definition's
    /// ([`container_hash`](super::container_hash)).
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

/// A step of `up` that failed: its title and why.
type Failed = (String, LifecycleError);

/// Bring `lab` up from `rendered`: images, network, nodes, proxy, start,
/// then wait until the master holds the VIP and the proxy serves its page.
///
/// Idempotent: a container whose definition
/// ([`container_hash`](super::container_hash)) is unchanged is kept
/// (started if it was stopped), a changed one is recreated, one no longer
/// in the lab is removed. A lab that is up as defined is left alone
/// (`already_up`).
pub async fn up(
    engine: &dyn Engine,
    lab: &Lab,
    rendered: &Rendered,
    opts: &UpOptions,
) -> Result<UpReport, LifecycleError> {
    let started = Instant::now();
    let progress = Progress::new(opts.quiet);
    let network = lab.network_name();

    // Refuse what cannot work before any image is built: a foreign network
    // by our name, another network on our subnet, a taken port (unless it
    // is this lab's own proxy holding it).
    let nets = engine.list_networks(&Labels::new()).await?;
    let had_net = network_conflicts(lab, &nets)?;
    let present = lab_containers(engine, lab.name()).await?;
    // Only a front proxy publishes a port (clients of an LB pair use the VIP).
    if lab.has_front_proxy() && !port_held_by_lab(&present, lab.spec().proxy.port) {
        port_free(lab, Duration::ZERO).await?;
    }

    // A lab without its network (a first `up`) gets it while the images
    // are looked at or built: neither needs the other.
    let mut made = Made::default();
    let new_net = !nets.iter().any(|n| n.name == network);
    let (img, net) = tokio::join!(images(engine, lab, rendered, &progress), async {
        match new_net {
            true => create_network(engine, lab, &progress).await.map(Some),
            false => Ok(None),
        }
    });
    made.network = matches!(net, Ok(Some(())));
    let img = match (img, net) {
        (Ok(img), Ok(_)) => img,
        (_, Err(failed)) => return Err(undo_after(engine, &network, &made, failed).await),
        (Err(e), Ok(_)) => {
            let undone = made.undo(engine, &network).await;
            return Err(match undone {
                // Nothing is left behind: the image's error says it all.
                Undone::All | Undone::Nothing => e,
                Undone::Left(_) => {
                    part_failed(("images".into(), e), made.describe(&undone, &network))
                }
            });
        }
    };

    // Looked at again when an image was built (the engine may have moved
    // meanwhile; a cached image took milliseconds), then compared container
    // by container.
    let specs = container_specs(lab, &img.tag);
    let looked = async {
        if !img.built {
            return Ok((present, nets, had_net || made.network));
        }
        let existing = lab_containers(engine, lab.name()).await?;
        let nets = engine.list_networks(&Labels::new()).await?;
        let keep_net = network_conflicts(lab, &nets)?;
        Ok::<_, LifecycleError>((existing, nets, keep_net))
    };
    let (existing, nets, keep_net) = match looked.await {
        Ok(l) => l,
        Err(e) => return Err(undo_after(engine, &network, &made, ("look again".into(), e)).await),
    };
    // Containers stay only on a network that was there before this `up`.
    let mut plan = UpPlan::of(&specs, &existing, had_net && keep_net);
    plan.network &= !(made.network && keep_net);
    let mut report = UpReport {
        lab: lab.name().to_string(),
        already_up: plan.unchanged(),
        image: img.tag.clone(),
        image_built: img.built,
        hash: lab_hash(lab, &img.hash),
        network: network.clone(),
        created: vec![],
        replaced: plan.replace.clone(),
        removed: plan.remove.clone(),
        started: plan.start.iter().chain(&plan.unpause).cloned().collect(),
        kept: plan.keep.clone(),
        elapsed: Duration::ZERO,
        steady_after: None,
        url: observe::url(lab),
        answer: ProxyAnswer::default(),
    };
    if report.already_up {
        report.answer = observe::fetch(lab, Duration::from_secs(2)).await;
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    let old_net = plan.network && nets.iter().any(|n| n.name == network);
    if let Err(failed) = carry_out(engine, lab, &specs, &plan, old_net, &progress, &mut made).await
    {
        return Err(undo_after(engine, &network, &made, failed).await);
    }
    report.created = made.containers;
    let containers_started = Instant::now();

    if !opts.wait {
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let step = progress.step(match lab.shape() {
        Shape::ProxyInFront => format!(
            "steady state: {} holds {}, {} serves its page",
            lab.master().name,
            lab.vip_addr(),
            report.url
        ),
        Shape::LbPair => format!(
            "steady state: {} holds {} and answers {}, every web server in its pool",
            lab.master().name,
            lab.vip_addr(),
            report.url
        ),
    });
    match ready::wait_steady(engine, lab, opts.timeout).await {
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

/// The base image, then the lab's image on it.
async fn images(
    engine: &dyn Engine,
    lab: &Lab,
    rendered: &Rendered,
    progress: &Progress,
) -> Result<LabImage, LifecycleError> {
    let spec = lab.spec();
    let step = progress.step(format!("base image {}", spec.image.base));
    let base = image::ensure_base(engine, &spec.image.base, false, &step.detail()).await;
    let base = finish(step, base, |_| String::new())?;
    let step = progress.step("lab image");
    let img = image::ensure_lab_image(engine, lab, rendered, &base, &step.detail()).await;
    finish(step, img, |i| {
        format!("{} ({})", i.tag, if i.built { "built" } else { "cached" })
    })
}

/// Ends `step` as `result` says, with `note` of a success.
fn finish<T, E: Into<LifecycleError>>(
    step: Step,
    result: Result<T, E>,
    note: impl FnOnce(&T) -> String,
) -> Result<T, LifecycleError> {
    match result {
        Ok(v) => {
            step.done(&note(&v));
            Ok(v)
        }
        Err(e) => {
            step.fail();
            Err(e.into())
        }
    }
}

async fn create_network(engine: &dyn Engine, lab: &Lab, progress: &Progress) -> Result<(), Failed> {
    let (network, subnet) = (lab.network_name(), lab.spec().network.subnet);
    let title = format!("network {network} ({subnet})");
    let step = progress.step(title.clone());
    let made = engine
        .create_network(&network, subnet, &network_labels(lab))
        .await;
    finish(step, made, |_| String::new()).map_err(|e| (title, e))?;
    Ok(())
}

/// Carry out `plan` once the images are there: what goes goes first, then
/// the network, then every member made and started.
async fn carry_out(
    engine: &dyn Engine,
    lab: &Lab,
    specs: &[ContainerSpec],
    plan: &UpPlan,
    old_net: bool,
    progress: &Progress,
    made: &mut Made,
) -> Result<(), Failed> {
    // The old proxy lets go of the port, and the network can only be
    // removed once no container is on it.
    let old: Vec<&String> = plan.replace.iter().chain(&plan.remove).collect();
    if !old.is_empty() {
        let title = "remove changed containers";
        let step = progress.step(title);
        let removed = join_all(old.iter().map(|c| remove_quietly(engine, c))).await;
        let removed: Result<Vec<()>, EngineError> = removed.into_iter().collect();
        let names: Vec<&str> = old.iter().map(|s| s.as_str()).collect();
        finish(step, removed, |_| names.join(", ")).map_err(|e| (title.to_string(), e))?;
    }
    let network = lab.network_name();
    if old_net {
        engine
            .remove_network(&network)
            .await
            .map_err(|e| (format!("remove network {network}"), e.into()))?;
    }
    if plan.network {
        create_network(engine, lab, progress).await?;
        made.network = true;
    }

    let proxy = lab.container_name(&lab.spec().proxy.name);
    if plan.makes(&proxy) {
        // The old proxy's release of the port may lag its removal a little.
        let grace = match plan.replace.contains(&proxy) {
            true => Duration::from_secs(2),
            false => Duration::ZERO,
        };
        port_free(lab, grace)
            .await
            .map_err(|e| (format!("container {proxy}"), e))?;
    }

    // Every member is made and started at the same time as the others, as
    // docker-compose does. Starting the proxy after the nodes bought
    // nothing: the VIP appears only once keepalived has elected a master,
    // whenever the containers started.
    let done = join_all(specs.iter().map(|s| bring_up(engine, s, plan, progress))).await;
    let mut first_failure = None;
    for (s, (created, result)) in specs.iter().zip(done) {
        if created {
            made.containers.push(s.name.clone());
        }
        if let Err(f) = result {
            first_failure.get_or_insert(f);
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// Make `s` when the plan says so, then start (or unpause) it. (Whether it
/// was created, and whether all went well.)
async fn bring_up(
    engine: &dyn Engine,
    s: &ContainerSpec,
    plan: &UpPlan,
    progress: &Progress,
) -> (bool, Result<(), Failed>) {
    let creates = plan.makes(&s.name);
    let unpause = plan.unpause.contains(&s.name);
    if !creates && !unpause && !plan.start.contains(&s.name) {
        return (false, Ok(()));
    }
    let title = match s.ip {
        Some(ip) => format!("container {} ({ip})", s.name),
        None => format!("container {}", s.name),
    };
    let step = progress.step(title.clone());
    if creates {
        if let Err(e) = engine.create_container(s).await {
            step.fail();
            return (false, Err((title, e.into())));
        }
    }
    let (verb, result) = match unpause {
        true => ("unpaused", engine.unpause(&s.name).await),
        false => ("started", engine.start(&s.name).await),
    };
    let note = match creates {
        true => format!("created, {verb}"),
        false => verb.to_string(),
    };
    let result = finish(step, result, |_| note).map_err(|e| (format!("start {}", s.name), e));
    (creates, result)
}

pub(super) async fn remove_quietly(engine: &dyn Engine, name: &str) -> Result<(), EngineError> {
    match engine.remove(name, true).await {
        // A label selector also finds the engine's own short-lived build
        // containers (they inherit the lab image's labels), which the
        // builder removes itself: wait for that rather than fail on it.
        Err(e) if e.is_being_removed() => {
            const POLL: Duration = Duration::from_millis(100);
            for _ in 0..REMOVAL_WAIT.as_millis() / POLL.as_millis() {
                tokio::time::sleep(POLL).await;
                if engine.run_state(name).await?.is_none() {
                    return Ok(());
                }
            }
            Err(e)
        }
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// How long a removal someone else started may take before `down` gives up.
const REMOVAL_WAIT: Duration = Duration::from_secs(10);

/// What one `up` created, so that a failure part-way can take it back.
#[derive(Debug, Default)]
struct Made {
    network: bool,
    containers: Vec<String>,
}

/// What taking back left.
enum Undone {
    Nothing,
    All,
    Left(Vec<String>),
}

impl Made {
    /// Remove what this `up` made: the containers (all at once), then the
    /// network.
    async fn undo(&self, engine: &dyn Engine, network: &str) -> Undone {
        if !self.network && self.containers.is_empty() {
            return Undone::Nothing;
        }
        let removed = join_all(self.containers.iter().map(|c| remove_quietly(engine, c))).await;
        let mut left: Vec<String> = self
            .containers
            .iter()
            .zip(removed)
            .filter(|(_, r)| r.is_err())
            .map(|(c, _)| c.clone())
            .collect();
        if self.network {
            match engine.remove_network(network).await {
                Err(e) if !e.is_not_found() => left.push(network.to_string()),
                _ => {}
            }
        }
        match left.is_empty() {
            true => Undone::All,
            false => Undone::Left(left),
        }
    }

    fn describe(&self, undone: &Undone, network: &str) -> String {
        let mut made: Vec<&str> = self.containers.iter().map(String::as_str).collect();
        if self.network {
            made.push(network);
        }
        match undone {
            Undone::Nothing => "nothing had been created".to_string(),
            Undone::All => format!("removed what this `up` had created: {}", made.join(", ")),
            Undone::Left(left) => format!(
                "could not remove {} (labelled: `halab down` removes them)",
                left.join(", ")
            ),
        }
    }
}

/// Take back what `made` holds after `failed`, and say so in the error.
async fn undo_after(
    engine: &dyn Engine,
    network: &str,
    made: &Made,
    failed: Failed,
) -> LifecycleError {
    let undone = made.undo(engine, network).await;
    part_failed(failed, made.describe(&undone, network))
}

fn part_failed((step, source): Failed, cleanup: impl Into<String>) -> LifecycleError {
    LifecycleError::PartFailed {
        step,
        source: Box::new(source),
        cleanup: cleanup.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::{
        ContainerState, ExecOutput, PublishedPort, LABEL_HASH, LABEL_LAB, LABEL_NODE,
    };
    use crate::lifecycle::spec::{container_hash, LABEL_PORT};
    use crate::lifecycle::testkit::*;

    #[tokio::test]
    async fn up_builds_then_creates_network_nodes_proxy_then_starts() {
        let port = free_port();
        let lab = lab_on(port);
        let e = healthy_engine(&lab);
        let r = up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        assert!(!r.already_up);
        assert_eq!(r.answer.node.as_deref(), Some("nginx_master"));
        let tag = r.image.clone();
        // The fake engine answers at once, so the concurrent steps come out
        // in the order they were begun: each member made, then started.
        assert_eq!(
            creating(&e.calls()),
            vec![
                format!("build_image {tag}").as_str(),
                "create_network nginx-keepalived-static-network",
                "create_container nginx-keepalived-nginx_master",
                "start nginx-keepalived-nginx_master",
                "create_container nginx-keepalived-nginx_slave",
                "start nginx-keepalived-nginx_slave",
                "create_container nginx-keepalived-proxy",
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

    /// A step of an image build under way for the lab (another `up`'s)
    /// carries the lab's label: it is no member, so `up` neither takes it
    /// for a node removed from the file nor counts the lab as present.
    #[tokio::test]
    async fn the_image_builder_s_steps_are_no_members() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        e.add_network("bridge", "10.99.0.0/24".parse().unwrap(), Labels::new());
        // Steps of the base (a lab image's first) and of the lab image.
        for (name, role) in [("zen_gould", "base"), ("recursing_gould", "image")] {
            let mut step = container_specs(&lab, crate::lab::DEFAULT_BASE_IMAGE)[0].clone();
            step.name = name.into();
            step.network = "bridge".into();
            step.labels
                .insert(crate::engine::LABEL_ROLE.into(), role.into());
            e.create_container(&step).await.unwrap();
        }
        assert!(lab_containers(e.as_ref(), lab.name())
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            crate::lifecycle::status(e.as_ref(), &lab)
                .await
                .unwrap_err(),
            LifecycleError::NotUp { .. }
        ));
        let r = up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        assert!(r.removed.is_empty(), "{:?}", r.removed);
        assert!(e.container("zen_gould").is_some() && e.container("recursing_gould").is_some());
        assert!(!e
            .calls()
            .iter()
            .any(|c| c.starts_with("remove ") && c.ends_with("_gould")));
        // The lab's members are what it lists now.
        assert_eq!(
            lab_containers(e.as_ref(), lab.name()).await.unwrap().len(),
            3
        );
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
        let msg = crate::ui::error_text(&err);
        assert!(msg.contains("no space left"), "{msg}");
        assert!(msg.contains("removed what this `up` had created"), "{msg}");
        assert!(e.container("nginx-keepalived-nginx_master").is_none());
        assert!(e.network_names().is_empty());
    }

    #[tokio::test]
    async fn a_failed_start_takes_back_every_container_made_beside_it() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        e.fail(
            "start nginx-keepalived-nginx_slave",
            "OCI runtime create failed",
        );
        let err = up(e.as_ref(), &lab, &rendered(), &quick())
            .await
            .unwrap_err();
        assert_eq!(
            crate::ui::error_text(&err),
            "start nginx-keepalived-nginx_slave failed\n  caused by: cannot start container `nginx-keepalived-nginx_slave`\n  caused by: OCI runtime create failed\n  removed what this `up` had created: nginx-keepalived-nginx_master, nginx-keepalived-nginx_slave, nginx-keepalived-proxy, nginx-keepalived-static-network"
        );
        for m in members() {
            assert!(e.container(&m).is_none(), "{m} left behind");
        }
        assert!(e.network_names().is_empty());
    }

    #[tokio::test]
    async fn a_failure_removes_only_what_this_up_made_not_what_it_kept() {
        let (old_port, new_port) = (free_port(), free_port());
        let e = healthy_engine(&lab_on(old_port));
        up(e.as_ref(), &lab_on(old_port), &rendered(), &quick())
            .await
            .unwrap();
        // A new port replaces the proxy only; its start fails.
        e.fail("start nginx-keepalived-proxy", "port is already allocated");
        let err = up(e.as_ref(), &lab_on(new_port), &rendered(), &quick())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.ends_with("removed what this `up` had created: nginx-keepalived-proxy"),
            "{msg}"
        );
        assert!(e.container("nginx-keepalived-proxy").is_none());
        for kept in &members()[..2] {
            assert_eq!(e.container(kept).unwrap().state, ContainerState::Running);
        }
        assert_eq!(e.network_names(), vec!["nginx-keepalived-static-network"]);
    }

    #[tokio::test]
    async fn a_failed_image_build_leaves_no_network_behind() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        e.fail("build_image", "no space left on device");
        let err = up(e.as_ref(), &lab, &rendered(), &quick())
            .await
            .unwrap_err();
        // The network was made beside the image: taken back, and the
        // image's error is the whole story.
        assert!(matches!(err, LifecycleError::Image(_)), "{err:?}");
        assert!(e
            .calls()
            .contains(&"create_network nginx-keepalived-static-network".to_string()));
        assert!(e.network_names().is_empty());
        assert!(e.container("nginx-keepalived-nginx_master").is_none());
    }

    #[tokio::test]
    async fn a_lab_that_never_settles_is_diagnosed_from_keepalived_logs() {
        let port = free_port();
        let lab = lab_on(port);
        let e = healthy_engine(&lab);
        e.set_exec(|_, _| ExecOutput {
            exit_code: 0,
            stdout: String::new(),
            stderr: String::new(),
        });
        let opts = UpOptions {
            timeout: Duration::from_millis(400),
            quiet: true,
            ..UpOptions::default()
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
        // Whole: the failed conditions, keepalived's telling lines (not
        // the noise) and what to do next.
        let msg = err.to_string().replace(&format!(":{port}/"), ":[PORT]/");
        insta::assert_snapshot!(msg);
        // Left running for inspection.
        assert!(e.container("nginx-keepalived-nginx_master").is_some());
    }
}
