//! `halab import`: a user's docker-compose project with keepalived nodes and
//! an HAProxy proxy becomes a lab file that runs the user's own files, with
//! the lint findings on them. With `--fix`, corrected copies are written
//! beside the originals (or into `--fix-dir`) and the lab uses those; every
//! change is listed with its reason. The user's files are never written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::lab::user::without_virtual_servers;
use crate::userconf::compose::{self, ComposeProject, Service};
use crate::userconf::keepalived::{KeepalivedConf, State};
use crate::userconf::lint::{self as rules, Finding, Rule};
use crate::userconf::{haproxy, keepalived, ConfError, Loc};

/// First line of every file `import` writes: only such a file is replaced
/// by a later import.
pub const WRITTEN_BY: &str = "written by halab import";

/// What `halab import` was asked (its command-line flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImportOptions {
    /// The project's folder or its compose file.
    #[arg(value_name = "DIR|COMPOSE_FILE")]
    pub source: PathBuf,
    /// The lab file to write [default: labs/<name>.yaml].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write corrected copies (`*.halab.conf`, `*.halab.cfg`) and a lab
    /// that uses them; every change is listed with its reason.
    #[arg(long)]
    pub fix: bool,
    /// Where the corrected copies go [default: beside the originals].
    #[arg(long, value_name = "DIR", requires = "fix")]
    pub fix_dir: Option<PathBuf>,
    /// The VRRP instance to judge, when the keepalived.conf has several.
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// The lab's name [default: from the project's folder].
    #[arg(long)]
    pub name: Option<String>,
}

/// One edit of a corrected copy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// The copy written.
    pub copy: PathBuf,
    /// The line of the user's file it changes.
    pub at: Loc,
    pub what: String,
    pub why: String,
}

/// What an import found and wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub compose_file: PathBuf,
    pub lab_file: PathBuf,
    /// The findings on the user's files.
    pub findings: Vec<Finding>,
    /// Edits of the corrected copies (`--fix`).
    pub changes: Vec<Change>,
    /// What halab does differently from the user's project without a change
    /// to any file (its own image and supervisor, the LVS block left out).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Conf(#[from] ConfError),
    #[error("`{}` has no service that mounts a keepalived.conf\n  fix: import a compose project whose keepalived nodes mount their keepalived.conf (`./keepalived-master.conf:/etc/keepalived/keepalived.conf`)", file.display())]
    NoNodes { file: PathBuf },
    #[error("`{}` gives no IPv4 subnet for the nodes' network\n  fix: give the network `ipam: {{config: [{{subnet: 172.20.0.0/16}}]}}` and each node an `ipv4_address`", file.display())]
    NoSubnet { file: PathBuf },
    #[error("`{}`: service `{service}` has no static `ipv4_address`\n  fix: give every keepalived node a fixed address on the lab network (its peers and the VIP are written against it)", file.display())]
    NoAddress { file: PathBuf, service: String },
    #[error("`{}` has no service that mounts a haproxy.cfg\n  fix: import a project whose proxy mounts its haproxy.cfg (`./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg`)", file.display())]
    NoProxy { file: PathBuf },
    #[error("{}: service `{service}` mounts no HTML page, so a client could not tell the nodes apart\n  fix: mount each node's page (`./index-master.html:/usr/share/nginx/html/index.html`)", file.display())]
    NoPage { file: PathBuf, service: String },
    #[error("`{}` has no <title>, so halab cannot tell which text marks this node's page\n  fix: give the page a <title> that names the node, or write `page:` in the lab file", file.display())]
    NoMarker { file: PathBuf },
    #[error("cannot write the corrected copies into `{}`: {source}\n  fix: pass `--fix-dir DIR` for a writable folder of your own, or copy the project somewhere writable (`cp -r {} /tmp/{}`) and import that copy", dir.display(), dir.display(), dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "project".into()))]
    NotWritable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` exists and halab import did not write it; it is not replaced\n  fix: move it away, or choose another place with `--out FILE` / `--fix-dir DIR`", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write `{}`: {source}\n  fix: choose a writable place with `--out FILE` / `--fix-dir DIR`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One keepalived node of the project.
struct NodeIn<'a> {
    service: &'a Service,
    ip: std::net::Ipv4Addr,
    conf_path: PathBuf,
    conf: &'a KeepalivedConf,
    page: PathBuf,
    marker: String,
    /// (container path, host path) of the check scripts it mounts.
    files: Vec<(String, PathBuf)>,
}

/// Reads the project, writes the lab file (and with `fix` the corrected
/// copies), and says what it found and did.
pub fn import(opts: &ImportOptions) -> Result<Imported, ImportError> {
    let project = compose::load(&opts.source)?;
    let confs = rules::read_project(&project)?;
    let mut findings = rules::project(&confs, opts.instance.as_deref())?;
    crate::lint::sort(&mut findings);
    let subnet = match confs.subnet {
        Some(IpNet::V4(net)) => net,
        _ => {
            return Err(ImportError::NoSubnet {
                file: project.file.clone(),
            })
        }
    };
    let nodes = nodes_of(&project, &confs)?;
    let (proxy, cfg_path, port) = proxy_of(&project, &confs)?;
    let name = opts.name.clone().unwrap_or_else(|| lab_name(&project.dir));
    let lab_file = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("labs").join(format!("{name}.yaml")));
    let mut imported = Imported {
        compose_file: project.file.clone(),
        lab_file: lab_file.clone(),
        findings,
        changes: Vec::new(),
        notes: notes(&confs),
    };

    // The files the lab runs: the user's, or their corrected copies.
    let mut conf_files: Vec<PathBuf> = nodes.iter().map(|n| n.conf_path.clone()).collect();
    let mut cfg_file = cfg_path.clone();
    if opts.fix {
        let dir = opts.fix_dir.clone().unwrap_or_else(|| project.dir.clone());
        writable(&dir)?;
        let mut taken: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let copy = copy_name(&dir, &n.conf_path, "conf", &n.service.name, &mut taken);
            let text = crate::userconf::read_text(&n.conf_path)?;
            let (fixed, changes) = fix_keepalived(&text, n.conf, &copy);
            write_new(&copy, &fixed)?;
            imported.changes.extend(changes);
            conf_files[i] = copy;
        }
        let copy = copy_name(&dir, &cfg_path, "cfg", &proxy.name, &mut taken);
        let text = crate::userconf::read_text(&cfg_path)?;
        let cfg = haproxy::parse(&text, &cfg_path)?;
        let (fixed, changes) = fix_haproxy(&text, &cfg, &copy);
        write_new(&copy, &fixed)?;
        imported.changes.extend(changes);
        cfg_file = copy;
    }

    let lab_dir = match lab_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&lab_dir).map_err(|source| ImportError::Write {
        path: lab_dir.clone(),
        source,
    })?;
    let rel = |p: &Path| relative(p, &lab_dir);
    let master_conf = nodes
        .iter()
        .max_by_key(|n| {
            n.conf
                .instance(opts.instance.as_deref())
                .ok()
                .and_then(|i| i.priority.as_ref().map(|p| p.value))
                .unwrap_or(100)
        })
        .map(|n| n.conf);
    let vip = master_conf
        .and_then(|c| c.instance(opts.instance.as_deref()).ok())
        .and_then(|i| i.vips.first())
        .map(|v| format!("{}/{}", v.addr, v.prefix.unwrap_or(32)))
        .unwrap_or_default();
    let network = project
        .networks
        .iter()
        .find(|n| n.subnets.contains(&IpNet::V4(subnet)))
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "static-network".into());
    let mut yaml = format!(
        "# {WRITTEN_BY} from {compose}{fixed}.\n\
         # VRRP settings, the VIP, each node's state and priority, and the proxy's\n\
         # port and timeouts are read from the files named below at every load;\n\
         # the values written here are for the reader.\n\
         name: {name}\n\
         description: {desc}\n\
         network:\n  name: {network}\n  subnet: {subnet}\n\
         vip: {vip}\n\
         nodes:\n",
        compose = project.file.display(),
        fixed = if opts.fix {
            " (--fix: corrected copies)"
        } else {
            ""
        },
        name = q(&name),
        desc = q(&format!("imported from {}", project.file.display())),
        network = q(&network),
    );
    for (n, conf_file) in nodes.iter().zip(&conf_files) {
        let inst = n.conf.instance(opts.instance.as_deref())?;
        let state = match inst.state.as_ref().map(|s| s.value) {
            Some(State::Master) => "MASTER",
            _ => "BACKUP",
        };
        let priority = inst.priority.as_ref().map(|p| p.value).unwrap_or(100);
        yaml.push_str(&format!(
            "  - name: {}\n    ip: {}\n    state: {state}\n    priority: {priority}\n    page: {}\n    keepalived_conf: {}\n    page_file: {}\n",
            q(&n.service.name),
            n.ip,
            q(&n.marker),
            q(&rel(conf_file).display().to_string()),
            q(&rel(&n.page).display().to_string()),
        ));
        if let Some(i) = &opts.instance {
            yaml.push_str(&format!("    instance: {}\n", q(i)));
        }
        if !n.files.is_empty() {
            yaml.push_str("    files:\n");
            for (dest, host) in &n.files {
                yaml.push_str(&format!(
                    "      {}: {}\n",
                    q(dest),
                    q(&rel(host).display().to_string())
                ));
            }
        }
    }
    yaml.push_str(&format!(
        "proxy:\n  name: {}\n  port: {port}\n  haproxy_cfg: {}\n",
        q(&proxy.name),
        q(&rel(&cfg_file).display().to_string())
    ));
    write_new(&lab_file, &yaml)?;
    Ok(imported)
}

/// A YAML scalar: JSON's string syntax is YAML's double-quoted one.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn nodes_of<'a>(
    project: &'a ComposeProject,
    confs: &'a rules::ProjectConfs,
) -> Result<Vec<NodeIn<'a>>, ImportError> {
    let mut out = Vec::new();
    for (name, conf) in &confs.nodes {
        let Some(service) = project.service(name) else {
            continue;
        };
        let ip = service
            .addresses
            .first()
            .map(|(_, ip)| *ip)
            .ok_or_else(|| ImportError::NoAddress {
                file: project.file.clone(),
                service: name.clone(),
            })?;
        let page = service
            .mount_ending("index.html")
            .or_else(|| service.mount_ending(".html"))
            .and_then(|m| m.host.clone())
            .ok_or_else(|| ImportError::NoPage {
                file: project.file.clone(),
                service: name.clone(),
            })?;
        let marker = title_of(&crate::userconf::read_text(&page)?)
            .ok_or_else(|| ImportError::NoMarker { file: page.clone() })?;
        // The check scripts the node's keepalived.conf runs, where the
        // project mounts them: halab's image must have them too.
        let files = conf
            .scripts
            .iter()
            .filter_map(|s| s.script.as_ref()?.value.split_whitespace().next())
            .filter_map(|cmd| {
                service
                    .mounts
                    .iter()
                    .find(|m| m.container == cmd && m.host.as_ref().is_some_and(|h| h.is_file()))
                    .map(|m| (cmd.to_string(), m.host.clone().unwrap_or_default()))
            })
            .collect();
        out.push(NodeIn {
            service,
            ip,
            conf_path: conf.file.clone(),
            conf,
            page,
            marker,
            files,
        });
    }
    if out.is_empty() {
        return Err(ImportError::NoNodes {
            file: project.file.clone(),
        });
    }
    Ok(out)
}

/// The proxy service, its haproxy.cfg, and the host port that publishes
/// the port it binds.
fn proxy_of<'a>(
    project: &'a ComposeProject,
    confs: &rules::ProjectConfs,
) -> Result<(&'a Service, PathBuf, u16), ImportError> {
    let no_proxy = || ImportError::NoProxy {
        file: project.file.clone(),
    };
    let proxy = project.proxy().ok_or_else(no_proxy)?;
    let cfg = confs.haproxy.as_ref().ok_or_else(no_proxy)?;
    let bind = cfg.binds().into_iter().find_map(|b| b.port);
    let port = proxy
        .ports
        .iter()
        .find(|p| Some(p.container) == bind)
        .or(proxy.ports.first())
        .map(|p| p.host.unwrap_or(p.container))
        .or(bind)
        .unwrap_or(8000);
    Ok((proxy, cfg.file.clone(), port))
}

/// The text of an HTML page's `<title>`.
fn title_of(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = html[open_end..close].trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// A lab name from a folder name: lower case, `-` for anything else.
fn lab_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "imported".into());
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("lab-{name}");
    }
    name.truncate(40);
    name.trim_end_matches('-').to_string()
}

/// What halab does differently without changing a file.
fn notes(confs: &rules::ProjectConfs) -> Vec<String> {
    let mut out = vec![
        "halab builds its own image (Debian bookworm: keepalived 2.2.7, HAProxy 2.6, nginx 1.22) and does not use the project's Dockerfile or registry images".to_string(),
    ];
    if !confs.start_scripts.is_empty() {
        out.push(format!(
            "halab runs its own entrypoint instead of {}: keepalived in the foreground of a supervisor that sends it SIGTERM first on `docker stop`",
            confs
                .start_scripts
                .iter()
                .map(|(p, _)| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if confs
        .nodes
        .iter()
        .any(|(_, c)| !c.virtual_servers.is_empty())
    {
        out.push("every LVS `virtual_server` block is left out of the files halab runs: its real servers lie outside the lab, and this machine's kernel has no IPVS".to_string());
    }
    out
}

/// Checks that `dir` takes a new file, by making (and removing) one. A
/// folder without write permission is refused also for root, who could
/// write it anyway: its owner made it read-only.
fn writable(dir: &Path) -> Result<(), ImportError> {
    let meta = std::fs::metadata(dir).map_err(|source| ImportError::NotWritable {
        dir: dir.to_path_buf(),
        source,
    })?;
    if meta.permissions().readonly() {
        return Err(ImportError::NotWritable {
            dir: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the folder is read-only",
            ),
        });
    }
    tempfile::Builder::new()
        .prefix(".halab-import-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|source| ImportError::NotWritable {
            dir: dir.to_path_buf(),
            source,
        })
}

/// `<dir>/<stem>.halab.<ext>`; `<member>-<stem>…` when two originals share a stem.
fn copy_name(
    dir: &Path,
    original: &Path,
    ext: &str,
    member: &str,
    taken: &mut BTreeMap<PathBuf, PathBuf>,
) -> PathBuf {
    let stem = original
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| member.to_string());
    let mut copy = dir.join(format!("{stem}.halab.{ext}"));
    if taken.get(&copy).is_some_and(|o| o != original) {
        copy = dir.join(format!("{member}-{stem}.halab.{ext}"));
    }
    taken.insert(copy.clone(), original.to_path_buf());
    copy
}

/// Writes `path` unless a file is there that import did not write.
fn write_new(path: &Path, text: &str) -> Result<(), ImportError> {
    if path.exists() {
        let ours = crate::textfile::read(path, crate::userconf::MAX_FILE_BYTES)
            .ok()
            .and_then(|t| t.lines().next().map(|l| l.contains(WRITTEN_BY)))
            .unwrap_or(false);
        if !ours {
            return Err(ImportError::Exists {
                path: path.to_path_buf(),
            });
        }
    }
    std::fs::write(path, text).map_err(|source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The path of `target` as seen from `dir`.
fn relative(target: &Path, dir: &Path) -> PathBuf {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (t, d) = (abs(target), abs(dir));
    let tc: Vec<_> = t.components().collect();
    let dc: Vec<_> = d.components().collect();
    let common = tc.iter().zip(&dc).take_while(|(a, b)| a == b).count();
    // Sharing only `/`: the absolute path reads better than `../../..`.
    if common <= 1 {
        return t;
    }
    let mut out = PathBuf::new();
    for _ in common..dc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// The check halab puts in place of a bare `pidof`: nginx answers on the node.
pub const HTTP_CHECK: &str = "/usr/bin/curl -fsS -o /dev/null --max-time 1 http://127.0.0.1/";

/// A corrected copy of a keepalived.conf, and its changes.
fn fix_keepalived(text: &str, conf: &KeepalivedConf, copy: &Path) -> (String, Vec<Change>) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut changes = Vec::new();
    let mut edit = |lines: &mut Vec<String>, at: &Loc, new: String, why: &str| {
        if at.file != conf.file || at.line == 0 || at.line > lines.len() {
            return;
        }
        let old = &lines[at.line - 1];
        let indent: String = old.chars().take_while(|c| c.is_whitespace()).collect();
        changes.push(Change {
            copy: copy.to_path_buf(),
            at: at.clone(),
            what: format!("`{}` → `{new}`", old.trim()),
            why: why.to_string(),
        });
        lines[at.line - 1] = format!("{indent}{new}");
    };
    for s in &conf.scripts {
        if let Some(script) = &s.script {
            let cmd = script.value.split_whitespace().next().unwrap_or("");
            if cmd.rsplit('/').next() == Some("pidof") {
                edit(
                    &mut lines,
                    &script.at,
                    format!("script \"{HTTP_CHECK}\""),
                    "a bare `pidof` never succeeds on Debian (keepalived runs killall5); the copy checks that nginx answers on the node instead",
                );
            }
        }
        if let Some(iv) = &s.interval {
            let v = iv.value.value;
            if v < 1.0 || v.fract() != 0.0 {
                edit(
                    &mut lines,
                    &iv.at,
                    format!("interval {}", v.ceil().max(1.0) as u64),
                    "keepalived 2.2.7 runs scripts every whole second at the finest",
                );
            }
        }
    }
    for inst in &conf.instances {
        if let (Some(_), Some(state)) = (&inst.nopreempt, &inst.state) {
            if state.value == State::Master {
                edit(
                    &mut lines,
                    &state.at,
                    "state BACKUP".into(),
                    "keepalived drops `nopreempt` on a `state MASTER` instance",
                );
            }
        }
        if let Some(pass) = inst.auth.as_ref().and_then(|a| a.pass.as_ref()) {
            if pass.value.len() > 8 {
                let kept = String::from_utf8_lossy(&pass.value.as_bytes()[..8]).into_owned();
                edit(
                    &mut lines,
                    &pass.at,
                    format!("auth_pass {kept}"),
                    "keepalived uses only the first 8 characters; the copy says so",
                );
            }
        }
    }
    if !conf.scripts.is_empty() && !lines.iter().any(|l| l.contains("enable_script_security")) {
        let (at, new) = script_security(&mut lines);
        changes.push(Change {
            copy: copy.to_path_buf(),
            at: Loc::new(&conf.file, at),
            what: new,
            why: "keepalived 2.2.7 runs check scripts only with script security on (`keepalived -t` refuses: \"SECURITY VIOLATION - scripts are being executed but script_security not enabled\")".into(),
        });
    }
    let mut fixed = lines.join("\n");
    fixed.push('\n');
    for vs in &conf.virtual_servers {
        changes.push(Change {
            copy: copy.to_path_buf(),
            at: vs.at.clone(),
            what: format!(
                "`virtual_server {}{}` block left out",
                vs.addr,
                vs.port.as_deref().map(|p| format!(" {p}")).unwrap_or_default()
            ),
            why: "LVS needs IPVS, which this kernel lacks, and its real servers lie outside the lab; HAProxy balances in this topology".into(),
        });
    }
    let fixed = match keepalived::parse(&fixed, &conf.file) {
        Ok(reread) => without_virtual_servers(&fixed, &reread),
        Err(_) => fixed,
    };
    let head = format!(
        "! {WRITTEN_BY} --fix: a corrected copy of {} (each change is listed by `halab import`)\n",
        conf.file.display()
    );
    (head + &fixed, changes)
}

/// Turns on keepalived's script security in `global_defs` (made when
/// absent); returns the line it changed (1 when a block was added on top) and
/// what was written.
fn script_security(lines: &mut Vec<String>) -> (usize, String) {
    const LINES: [&str; 2] = ["    script_user root", "    enable_script_security"];
    let head = lines
        .iter()
        .position(|l| l.trim_start().starts_with("global_defs"));
    match head {
        Some(i) => {
            // `global_defs {`, or its `{` on the next line.
            let open = if lines[i].contains('{') { i } else { i + 1 };
            for (k, l) in LINES.iter().enumerate() {
                lines.insert(open + 1 + k, l.to_string());
            }
            (
                i + 1,
                "`script_user root` and `enable_script_security` added to `global_defs`".into(),
            )
        }
        None => {
            let block = ["global_defs {", LINES[0], LINES[1], "}"];
            for (k, l) in block.iter().enumerate() {
                lines.insert(k, l.to_string());
            }
            (
                1,
                "`global_defs { script_user root; enable_script_security }` added on top".into(),
            )
        }
    }
}

/// A corrected copy of a haproxy.cfg, and its changes.
fn fix_haproxy(text: &str, cfg: &haproxy::HaproxyConf, copy: &Path) -> (String, Vec<Change>) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut changes = Vec::new();
    let drops = [
        ("nbproc", "HAProxy 2.5 removed `nbproc` and refuses to start with it (threads replace processes)"),
        ("daemon", "a container's main process must stay in the foreground; halab runs HAProxy with `-W -db`"),
    ];
    for (keyword, why) in drops {
        for d in cfg.global(keyword) {
            let Some(line) = lines.get_mut(d.at.line.wrapping_sub(1)) else {
                continue;
            };
            let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
            changes.push(Change {
                copy: copy.to_path_buf(),
                at: d.at.clone(),
                what: format!("`{}` removed", line.trim()),
                why: why.to_string(),
            });
            *line = format!("{indent}# {}  (removed by halab import --fix)", line.trim());
        }
    }
    let mut fixed = format!(
        "# {WRITTEN_BY} --fix: a corrected copy of {} (each change is listed by `halab import`)\n",
        cfg.file.display()
    );
    fixed.push_str(&lines.join("\n"));
    fixed.push('\n');
    (fixed, changes)
}

/// The findings' rules `--fix` corrects in a copy.
pub fn fixed_by_copy(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::HaproxyNbproc
            | Rule::HaproxyDaemon
            | Rule::CheckNeverSucceeds
            | Rule::LvsVirtualServer
            | Rule::ScriptInterval
            | Rule::AuthPassTooLong
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_marks_a_page() {
        assert_eq!(
            title_of("<html><head><TITLE> 主机 </TITLE></head>").as_deref(),
            Some("主机")
        );
        assert_eq!(title_of("<title></title>"), None);
        assert_eq!(title_of("no title"), None);
    }

    #[test]
    fn a_path_is_written_relative_to_the_lab_files_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::create_dir_all(d.path().join("labs")).unwrap();
        std::fs::write(d.path().join("a/b/k.conf"), "").unwrap();
        assert_eq!(
            relative(&d.path().join("a/b/k.conf"), &d.path().join("labs")),
            Path::new("../a/b/k.conf")
        );
    }

    #[test]
    fn a_lab_name_is_made_of_the_folder_name() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("My_Project 2");
        std::fs::create_dir(&p).unwrap();
        assert_eq!(lab_name(&p), "my-project-2");
    }

    #[test]
    fn the_fixed_copies_lose_pidof_lvs_nbproc_and_daemon_and_keep_the_rest() {
        let k = "vrrp_script chk {\n    script \"pidof nginx\"\n    interval 0.5\n}\nvrrp_instance VI_1 {\n    state MASTER\n    nopreempt\n    authentication {\n        auth_pass letmein123\n    }\n}\nvirtual_server 10.0.0.1 80 {\n    real_server 172.16.16.177 80 {\n    }\n}\n";
        let conf = keepalived::parse(k, Path::new("k.conf")).unwrap();
        let (fixed, changes) = fix_keepalived(k, &conf, Path::new("k.halab.conf"));
        insta::assert_snapshot!("fixed_keepalived", fixed);
        let summary: Vec<String> = changes
            .iter()
            .map(|c| format!("{}: {}", c.at, c.what))
            .collect();
        insta::assert_snapshot!("keepalived_changes", summary.join("\n"));
        let h = "global\n    daemon\n    nbproc 4\n    maxconn 10\n";
        let cfg = haproxy::parse(h, Path::new("h.cfg")).unwrap();
        let (fixed, changes) = fix_haproxy(h, &cfg, Path::new("h.halab.cfg"));
        assert_eq!(changes.len(), 2);
        let reread = haproxy::parse(&fixed, Path::new("h.halab.cfg")).unwrap();
        assert!(rules::haproxy(&reread, None).is_empty(), "{fixed}");
        assert!(fixed.contains("    maxconn 10\n"), "{fixed}");
    }
}
