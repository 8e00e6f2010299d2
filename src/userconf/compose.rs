//! A reader for a docker-compose project: its services (build context and
//! Dockerfile, image, static IPv4 address on a user network, published ports,
//! bind-mounted files, `cap_add`), the networks' subnets, and the scripts an
//! image runs at start (found through its Dockerfile's `CMD`/`ENTRYPOINT`
//! and `COPY`). Enough for `halab import` to find the keepalived nodes, the
//! proxy, their config files and their pages.

use super::{read_text, ConfError, Loc};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct ComposeProject {
    /// The compose file.
    pub file: PathBuf,
    /// Its folder: relative paths in the file are resolved from here.
    pub dir: PathBuf,
    /// In the file's order.
    pub services: Vec<Service>,
    pub networks: Vec<Network>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub build: Option<Build>,
    /// Static addresses: (network, address).
    pub addresses: Vec<(String, Ipv4Addr)>,
    /// Networks joined, with or without an address.
    pub networks: Vec<String>,
    pub ports: Vec<Port>,
    pub mounts: Vec<Mount>,
    pub cap_add: Vec<String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// The context folder, resolved against the project's folder.
    pub context: PathBuf,
    /// The Dockerfile, resolved against the context.
    pub dockerfile: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub host_ip: Option<String>,
    pub host: Option<u16>,
    pub container: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The host path as written, resolved against the project's folder
    /// (`None` for a named volume).
    pub host: Option<PathBuf>,
    /// The source as written (a path or a volume name).
    pub source: String,
    pub container: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub subnets: Vec<IpNet>,
}

/// A script an image runs at start, on the host: its path, and the
/// Dockerfile line that copies it in.
#[derive(Debug, Clone, PartialEq)]
pub struct StartScript {
    pub host: PathBuf,
    pub container: String,
    pub copied_at: Loc,
}

// ---- raw shapes (compose allows a short and a long form for most keys) ----

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    services: serde_yaml::Mapping,
    #[serde(default)]
    networks: Option<BTreeMap<String, Option<RawNetwork>>>,
}

#[derive(Deserialize, Default)]
struct RawService {
    image: Option<String>,
    build: Option<RawBuild>,
    #[serde(default)]
    networks: Option<RawServiceNetworks>,
    #[serde(default)]
    ports: Vec<RawPort>,
    #[serde(default)]
    volumes: Vec<RawVolume>,
    #[serde(default)]
    cap_add: Vec<String>,
    command: Option<StringOrList>,
    entrypoint: Option<StringOrList>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawBuild {
    Context(String),
    Long {
        context: Option<String>,
        dockerfile: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawServiceNetworks {
    List(Vec<String>),
    Map(BTreeMap<String, Option<RawServiceNetwork>>),
}

#[derive(Deserialize)]
struct RawServiceNetwork {
    ipv4_address: Option<Ipv4Addr>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(u16),
    Short(String),
    Long {
        target: u16,
        published: Option<serde_yaml::Value>,
        host_ip: Option<String>,
        protocol: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawVolume {
    Short(String),
    Long {
        source: Option<String>,
        target: String,
        #[serde(default)]
        read_only: bool,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    String(String),
    List(Vec<String>),
}

#[derive(Deserialize, Default)]
struct RawNetwork {
    ipam: Option<RawIpam>,
}

#[derive(Deserialize)]
struct RawIpam {
    #[serde(default)]
    config: Vec<RawIpamConfig>,
}

#[derive(Deserialize)]
struct RawIpamConfig {
    subnet: Option<IpNet>,
}

impl StringOrList {
    fn words(self) -> Vec<String> {
        match self {
            // Compose splits a string command shell-like; words are enough here.
            StringOrList::String(s) => s.split_whitespace().map(str::to_string).collect(),
            StringOrList::List(l) => l,
        }
    }
}

/// Reads a compose file, or the `docker-compose.yml` / `compose.yaml` of a folder.
pub fn load(path: &Path) -> Result<ComposeProject, ConfError> {
    let file = if path.is_dir() {
        [
            "compose.yaml",
            "compose.yml",
            "docker-compose.yml",
            "docker-compose.yaml",
        ]
        .iter()
        .map(|n| path.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| path.join("docker-compose.yml"))
    } else {
        path.to_path_buf()
    };
    let text = read_text(&file)?;
    parse(&text, &file)
}

pub fn parse(text: &str, file: &Path) -> Result<ComposeProject, ConfError> {
    let yaml_err = |e: serde_yaml::Error| ConfError::Compose {
        path: file.to_path_buf(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    };
    let raw: RawFile = serde_yaml::from_str(text).map_err(yaml_err)?;
    let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p.strip_prefix("./").unwrap_or(p))
        }
    };
    let mut services = Vec::new();
    for (name, value) in raw.services {
        let name = name.as_str().unwrap_or_default().to_string();
        let rs: RawService = if value.is_null() {
            RawService::default()
        } else {
            serde_path_to_error::deserialize(value).map_err(|e| ConfError::Compose {
                path: file.to_path_buf(),
                line: None,
                message: format!("services.{name}.{}: {}", e.path(), e.inner()),
            })?
        };
        services.push(service(&name, rs, &resolve, file)?);
    }
    let networks = raw
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, n)| Network {
            name,
            subnets: n
                .and_then(|n| n.ipam)
                .map(|i| i.config.into_iter().filter_map(|c| c.subnet).collect())
                .unwrap_or_default(),
        })
        .collect();
    Ok(ComposeProject {
        file: file.to_path_buf(),
        dir,
        services,
        networks,
    })
}

fn service(
    name: &str,
    rs: RawService,
    resolve: &dyn Fn(&str) -> PathBuf,
    file: &Path,
) -> Result<Service, ConfError> {
    let build = rs.build.map(|b| {
        let (context, dockerfile) = match b {
            RawBuild::Context(c) => (c, None),
            RawBuild::Long {
                context,
                dockerfile,
            } => (context.unwrap_or_else(|| ".".into()), dockerfile),
        };
        let context = resolve(&context);
        let dockerfile = dockerfile.unwrap_or_else(|| "Dockerfile".into());
        let df = Path::new(&dockerfile);
        let dockerfile = if df.is_absolute() {
            df.to_path_buf()
        } else {
            context.join(df.strip_prefix("./").unwrap_or(df))
        };
        Build {
            context,
            dockerfile,
        }
    });
    let (mut addresses, mut networks) = (Vec::new(), Vec::new());
    match rs.networks {
        Some(RawServiceNetworks::List(l)) => networks = l,
        Some(RawServiceNetworks::Map(m)) => {
            for (net, cfg) in m {
                if let Some(ip) = cfg.and_then(|c| c.ipv4_address) {
                    addresses.push((net.clone(), ip));
                }
                networks.push(net);
            }
        }
        None => {}
    }
    let bad_port = |spec: &str| ConfError::Compose {
        path: file.to_path_buf(),
        line: None,
        message: format!("services.{name}.ports: `{spec}` is not HOST:CONTAINER[/PROTOCOL]"),
    };
    let mut ports = Vec::new();
    for p in rs.ports {
        ports.push(match p {
            RawPort::Number(n) => Port {
                host_ip: None,
                host: None,
                container: n,
                protocol: "tcp".into(),
            },
            RawPort::Short(s) => short_port(&s).ok_or_else(|| bad_port(&s))?,
            RawPort::Long {
                target,
                published,
                host_ip,
                protocol,
            } => Port {
                host_ip,
                host: published.and_then(|v| match v {
                    serde_yaml::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    serde_yaml::Value::String(s) => s.parse().ok(),
                    _ => None,
                }),
                container: target,
                protocol: protocol.unwrap_or_else(|| "tcp".into()),
            },
        });
    }
    let mounts = rs
        .volumes
        .into_iter()
        .map(|v| {
            let (source, container, read_only) = match v {
                RawVolume::Short(s) => {
                    let parts: Vec<&str> = s.split(':').collect();
                    match parts.as_slice() {
                        [c] => (String::new(), c.to_string(), false),
                        [s, c] => (s.to_string(), c.to_string(), false),
                        [s, c, mode, ..] => (
                            s.to_string(),
                            c.to_string(),
                            mode.split(',').any(|m| m == "ro"),
                        ),
                        [] => (String::new(), String::new(), false),
                    }
                }
                RawVolume::Long {
                    source,
                    target,
                    read_only,
                } => (source.unwrap_or_default(), target, read_only),
            };
            // Compose takes a source starting with `.`, `/` or `~` as a host path.
            let is_path = source.starts_with(['.', '/', '~']);
            Mount {
                host: is_path.then(|| resolve(&source)),
                source,
                container,
                read_only,
            }
        })
        .collect();
    Ok(Service {
        name: name.to_string(),
        image: rs.image,
        build,
        addresses,
        networks,
        ports,
        mounts,
        cap_add: rs.cap_add,
        command: rs.command.map(StringOrList::words),
        entrypoint: rs.entrypoint.map(StringOrList::words),
    })
}

/// `[IP:][HOST:]CONTAINER[/PROTO]`; ranges are not read.
fn short_port(s: &str) -> Option<Port> {
    let (spec, protocol) = match s.split_once('/') {
        Some((a, p)) => (a, p.to_string()),
        None => (s, "tcp".to_string()),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let container = parts.first()?.parse().ok()?;
    let host = match parts.get(1) {
        Some(h) if !h.is_empty() => Some(h.parse().ok()?),
        _ => None,
    };
    Some(Port {
        host_ip: parts.get(2).map(|s| s.to_string()),
        host,
        container,
        protocol,
    })
}

impl ComposeProject {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The subnet of the network `name`, if the file gives one.
    pub fn subnet(&self, name: &str) -> Option<IpNet> {
        self.networks
            .iter()
            .find(|n| n.name == name)
            .and_then(|n| n.subnets.first().copied())
    }

    /// The services that mount a `keepalived.conf`.
    pub fn keepalived_nodes(&self) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.mount_ending("keepalived.conf").is_some())
            .collect()
    }

    /// The service that mounts a `haproxy.cfg`.
    pub fn proxy(&self) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.mount_ending("haproxy.cfg").is_some())
    }

    /// The scripts `service`'s image runs at start: the `CMD`/`ENTRYPOINT`
    /// words (or the service's own) that a `COPY` of its Dockerfile brings
    /// from the build context.
    pub fn start_scripts(&self, service: &Service) -> Result<Vec<StartScript>, ConfError> {
        let Some(build) = &service.build else {
            return Ok(Vec::new());
        };
        if !build.dockerfile.is_file() {
            return Ok(Vec::new());
        }
        let text = read_text(&build.dockerfile)?;
        let df = dockerfile(&text, &build.dockerfile);
        let mut run: Vec<String> = service
            .entrypoint
            .clone()
            .or(df.entrypoint)
            .unwrap_or_default();
        run.extend(service.command.clone().or(df.cmd).unwrap_or_default());
        let mut out = Vec::new();
        for (src, dest, at) in df.copies {
            let runs_it = run.iter().any(|w| {
                w == &dest
                    || (dest.ends_with('/') && w.starts_with(&dest) && w.ends_with(file_name(&src)))
            });
            if runs_it {
                out.push(StartScript {
                    host: build.context.join(src.strip_prefix("./").unwrap_or(&src)),
                    container: dest,
                    copied_at: at,
                });
            }
        }
        Ok(out)
    }
}

fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

impl Service {
    /// The host file mounted at a container path ending with `suffix`.
    pub fn mount_ending(&self, suffix: &str) -> Option<&Mount> {
        self.mounts
            .iter()
            .find(|m| m.host.is_some() && m.container.ends_with(suffix))
    }
}

struct Dockerfile {
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    /// (source, destination, line)
    copies: Vec<(String, String, Loc)>,
}

/// The few Dockerfile instructions that say what runs at start. Continuation
/// lines (`\`) are joined; the last `CMD`/`ENTRYPOINT` wins, as in Docker.
fn dockerfile(text: &str, path: &Path) -> Dockerfile {
    let mut df = Dockerfile {
        cmd: None,
        entrypoint: None,
        copies: Vec::new(),
    };
    let mut joined = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if joined.is_empty() {
            start = i + 1;
            if line.trim_start().starts_with('#') {
                continue;
            }
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                continue;
            }
            None => joined.push_str(line),
        }
        let instr = std::mem::take(&mut joined);
        let (op, rest) = instr
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((instr.trim(), ""));
        let words = exec_form(rest.trim());
        match op.to_ascii_uppercase().as_str() {
            "CMD" => df.cmd = Some(words),
            "ENTRYPOINT" => df.entrypoint = Some(words),
            "COPY" | "ADD" => {
                let words: Vec<String> =
                    words.into_iter().filter(|w| !w.starts_with("--")).collect();
                if let Some((dest, srcs)) = words.split_last() {
                    for src in srcs {
                        df.copies
                            .push((src.clone(), dest.clone(), Loc::new(path, start)));
                    }
                }
            }
            _ => {}
        }
    }
    df
}

/// `["a", "b"]` (JSON) or shell words.
fn exec_form(rest: &str) -> Vec<String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return v;
        }
    }
    rest.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"version: "3"
services:
  nginx_master:
    build:
      context: ./
      dockerfile: ./Dockerfile
    volumes:
      - ./index-master.html:/usr/share/nginx/html/index.html
      - ./keepalived-master.conf:/etc/keepalived/keepalived.conf
    networks:
      static-network:
        ipv4_address: 172.20.128.2
    cap_add:
      - NET_ADMIN
  proxy:
    image: haproxy:1.7-alpine
    ports:
      - 8000:6301
    volumes:
      - ./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg
    networks:
      - static-network
networks:
  static-network:
    ipam:
      config:
        - subnet: 172.20.0.0/16
"#;

    #[test]
    fn the_seeds_compose_file_gives_nodes_addresses_mounts_ports_and_subnet() {
        let c = parse(SEED, Path::new("p/docker-compose.yml")).unwrap();
        let m = c.service("nginx_master").unwrap();
        assert_eq!(
            m.build,
            Some(Build {
                context: "p/".into(),
                dockerfile: "p/Dockerfile".into()
            })
        );
        assert_eq!(
            m.addresses,
            [("static-network".to_string(), Ipv4Addr::new(172, 20, 128, 2))]
        );
        assert_eq!(m.cap_add, ["NET_ADMIN"]);
        assert_eq!(
            m.mount_ending("keepalived.conf").unwrap().host.as_deref(),
            Some(Path::new("p/keepalived-master.conf"))
        );
        assert_eq!(
            m.mount_ending("index.html").unwrap().source,
            "./index-master.html"
        );
        let proxy = c.proxy().unwrap();
        assert_eq!(proxy.name, "proxy");
        assert_eq!(
            proxy.ports,
            [Port {
                host_ip: None,
                host: Some(8000),
                container: 6301,
                protocol: "tcp".into()
            }]
        );
        assert_eq!(proxy.networks, ["static-network"]);
        assert_eq!(
            c.subnet("static-network").unwrap().to_string(),
            "172.20.0.0/16"
        );
        assert_eq!(c.keepalived_nodes().len(), 1);
    }

    #[test]
    fn long_forms_of_ports_volumes_and_build_are_read() {
        let c = parse(
            "services:\n  a:\n    build: ./node\n    ports:\n      - target: 80\n        published: \"8080\"\n      - 127.0.0.1:9000:90/udp\n      - 7000\n    volumes:\n      - type: bind\n        source: ./k.conf\n        target: /etc/keepalived/keepalived.conf\n        read_only: true\n      - data:/var/lib/x\n      - ./page.html:/usr/share/nginx/html/index.html:ro\n    entrypoint: /start.sh --fast\n  b:\n",
            Path::new("docker-compose.yml"),
        )
        .unwrap();
        let a = c.service("a").unwrap();
        assert_eq!(
            a.build.as_ref().unwrap().dockerfile,
            Path::new("node/Dockerfile")
        );
        assert_eq!(a.ports[0].host, Some(8080));
        assert_eq!(
            a.ports[1],
            Port {
                host_ip: Some("127.0.0.1".into()),
                host: Some(9000),
                container: 90,
                protocol: "udp".into()
            }
        );
        assert_eq!(a.ports[2].host, None);
        assert!(a.mounts[0].read_only);
        assert_eq!(a.mounts[1].host, None);
        assert!(a.mounts[2].read_only);
        assert_eq!(
            a.entrypoint.as_deref(),
            Some(&["/start.sh".to_string(), "--fast".to_string()][..])
        );
        assert!(c.service("b").unwrap().mounts.is_empty());
    }

    #[test]
    fn a_malformed_compose_file_names_the_line_or_the_field() {
        let e = parse("services:\n  a: [\n", Path::new("dc.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dc.yml:"), "{e}");
        assert!(
            e.ends_with("fix: correct the compose file (docs.docker.com/compose/compose-file)"),
            "{e}"
        );
        let e = parse(
            "services:\n  a:\n    ports:\n      - \"x:y\"\n",
            Path::new("dc.yml"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "dc.yml: services.a.ports: `x:y` is not HOST:CONTAINER[/PROTOCOL]\n  fix: correct the compose file (docs.docker.com/compose/compose-file)");
        let e = parse("services:\n  a:\n    cap_add: 3\n", Path::new("dc.yml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("dc.yml: services.a.cap_add: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn dockerfile_start_scripts_are_found_through_cmd_and_copy() {
        let df = dockerfile(
            "FROM x\n# comment\nCOPY entrypoint.sh /entrypoint.sh\nCOPY --chown=a:b \\\n  pages/ /srv/\nCMD [\"/entrypoint.sh\"]\n",
            Path::new("Dockerfile"),
        );
        assert_eq!(df.cmd, Some(vec!["/entrypoint.sh".to_string()]));
        assert_eq!(
            df.copies[0],
            (
                "entrypoint.sh".into(),
                "/entrypoint.sh".into(),
                Loc::new("Dockerfile", 3)
            )
        );
        assert_eq!(df.copies[1].1, "/srv/");
        assert_eq!(df.copies[1].2.line, 4);
    }
}
