//! Labs that run a user's own files: `nodes[].keepalived_conf`,
//! `nodes[].page_file`, `nodes[].files` and `proxy.haproxy_cfg`.
//!
//! The files are read here, once, and what halab needs to probe and judge
//! (VIP, interface, router id, priority, state, peers, check timers, advert
//! interval, version, the proxy's port and timeouts) is read from them into
//! the lab's model, so budgets and verdicts work as for a rendered lab. The
//! files go into the image as they are, with two exceptions said in the
//! docs: an LVS `virtual_server` block is left out (its real servers lie
//! outside the lab, and this kernel has no IPVS), and `--subnet` moves the
//! addresses inside the lab subnet as it moves the lab's own. The user's
//! files are only read.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use ipnet::Ipv4Net;

use super::model::{LabSpec, ServerCheck, VrrpState};
use crate::userconf::keepalived::{self, KeepalivedConf, VrrpInstance};
use crate::userconf::{haproxy, read_text, ConfError, Loc};

/// A user's file as it goes into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text as read (addresses moved by `--subnet`): what lint reads.
    pub as_read: String,
    /// Its text as the image gets it (see the module's doc).
    pub text: String,
}

/// The user's files of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFiles {
    pub keepalived: Option<UserFile>,
    pub page: Option<UserFile>,
    /// (container path, file).
    pub files: Vec<(String, UserFile)>,
}

/// Every user's file a lab names, by node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFiles {
    pub nodes: BTreeMap<String, NodeFiles>,
    pub haproxy: Option<UserFile>,
}

impl UserFiles {
    pub fn is_empty(&self) -> bool {
        self.haproxy.is_none() && self.nodes.values().all(|n| *n == NodeFiles::default())
    }
}

/// Why a user's file cannot run in a lab.
#[derive(Debug, thiserror::Error)]
pub enum UserFileError {
    #[error(transparent)]
    Conf(#[from] ConfError),
    #[error("{at}: {what}\n  fix: {fix}")]
    Unsupported { at: Loc, what: String, fix: String },
}

fn unsupported(at: Loc, what: impl Into<String>, fix: impl Into<String>) -> UserFileError {
    UserFileError::Unsupported {
        at,
        what: what.into(),
        fix: fix.into(),
    }
}

/// Reads the user's files `spec` names (paths relative to `lab_file`'s
/// folder) and puts what they say into `spec`. `shift` is (old, new) subnet
/// when `--subnet` moved the lab.
pub fn read(
    spec: &mut LabSpec,
    lab_file: &Path,
    shift: Option<(Ipv4Net, Ipv4Net)>,
) -> Result<UserFiles, UserFileError> {
    let base = match lab_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let load = |rel: &Path| -> Result<UserFile, UserFileError> {
        let path = base.join(rel);
        let text = read_text(&path)?;
        let text = match shift {
            Some((old, new)) => shift_addresses(&text, old, new),
            None => text,
        };
        Ok(UserFile {
            path,
            as_read: text.clone(),
            text,
        })
    };
    let mut out = UserFiles::default();
    let with_conf = spec
        .nodes
        .iter()
        .filter(|n| n.keepalived_conf.is_some())
        .count();
    if with_conf != 0 && with_conf != spec.nodes.len() {
        let bare = spec
            .nodes
            .iter()
            .find(|n| n.keepalived_conf.is_none())
            .map(|n| n.name.clone())
            .unwrap_or_default();
        return Err(unsupported(
            Loc::new(lab_file, 0),
            format!("node `{bare}` has no `keepalived_conf` while other nodes have one: halab renders its own keepalived.conf for it, which cannot agree with the user's files"),
            "give every node its `keepalived_conf`, or none",
        ));
    }
    let mut lab_wide_done = false;
    for node in &mut spec.nodes {
        let mut files = NodeFiles::default();
        if let Some(rel) = node.keepalived_conf.clone() {
            let mut file = load(&rel)?;
            let conf = keepalived::parse(&file.text, &file.path)?;
            refuse_includes(&conf, &file)?;
            let inst = conf
                .instance(node.instance.as_deref())
                .map_err(|e| instance_error(e, &conf, &node.name))?;
            let read = Vrrp::of(&conf, inst)?;
            node.state = read.state;
            node.priority = read.priority;
            if !lab_wide_done {
                // The first node's settings are the lab's; lint names any
                // node that disagrees.
                lab_wide_done = true;
                spec.vip = read.vip;
                spec.vrrp.version = read.version;
                spec.vrrp.virtual_router_id = read.virtual_router_id;
                spec.vrrp.advert_int = read.advert_int;
                spec.vrrp.interface = read.interface.clone();
                spec.vrrp.unicast = read.unicast;
                spec.vrrp.auth_pass = read.auth_pass.clone();
                spec.vrrp.preempt = read.preempt;
                spec.vrrp.garp_master_delay = None;
                if let Some(check) = &read.check {
                    spec.health_check.interval = check.interval;
                    spec.health_check.fall = check.fall;
                    spec.health_check.rise = check.rise;
                    spec.health_check.weight = check.weight;
                }
            }
            file.text = without_virtual_servers(&file.text, &conf);
            files.keepalived = Some(file);
        }
        if let Some(rel) = &node.page_file {
            let file = load(rel)?;
            let marker = node.marker();
            if marker.is_empty() || !file.text.contains(&marker) {
                return Err(unsupported(
                    Loc::new(&file.path, 0),
                    format!(
                        "the page of node `{}` does not contain its text `page: {}`, so a client cannot tell it from the others",
                        node.name, node.page
                    ),
                    "set the node's `page:` to a text that occurs in this page and in no other (e.g. its <title>)",
                ));
            }
            files.page = Some(file);
        }
        for (dest, rel) in &node.files {
            let dest_path = Path::new(dest);
            let plain = dest_path.is_absolute()
                && dest_path
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
                && dest_path.components().count() > 1;
            if !plain {
                return Err(unsupported(
                    Loc::new(lab_file, 0),
                    format!("node `{}`: `files` names `{dest}`, which is not an absolute path to a file inside the container", node.name),
                    "write the path the file has in the container, e.g. `/etc/keepalived/check_nginx.sh`",
                ));
            }
            files.files.push((dest.clone(), load(rel)?));
        }
        if files != NodeFiles::default() {
            out.nodes.insert(node.name.clone(), files);
        }
    }
    if let Some(rel) = spec.proxy.haproxy_cfg.clone() {
        let file = load(&rel)?;
        let cfg = haproxy::parse(&file.text, &file.path)?;
        read_proxy(spec, &cfg, &file)?;
        out.haproxy = Some(file);
    }
    Ok(out)
}

/// What one node's keepalived.conf says that halab needs.
struct Vrrp {
    state: VrrpState,
    priority: u16,
    vip: Ipv4Net,
    version: u8,
    virtual_router_id: u16,
    advert_int: Duration,
    interface: String,
    unicast: bool,
    auth_pass: Option<String>,
    preempt: bool,
    check: Option<Check>,
}

struct Check {
    interval: Duration,
    fall: u32,
    rise: u32,
    weight: i32,
}

impl Vrrp {
    fn of(conf: &KeepalivedConf, inst: &VrrpInstance) -> Result<Vrrp, UserFileError> {
        let name = &inst.name;
        let virtual_router_id = inst
            .virtual_router_id
            .as_ref()
            .map(|v| u16::from(v.value))
            .ok_or_else(|| {
                unsupported(
                    inst.at.clone(),
                    format!("vrrp_instance `{name}` has no virtual_router_id (keepalived refuses to start it)"),
                    "write `virtual_router_id N` (1–255), the same on every node",
                )
            })?;
        let interface = inst.interface.as_ref().map(|i| i.value.clone()).ok_or_else(|| {
            unsupported(
                inst.at.clone(),
                format!("vrrp_instance `{name}` has no interface, so halab cannot tell where to watch the VIP"),
                "write `interface eth0` (the lab's nodes have one interface, eth0)",
            )
        })?;
        let v4: Vec<_> = inst
            .vips
            .iter()
            .filter(|v| matches!(v.addr, IpAddr::V4(_)))
            .collect();
        let vip = match v4.as_slice() {
            [one] => {
                let IpAddr::V4(addr) = one.addr else {
                    unreachable!("filtered to IPv4")
                };
                Ipv4Net::new(addr, one.prefix.unwrap_or(32)).map_err(|_| {
                    unsupported(
                        one.at.clone(),
                        format!("`{}/{}` is not an IPv4 prefix", one.addr, one.prefix.unwrap_or(32)),
                        "write the VIP as ADDRESS/PREFIX with a prefix of at most 32",
                    )
                })?
            }
            [] => {
                return Err(unsupported(
                    inst.at.clone(),
                    format!("vrrp_instance `{name}` has no IPv4 virtual_ipaddress: there is no VIP to probe"),
                    "list the VIP in `virtual_ipaddress { 172.20.128.4/24 dev eth0 }`",
                ))
            }
            [_, second, ..] => {
                return Err(unsupported(
                    second.at.clone(),
                    format!("vrrp_instance `{name}` brings up {} IPv4 addresses; halab judges one VIP per lab", v4.len()),
                    "keep one address in `virtual_ipaddress` for the lab (the one the proxy forwards to)",
                ))
            }
        };
        let check = inst.track_scripts.iter().find_map(|t| {
            let s = conf.script(&t.name)?;
            let secs = s.interval.as_ref().map(|i| i.value.value).unwrap_or(1.0);
            Some(Check {
                // keepalived runs scripts every whole second at the finest.
                interval: Duration::from_secs(secs.ceil().max(1.0) as u64),
                fall: s.fall.as_ref().map(|f| f.value).unwrap_or(1),
                rise: s.rise.as_ref().map(|r| r.value).unwrap_or(1),
                weight: t.weight.or(s.weight.as_ref().map(|w| w.value)).unwrap_or(0),
            })
        });
        Ok(Vrrp {
            state: match inst.state.as_ref().map(|s| s.value) {
                Some(keepalived::State::Master) => VrrpState::Master,
                // keepalived's default.
                _ => VrrpState::Backup,
            },
            // keepalived's default priority.
            priority: inst
                .priority
                .as_ref()
                .map(|p| u16::from(p.value))
                .unwrap_or(100),
            vip,
            version: conf.version_of(inst),
            virtual_router_id,
            advert_int: inst
                .advert_int
                .as_ref()
                .map(|a| Duration::from_secs_f64(a.value.value))
                .unwrap_or(Duration::from_secs(1)),
            interface,
            unicast: inst.is_unicast(),
            auth_pass: inst
                .auth
                .as_ref()
                .and_then(|a| a.pass.as_ref())
                .map(|p| p.value.clone()),
            preempt: inst.nopreempt.is_none(),
            check,
        })
    }
}

/// The reader's words are for `import --instance`; in a lab file the
/// choice is the node's `instance:`.
fn instance_error(e: ConfError, conf: &KeepalivedConf, node: &str) -> UserFileError {
    let ConfError::InstanceChoice {
        wanted, available, ..
    } = &e
    else {
        return e.into();
    };
    let at = conf
        .instances
        .first()
        .map(|i| i.at.clone())
        .unwrap_or_default();
    let list = available
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let what = match wanted {
        None => format!(
            "{} vrrp_instances ({list}); halab judges one",
            available.len()
        ),
        Some(w) => format!("no vrrp_instance `{w}`; there are {list}"),
    };
    let first = available.first().map(String::as_str).unwrap_or("VI_1");
    unsupported(
        at,
        what,
        format!("name the one to judge on node `{node}`: `instance: {first}`"),
    )
}

/// One file goes into the image: an `include` would name files that are
/// not there.
fn refuse_includes(conf: &KeepalivedConf, file: &UserFile) -> Result<(), UserFileError> {
    if conf.files.len() <= 1 {
        return Ok(());
    }
    let line = file
        .text
        .lines()
        .position(|l| l.trim_start().starts_with("include"))
        .map(|i| i + 1)
        .unwrap_or(0);
    Err(unsupported(
        Loc::new(&file.path, line),
        format!(
            "`include` brings in {}; halab puts one keepalived.conf per node into the image",
            conf.files[1..]
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "paste the included files into one keepalived.conf for the lab",
    ))
}

/// The proxy's settings from the user's haproxy.cfg: the port it listens
/// on, its timeouts and retries, and the check of the VIP server.
fn read_proxy(
    spec: &mut LabSpec,
    cfg: &haproxy::HaproxyConf,
    file: &UserFile,
) -> Result<(), UserFileError> {
    let bind = cfg.binds().into_iter().find(|b| b.port.is_some());
    let Some(listen) = bind.and_then(|b| b.port) else {
        return Err(unsupported(
            Loc::new(&file.path, 0),
            "no `bind` with a port: halab cannot tell which port of the proxy to publish",
            "bind the frontend to a port, e.g. `bind *:6301`",
        ));
    };
    spec.proxy.listen = listen;
    let defaults = cfg.sections_of("defaults").next();
    if let Some(d) = defaults {
        for t in cfg.timeouts(d) {
            let (Some(kind), Some(value)) = (t.args.first(), t.args.get(1)) else {
                continue;
            };
            let Some(value) = haproxy_time(value) else {
                continue;
            };
            match kind.as_str() {
                "connect" => spec.proxy.timeouts.connect = value,
                "client" => spec.proxy.timeouts.client = value,
                "server" => spec.proxy.timeouts.server = value,
                _ => {}
            }
        }
        if let Some(r) = d
            .find("retries")
            .next()
            .and_then(|r| r.args.first()?.parse().ok())
        {
            spec.proxy.retries = r;
        }
    }
    if let Some(m) = cfg
        .global("maxconn")
        .next()
        .and_then(|m| m.args.first()?.parse().ok())
    {
        spec.proxy.maxconn = m;
    }
    let vip = spec.vip.addr().to_string();
    spec.proxy.check = cfg
        .servers()
        .into_iter()
        .find(|s| s.addr == vip)
        .filter(|s| s.check)
        .map(|s| ServerCheck {
            // HAProxy's defaults: inter 2s, rise 2, fall 3.
            inter: s
                .inter
                .as_deref()
                .and_then(haproxy_time)
                .unwrap_or(Duration::from_secs(2)),
            rise: s.rise.unwrap_or(2),
            fall: s.fall.unwrap_or(3),
        });
    spec.proxy.retry_on = Vec::new();
    spec.proxy.http_reuse = None;
    Ok(())
}

/// An HAProxy time: a bare number is milliseconds; else `us`, `ms`, `s`,
/// `m`, `h`, `d` suffixes.
fn haproxy_time(text: &str) -> Option<Duration> {
    if let Ok(ms) = text.parse::<u64>() {
        return Some(Duration::from_millis(ms));
    }
    humantime::parse_duration(text).ok()
}

/// `text` with every virtual_server block replaced by `!` comment lines
/// (so every other line keeps its number).
pub fn without_virtual_servers(text: &str, conf: &KeepalivedConf) -> String {
    if conf.virtual_servers.is_empty() {
        return text.to_string();
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for vs in &conf.virtual_servers {
        if vs.at.file != conf.file || vs.at.line == 0 {
            continue;
        }
        let start = vs.at.line - 1;
        let end = block_end(&lines, start);
        for (i, line) in lines.iter_mut().enumerate().take(end + 1).skip(start) {
            *line = if i == start {
                format!(
                    "! halab left out an LVS virtual_server block here (lines {}–{}): see `halab lint`",
                    start + 1,
                    end + 1
                )
            } else {
                "!".to_string()
            };
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The index of the line that closes the block opened at `start`.
fn block_end(lines: &[String], start: usize) -> usize {
    let mut depth = 0i32;
    let mut opened = false;
    for (i, line) in lines.iter().enumerate().skip(start) {
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                '#' | '!' if !quoted => break,
                '{' if !quoted => {
                    depth += 1;
                    opened = true;
                }
                '}' if !quoted => depth -= 1,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return i;
        }
    }
    lines.len().saturating_sub(1)
}

/// `text` with every IPv4 address inside `old` moved to the same offset in
/// `new` (what `--subnet` does to the lab's own addresses).
pub fn shift_addresses(text: &str, old: Ipv4Net, new: Ipv4Net) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.');
        if starts_word && bytes[i].is_ascii_digit() {
            let end = bytes[i..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'.'))
                .map(|n| i + n)
                .unwrap_or(bytes.len());
            // A trailing dot ends a sentence, not an address.
            let word = text[i..end].trim_end_matches('.');
            if let Ok(ip) = word.parse::<Ipv4Addr>() {
                if old.contains(&ip) {
                    let offset = u32::from(ip).wrapping_sub(u32::from(old.network()));
                    let moved = Ipv4Addr::from(u32::from(new.network()).wrapping_add(offset));
                    out.push_str(&text[copied..i]);
                    out.push_str(&moved.to_string());
                    copied = i + word.len();
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_inside_the_old_subnet_move_and_others_stay() {
        let old: Ipv4Net = "172.20.0.0/16".parse().unwrap();
        let new: Ipv4Net = "10.130.0.0/16".parse().unwrap();
        let text = "unicast_src_ip 172.20.128.2\nserver a 172.20.128.4:80 check\nlog 127.0.0.1 local0\nversion 1.2.3.4.5 and 172.20.1.1.\n";
        assert_eq!(
            shift_addresses(text, old, new),
            "unicast_src_ip 10.130.128.2\nserver a 10.130.128.4:80 check\nlog 127.0.0.1 local0\nversion 1.2.3.4.5 and 10.130.1.1.\n"
        );
    }

    #[test]
    fn an_lvs_block_is_left_out_and_every_other_line_keeps_its_number() {
        let text = "vrrp_instance VI_1 {\n    virtual_router_id 1\n}\nvirtual_server 10.0.0.1 80 {\n    real_server 172.16.16.177 80 {\n        weight 1 # }\n    }\n}\n! after\n";
        let conf = keepalived::parse(text, Path::new("k.conf")).unwrap();
        let out = without_virtual_servers(text, &conf);
        assert!(!out.contains("172.16.16."), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
        assert_eq!(out.lines().nth(8), Some("! after"));
        assert!(out.lines().nth(3).unwrap().contains("lines 4–8"), "{out}");
        let again = keepalived::parse(&out, Path::new("k.conf")).unwrap();
        assert!(again.virtual_servers.is_empty());
        assert_eq!(again.instances.len(), 1);
    }

    const MASTER: &str = "vrrp_script chk {\n    script \"/etc/keepalived/check.sh\"\n    interval 3\n    fall 2\n}\nvrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 33\n    priority 200\n    advert_int 2\n    unicast_src_ip 172.20.128.2\n    unicast_peer {\n        172.20.128.3\n    }\n    authentication {\n        auth_type PASS\n        auth_pass letmein\n    }\n    virtual_ipaddress {\n        172.20.128.4/24 dev eth0 label eth0:1\n    }\n    track_script {\n        chk\n    }\n}\n";

    /// A lab file in a folder with the user's files; the lab names them.
    fn lab_with(
        master: &str,
        extra_node_lines: &str,
    ) -> (tempfile::TempDir, Result<crate::lab::Lab, String>) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("master.conf"), master).unwrap();
        let backup = MASTER
            .replace("state MASTER", "state BACKUP")
            .replace("priority 200", "priority 100")
            .replace("src_ip 172.20.128.2", "src_ip 172.20.128.X")
            .replace("        172.20.128.3", "        172.20.128.2")
            .replace("172.20.128.X", "172.20.128.3");
        std::fs::write(d.join("backup.conf"), backup).unwrap();
        std::fs::write(d.join("a.html"), "<title>alpha</title>").unwrap();
        std::fs::write(d.join("check.sh"), "#!/bin/sh\ntrue\n").unwrap();
        std::fs::write(d.join("haproxy.cfg"), "defaults\n    timeout connect 300ms\n    retries 7\nfrontend f\n    bind *:7000\n    default_backend b\nbackend b\n    server v 172.20.128.4:80 check inter 500 fall 4\n").unwrap();
        let yaml = format!(
            "name: u\nnetwork:\n  subnet: 172.20.0.0/16\nvip: 172.20.128.9/24\nnodes:\n  - name: a\n    ip: 172.20.128.2\n    state: BACKUP\n    priority: 1\n    page: alpha\n    keepalived_conf: master.conf\n    page_file: a.html\n    files:\n      /etc/keepalived/check.sh: check.sh\n{extra_node_lines}  - name: b\n    ip: 172.20.128.3\n    state: BACKUP\n    priority: 1\n    page: beta\n    keepalived_conf: backup.conf\nproxy:\n  haproxy_cfg: haproxy.cfg\n"
        );
        let path = d.join("lab.yaml");
        let lab = crate::lab::Lab::from_yaml(&yaml, &path)
            .map_err(|e| e.to_string().replace(&d.display().to_string(), "DIR"));
        (dir, lab)
    }

    #[test]
    fn what_the_users_files_say_becomes_the_labs_model() {
        let (_dir, lab) = lab_with(MASTER, "");
        let lab = lab.unwrap();
        let s = lab.spec();
        assert_eq!(s.vip, "172.20.128.4/24".parse::<Ipv4Net>().unwrap());
        assert_eq!(lab.master().name, "a");
        assert_eq!(
            (s.nodes[0].state, s.nodes[0].priority),
            (VrrpState::Master, 200)
        );
        assert_eq!(
            (s.nodes[1].state, s.nodes[1].priority),
            (VrrpState::Backup, 100)
        );
        assert_eq!(s.vrrp.virtual_router_id, 33);
        assert_eq!(s.vrrp.advert_int, Duration::from_secs(2));
        assert_eq!(s.vrrp.auth_pass.as_deref(), Some("letmein"));
        assert!(s.vrrp.unicast);
        assert_eq!(s.health_check.interval, Duration::from_secs(3));
        assert_eq!(s.health_check.fall, 2);
        assert_eq!(s.proxy.listen, 7000);
        assert_eq!(s.proxy.timeouts.connect, Duration::from_millis(300));
        assert_eq!(s.proxy.retries, 7);
        let check = s.proxy.check.as_ref().unwrap();
        assert_eq!(
            (check.inter, check.rise, check.fall),
            (Duration::from_millis(500), 2, 4)
        );
        let r = crate::render::render(&lab, None).unwrap();
        assert_eq!(r.files[Path::new("nodes/a/keepalived.conf")], MASTER);
        assert_eq!(
            r.files[Path::new("nodes/a/index.html")],
            "<title>alpha</title>"
        );
        let script = Path::new("nodes/a/root/etc/keepalived/check.sh");
        assert_eq!(r.files[script], "#!/bin/sh\ntrue\n");
        assert!(crate::render::Rendered::is_executable(script));
        assert!(r.files[Path::new("haproxy.cfg")].contains("bind *:7000"));
    }

    #[test]
    fn a_file_halab_cannot_judge_is_refused_with_its_line_and_the_fix() {
        let (_d, no_vip) = lab_with(
            &MASTER.replace("        172.20.128.4/24 dev eth0 label eth0:1\n", ""),
            "",
        );
        insta::assert_snapshot!("no_vip", no_vip.unwrap_err());
        let two = MASTER.to_string() + &MASTER.replace("VI_1", "VI_2");
        let (_d, unchosen) = lab_with(&two, "");
        insta::assert_snapshot!("two_instances", unchosen.unwrap_err());
        let (_d, chosen) = lab_with(&two, "    instance: VI_2\n");
        assert!(chosen.is_ok(), "{:?}", chosen.err());
    }

    #[test]
    fn haproxy_times_are_milliseconds_unless_a_unit_says_otherwise() {
        assert_eq!(haproxy_time("5000"), Some(Duration::from_secs(5)));
        assert_eq!(haproxy_time("5000ms"), Some(Duration::from_secs(5)));
        assert_eq!(haproxy_time("2s"), Some(Duration::from_secs(2)));
        assert_eq!(haproxy_time("soon"), None);
    }
}
