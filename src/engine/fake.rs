//! An in-memory engine for unit tests: it keeps containers, networks and
//! images in maps, records every call in order, and can be told to fail a
//! call or what a command inside a container prints.
//!
//! For the chaos runner it can also play a live lab: with
//! [`FakeEngine::hold_streams`], `exec_lines` and followed `logs` stay open
//! until their container stops, and the test writes into them
//! ([`FakeEngine::exec_line`], [`FakeEngine::log_line`]) as a node's `ip
//! monitor` or keepalived would; calls can be slowed ([`FakeEngine::delay`])
//! so that something happens while they run; exits are recorded on the run's
//! clock ([`FakeEngine::use_clock`]); a container can vanish.
//!
//! Always compiled (it is small) so that integration tests and other
//! modules' tests can use it too.
//!
//! Long because it is a whole engine in memory (containers, streams, exit
//! times, scripted failures); it is test support, not production code.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::StreamExt;
use ipnet::Ipv4Net;
use tokio::sync::mpsc;

use crate::timeline::Clock;

use super::{
    BuildOutput, ContainerInfo, ContainerSpec, ContainerState, Engine, EngineError, ExecOutput,
    Failure, ImageInfo, Labels, LineStream, NetworkInfo, RunState,
};

/// What `exec` answers: (container name, argv) → output.
pub type ExecHandler = Arc<dyn Fn(&str, &[&str]) -> ExecOutput + Send + Sync>;
/// Called when a container is started (e.g. to stand up a local HTTP server
/// where the real proxy would answer).
pub type StartHook = Arc<dyn Fn(&ContainerSpec) + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeContainer {
    pub id: String,
    pub spec: ContainerSpec,
    pub state: ContainerState,
    /// The CPU cap `update_cpu` set (`None`: none).
    pub millicpus: Option<u32>,
}

#[derive(Default)]
struct State {
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeMap<String, NetworkInfo>,
    images: BTreeMap<String, ImageInfo>,
    calls: Vec<String>,
    failing: Vec<(String, Failure)>,
    /// Each container's log: (when it was written, the line).
    logs: BTreeMap<String, Vec<(SystemTime, String)>>,
    builds: Vec<(String, Vec<u8>)>,
    next_id: u64,
    /// `hold_streams` was called.
    hold: bool,
    /// Open streams per container; dropping a sender ends its stream.
    live: BTreeMap<String, Vec<Live>>,
    /// (call prefix, how long such a call takes).
    delays: Vec<(String, Duration)>,
    /// When each container's last run ended, as Docker records it.
    finished: BTreeMap<String, SystemTime>,
    clock: Option<Clock>,
}

/// One open stream of a container.
struct Live {
    kind: StreamKind,
    /// A `logs_stamped` stream: lines carry their time in front.
    stamped: bool,
    tx: mpsc::UnboundedSender<Result<String, EngineError>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Exec,
    Logs,
}

#[derive(Default)]
pub struct FakeEngine {
    state: Mutex<State>,
    exec: Mutex<Option<ExecHandler>>,
    on_start: Mutex<Option<StartHook>>,
    on_remove: Mutex<Option<StartHook>>,
}

impl std::fmt::Debug for FakeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeEngine")
    }
}

fn matches(labels: &Labels, selector: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn not_found(what: &str) -> Failure {
    Failure::new(Some(404), format!("No such object: {what}"))
}

impl FakeEngine {
    pub fn new() -> FakeEngine {
        FakeEngine::default()
    }

    /// Every call so far, in order, as `"<operation> <object>"`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    /// Make every later call whose record starts with `prefix` fail.
    pub fn fail(&self, prefix: &str, message: &str) {
        self.state
            .lock()
            .unwrap()
            .failing
            .push((prefix.to_string(), Failure::new(Some(500), message)));
    }

    /// Like [`FakeEngine::fail`], with the HTTP status the engine answers.
    pub fn fail_status(&self, prefix: &str, status: u16, message: &str) {
        self.state
            .lock()
            .unwrap()
            .failing
            .push((prefix.to_string(), Failure::new(Some(status), message)));
    }

    pub fn set_exec(&self, handler: impl Fn(&str, &[&str]) -> ExecOutput + Send + Sync + 'static) {
        *self.exec.lock().unwrap() = Some(Arc::new(handler));
    }

    pub fn on_start(&self, hook: impl Fn(&ContainerSpec) + Send + Sync + 'static) {
        *self.on_start.lock().unwrap() = Some(Arc::new(hook));
    }

    /// Called when a container is removed (e.g. to free what `on_start` took).
    pub fn on_remove(&self, hook: impl Fn(&ContainerSpec) + Send + Sync + 'static) {
        *self.on_remove.lock().unwrap() = Some(Arc::new(hook));
    }

    /// From now on `exec_lines` and followed `logs` stay open until their
    /// container stops, is removed or vanishes, carrying what
    /// [`exec_line`](FakeEngine::exec_line) and [`log_line`](FakeEngine::log_line)
    /// write (as Docker's streams do). Without it they end after what is
    /// already there.
    pub fn hold_streams(&self) {
        self.state.lock().unwrap().hold = true;
    }

    /// A line on every open `exec_lines` stream of `container` (e.g. what
    /// `ip -o monitor address` prints when the VIP moves).
    pub fn exec_line(&self, container: &str, line: &str) {
        self.send_live(container, StreamKind::Exec, line);
    }

    /// A line in `container`'s log, also sent on its followed `logs` streams.
    /// Written now: on the run's clock with [`FakeEngine::use_clock`].
    pub fn log_line(&self, container: &str, line: &str) {
        let at = self.state.lock().unwrap().wall_now();
        self.log_line_at(container, line, at);
    }

    /// [`FakeEngine::log_line`] as written at `at` (which a stamped stream
    /// carries, however late it is read).
    pub fn log_line_at(&self, container: &str, line: &str, at: SystemTime) {
        self.state
            .lock()
            .unwrap()
            .logs
            .entry(container.to_string())
            .or_default()
            .push((at, line.to_string()));
        let stamped = stamp(at, line);
        let mut s = self.state.lock().unwrap();
        if let Some(streams) = s.live.get_mut(container) {
            // A stream whose reader is gone is forgotten.
            streams.retain(|l| {
                let line = if l.stamped { &stamped } else { line };
                l.kind != StreamKind::Logs || l.tx.send(Ok(line.to_string())).is_ok()
            });
        }
    }

    fn send_live(&self, container: &str, kind: StreamKind, line: &str) {
        let mut s = self.state.lock().unwrap();
        if let Some(streams) = s.live.get_mut(container) {
            // A stream whose reader is gone is forgotten.
            streams.retain(|l| l.kind != kind || l.tx.send(Ok(line.to_string())).is_ok());
        }
    }

    /// How many streams of `container` are open (and still read).
    pub fn open_streams(&self, container: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.live
            .get(container)
            .map_or(0, |v| v.iter().filter(|l| !l.tx.is_closed()).count())
    }

    /// Every later call whose record starts with `prefix` takes `time`
    /// (Tokio time) before it acts, as `docker stop` waits for its grace.
    pub fn delay(&self, prefix: &str, time: Duration) {
        self.state
            .lock()
            .unwrap()
            .delays
            .push((prefix.to_string(), time));
    }

    /// Record exits on `clock` (the run's), so that the engine's exit time
    /// and the run's events share one time line even on paused test time.
    pub fn use_clock(&self, clock: Clock) {
        self.state.lock().unwrap().clock = Some(clock);
    }

    /// The container disappears without a call (removed by someone else):
    /// its streams end and the engine no longer knows it.
    pub fn vanish(&self, name: &str) {
        let mut s = self.state.lock().unwrap();
        s.containers.remove(name);
        s.live.remove(name);
        s.finished.remove(name);
    }

    pub fn set_logs(&self, container: &str, lines: &[&str]) {
        let mut s = self.state.lock().unwrap();
        let at = s.wall_now();
        s.logs.insert(
            container.to_string(),
            lines.iter().map(|l| (at, l.to_string())).collect(),
        );
    }

    /// A network that exists before the test (not made by halab).
    pub fn add_network(&self, name: &str, subnet: Ipv4Net, labels: Labels) {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("net{}", s.next_id);
        s.networks.insert(
            name.to_string(),
            NetworkInfo {
                id,
                name: name.to_string(),
                subnets: vec![subnet],
                labels,
            },
        );
    }

    pub fn add_image(&self, tag: &str, labels: Labels) {
        self.insert_image(Some(tag), labels);
    }

    /// Keyed by its tag, or by its id when it has none; returns the id.
    fn insert_image(&self, tag: Option<&str>, labels: Labels) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("sha256:{:064}", s.next_id);
        // "<none>:<none>" is what API 1.41 lists for an untagged image.
        let tags = vec![tag.unwrap_or("<none>:<none>").to_string()];
        let key = tag.map_or(id.clone(), str::to_string);
        s.images.insert(
            key,
            ImageInfo {
                id: id.clone(),
                tags,
                labels,
            },
        );
        id
    }

    /// An image with no tag (as an interrupted build leaves); returns its id.
    pub fn add_untagged_image(&self, labels: Labels) -> String {
        self.insert_image(None, labels)
    }

    pub fn container(&self, name: &str) -> Option<FakeContainer> {
        self.state.lock().unwrap().containers.get(name).cloned()
    }

    pub fn set_state(&self, name: &str, state: ContainerState) {
        if let Some(c) = self.state.lock().unwrap().containers.get_mut(name) {
            c.state = state;
        }
    }

    pub fn network_names(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .networks
            .keys()
            .cloned()
            .collect()
    }

    pub fn image_tags(&self) -> Vec<String> {
        self.state.lock().unwrap().images.keys().cloned().collect()
    }

    /// (tag, context tar) of every `build_image` call.
    pub fn builds(&self) -> Vec<(String, Vec<u8>)> {
        self.state.lock().unwrap().builds.clone()
    }

    /// Record a call; `Err` when the test asked for it to fail.
    fn record(&self, call: String) -> Result<(), Failure> {
        let mut s = self.state.lock().unwrap();
        let failing = s
            .failing
            .iter()
            .find(|(p, _)| call.starts_with(p.as_str()))
            .map(|(_, f)| f.clone());
        s.calls.push(call);
        failing.map_or(Ok(()), Err)
    }

    /// Record a call, then take the time `delay` asked for it; `Err` when
    /// the test asked for it to fail (after that time, as a slow failure).
    async fn call(&self, call: String) -> Result<(), Failure> {
        let delay = {
            let s = self.state.lock().unwrap();
            s.delays
                .iter()
                .find(|(p, _)| call.starts_with(p.as_str()))
                .map(|(_, d)| *d)
        };
        let result = self.record(call);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        result
    }

    fn set(&self, name: &str, from: &[ContainerState], to: ContainerState) -> Result<(), Failure> {
        let mut s = self.state.lock().unwrap();
        let c = s.containers.get_mut(name).ok_or_else(|| not_found(name))?;
        if !from.is_empty() && !from.contains(&c.state) {
            return Err(Failure::new(
                Some(409),
                format!("container {name} is {}", c.state),
            ));
        }
        c.state = to;
        if to == ContainerState::Exited {
            // Its processes are gone: so are its exec and log streams.
            s.live.remove(name);
            let at = s.wall_now();
            s.finished.insert(name.to_string(), at);
        }
        Ok(())
    }

    /// `lines`, then (with `hold_streams`) whatever is written to
    /// `container`'s streams of `kind` until it stops.
    fn stream(&self, container: &str, kind: StreamKind, lines: Vec<String>) -> LineStream {
        self.open(container, kind, false, lines)
    }

    fn open(
        &self,
        container: &str,
        kind: StreamKind,
        stamped: bool,
        lines: Vec<String>,
    ) -> LineStream {
        let first = futures_util::stream::iter(lines.into_iter().map(Ok));
        let mut s = self.state.lock().unwrap();
        if !s.hold {
            return first.boxed();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        s.live
            .entry(container.to_string())
            .or_default()
            .push(Live { kind, stamped, tx });
        let rest = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|line| (line, rx))
        });
        first.chain(rest).boxed()
    }
}

impl State {
    /// The wall-clock now as Docker would record it: on the run's clock
    /// when one is in use (paused tests), so that mapping back is exact.
    fn wall_now(&self) -> SystemTime {
        self.clock
            .map_or_else(SystemTime::now, |c| c.wall_at(c.now()))
    }
}

/// A log line as `docker logs -t` prints it.
fn stamp(at: SystemTime, line: &str) -> String {
    format!("{} {line}", humantime::format_rfc3339_nanos(at))
}

#[async_trait]
impl Engine for FakeEngine {
    fn host(&self) -> String {
        "fake://".to_string()
    }

    async fn version(&self) -> Result<String, EngineError> {
        Ok("1.41".to_string())
    }

    async fn list_containers(&self, labels: &Labels) -> Result<Vec<ContainerInfo>, EngineError> {
        let s = self.state.lock().unwrap();
        Ok(s.containers
            .iter()
            .filter(|(_, c)| matches(&c.spec.labels, labels))
            .map(|(name, c)| ContainerInfo {
                id: c.id.clone(),
                name: name.clone(),
                state: c.state,
                labels: c.spec.labels.clone(),
                ip: (c.state == ContainerState::Running || c.state == ContainerState::Paused)
                    .then_some(c.spec.ip)
                    .flatten(),
            })
            .collect())
    }

    async fn list_networks(&self, labels: &Labels) -> Result<Vec<NetworkInfo>, EngineError> {
        let s = self.state.lock().unwrap();
        Ok(s.networks
            .values()
            .filter(|n| matches(&n.labels, labels))
            .cloned()
            .collect())
    }

    async fn create_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        labels: &Labels,
    ) -> Result<String, EngineError> {
        let err = |source| EngineError::CreateNetwork {
            network: name.to_string(),
            subnet,
            source,
        };
        self.record(format!("create_network {name}")).map_err(err)?;
        if self.state.lock().unwrap().networks.contains_key(name) {
            return Err(err(Failure::new(Some(409), "network exists")));
        }
        self.add_network(name, subnet, labels.clone());
        Ok(self.state.lock().unwrap().networks[name].id.clone())
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        let err = |source| EngineError::RemoveNetwork {
            network: name.to_string(),
            source,
        };
        self.record(format!("remove_network {name}")).map_err(err)?;
        let mut s = self.state.lock().unwrap();
        if s.containers.values().any(|c| c.spec.network == name) {
            return Err(err(Failure::new(Some(403), "network has active endpoints")));
        }
        s.networks
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| err(not_found(name)))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let err = |source| EngineError::CreateContainer {
            container: spec.name.clone(),
            image: spec.image.clone(),
            source,
        };
        self.record(format!("create_container {}", spec.name))
            .map_err(err)?;
        let mut s = self.state.lock().unwrap();
        if s.containers.contains_key(&spec.name) {
            return Err(err(Failure::new(Some(409), "name in use")));
        }
        if !s.networks.contains_key(&spec.network) {
            return Err(err(not_found(&spec.network)));
        }
        if !s.images.contains_key(&spec.image) {
            return Err(err(not_found(&spec.image)));
        }
        s.next_id += 1;
        let id = format!("c{}", s.next_id);
        s.containers.insert(
            spec.name.clone(),
            FakeContainer {
                id: id.clone(),
                spec: spec.clone(),
                state: ContainerState::Created,
                millicpus: None,
            },
        );
        Ok(id)
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        let err = |source| EngineError::Start {
            container: name.to_string(),
            source,
        };
        self.call(format!("start {name}")).await.map_err(err)?;
        use ContainerState::*;
        self.set(name, &[Created, Exited, Running], Running)
            .map_err(err)?;
        let hook = self.on_start.lock().unwrap().clone();
        if let (Some(hook), Some(c)) = (hook, self.container(name)) {
            hook(&c.spec);
        }
        Ok(())
    }

    async fn stop(&self, name: &str, _timeout: Duration) -> Result<(), EngineError> {
        let err = |source| EngineError::Stop {
            container: name.to_string(),
            source,
        };
        self.call(format!("stop {name}")).await.map_err(err)?;
        self.set(name, &[], ContainerState::Exited).map_err(err)
    }

    async fn kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let err = |source| EngineError::Kill {
            container: name.to_string(),
            signal: signal.to_string(),
            source,
        };
        self.call(format!("kill {name} {signal}"))
            .await
            .map_err(err)?;
        self.set(name, &[ContainerState::Running], ContainerState::Exited)
            .map_err(err)
    }

    async fn pause(&self, name: &str) -> Result<(), EngineError> {
        let err = |source| EngineError::Pause {
            container: name.to_string(),
            source,
        };
        self.call(format!("pause {name}")).await.map_err(err)?;
        self.set(name, &[ContainerState::Running], ContainerState::Paused)
            .map_err(err)
    }

    async fn unpause(&self, name: &str) -> Result<(), EngineError> {
        let err = |source| EngineError::Unpause {
            container: name.to_string(),
            source,
        };
        self.call(format!("unpause {name}")).await.map_err(err)?;
        self.set(name, &[ContainerState::Paused], ContainerState::Running)
            .map_err(err)
    }

    async fn update_cpu(&self, name: &str, millicpus: Option<u32>) -> Result<(), EngineError> {
        let err = |source| EngineError::UpdateCpu {
            container: name.to_string(),
            source,
        };
        let shown = millicpus.map_or("none".to_string(), |m| m.to_string());
        self.call(format!("update_cpu {name} {shown}"))
            .await
            .map_err(err)?;
        let mut s = self.state.lock().unwrap();
        match s.containers.get_mut(name) {
            Some(c) => {
                c.millicpus = millicpus;
                Ok(())
            }
            None => Err(err(not_found(name))),
        }
    }

    async fn remove(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let err = |source| EngineError::Remove {
            container: name.to_string(),
            source,
        };
        self.call(format!("remove {name}")).await.map_err(err)?;
        let mut s = self.state.lock().unwrap();
        let c = s.containers.get(name).ok_or_else(|| err(not_found(name)))?;
        if c.state == ContainerState::Running && !force {
            return Err(err(Failure::new(Some(409), "container is running")));
        }
        let gone = s.containers.remove(name);
        s.live.remove(name);
        drop(s);
        let hook = self.on_remove.lock().unwrap().clone();
        if let (Some(hook), Some(c)) = (hook, gone) {
            hook(&c.spec);
        }
        Ok(())
    }

    async fn exec(&self, name: &str, argv: &[&str]) -> Result<ExecOutput, EngineError> {
        let command = argv.join(" ");
        let err = |source| EngineError::Exec {
            container: name.to_string(),
            command: command.clone(),
            source,
        };
        self.call(format!("exec {name} {command}"))
            .await
            .map_err(err)?;
        match self.container(name).map(|c| c.state) {
            Some(ContainerState::Running) => {}
            Some(state) => {
                return Err(err(Failure::new(
                    Some(409),
                    format!("container {name} is {state}"),
                )))
            }
            None => return Err(err(not_found(name))),
        }
        let handler = self.exec.lock().unwrap().clone();
        Ok(match handler {
            Some(h) => h(name, argv),
            None => ExecOutput {
                exit_code: 0,
                stdout: String::new(),
                stderr: String::new(),
            },
        })
    }

    async fn exec_lines(&self, name: &str, argv: &[&str]) -> Result<LineStream, EngineError> {
        let out = self.exec(name, argv).await?;
        Ok(self.stream(
            name,
            StreamKind::Exec,
            out.stdout.lines().map(str::to_string).collect(),
        ))
    }

    fn read_logs(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
        stamped: bool,
    ) -> Result<LineStream, EngineError> {
        let err = |source| EngineError::Logs {
            container: name.to_string(),
            source,
        };
        self.record(format!("logs {name}")).map_err(err)?;
        if self.container(name).is_none() {
            return Err(err(not_found(name)));
        }
        let lines = self
            .state
            .lock()
            .unwrap()
            .logs
            .get(name)
            .cloned()
            .unwrap_or_default();
        let skip = tail.map_or(0, |t| lines.len().saturating_sub(t));
        let lines: Vec<String> = lines
            .into_iter()
            .skip(skip)
            .map(|(at, l)| if stamped { stamp(at, &l) } else { l })
            .collect();
        Ok(if follow {
            self.open(name, StreamKind::Logs, stamped, lines)
        } else {
            futures_util::stream::iter(lines.into_iter().map(Ok)).boxed()
        })
    }

    async fn image(&self, tag: &str) -> Result<Option<ImageInfo>, EngineError> {
        Ok(self.state.lock().unwrap().images.get(tag).cloned())
    }

    async fn list_images(&self, labels: &Labels) -> Result<Vec<ImageInfo>, EngineError> {
        let s = self.state.lock().unwrap();
        Ok(s.images
            .values()
            .filter(|i| matches(&i.labels, labels))
            .cloned()
            .collect())
    }

    async fn import_image(
        &self,
        tarball: &Path,
        tag: &str,
        labels: &Labels,
    ) -> Result<ImageInfo, EngineError> {
        self.record(format!("import_image {tag}"))
            .map_err(|source| EngineError::ImportImage {
                image: tag.to_string(),
                tarball: tarball.to_path_buf(),
                source,
            })?;
        self.add_image(tag, labels.clone());
        Ok(self.state.lock().unwrap().images[tag].clone())
    }

    async fn build_image(
        &self,
        context: Vec<u8>,
        tag: &str,
        labels: &Labels,
        _buildargs: &BTreeMap<String, String>,
        output: &BuildOutput<'_>,
    ) -> Result<ImageInfo, EngineError> {
        self.record(format!("build_image {tag}"))
            .map_err(|source| EngineError::BuildImage {
                image: tag.to_string(),
                source,
                output: vec!["Step 1/1 : FROM nowhere".into()],
            })?;
        output("Successfully built (fake)");
        self.state
            .lock()
            .unwrap()
            .builds
            .push((tag.to_string(), context));
        self.add_image(tag, labels.clone());
        Ok(self.state.lock().unwrap().images[tag].clone())
    }

    async fn remove_image(&self, tag: &str, _force: bool) -> Result<(), EngineError> {
        let err = |source| EngineError::RemoveImage {
            image: tag.to_string(),
            source,
        };
        self.record(format!("remove_image {tag}")).map_err(err)?;
        let mut s = self.state.lock().unwrap();
        let key = s
            .images
            .iter()
            .find(|(t, i)| t.as_str() == tag || i.id == tag)
            .map(|(t, _)| t.clone())
            .ok_or_else(|| err(not_found(tag)))?;
        s.images.remove(&key);
        Ok(())
    }

    async fn pull_image(&self, name: &str) -> Result<(), EngineError> {
        self.record(format!("pull_image {name}"))
            .map_err(|source| EngineError::PullImage {
                image: name.to_string(),
                source,
            })?;
        // Like this machine: no registry answers.
        Err(EngineError::PullImage {
            image: name.to_string(),
            source: Failure::new(Some(500), "no registry is reachable (fake engine)"),
        })
    }
    async fn run_state(&self, name: &str) -> Result<Option<RunState>, EngineError> {
        let s = self.state.lock().unwrap();
        Ok(s.containers.get(name).map(|c| RunState {
            state: c.state,
            // Like Docker: the last exit, and none while it runs.
            finished_at: match c.state {
                ContainerState::Running | ContainerState::Paused => None,
                _ => s.finished.get(name).copied(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: "img".into(),
            env: BTreeMap::new(),
            labels: super::super::lab_selector("lab"),
            network: "net".into(),
            ip: None,
            cap_add: vec![],
            publish: None,
        }
    }

    #[tokio::test]
    async fn keeps_state_and_records_calls_in_order() {
        let e = FakeEngine::new();
        e.add_image("img", Labels::new());
        e.create_network("net", "10.0.0.0/24".parse().unwrap(), &Labels::new())
            .await
            .unwrap();
        e.create_container(&spec("a")).await.unwrap();
        e.start("a").await.unwrap();
        e.pause("a").await.unwrap();
        assert!(e.exec("a", &["true"]).await.is_err(), "paused: no exec");
        e.unpause("a").await.unwrap();
        assert!(e.remove("a", false).await.is_err(), "running: needs force");
        e.remove("a", true).await.unwrap();
        assert!(e.remove("a", true).await.unwrap_err().is_not_found());
        assert_eq!(
            e.calls(),
            vec![
                "create_network net",
                "create_container a",
                "start a",
                "pause a",
                "exec a true",
                "unpause a",
                "remove a",
                "remove a",
                "remove a"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn held_streams_carry_written_lines_until_the_container_stops() {
        let e = FakeEngine::new();
        e.hold_streams();
        let clock = Clock::start();
        e.use_clock(clock);
        e.add_image("img", Labels::new());
        e.add_network("net", "10.0.0.0/24".parse().unwrap(), Labels::new());
        e.create_container(&spec("a")).await.unwrap();
        e.start("a").await.unwrap();
        e.log_line("a", "before");
        let mut monitor = e.exec_lines("a", &["ip", "monitor"]).await.unwrap();
        let mut log = e.logs("a", Some(0), true).await.unwrap();
        assert_eq!(e.open_streams("a"), 2);
        e.exec_line("a", "inet 10.0.0.9/24");
        e.log_line("a", "Entering MASTER STATE");
        assert_eq!(monitor.next().await.unwrap().unwrap(), "inet 10.0.0.9/24");
        assert_eq!(log.next().await.unwrap().unwrap(), "Entering MASTER STATE");
        // Nothing more: the streams stay open (a timeout, not an end).
        let idle = tokio::time::timeout(Duration::from_secs(1), monitor.next()).await;
        assert!(idle.is_err(), "{idle:?}");
        assert_eq!(e.run_state("a").await.unwrap().unwrap().finished_at, None);
        // Stopping ends both, and the exit is recorded on the run's clock.
        e.delay("stop a", Duration::from_millis(300));
        e.stop("a", Duration::ZERO).await.unwrap();
        assert!(monitor.next().await.is_none() && log.next().await.is_none());
        let exit = e
            .run_state("a")
            .await
            .unwrap()
            .unwrap()
            .finished_at
            .unwrap();
        assert_eq!(clock.from_wall(exit), 1_300_000, "1 s idle + 300 ms stop");
        e.vanish("a");
        assert_eq!(e.run_state("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn streams_end_at_once_unless_held() {
        let e = FakeEngine::new();
        e.add_image("img", Labels::new());
        e.add_network("net", "10.0.0.0/24".parse().unwrap(), Labels::new());
        e.create_container(&spec("a")).await.unwrap();
        e.start("a").await.unwrap();
        e.set_logs("a", &["one"]);
        let lines: Vec<_> = e.logs("a", None, true).await.unwrap().collect().await;
        assert_eq!(lines.len(), 1);
        assert_eq!(e.open_streams("a"), 0);
    }

    #[tokio::test]
    async fn injected_failures_carry_the_action() {
        let e = FakeEngine::new();
        e.fail("create_network", "address pool overlaps");
        let err = e
            .create_network("net", "10.0.0.0/24".parse().unwrap(), &Labels::new())
            .await
            .unwrap_err();
        assert_eq!(
            crate::ui::error_text(&err),
            "cannot create network `net` (10.0.0.0/24)\n  caused by: address pool overlaps"
        );
    }
}
