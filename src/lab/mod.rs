//! The lab model: a lab file parsed and validated into a [`Lab`].
//!
//! Nothing downstream re-validates: a `Lab` can only be made by [`load`] (or
//! [`Lab::from_yaml`]), which runs every check in `validate`.

mod input;
pub(crate) mod lines;
mod model;
pub mod user;
mod validate;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;

pub use input::{MAX_DEPTH, MAX_LAB_BYTES};
pub use model::*;
pub use validate::{Blame, Problem};

/// The lab used when `--lab` is not given: the seed lab carried in the
/// binary, so the default works from any folder.
pub const DEFAULT_LAB: &str = crate::shipped::DEFAULT;

/// Problems listed in one error; the rest are counted. A lab with thousands
/// of nodes must not print thousands of lines.
pub const MAX_PROBLEMS_SHOWN: usize = 20;

/// The two topologies a lab can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The seed's: VRRP nodes run nginx, one front HAProxy forwards to the
    /// VIP (a single point of failure).
    ProxyInFront,
    /// Production: VRRP nodes run HAProxy over plain web servers; clients
    /// use the VIP.
    LbPair,
}

/// A lab file that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Lab {
    spec: LabSpec,
    source: PathBuf,
    /// The user's own files the lab runs (none for a rendered lab).
    user: user::UserFiles,
}

/// Why a lab file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot read lab file `{}`\n  fix: {}", path.display(), read_fix(.source))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lab file `{}` is larger than {} MiB, more than any lab needs\n  fix: pass a lab file with `--lab FILE` (a lab is a few KiB of YAML)", path.display(), limit >> 20)]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("lab file `{}` is not UTF-8 text (first bad byte at line {line}, column {column})\n  fix: save the file as UTF-8, or pass a lab file (YAML) with `--lab FILE`", path.display())]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{}:{line}: nesting deeper than {limit} levels; a lab file is a few levels deep\n  fix: remove the extra nesting (brackets or indentation)", path.display())]
    TooDeep {
        path: PathBuf,
        line: usize,
        limit: usize,
    },
    #[error("{}", parse_message(.path, .field, .location, .message, .fix))]
    Parse {
        path: PathBuf,
        /// Dotted field path, e.g. `nodes[0].ip`, when the parser knows it.
        field: Option<String>,
        /// (line, column), 1-based, when the parser knows it.
        location: Option<(usize, usize)>,
        message: String,
        fix: String,
    },
    #[error("lab file `{}` names a user's file halab cannot run: {source}", path.display())]
    UserFile {
        path: PathBuf,
        #[source]
        source: Box<user::UserFileError>,
    },
    #[error("{}", invalid_message(.path, .problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn read_fix(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "pass an existing file with `--lab FILE`, or a lab shipped with halab by name: {}",
            crate::shipped::names()
        ),
        std::io::ErrorKind::PermissionDenied => {
            "make the file readable for this user, or pass another with `--lab FILE`".into()
        }
        _ => "pass a readable lab file (YAML) with `--lab FILE`".into(),
    }
}

fn parse_message(
    path: &Path,
    field: &Option<String>,
    location: &Option<(usize, usize)>,
    message: &str,
    fix: &str,
) -> String {
    let mut at = path.display().to_string();
    if let Some((line, col)) = location {
        at.push_str(&format!(":{line}:{col}"));
    }
    match field {
        Some(f) if !f.is_empty() && f != "." && f != "?" => {
            format!("{at}: field `{f}`: {message}\n  fix: {fix}")
        }
        _ => format!("{at}: {message}\n  fix: {fix}"),
    }
}

fn invalid_message(path: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "{}: {} problem{} in the lab",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems.iter().take(MAX_PROBLEMS_SHOWN) {
        let at = match &p.blame {
            Blame::File { line: Some(line) } => format!("line {line}: "),
            Blame::File { line: None } => String::new(),
            Blame::Flag(flag) => format!("{flag} on the command line: "),
        };
        out.push_str(&format!("\n  - {at}{p}"));
    }
    if problems.len() > MAX_PROBLEMS_SHOWN {
        out.push_str(&format!(
            "\n  … and {} more (fix these first: many often share one cause)",
            problems.len() - MAX_PROBLEMS_SHOWN
        ));
    }
    out
}

/// The text of a lab file (read as [`load`] reads it: bounded, UTF-8) or of
/// a shipped lab, for callers that edit it (sweep and tune copies).
pub fn text(path: &Path) -> Result<String, LabError> {
    match crate::shipped::resolve(path) {
        crate::shipped::LabSource::Shipped(l) => Ok(l.text.to_string()),
        crate::shipped::LabSource::File(file) => input::read(&file),
    }
}

/// Read, parse and validate a lab file.
pub fn load(path: &Path) -> Result<Lab, LabError> {
    load_with(path, &Overrides::default())
}

/// Like [`load`], applying command-line `overrides` before validation.
/// `path` is a file (read with a bound, [`MAX_LAB_BYTES`], and UTF-8) or
/// the name of a lab shipped in the binary (`seed`, `fast-failover`, …);
/// a file on disk wins over a name.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Lab, LabError> {
    match crate::shipped::resolve(path) {
        // The shipped lab is shown by its name, which `--lab` accepts again.
        crate::shipped::LabSource::Shipped(l) => {
            Lab::from_yaml_with(l.text, Path::new(l.name), overrides)
        }
        crate::shipped::LabSource::File(path) => {
            let text = input::read(&path)?;
            Lab::from_yaml_with(&text, &path, overrides)
        }
    }
}

/// Settings given on the command line that replace the lab file's, so that
/// two copies of a lab run side by side on one engine.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<String>,
    pub port: Option<u16>,
    /// A new subnet; every address in the lab keeps its offset inside it.
    pub subnet: Option<Ipv4Net>,
}

impl Overrides {
    /// The flag that set `field` (as typed, with its value), when one did:
    /// a problem there is the flag's, not the lab file's.
    pub fn flag_for(&self, field: &str) -> Option<String> {
        if let (Some(name), "name") = (&self.name, field) {
            return Some(format!("`--name {name}`"));
        }
        if let (Some(port), "proxy.port") = (self.port, field) {
            return Some(format!("`--port {port}`"));
        }
        let moved = field == "network.subnet"
            || field == "vip"
            || field == "proxy.ip"
            || field == "health_check.address"
            || (field.starts_with("nodes[") && field.ends_with("].ip"))
            || (field.starts_with("backends.servers[") && field.ends_with("].ip"));
        match self.subnet {
            Some(subnet) if moved => Some(format!("`--subnet {subnet}`")),
            _ => None,
        }
    }
}

impl Lab {
    /// Parse and validate YAML text; `source` names the file in messages.
    pub fn from_yaml(text: &str, source: &Path) -> Result<Lab, LabError> {
        Self::from_yaml_with(text, source, &Overrides::default())
    }

    /// Like [`Lab::from_yaml`], applying `overrides` before validation.
    pub fn from_yaml_with(
        text: &str,
        source: &Path,
        overrides: &Overrides,
    ) -> Result<Lab, LabError> {
        input::check_shape(text, source)?;
        let de = serde_yaml::Deserializer::from_str(text);
        let mut spec: LabSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let location = inner.location().map(|l| (l.line(), l.column()));
            let (message, fix) =
                input::explain(&strip_location(&inner.to_string(), &field), &field);
            LabError::Parse {
                path: source.to_path_buf(),
                message,
                fix,
                field: Some(field),
                location,
            }
        })?;
        let old_subnet = spec.network.subnet;
        apply_overrides(&mut spec, overrides);
        fill_defaults(&mut spec);
        let shift = overrides
            .subnet
            .map(|new| (old_subnet, new))
            .filter(|(old, new)| old != new);
        let user = user::read(&mut spec, source, shift).map_err(|e| LabError::UserFile {
            path: source.to_path_buf(),
            source: Box::new(e),
        })?;
        let mut problems = validate::validate(&spec);
        if !problems.is_empty() {
            let lines = lines::Lines::scan(text);
            for p in &mut problems {
                p.blame = match overrides.flag_for(&p.field) {
                    Some(flag) => Blame::Flag(flag),
                    None => Blame::File {
                        line: lines.line_of(&p.field),
                    },
                };
            }
            return Err(LabError::Invalid {
                path: source.to_path_buf(),
                problems,
            });
        }
        Ok(Lab {
            spec,
            source: source.to_path_buf(),
            user,
        })
    }

    /// The user's own files this lab runs (empty for a rendered lab).
    pub fn user_files(&self) -> &user::UserFiles {
        &self.user
    }

    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The file this lab was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The node that starts as MASTER (validation guarantees exactly one
    /// holds the highest priority).
    pub fn master(&self) -> &Node {
        self.spec
            .nodes
            .iter()
            .max_by_key(|n| n.priority)
            .expect("validated lab has nodes")
    }

    /// Every node but the master, highest priority first.
    pub fn backups(&self) -> Vec<&Node> {
        let master = &self.master().name;
        let mut b: Vec<&Node> = self
            .spec
            .nodes
            .iter()
            .filter(|n| &n.name != master)
            .collect();
        b.sort_by_key(|n| std::cmp::Reverse(n.priority));
        b
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.spec.nodes.iter().find(|n| n.name == name)
    }

    /// The lab's shape: who serves the page and where clients connect.
    pub fn shape(&self) -> Shape {
        if self.spec.nodes.iter().any(Node::runs_haproxy) {
            Shape::LbPair
        } else {
            Shape::ProxyInFront
        }
    }

    /// Whether a front proxy container exists (the seed's shape).
    pub fn has_front_proxy(&self) -> bool {
        self.spec.proxy.front
    }

    /// The web servers behind the load balancers (none in the seed's shape).
    pub fn backends(&self) -> &[WebServer] {
        &self.spec.backends.servers
    }

    pub fn backend(&self, name: &str) -> Option<&WebServer> {
        self.backends().iter().find(|w| w.name == name)
    }

    /// Every member's name, as containers are made: nodes, web servers,
    /// then the front proxy when there is one.
    pub fn members(&self) -> Vec<&str> {
        let nodes = self.spec.nodes.iter().map(|n| n.name.as_str());
        let webs = self.backends().iter().map(|w| w.name.as_str());
        let proxy = self
            .has_front_proxy()
            .then_some(self.spec.proxy.name.as_str());
        nodes.chain(webs).chain(proxy).collect()
    }

    /// Where clients (and the probe) connect: the front proxy's published
    /// port on loopback, or the VIP itself on the lab's bridge.
    pub fn client_target(&self) -> std::net::SocketAddrV4 {
        if self.has_front_proxy() {
            std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.spec.proxy.port)
        } else {
            std::net::SocketAddrV4::new(self.vip_addr(), self.spec.proxy.listen)
        }
    }

    /// Docker network name: `<lab>-<network>`.
    pub fn network_name(&self) -> String {
        format!("{}-{}", self.spec.name, self.spec.network.name)
    }

    /// Docker container name of a node or of the proxy.
    pub fn container_name(&self, member: &str) -> String {
        format!("{}-{}", self.spec.name, member)
    }

    /// The proxy's address: the lab's, or the first host address of the
    /// subnet after the gateway that no node or the VIP uses. Fixed here so
    /// the engine's allocator never hands the proxy the VIP.
    pub fn proxy_ip(&self) -> Ipv4Addr {
        if let Some(ip) = self.spec.proxy.ip {
            return ip;
        }
        let taken: Vec<Ipv4Addr> = self
            .spec
            .nodes
            .iter()
            .map(|n| n.ip)
            .chain(std::iter::once(self.vip_addr()))
            .collect();
        self.spec
            .network
            .subnet
            .hosts()
            .skip(1)
            .find(|ip| !taken.contains(ip))
            .expect("validation leaves room in the subnet")
    }

    /// The VIP's address without its prefix.
    pub fn vip_addr(&self) -> Ipv4Addr {
        self.spec.vip.addr()
    }

    /// Budget of a scenario: the lab's values over the catalogue's
    /// defaults (`scenario::Scenario::budget`, where the rule lives).
    pub fn budget(&self, scenario: ScenarioName) -> Budget {
        crate::scenario::get(scenario).budget(self)
    }
}

impl fmt::Display for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.spec.name, self.source.display())
    }
}

/// serde_yaml prefixes the path ("network: ") and appends " at line L
/// column C"; both are shown up front already.
fn strip_location(msg: &str, field: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((path, rest)) if field.starts_with(path) => rest.to_string(),
        _ => msg.to_string(),
    }
}

/// Defaults that depend on other fields, filled in once after parsing: a
/// node running HAProxy only names itself in the `X-Halab-LB` header by its
/// `page`, which is its name unless the file says otherwise.
fn fill_defaults(spec: &mut LabSpec) {
    for n in &mut spec.nodes {
        if n.page.is_empty() && n.runs_haproxy() && !n.runs_nginx() {
            n.page = n.name.clone();
        }
    }
}

fn apply_overrides(spec: &mut LabSpec, o: &Overrides) {
    if let Some(name) = &o.name {
        spec.name = name.clone();
    }
    if let Some(port) = o.port {
        spec.proxy.port = port;
    }
    if let Some(new) = o.subnet {
        let old = spec.network.subnet;
        let shift = |ip: Ipv4Addr| -> Ipv4Addr {
            let offset = u32::from(ip).wrapping_sub(u32::from(old.network()));
            Ipv4Addr::from(u32::from(new.network()).wrapping_add(offset))
        };
        for n in &mut spec.nodes {
            n.ip = shift(n.ip);
        }
        for w in &mut spec.backends.servers {
            w.ip = shift(w.ip);
        }
        if let Some(a) = spec.health_check.address {
            spec.health_check.address = Some(shift(a));
        }
        spec.vip =
            Ipv4Net::new(shift(spec.vip.addr()), spec.vip.prefix_len()).expect("same prefix");
        if let Some(ip) = spec.proxy.ip {
            spec.proxy.ip = Some(shift(ip));
        }
        // Validation then refuses addresses that fell outside a smaller subnet.
        spec.network.subnet = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(file: &str) -> (PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("labs")
            .join(file);
        let text = std::fs::read_to_string(&path).expect("shipped lab is readable");
        (path, text)
    }

    #[test]
    fn members_are_nodes_web_servers_and_the_front_proxy_when_any() {
        let seed = load(&shipped("nginx-keepalived.yaml").0).unwrap();
        assert_eq!(seed.members(), ["nginx_master", "nginx_slave", "proxy"]);
        let pair = load(&shipped("lb-pair.yaml").0).unwrap();
        assert_eq!(pair.members(), ["lb1", "lb2", "web1", "web2", "web3"]);
    }

    #[test]
    fn shipped_labs_load_without_problems() {
        for file in [
            "nginx-keepalived.yaml",
            "fast-failover.yaml",
            "three-node.yaml",
            "lb-pair.yaml",
        ] {
            let (path, _) = shipped(file);
            let lab = load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(lab.source(), path);
            assert!(!lab.backups().is_empty(), "{file}");
        }
        let lab = load(&shipped("three-node.yaml").0).unwrap();
        assert_eq!(lab.master().name, "nginx_master");
        let backups: Vec<_> = lab.backups().iter().map(|n| n.name.as_str()).collect();
        assert_eq!(backups, ["nginx_backup1", "nginx_backup2"]);
    }

    #[test]
    fn unknown_field_is_a_parse_error_with_field_and_location() {
        let (_, text) = shipped("nginx-keepalived.yaml");
        let text = text.replace(
            "    priority: 100\n",
            "    priority: 100\n    colour: red\n",
        );
        let err = Lab::from_yaml(&text, Path::new("t.yaml")).unwrap_err();
        let LabError::Parse {
            field,
            location,
            message,
            ..
        } = &err
        else {
            panic!("expected a parse error, got: {err}");
        };
        let field = field.as_deref().unwrap_or_default();
        assert!(field.starts_with("nodes[1]"), "{field}");
        assert!(message.contains("unknown field `colour`"), "{message}");
        let (line, column) = location.expect("serde_yaml knows where");
        let expected_line = text.lines().position(|l| l.contains("colour")).unwrap() + 1;
        assert_eq!((line, column), (expected_line, 5));
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("t.yaml:{line}:5: field `nodes[1]")),
            "{shown}"
        );
    }

    #[test]
    fn missing_file_says_how_to_fix() {
        let err = load(Path::new("/nonexistent/lab.yaml")).unwrap_err();
        assert!(matches!(err, LabError::Read { .. }));
        assert!(err.to_string().contains("--lab FILE"), "{err}");
    }

    #[test]
    fn subnet_override_shifts_every_address() {
        let (path, text) = shipped("nginx-keepalived.yaml");
        let text = text.replace("  port: 8000\n", "  port: 8000\n  ip: 172.20.128.9\n");
        let o = Overrides {
            subnet: Some("10.77.0.0/16".parse().unwrap()),
            ..Overrides::default()
        };
        let lab = Lab::from_yaml_with(&text, &path, &o).unwrap();
        let s = lab.spec();
        assert_eq!(s.network.subnet, "10.77.0.0/16".parse::<Ipv4Net>().unwrap());
        let ips: Vec<Ipv4Addr> = s.nodes.iter().map(|n| n.ip).collect();
        assert_eq!(
            ips,
            [Ipv4Addr::new(10, 77, 128, 2), Ipv4Addr::new(10, 77, 128, 3)]
        );
        assert_eq!(s.vip, "10.77.128.4/24".parse::<Ipv4Net>().unwrap());
        assert_eq!(s.proxy.ip, Some(Ipv4Addr::new(10, 77, 128, 9)));
    }

    #[test]
    fn too_small_subnet_override_is_refused() {
        let (path, text) = shipped("nginx-keepalived.yaml");
        let o = Overrides {
            subnet: Some("10.77.0.0/24".parse().unwrap()),
            ..Overrides::default()
        };
        let err = Lab::from_yaml_with(&text, &path, &o).unwrap_err();
        let LabError::Invalid { problems, .. } = &err else {
            panic!("expected problems, got: {err}");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["nodes[0].ip", "nodes[1].ip", "vip"], "{err}");
        assert!(
            problems[0]
                .message
                .contains("10.77.128.2 is outside network.subnet 10.77.0.0/24"),
            "{err}"
        );
    }

    #[test]
    fn name_and_port_overrides() {
        let (path, text) = shipped("nginx-keepalived.yaml");
        let o = Overrides {
            name: Some("copy2".into()),
            port: Some(18000),
            subnet: None,
        };
        let lab = Lab::from_yaml_with(&text, &path, &o).unwrap();
        assert_eq!(lab.container_name("nginx_master"), "copy2-nginx_master");
        assert_eq!(lab.network_name(), "copy2-static-network");
        assert_eq!(lab.spec().proxy.port, 18000);
        let bad = Overrides {
            name: Some("Copy".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            Lab::from_yaml_with(&text, &path, &bad),
            Err(LabError::Invalid { .. })
        ));
    }

    #[test]
    fn proxy_gets_a_fixed_address_clear_of_nodes_and_vip() {
        let (path, text) = shipped("nginx-keepalived.yaml");
        let lab = Lab::from_yaml(&text, &path).unwrap();
        assert_eq!(lab.proxy_ip(), Ipv4Addr::new(172, 20, 0, 2));
        // A node on the first free address pushes the proxy to the next one.
        let text = text.replace("172.20.128.3", "172.20.0.2");
        let lab = Lab::from_yaml(&text, &path).unwrap();
        assert_eq!(lab.proxy_ip(), Ipv4Addr::new(172, 20, 0, 3));
    }

    #[test]
    fn parse_errors_speak_of_numbers_texts_and_empty_values_not_serde_types() {
        let (path, text) = shipped("nginx-keepalived.yaml");
        let number = "expected a whole number from 0 to 65535";
        for (value, found) in [
            ("", "nothing (the value is empty)"),
            (" 99999999999999999999", "the number 99999999999999999999"),
            (" high", "the text \"high\""),
        ] {
            let said = format!("{number}, found {found}");
            let text = text.replacen("    priority: 100\n", &format!("    priority:{value}\n"), 1);
            let err = Lab::from_yaml(&text, &path).unwrap_err();
            let LabError::Parse { message, fix, .. } = &err else {
                panic!("expected a parse error, got: {err}");
            };
            assert_eq!(message, &said);
            assert_eq!(fix, "write a whole number from 0 to 65535");
            for serde_word in ["u16", "unit value", "invalid type", "invalid value"] {
                assert!(!err.to_string().contains(serde_word), "{err}");
            }
        }
    }

    #[test]
    fn a_non_utf8_or_oversized_file_is_refused_with_its_own_message() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, b"name: x\npage: \xff\n").unwrap();
        let err = load(&bad).unwrap_err();
        assert!(
            matches!(
                err,
                LabError::NotUtf8 {
                    line: 2,
                    column: 7,
                    ..
                }
            ),
            "{err:?}"
        );
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_LAB_BYTES as usize + 1]).unwrap();
        assert!(matches!(load(&big), Err(LabError::TooLarge { .. })));
        // Text handed over directly is bounded too.
        let deep = format!("name: {}", "[".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            Lab::from_yaml(&deep, Path::new("t.yaml")),
            Err(LabError::TooDeep { line: 1, .. })
        ));
    }

    #[test]
    fn parse_errors_do_not_repeat_the_field_path() {
        let (path, text) = shipped("nginx-keepalived.yaml");
        let text = text.replace(
            "  subnet: 172.20.0.0/16",
            "  subnet: 172.20.0.0/16\n  mtu: 1500",
        );
        let err = Lab::from_yaml(&text, &path).unwrap_err().to_string();
        assert!(
            err.contains("field `network.mtu`: unknown field `mtu`"),
            "{err}"
        );
    }
}
