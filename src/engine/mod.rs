//! Everything halab asks of a container engine, as halab's own small set of
//! operations. `docker` implements it with bollard; `fake` keeps state in
//! memory so that lifecycle and chaos logic are unit-tested without Docker.
//!
//! No bollard type crosses this boundary: callers see only the types below.

pub mod docker;
pub mod fake;

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub use docker::DockerEngine;
pub use fake::FakeEngine;

/// Label keys carried by every object halab creates. Clean-up selects by
/// [`LABEL_LAB`] alone.
pub const LABEL_LAB: &str = "halab.lab";
pub const LABEL_ROLE: &str = "halab.role";
pub const LABEL_NODE: &str = "halab.node";
pub const LABEL_LAB_FILE: &str = "halab.lab-file";
pub const LABEL_HASH: &str = "halab.hash";

/// `halab.role` of halab's own images: the base, and each lab's image.
pub const ROLE_BASE: &str = "base";
pub const ROLE_IMAGE: &str = "image";

pub type Labels = BTreeMap<String, String>;

/// `{halab.lab: <lab>}`: the only selector clean-up uses.
pub fn lab_selector(lab: &str) -> Labels {
    Labels::from([(LABEL_LAB.to_string(), lab.to_string())])
}

/// The lab's containers, without the image builder's steps (they carry
/// the lab image's labels, but they are the builder's: see
/// [`ContainerInfo::is_build_step`]).
pub async fn lab_containers(
    engine: &dyn Engine,
    lab: &str,
) -> Result<Vec<ContainerInfo>, EngineError> {
    let mut all = engine.list_containers(&lab_selector(lab)).await?;
    all.retain(|c| !c.is_build_step());
    Ok(all)
}

/// Lines of a running command or of a container's log. Dropping the stream
/// stops reading (and, for `exec_lines`, stops the command).
pub type LineStream = BoxStream<'static, Result<String, EngineError>>;

/// Receives each line of build output. (An alias: `async_trait` would
/// otherwise name the elided `&str` lifetime and break the higher-ranked bound.)
pub type BuildOutput<'a> = dyn Fn(&str) + Send + Sync + 'a;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
    Dead,
    Unknown,
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Exited => "exited",
            ContainerState::Removing => "removing",
            ContainerState::Dead => "dead",
            ContainerState::Unknown => "unknown",
        };
        f.write_str(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub state: ContainerState,
    pub labels: Labels,
    /// First IPv4 address on any network (halab containers have one).
    pub ip: Option<Ipv4Addr>,
}

impl ContainerInfo {
    /// One of the short-lived containers the engine's image builder makes
    /// while it builds a lab image: they carry the images' labels (the
    /// lab's name among them, a role of an image), and the builder removes
    /// them itself.
    pub fn is_build_step(&self) -> bool {
        self.labels
            .get(LABEL_ROLE)
            .is_some_and(|r| r == ROLE_BASE || r == ROLE_IMAGE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    /// IPv4 subnets of its IPAM configuration.
    pub subnets: Vec<Ipv4Net>,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    pub labels: Labels,
}

/// A container port published on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

/// What `create_container` makes: one container on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: BTreeMap<String, String>,
    pub labels: Labels,
    pub network: String,
    /// Static address on `network`; the engine picks one when `None`.
    pub ip: Option<Ipv4Addr>,
    pub cap_add: Vec<String>,
    pub publish: Option<PublishedPort>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// What the engine said when an operation failed: its HTTP status, when
/// there was one, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<u16>,
    pub message: String,
}

impl Failure {
    pub fn new(status: Option<u16>, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An engine may answer an error with an empty body: say what it did.
        match (self.message.trim_end(), self.status) {
            ("", Some(status)) => write!(f, "HTTP {status} with no message"),
            ("", None) => f.write_str("no reason given"),
            (message, _) => f.write_str(message),
        }
    }
}

impl std::error::Error for Failure {}

/// One variant per action: each says what was being done, on what.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at `{host}`\n  fix: start dockerd (e.g. `service docker start`), or point DOCKER_HOST at a running engine")]
    Unreachable { host: String, source: Failure },
    #[error("DOCKER_HOST=`{host}` names no engine halab can speak to\n  fix: set DOCKER_HOST to `unix:///var/run/docker.sock` or `tcp://HOST:PORT`")]
    BadHost { host: String, source: Failure },
    #[error("{var}=`{value}` is not a deadline\n  fix: write it like `15s` or `2m`")]
    BadTimeout {
        var: &'static str,
        value: String,
        source: Failure,
    },
    #[error("the Docker engine at `{host}` did not answer in time\n  fix: check the engine (`docker info`), or allow it longer with HALAB_ENGINE_TIMEOUT=60s")]
    NoAnswer { host: String, source: Failure },
    #[error("`{host}` did not answer like a Docker engine\n  fix: point DOCKER_HOST at a Docker engine's socket or port")]
    NotDocker { host: String, source: Failure },
    #[error("cannot agree on an API version with the Docker engine at `{host}`\n  fix: point DOCKER_HOST at a Docker engine, version 20.10 or newer")]
    Version { host: String, source: Failure },
    /// `source` says which version the engine speaks and which halab needs.
    #[error("the Docker engine at `{host}` is too old\n  fix: upgrade the engine to Docker 20.10 or newer, or point DOCKER_HOST at a newer one")]
    TooOld {
        host: String,
        /// The newest API version the engine speaks.
        version: String,
        source: Failure,
    },
    #[error("cannot list containers")]
    ListContainers { source: Failure },
    #[error("cannot list networks")]
    ListNetworks { source: Failure },
    #[error("cannot list images")]
    ListImages { source: Failure },
    #[error("cannot create network `{network}` ({subnet})")]
    CreateNetwork {
        network: String,
        subnet: Ipv4Net,
        source: Failure,
    },
    #[error("cannot remove network `{network}`")]
    RemoveNetwork { network: String, source: Failure },
    #[error("cannot create container `{container}` from image `{image}`")]
    CreateContainer {
        container: String,
        image: String,
        source: Failure,
    },
    #[error("cannot start container `{container}`")]
    Start { container: String, source: Failure },
    #[error("cannot stop container `{container}`")]
    Stop { container: String, source: Failure },
    #[error("cannot send {signal} to container `{container}`")]
    Kill {
        container: String,
        signal: String,
        source: Failure,
    },
    #[error("cannot pause container `{container}`")]
    Pause { container: String, source: Failure },
    #[error("cannot unpause container `{container}`")]
    Unpause { container: String, source: Failure },
    #[error("cannot change the CPU quota of container `{container}`")]
    UpdateCpu { container: String, source: Failure },
    #[error("cannot remove container `{container}`")]
    Remove { container: String, source: Failure },
    #[error("cannot run `{command}` in container `{container}`")]
    Exec {
        container: String,
        command: String,
        source: Failure,
    },
    #[error("cannot inspect container `{container}`")]
    Inspect { container: String, source: Failure },
    #[error("cannot read the logs of container `{container}`")]
    Logs { container: String, source: Failure },
    #[error("cannot inspect image `{image}`")]
    InspectImage { image: String, source: Failure },
    #[error("cannot import `{}` as image `{image}`", tarball.display())]
    ImportImage {
        image: String,
        tarball: PathBuf,
        source: Failure,
    },
    #[error("{}", build_message(.image, .output))]
    BuildImage {
        image: String,
        source: Failure,
        /// The last lines the engine printed before it failed.
        output: Vec<String>,
    },
    #[error("cannot remove image `{image}`")]
    RemoveImage { image: String, source: Failure },
    #[error("cannot pull image `{image}`")]
    PullImage { image: String, source: Failure },
}

/// The engine's reason is chained (`source`), not repeated here.
fn build_message(image: &str, output: &[String]) -> String {
    let mut m = format!("cannot build image `{image}`");
    if !output.is_empty() {
        m.push_str("\n  the engine's last build output:");
        for l in output {
            m.push_str("\n    ");
            m.push_str(l);
        }
    }
    m
}

impl EngineError {
    /// The engine's failure behind this error.
    pub fn failure(&self) -> &Failure {
        use EngineError::*;
        match self {
            Unreachable { source, .. }
            | BadHost { source, .. }
            | BadTimeout { source, .. }
            | NoAnswer { source, .. }
            | NotDocker { source, .. }
            | Version { source, .. }
            | TooOld { source, .. }
            | ListContainers { source }
            | ListNetworks { source }
            | ListImages { source }
            | CreateNetwork { source, .. }
            | RemoveNetwork { source, .. }
            | CreateContainer { source, .. }
            | Start { source, .. }
            | Stop { source, .. }
            | Kill { source, .. }
            | Pause { source, .. }
            | Unpause { source, .. }
            | UpdateCpu { source, .. }
            | Remove { source, .. }
            | Exec { source, .. }
            | Logs { source, .. }
            | Inspect { source, .. }
            | InspectImage { source, .. }
            | ImportImage { source, .. }
            | BuildImage { source, .. }
            | RemoveImage { source, .. }
            | PullImage { source, .. } => source,
        }
    }

    /// The object did not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.failure().status == Some(404)
    }

    /// Someone else (the engine's image builder, another `down`) is already
    /// removing the object: HTTP 409 "removal of container … is already in
    /// progress".
    pub fn is_being_removed(&self) -> bool {
        let f = self.failure();
        f.status == Some(409) && f.message.contains("already in progress")
    }
}

/// halab's operations on a container engine.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Where the engine is (for messages), e.g. `unix:///var/run/docker.sock`.
    fn host(&self) -> String;

    /// The API version client and engine agreed on, e.g. `1.41`.
    async fn version(&self) -> Result<String, EngineError>;

    /// Containers (running or not) carrying every label of `labels`.
    async fn list_containers(&self, labels: &Labels) -> Result<Vec<ContainerInfo>, EngineError>;
    /// Networks carrying every label of `labels`; all networks when empty.
    async fn list_networks(&self, labels: &Labels) -> Result<Vec<NetworkInfo>, EngineError>;
    async fn create_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        labels: &Labels,
    ) -> Result<String, EngineError>;
    async fn remove_network(&self, name: &str) -> Result<(), EngineError>;

    /// Create (not start) a container; returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError>;
    async fn start(&self, name: &str) -> Result<(), EngineError>;
    /// SIGTERM, then SIGKILL after `timeout`.
    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), EngineError>;
    async fn kill(&self, name: &str, signal: &str) -> Result<(), EngineError>;
    async fn pause(&self, name: &str) -> Result<(), EngineError>;
    async fn unpause(&self, name: &str) -> Result<(), EngineError>;
    /// Cap the container's CPU at `millicpus` thousandths of one core (a
    /// CFS quota per 100 ms period), or lift the cap (`None`).
    async fn update_cpu(&self, name: &str, millicpus: Option<u32>) -> Result<(), EngineError>;
    async fn remove(&self, name: &str, force: bool) -> Result<(), EngineError>;

    /// Run `argv` in a running container and wait for it.
    async fn exec(&self, name: &str, argv: &[&str]) -> Result<ExecOutput, EngineError>;
    /// Run `argv` in a container and stream its output (stdout and stderr)
    /// line by line until it exits or the stream is dropped.
    async fn exec_lines(&self, name: &str, argv: &[&str]) -> Result<LineStream, EngineError>;
    /// The container's output, line by line: the last `tail` lines (all when
    /// `None`), then new ones as they come when `follow`. With `stamped`,
    /// each line is prefixed by the engine's time of its write and a space,
    /// as `docker logs -t` prints it (`2026-11-27T10:32:50.603316002Z
    /// text`): the line's own time, whenever it is read.
    fn read_logs(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
        stamped: bool,
    ) -> Result<LineStream, EngineError>;
    /// [`Engine::read_logs`], lines as written.
    async fn logs(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
    ) -> Result<LineStream, EngineError> {
        self.read_logs(name, tail, follow, false)
    }
    /// [`Engine::read_logs`], each line with the engine's time in front.
    async fn logs_stamped(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
    ) -> Result<LineStream, EngineError> {
        self.read_logs(name, tail, follow, true)
    }

    /// The image named `tag`, or `None` when the engine does not have it.
    async fn image(&self, tag: &str) -> Result<Option<ImageInfo>, EngineError>;
    /// Images carrying every label of `labels`.
    async fn list_images(&self, labels: &Labels) -> Result<Vec<ImageInfo>, EngineError>;
    /// `docker import`: a root file system tarball becomes image `tag`.
    async fn import_image(
        &self,
        tarball: &Path,
        tag: &str,
        labels: &Labels,
    ) -> Result<ImageInfo, EngineError>;
    /// Build `tag` from an in-memory tar `context` holding a `Dockerfile`;
    /// each line the engine prints goes to `output`.
    async fn build_image(
        &self,
        context: Vec<u8>,
        tag: &str,
        labels: &Labels,
        buildargs: &BTreeMap<String, String>,
        output: &BuildOutput<'_>,
    ) -> Result<ImageInfo, EngineError>;
    async fn remove_image(&self, tag: &str, force: bool) -> Result<(), EngineError>;
    async fn pull_image(&self, name: &str) -> Result<(), EngineError>;

    /// One container's state, `None` when it does not exist (one inspect,
    /// not a listing: watchers ask often).
    async fn run_state(&self, name: &str) -> Result<Option<RunState>, EngineError>;
}

/// What one inspect says of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunState {
    pub state: ContainerState,
    /// When its last run ended (the engine's wall clock); `None` while it
    /// runs or when it never ran. Lets a watcher time a crash by the
    /// engine's record rather than by when it noticed.
    pub finished_at: Option<std::time::SystemTime>,
}

/// Split a stream of byte chunks into lines (a chunk may end mid-line).
pub(crate) fn split_lines<S, E>(chunks: S) -> LineStream
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
    E: Into<EngineError> + Send + 'static,
{
    use futures_util::StreamExt;
    let state = (
        Box::pin(chunks),
        Vec::<u8>::new(),
        std::collections::VecDeque::new(),
        false,
    );
    futures_util::stream::unfold(
        state,
        |(mut chunks, mut buf, mut ready, mut done)| async move {
            loop {
                if let Some(line) = ready.pop_front() {
                    return Some((Ok(line), (chunks, buf, ready, done)));
                }
                if done {
                    return None;
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => {
                        buf.extend_from_slice(&bytes);
                        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                            let rest = buf.split_off(i + 1);
                            let mut line = std::mem::replace(&mut buf, rest);
                            line.pop();
                            if line.last() == Some(&b'\r') {
                                line.pop();
                            }
                            ready.push_back(String::from_utf8_lossy(&line).into_owned());
                        }
                    }
                    Some(Err(e)) => {
                        done = true;
                        return Some((Err(e.into()), (chunks, buf, ready, done)));
                    }
                    None => {
                        done = true;
                        if !buf.is_empty() {
                            let line = String::from_utf8_lossy(&buf).into_owned();
                            buf.clear();
                            ready.push_back(line);
                        }
                    }
                }
            }
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn split_lines_joins_chunks_and_keeps_last_partial_line() {
        let chunks = vec![
            Ok::<_, EngineError>(bytes::Bytes::from_static(b"one\ntw")),
            Ok(bytes::Bytes::from_static(b"o\r\nthr")),
            Ok(bytes::Bytes::from_static(b"ee")),
        ];
        let lines: Vec<String> = split_lines(futures_util::stream::iter(chunks))
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(lines, vec!["one", "two", "three"]);
    }

    #[test]
    fn an_empty_engine_message_still_says_what_happened() {
        assert_eq!(
            Failure::new(Some(404), "").to_string(),
            "HTTP 404 with no message"
        );
        assert_eq!(Failure::new(None, " \n").to_string(), "no reason given");
        assert_eq!(Failure::new(Some(500), "boom\n").to_string(), "boom");
    }

    #[test]
    fn not_found_is_read_from_the_status() {
        let e = EngineError::Remove {
            container: "x".into(),
            source: Failure::new(Some(404), "No such container: x"),
        };
        assert!(e.is_not_found());
        assert_eq!(
            crate::ui::error_text(&e),
            "cannot remove container `x`\n  caused by: No such container: x"
        );
        let e = EngineError::Stop {
            container: "x".into(),
            source: Failure::new(Some(500), "boom"),
        };
        assert!(!e.is_not_found());
    }
}
