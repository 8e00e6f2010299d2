//! The Docker engine through bollard: the only file that knows bollard.
//! Its requests travel over [`transport`], which bounds what they read and
//! how long the engine may stay silent.
//!
//! One file on purpose (it is long): one method per engine operation, each
//! wrapping its bollard call and error in the same few lines; the transport
//! (limits, deadlines) lives in its own module.

mod transport;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, ContainerUpdateBody, EndpointIpamConfig,
    EndpointSettings, HostConfig, Ipam, IpamConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    InspectContainerOptions, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::{container::LogOutput, Docker};
use futures_util::{StreamExt, TryStreamExt};
use ipnet::Ipv4Net;

use super::{
    BuildOutput, ContainerInfo, ContainerSpec, ContainerState, Engine, EngineError, ExecOutput,
    Failure, ImageInfo, Labels, LineStream, NetworkInfo, RunState,
};

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The oldest API halab is tested against (Docker 20.10).
const MIN_API: (usize, usize) = (1, 41);

/// A connection to a Docker engine, at the API version both sides speak.
#[derive(Clone)]
pub struct DockerEngine {
    docker: Docker,
    host: String,
    version: String,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("host", &self.host)
            .field("version", &self.version)
            .finish()
    }
}

impl DockerEngine {
    /// Connect to the engine named by `DOCKER_HOST` (the local socket when
    /// unset) and negotiate the API version.
    pub async fn connect() -> Result<DockerEngine, EngineError> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
        let timeout = std::env::var(transport::TIMEOUT_ENV).ok();
        let timeout =
            transport::timeout_from(timeout.as_deref()).map_err(|e| EngineError::BadTimeout {
                var: transport::TIMEOUT_ENV,
                value: timeout.clone().unwrap_or_default(),
                source: Failure::new(None, e),
            })?;
        Self::connect_to(&host, timeout).await
    }

    /// Connect to `host` (a `DOCKER_HOST` value) with `timeout` as the
    /// deadline on the engine's silences, and negotiate.
    pub async fn connect_to(host: &str, timeout: Duration) -> Result<DockerEngine, EngineError> {
        let endpoint = transport::Endpoint::parse(host).map_err(|e| EngineError::BadHost {
            host: host.to_string(),
            source: Failure::new(None, e),
        })?;
        let client_addr = endpoint.client_addr();
        let endpoint = std::sync::Arc::new(endpoint);
        let send = move |req| transport::send(endpoint.clone(), timeout, req);
        // bollard's own deadline covers the wait for the headers, which
        // the transport already bounds by silence (an upload may be long):
        // keep it out of the way.
        const NO_DEADLINE: u64 = 24 * 3600;
        let docker = Docker::connect_with_custom_transport(
            send,
            Some(client_addr),
            NO_DEADLINE,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| EngineError::BadHost {
            host: host.to_string(),
            source: failure(e),
        })?;
        Self::from_client(docker, host.to_string()).await
    }

    /// Negotiate with an already configured client (tests point it at a
    /// recording server).
    pub async fn from_client(docker: Docker, host: String) -> Result<DockerEngine, EngineError> {
        // bollard 0.21 defaults to API 1.53, which engine 20.10 (max 1.41)
        // refuses; newer engines refuse old versions: negotiate.
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| negotiation_error(&host, e))?;
        let v = docker.client_version();
        let version = format!("{}.{}", v.major_version, v.minor_version);
        if (v.major_version, v.minor_version) < MIN_API {
            let minimum = format!("{}.{}", MIN_API.0, MIN_API.1);
            return Err(EngineError::TooOld {
                source: Failure::new(
                    None,
                    format!("it speaks API {version} at most; halab needs {minimum} or newer"),
                ),
                host,
                version,
            });
        }
        // bollard builds `/v1.41/path` and then joins the absolute path onto
        // it, which drops the prefix: every request would reach the engine
        // unversioned (served at the engine's newest version). Put the
        // negotiated version back so the engine holds us to it.
        let prefix = format!("/v{version}");
        let docker = docker.with_request_modifier(move |mut req| {
            if let Some(uri) = versioned_uri(req.uri(), &prefix) {
                *req.uri_mut() = uri;
            }
            req
        });
        Ok(DockerEngine {
            docker,
            host,
            version,
        })
    }
}

/// `uri` with `prefix` in front of its path, or `None` when it has one.
fn versioned_uri(uri: &http::Uri, prefix: &str) -> Option<http::Uri> {
    let path = uri.path();
    let versioned = path
        .strip_prefix("/v")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    if versioned {
        return None;
    }
    let mut parts = uri.clone().into_parts();
    let pq = match uri.query() {
        Some(q) => format!("{prefix}{path}?{q}"),
        None => format!("{prefix}{path}"),
    };
    parts.path_and_query = Some(pq.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

/// Why negotiation failed, told apart by what the user must do: start an
/// engine, wait for it, or point DOCKER_HOST at something that is one.
fn negotiation_error(host: &str, e: BollardError) -> EngineError {
    let host = host.to_string();
    if let Some(breach) = transport::breach_in(&e) {
        let source = Failure::new(None, breach.to_string());
        return match breach {
            transport::Breach::Silent { .. } => EngineError::NoAnswer { host, source },
            transport::Breach::TooLarge { .. } => EngineError::NotDocker { host, source },
        };
    }
    match e {
        // Refused, no socket, no permission: nothing is there to answer.
        BollardError::IOError { .. } => EngineError::Unreachable {
            host,
            source: failure(e),
        },
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => EngineError::NotDocker {
            host,
            source: Failure::new(None, format!("`GET /version` answered: {}", failure(e))),
        },
        BollardError::DockerResponseServerError { .. } => EngineError::Version {
            host,
            source: failure(e),
        },
        BollardError::APIVersionParseError {} => EngineError::NotDocker {
            host,
            source: Failure::new(None, "its `/version` answer names no API version"),
        },
        BollardError::JsonDataError { ref message, .. } => EngineError::NotDocker {
            host,
            source: Failure::new(
                None,
                format!("its `/version` answer is not Docker's JSON ({message})"),
            ),
        },
        BollardError::HyperResponseError { ref err } if err.is_parse() => EngineError::NotDocker {
            host,
            source: Failure::new(None, format!("its answer is not HTTP ({err})")),
        },
        // Bad JSON, malformed HTTP, a connection closed without an answer.
        other => EngineError::NotDocker {
            host,
            source: failure(other),
        },
    }
}

fn failure(e: BollardError) -> Failure {
    if let Some(breach) = transport::breach_in(&e) {
        return Failure::new(None, breach.to_string());
    }
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => Failure::new(Some(status_code), message),
        BollardError::DockerStreamError { error } => Failure::new(None, error),
        other => Failure::new(None, other.to_string()),
    }
}

fn label_filters(labels: &Labels) -> HashMap<String, Vec<String>> {
    let mut f = HashMap::new();
    if !labels.is_empty() {
        f.insert(
            "label".to_string(),
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        );
    }
    f
}

fn to_labels(m: Option<HashMap<String, String>>) -> Labels {
    m.unwrap_or_default().into_iter().collect()
}

fn state(s: Option<ContainerSummaryStateEnum>) -> ContainerState {
    use ContainerSummaryStateEnum as S;
    match s {
        Some(S::CREATED) => ContainerState::Created,
        Some(S::RUNNING) => ContainerState::Running,
        Some(S::PAUSED) => ContainerState::Paused,
        Some(S::RESTARTING) => ContainerState::Restarting,
        Some(S::EXITED) => ContainerState::Exited,
        Some(S::REMOVING) => ContainerState::Removing,
        Some(S::DEAD) => ContainerState::Dead,
        _ => ContainerState::Unknown,
    }
}

/// `repo:tag` → (`repo`, `tag`); a colon before the last `/` is a registry port.
fn split_tag(image: &str) -> (&str, &str) {
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}

fn log_bytes(o: LogOutput) -> bytes::Bytes {
    match o {
        LogOutput::StdOut { message }
        | LogOutput::StdErr { message }
        | LogOutput::StdIn { message }
        | LogOutput::Console { message } => message,
    }
}

/// Stops a streamed exec when its stream is dropped: Docker has no call to
/// end an exec, so we kill the process by the pid it printed first.
struct KillOnDrop {
    docker: Docker,
    container: String,
    pid: u32,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let docker = self.docker.clone();
        let container = self.container.clone();
        let pid = self.pid.to_string();
        rt.spawn(async move {
            let opts = CreateExecOptions {
                cmd: Some(vec!["kill".to_string(), pid]),
                ..Default::default()
            };
            if let Ok(exec) = docker.create_exec(&container, opts).await {
                let _ = docker.start_exec(&exec.id, None).await;
            }
        });
    }
}

impl DockerEngine {
    async fn start_attached(
        &self,
        name: &str,
        argv: Vec<String>,
        command: &str,
    ) -> Result<(String, LineStreamRaw), EngineError> {
        let err = |e| EngineError::Exec {
            container: name.to_string(),
            command: command.to_string(),
            source: failure(e),
        };
        let opts = CreateExecOptions {
            cmd: Some(argv),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self.docker.create_exec(name, opts).await.map_err(err)?;
        match self.docker.start_exec(&exec.id, None).await.map_err(err)? {
            StartExecResults::Attached { output, .. } => Ok((exec.id, output)),
            StartExecResults::Detached => Err(EngineError::Exec {
                container: name.to_string(),
                command: command.to_string(),
                source: Failure::new(None, "the engine did not attach to the command's output"),
            }),
        }
    }
}

type LineStreamRaw =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<LogOutput, BollardError>> + Send>>;

#[async_trait]
impl Engine for DockerEngine {
    fn host(&self) -> String {
        self.host.clone()
    }

    async fn version(&self) -> Result<String, EngineError> {
        Ok(self.version.clone())
    }

    async fn list_containers(&self, labels: &Labels) -> Result<Vec<ContainerInfo>, EngineError> {
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| EngineError::ListContainers { source: failure(e) })?;
        Ok(list
            .into_iter()
            .map(|c| {
                let ip = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .into_iter()
                    .flat_map(|m| m.into_values())
                    .filter_map(|e| e.ip_address)
                    .find_map(|ip| ip.parse::<Ipv4Addr>().ok());
                ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    state: state(c.state),
                    labels: to_labels(c.labels),
                    ip,
                }
            })
            .collect())
    }

    async fn list_networks(&self, labels: &Labels) -> Result<Vec<NetworkInfo>, EngineError> {
        let opts = ListNetworksOptionsBuilder::new()
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_networks(Some(opts))
            .await
            .map_err(|e| EngineError::ListNetworks { source: failure(e) })?;
        Ok(list
            .into_iter()
            .map(|n| NetworkInfo {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                subnets: n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet?.parse::<Ipv4Net>().ok())
                    .collect(),
                labels: to_labels(n.labels),
            })
            .collect())
    }

    async fn create_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        labels: &Labels,
    ) -> Result<String, EngineError> {
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let r = self
            .docker
            .create_network(req)
            .await
            .map_err(|e| EngineError::CreateNetwork {
                network: name.to_string(),
                subnet,
                source: failure(e),
            })?;
        Ok(r.id)
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .remove_network(name)
            .await
            .map_err(|e| EngineError::RemoveNetwork {
                network: name.to_string(),
                source: failure(e),
            })
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut host = HostConfig {
            network_mode: Some(spec.network.clone()),
            cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
            ..Default::default()
        };
        let mut exposed = None;
        if let Some(p) = spec.publish {
            let key = format!("{}/tcp", p.container_port);
            exposed = Some(vec![key.clone()]);
            host.port_bindings = Some(HashMap::from([(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(p.host_ip.to_string()),
                    host_port: Some(p.host_port.to_string()),
                }]),
            )]));
        }
        let endpoint = EndpointSettings {
            ipam_config: spec.ip.map(|ip| EndpointIpamConfig {
                ipv4_address: Some(ip.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            exposed_ports: exposed,
            host_config: Some(host),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(spec.network.clone(), endpoint)])),
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let r = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| EngineError::CreateContainer {
                container: spec.name.clone(),
                image: spec.image.clone(),
                source: failure(e),
            })?;
        Ok(r.id)
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(|e| EngineError::Start {
                container: name.to_string(),
                source: failure(e),
            })
    }

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), EngineError> {
        let opts = StopContainerOptionsBuilder::new()
            .t(timeout.as_secs().min(i32::MAX as u64) as i32)
            .build();
        self.docker
            .stop_container(name, Some(opts))
            .await
            .map_err(|e| EngineError::Stop {
                container: name.to_string(),
                source: failure(e),
            })
    }

    async fn kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let opts = KillContainerOptionsBuilder::new().signal(signal).build();
        self.docker
            .kill_container(name, Some(opts))
            .await
            .map_err(|e| EngineError::Kill {
                container: name.to_string(),
                signal: signal.to_string(),
                source: failure(e),
            })
    }

    async fn pause(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .pause_container(name)
            .await
            .map_err(|e| EngineError::Pause {
                container: name.to_string(),
                source: failure(e),
            })
    }

    async fn unpause(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .unpause_container(name)
            .await
            .map_err(|e| EngineError::Unpause {
                container: name.to_string(),
                source: failure(e),
            })
    }

    async fn update_cpu(&self, name: &str, millicpus: Option<u32>) -> Result<(), EngineError> {
        // Quota and period, not NanoCpus: the engine refuses to lift a
        // NanoCpus cap (`--cpus 0` leaves it, and a quota then conflicts),
        // while a quota of -1 is cgroup v1's "no cap" (measured, Docker 20.10).
        const PERIOD_US: i64 = 100_000;
        let quota = match millicpus {
            // The kernel's smallest quota is 1 ms.
            Some(m) => (i64::from(m) * PERIOD_US / 1000).max(1000),
            None => -1,
        };
        let body = ContainerUpdateBody {
            cpu_period: Some(PERIOD_US),
            cpu_quota: Some(quota),
            ..Default::default()
        };
        self.docker
            .update_container(name, body)
            .await
            .map_err(|e| EngineError::UpdateCpu {
                container: name.to_string(),
                source: failure(e),
            })
    }

    async fn remove(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let opts = RemoveContainerOptionsBuilder::new().force(force).build();
        self.docker
            .remove_container(name, Some(opts))
            .await
            .map_err(|e| EngineError::Remove {
                container: name.to_string(),
                source: failure(e),
            })
    }

    async fn exec(&self, name: &str, argv: &[&str]) -> Result<ExecOutput, EngineError> {
        let command = argv.join(" ");
        let argv = argv.iter().map(|s| s.to_string()).collect();
        let (id, mut output) = self.start_attached(name, argv, &command).await?;
        let err = |e| EngineError::Exec {
            container: name.to_string(),
            command: command.clone(),
            source: failure(e),
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = output.next().await {
            match chunk.map_err(err)? {
                LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                other => stdout.extend_from_slice(&log_bytes(other)),
            }
        }
        // The output can end a moment before the engine records the exit
        // code: ask again briefly rather than report a made-up one.
        let mut inspect = self.docker.inspect_exec(&id).await.map_err(err)?;
        for _ in 0..100 {
            if inspect.running != Some(true) && inspect.exit_code.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            inspect = self.docker.inspect_exec(&id).await.map_err(err)?;
        }
        Ok(ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    async fn exec_lines(&self, name: &str, argv: &[&str]) -> Result<LineStream, EngineError> {
        let command = argv.join(" ");
        // The shell prints its pid, then becomes the command: that pid is
        // what KillOnDrop ends.
        let mut wrapped = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            "echo \"$$\"; exec \"$@\"".to_string(),
            "halab-exec".to_string(),
        ];
        wrapped.extend(argv.iter().map(|s| s.to_string()));
        let (_, output) = self.start_attached(name, wrapped, &command).await?;
        let container = name.to_string();
        let cmd = command.clone();
        let mut lines =
            super::split_lines(
                output
                    .map_ok(log_bytes)
                    .map_err(move |e| EngineError::Exec {
                        container: container.clone(),
                        command: cmd.clone(),
                        source: failure(e),
                    }),
            );
        let first = lines.next().await.transpose()?.unwrap_or_default();
        let pid: u32 = first.trim().parse().map_err(|_| EngineError::Exec {
            container: name.to_string(),
            command: command.clone(),
            source: Failure::new(None, format!("expected the shell's pid, got `{first}`")),
        })?;
        let guard = KillOnDrop {
            docker: self.docker.clone(),
            container: name.to_string(),
            pid,
        };
        Ok(lines
            .map(move |l| {
                let _keep = &guard;
                l
            })
            .boxed())
    }

    fn read_logs(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
        stamped: bool,
    ) -> Result<LineStream, EngineError> {
        let tail = tail.map_or_else(|| "all".to_string(), |n| n.to_string());
        let opts = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .timestamps(stamped)
            .build();
        let container = name.to_string();
        let stream = self
            .docker
            .logs(name, Some(opts))
            .map_ok(log_bytes)
            .map_err(move |e| EngineError::Logs {
                container: container.clone(),
                source: failure(e),
            });
        Ok(super::split_lines(stream))
    }

    async fn image(&self, tag: &str) -> Result<Option<ImageInfo>, EngineError> {
        match self.docker.inspect_image(tag).await {
            Ok(i) => Ok(Some(ImageInfo {
                id: i.id.unwrap_or_default(),
                tags: i.repo_tags.unwrap_or_default(),
                labels: to_labels(i.config.and_then(|c| c.labels)),
            })),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::InspectImage {
                image: tag.to_string(),
                source: failure(e),
            }),
        }
    }

    async fn list_images(&self, labels: &Labels) -> Result<Vec<ImageInfo>, EngineError> {
        let opts = ListImagesOptionsBuilder::new()
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_images(Some(opts))
            .await
            .map_err(|e| EngineError::ListImages { source: failure(e) })?;
        Ok(list
            .into_iter()
            .map(|i| ImageInfo {
                id: i.id,
                tags: i.repo_tags,
                labels: i.labels.into_iter().collect(),
            })
            .collect())
    }

    async fn import_image(
        &self,
        tarball: &Path,
        tag: &str,
        labels: &Labels,
    ) -> Result<ImageInfo, EngineError> {
        let err = |source| EngineError::ImportImage {
            image: tag.to_string(),
            tarball: tarball.to_path_buf(),
            source,
        };
        let file = tokio::fs::File::open(tarball)
            .await
            .map_err(|e| err(Failure::new(None, e.to_string())))?;
        let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
        let (repo, version) = split_tag(tag);
        // `docker import --change 'LABEL k="v"'`; values JSON-quoted.
        let changes = labels
            .iter()
            .map(|(k, v)| format!("LABEL {k}={}", serde_json::Value::String(v.clone())))
            .collect();
        let opts = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(version)
            .changes(changes)
            .build();
        let mut progress = self.docker.create_image(Some(opts), Some(body), None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| err(failure(e)))?;
        }
        self.image(tag).await?.ok_or_else(|| {
            err(Failure::new(
                None,
                "the engine finished the import but has no image by that name",
            ))
        })
    }

    async fn build_image(
        &self,
        context: Vec<u8>,
        tag: &str,
        labels: &Labels,
        buildargs: &BTreeMap<String, String>,
        output: &BuildOutput<'_>,
    ) -> Result<ImageInfo, EngineError> {
        let labels: HashMap<String, String> = labels.clone().into_iter().collect();
        let buildargs: HashMap<String, String> = buildargs.clone().into_iter().collect();
        let opts = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .buildargs(&buildargs)
            .build();
        let mut stream =
            self.docker
                .build_image(opts, None, Some(bollard::body_full(context.into())));
        let mut last: std::collections::VecDeque<String> = Default::default();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let text = info.stream.or(info.status).unwrap_or_default();
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        output(line);
                        if last.len() == 20 {
                            last.pop_front();
                        }
                        last.push_back(line.to_string());
                    }
                }
                Err(e) => {
                    return Err(EngineError::BuildImage {
                        image: tag.to_string(),
                        source: failure(e),
                        output: last.into(),
                    })
                }
            }
        }
        self.image(tag)
            .await?
            .ok_or_else(|| EngineError::BuildImage {
                image: tag.to_string(),
                source: Failure::new(None, "the build ended without producing the image"),
                output: last.into(),
            })
    }

    async fn remove_image(&self, tag: &str, force: bool) -> Result<(), EngineError> {
        let opts = RemoveImageOptionsBuilder::new().force(force).build();
        self.docker
            .remove_image(tag, Some(opts), None)
            .await
            .map(|_| ())
            .map_err(|e| EngineError::RemoveImage {
                image: tag.to_string(),
                source: failure(e),
            })
    }

    async fn run_state(&self, name: &str) -> Result<Option<RunState>, EngineError> {
        use bollard::models::ContainerStateStatusEnum as S;
        let c = match self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                let err = EngineError::Inspect {
                    container: name.to_string(),
                    source: failure(e),
                };
                return if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let s = c.state.unwrap_or_default();
        let state = match s.status {
            Some(S::CREATED) => ContainerState::Created,
            Some(S::RUNNING) => ContainerState::Running,
            Some(S::PAUSED) => ContainerState::Paused,
            Some(S::RESTARTING) => ContainerState::Restarting,
            Some(S::EXITED) => ContainerState::Exited,
            Some(S::REMOVING) => ContainerState::Removing,
            Some(S::DEAD) => ContainerState::Dead,
            _ => ContainerState::Unknown,
        };
        // "0001-01-01T00:00:00Z" for a container that never ran.
        let finished_at = s
            .finished_at
            .and_then(|t| humantime::parse_rfc3339(&t).ok())
            .filter(|t| *t > SystemTime::UNIX_EPOCH && s.running != Some(true));
        Ok(Some(RunState { state, finished_at }))
    }

    async fn pull_image(&self, name: &str) -> Result<(), EngineError> {
        let (repo, version) = split_tag(name);
        let opts = CreateImageOptionsBuilder::new()
            .from_image(repo)
            .tag(version)
            .build();
        let mut progress = self.docker.create_image(Some(opts), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| EngineError::PullImage {
                image: name.to_string(),
                source: failure(e),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn versioned_uri_prefixes_unversioned_paths_only() {
        let u: http::Uri = "unix://2f7661722f72756e/containers/json?all=true"
            .parse()
            .unwrap();
        let v = versioned_uri(&u, "/v1.41").unwrap();
        assert_eq!(
            v.to_string(),
            "unix://2f7661722f72756e/v1.41/containers/json?all=true"
        );
        assert!(versioned_uri(&v, "/v1.41").is_none());
        // A path that merely starts with "v" is not a version.
        let u: http::Uri = "http://h/volumes".parse().unwrap();
        assert_eq!(
            versioned_uri(&u, "/v1.41").unwrap().to_string(),
            "http://h/v1.41/volumes"
        );
    }

    #[test]
    fn split_tag_handles_registry_ports() {
        assert_eq!(split_tag("halab-base:bookworm"), ("halab-base", "bookworm"));
        assert_eq!(split_tag("halab-base"), ("halab-base", "latest"));
        assert_eq!(split_tag("reg:5000/x"), ("reg:5000/x", "latest"));
        assert_eq!(split_tag("reg:5000/x:1"), ("reg:5000/x", "1"));
    }

    /// A one-request-per-connection HTTP server that answers like engine
    /// 20.10 and records every request line.
    async fn recording_engine() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let line = head.lines().next().unwrap_or("").to_string();
                    log.lock().unwrap().push(line.clone());
                    let body = if line.contains("/version") {
                        r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12"}"#
                    } else {
                        "[]"
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        (format!("tcp://{addr}"), seen)
    }

    #[tokio::test]
    async fn requests_after_negotiation_carry_the_engines_version() {
        let (host, seen) = recording_engine().await;
        let engine = DockerEngine::connect_to(&host, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(engine.version().await.unwrap(), "1.41");
        engine.list_containers(&Labels::new()).await.unwrap();
        engine
            .list_networks(&super::super::lab_selector("x"))
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(
            seen[1].starts_with("GET /v1.41/containers/json?"),
            "{seen:?}"
        );
        assert!(seen[2].starts_with("GET /v1.41/networks?"), "{seen:?}");
        assert!(seen[2].contains("halab.lab%3Dx"), "{seen:?}");
    }

    #[tokio::test]
    async fn an_absent_engine_is_unreachable_with_a_fix() {
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("tcp://127.0.0.1:{port}");
        let e = DockerEngine::connect_to(&host, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, EngineError::Unreachable { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&host) && msg.contains("DOCKER_HOST"), "{msg}");
    }
}
