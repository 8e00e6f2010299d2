//! Rendering: a `Lab` through Tera templates into the files of a lab.
//!
//! The rendered folder is the whole lab: the build context of its one image
//! (every node and the proxy run it) and a docker-compose project. Output is
//! a pure function of the lab and the templates: same input, same bytes.
//!
//! Long because rendering and its all-or-nothing write (staging folder, swap,
//! refusals) share the same list of files; each part is a few functions.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::lab::{BackendCheckKind, CheckKind, Lab, Shape, VrrpState};

/// Folder that `halab render` writes into when no `--out` is given; the lab's
/// own folder is `<DEFAULT_OUT>/<lab-name>/` (see [`default_out`]).
pub const DEFAULT_OUT: &str = ".halab";

/// The default output folder of a lab: `.halab/<lab-name>/`.
pub fn default_out(lab: &Lab) -> PathBuf {
    Path::new(DEFAULT_OUT).join(lab.name())
}

/// Tag of the lab's one image, as the compose file names it.
pub fn image_tag(lab: &Lab) -> String {
    format!("halab-{}:rendered", lab.name())
}

/// Every template, by file name, as shipped inside the binary (an installed
/// halab needs no checkout). A `--templates DIR` must hold all of them.
pub const TEMPLATES: [(&str, &str); 13] = [
    ("Dockerfile", include_str!("../templates/Dockerfile")),
    (
        "check_haproxy.sh",
        include_str!("../templates/check_haproxy.sh"),
    ),
    ("check_http.sh", include_str!("../templates/check_http.sh")),
    ("check_icmp.sh", include_str!("../templates/check_icmp.sh")),
    (
        "check_nginx.sh",
        include_str!("../templates/check_nginx.sh"),
    ),
    ("check_tcp.sh", include_str!("../templates/check_tcp.sh")),
    (
        "docker-compose.yml",
        include_str!("../templates/docker-compose.yml"),
    ),
    ("entrypoint.sh", include_str!("../templates/entrypoint.sh")),
    (
        "halab-haproxy.sh",
        include_str!("../templates/halab-haproxy.sh"),
    ),
    (
        "haproxy-lb.cfg",
        include_str!("../templates/haproxy-lb.cfg"),
    ),
    ("haproxy.cfg", include_str!("../templates/haproxy.cfg")),
    ("index.html", include_str!("../templates/index.html")),
    (
        "keepalived.conf",
        include_str!("../templates/keepalived.conf"),
    ),
];

/// Every rendered file, keyed by its path relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub files: BTreeMap<PathBuf, String>,
}

impl Rendered {
    /// Whether a rendered file must be executable (entrypoint, check
    /// scripts, and the user's files put into a node, `nodes/N/root/…`,
    /// which are mostly check scripts).
    pub fn is_executable(path: &Path) -> bool {
        let mut parts = path.components().map(|c| c.as_os_str());
        let user_file = parts.next() == Some("nodes".as_ref())
            && parts.next().is_some()
            && parts.next() == Some(USER_ROOT.as_ref());
        user_file || path.extension().is_some_and(|e| e == "sh")
    }

    /// The files the lab image is built from: all but the compose file,
    /// which says how containers run (ports, addresses), not what is in
    /// them — so another `--port` reuses the same image.
    pub fn image_files(&self) -> impl Iterator<Item = (&PathBuf, &String)> {
        self.files
            .iter()
            .filter(|(path, _)| path.as_path() != Path::new("docker-compose.yml"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template `{name}`: {message}\n  fix: correct the template (the shipped ones are in halab's `templates/` folder)")]
    Template { name: String, message: String },
    #[error("template `{name}` is missing from `{}`\n  fix: a templates folder must hold every template ({}); start from a copy of halab's `templates/`", dir.display(), template_names())]
    MissingTemplate { dir: PathBuf, name: String },
    #[error("cannot read template `{}`", path.display())]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`\n  fix: check that the output folder is writable, or choose another with `--out DIR`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to render into `{}`: {why}; the output folder is replaced whole\n  fix: choose a folder of the lab's own with `--out DIR` (the default is `.halab/<lab>/`)", path.display())]
    UnsafeTarget { path: PathBuf, why: &'static str },
    #[error("`{}` is not empty and halab did not write it (it has no `{MARKER}`); rendering replaces the folder whole\n  fix: choose a new or empty folder with `--out DIR`, or pass `--force` to replace it", path.display())]
    NotHalabs { path: PathBuf },
    #[error("`{}` exists and is not a folder; nothing was written\n  fix: choose another output folder with `--out DIR`, or move that file away", path.display())]
    NotAFolder { path: PathBuf },
    #[error("the lab's values do not fit the templates: {message}\n  fix: this is a bug in halab's validation; please report it with the lab file")]
    Context { message: String },
    #[error("{}", ambiguous_page(.node, .text, .credited))]
    AmbiguousPage {
        node: String,
        text: String,
        /// The node (and its page text) the probe would credit this page
        /// to instead, if any.
        credited: Option<(String, String)>,
    },
    #[error("the page of `{node}` renders to {bytes} bytes, more than the {limit} bytes the probe reads of an answer\n  fix: shorten the page template (`index.html`)")]
    PageTooLarge {
        node: String,
        bytes: usize,
        limit: usize,
    },
}

fn ambiguous_page(node: &str, text: &str, credited: &Option<(String, String)>) -> String {
    match credited {
        Some((other, other_text)) => format!(
            "a client would take the page of `{node}` for the page of `{other}`: `{other}`'s text {other_text:?} also occurs in it (in the page template, or inside {text:?})\n  fix: give `{other}` a page text that occurs in no other page, e.g. its name"
        ),
        None => format!(
            "the page of `{node}` does not carry its text {text:?}, so a client cannot recognise it\n  fix: keep `{{{{ node.page }}}}` in the page template (`index.html`)"
        ),
    }
}

/// Folder of a node's rendered files that the entrypoint copies onto the
/// node's `/` at start: the user's `nodes[].files`.
pub const USER_ROOT: &str = "root";

/// File that marks a folder as written by `halab render`: only such a
/// folder (or an empty one) is replaced without `--force`.
pub const MARKER: &str = ".halab-render";

/// The most a page may weigh: the probe reads at most this much of an
/// answer (probe.rs's `MAX_RESPONSE`), and a marker past it is never seen.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

fn template_names() -> String {
    TEMPLATES.map(|(n, _)| n).join(", ")
}

/// What each served page carries in its HTML, as `(server, text)`: the
/// page text escaped the way the page template escapes it, so that a client
/// (the probe, `up`'s readiness check) can tell the servers apart. The
/// servers are the nodes running nginx (the seed's shape) and the web
/// servers (`backends`).
pub fn page_markers(lab: &Lab) -> Vec<(String, String)> {
    let spec = lab.spec();
    let nodes = spec
        .nodes
        .iter()
        .filter(|n| n.runs_nginx())
        .map(|n| (n.name.clone(), n.marker()));
    let webs = lab.backends().iter().map(|w| (w.name.clone(), w.marker()));
    nodes.chain(webs).collect()
}

/// Each load balancer's `X-Halab-LB` header value, as `(node, value)`: how
/// a client tells which LB carried an answer (empty in the seed's shape).
pub fn lb_markers(lab: &Lab) -> Vec<(String, String)> {
    lab.spec()
        .nodes
        .iter()
        .filter(|n| n.runs_haproxy())
        .map(|n| (n.name.clone(), n.page.clone()))
        .collect()
}

/// Where a served page is rendered: `nodes/<node>/index.html` or
/// `web/<server>/index.html`.
fn page_path(lab: &Lab, server: &str) -> PathBuf {
    match lab.backend(server) {
        Some(_) => Path::new("web").join(server).join("index.html"),
        None => Path::new("nodes").join(server).join("index.html"),
    }
}

/// Render every artifact of `lab`; `templates` replaces the embedded ones.
pub fn render(lab: &Lab, templates: Option<&Path>) -> Result<Rendered, RenderError> {
    let tera = load_templates(templates)?;
    let tera: &tera::Tera = &tera;
    let ctx = LabCtx::new(lab);
    // Validation bounds every value; a failure here is halab's bug, and is
    // still an error, not a panic.
    let base = tera::Context::from_serialize(&ctx).map_err(|e| RenderError::Context {
        message: e.to_string(),
    })?;

    let mut files = BTreeMap::new();
    let mut put = |path: PathBuf, name: &str, ctx: &tera::Context| -> Result<(), RenderError> {
        let text = tera
            .render(name, ctx)
            .map_err(|e| template_error(name, &e))?;
        files.insert(path, text);
        Ok(())
    };
    for name in ["Dockerfile", "entrypoint.sh", "docker-compose.yml"] {
        put(PathBuf::from(name), name, &base)?;
    }
    if ctx.proxy.front {
        put(PathBuf::from("haproxy.cfg"), "haproxy.cfg", &base)?;
    }
    if ctx.lab.lb_pair {
        put(PathBuf::from("halab-haproxy.sh"), "halab-haproxy.sh", &base)?;
    }
    for script in &ctx.scripts {
        put(PathBuf::from(script), script, &base)?;
    }
    for node in &ctx.nodes {
        let mut c = base.clone();
        c.insert("node", node);
        let dir = Path::new("nodes").join(&node.name);
        put(dir.join("keepalived.conf"), "keepalived.conf", &c)?;
        if node.nginx {
            put(dir.join("index.html"), "index.html", &c)?;
        }
        if node.haproxy {
            put(dir.join("haproxy.cfg"), "haproxy-lb.cfg", &c)?;
        }
    }
    for web in &ctx.backends.servers {
        let mut c = base.clone();
        c.insert("node", web);
        let dir = Path::new("web").join(&web.name);
        put(dir.join("index.html"), "index.html", &c)?;
    }
    put_user_files(lab, &mut files);
    check_pages(lab, &files)?;
    Ok(Rendered { files })
}

/// The user's own files replace the rendered ones they stand for.
fn put_user_files(lab: &Lab, files: &mut BTreeMap<PathBuf, String>) {
    let user = lab.user_files();
    if let Some(h) = &user.haproxy {
        files.insert(PathBuf::from("haproxy.cfg"), h.text.clone());
    }
    for (node, f) in &user.nodes {
        let dir = Path::new("nodes").join(node);
        if let Some(k) = &f.keepalived {
            files.insert(dir.join("keepalived.conf"), k.text.clone());
        }
        if let Some(p) = &f.page {
            files.insert(dir.join("index.html"), p.text.clone());
        }
        for (dest, file) in &f.files {
            let rel = dest.trim_start_matches('/');
            files.insert(dir.join(USER_ROOT).join(rel), file.text.clone());
        }
    }
}

/// Every node's page must be recognised as that node's by the probe's own
/// rule, and be small enough for the probe to read whole. A page text that
/// also occurs in the template (e.g. `background-color`) would make every
/// answer look like that node's.
fn check_pages(lab: &Lab, files: &BTreeMap<PathBuf, String>) -> Result<(), RenderError> {
    let markers = page_markers(lab);
    let pages = crate::probe::Pages::new(&markers);
    let text_of = |server: &str| -> String {
        match (lab.node(server), lab.backend(server)) {
            (Some(n), _) => n.page.clone(),
            (None, Some(w)) => w.page.clone(),
            (None, None) => String::new(),
        }
    };
    for (server, _) in &markers {
        let page = files
            .get(&page_path(lab, server))
            .map(String::as_str)
            .unwrap_or_default();
        if page.len() > MAX_PAGE_BYTES {
            return Err(RenderError::PageTooLarge {
                node: server.clone(),
                bytes: page.len(),
                limit: MAX_PAGE_BYTES,
            });
        }
        match pages.node_of(page) {
            Some(n) if n == server => {}
            credited => {
                return Err(RenderError::AmbiguousPage {
                    node: server.clone(),
                    text: text_of(server),
                    credited: credited.map(|other| (other.to_string(), text_of(other))),
                })
            }
        }
    }
    Ok(())
}

/// Write `rendered` as the folder `out`, all or nothing: the files go into
/// a temporary folder beside `out`, which then takes its place, so no file
/// of an earlier render (e.g. `nodes/<old-name>/`) survives and a failure
/// leaves `out` as it was. `out` must be new, empty, or an earlier render
/// (it holds [`MARKER`]); `force` replaces any other folder, never a
/// dangerous one (`/`, a top-level folder, home, the working folder or one
/// above it). Scripts get mode 0755. Returns the paths written, in order.
pub fn write(rendered: &Rendered, out: &Path, force: bool) -> Result<Vec<PathBuf>, RenderError> {
    let existing = check_target(out, force)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|source| RenderError::Write {
        path: parent.to_path_buf(),
        source,
    })?;
    let staging = tempfile::Builder::new()
        .prefix(".halab-render-")
        .tempdir_in(parent)
        .map_err(|source| RenderError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    let mut written = Vec::with_capacity(rendered.files.len());
    for (rel, text) in &rendered.files {
        let path = staging.path().join(rel);
        let err = |source| RenderError::Write {
            path: out.join(rel),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = std::fs::File::create(&path).map_err(err)?;
        file.write_all(text.as_bytes()).map_err(err)?;
        let mode = if Rendered::is_executable(rel) {
            0o755
        } else {
            0o644
        };
        set_mode(&file, mode).map_err(err)?;
        file.sync_all().map_err(err)?;
        written.push(out.join(rel));
    }
    let marker_err = |source| RenderError::Write {
        path: out.join(MARKER),
        source,
    };
    std::fs::write(
        staging.path().join(MARKER),
        "Written by `halab render`: the next render replaces this folder whole.\n",
    )
    .map_err(marker_err)?;
    let dir = std::fs::File::open(staging.path()).map_err(marker_err)?;
    set_mode(&dir, 0o755).map_err(marker_err)?;
    swap_in(staging, out, existing, parent)?;
    Ok(written)
}

/// Put the finished `staging` folder at `out`. An existing `out` is first
/// moved aside (so it can be put back if the second rename fails), then
/// removed.
fn swap_in(
    staging: tempfile::TempDir,
    out: &Path,
    existing: bool,
    parent: &Path,
) -> Result<(), RenderError> {
    let err = |source| RenderError::Write {
        path: out.to_path_buf(),
        source,
    };
    if !existing {
        std::fs::rename(staging.path(), out).map_err(err)?;
        // Renamed away: nothing left for the guard to remove.
        let _ = staging.keep();
        return Ok(());
    }
    // An empty folder to rename the old render onto (rename replaces an
    // empty folder), with a name no one else uses.
    let old = tempfile::Builder::new()
        .prefix(".halab-old-")
        .tempdir_in(parent)
        .map_err(err)?;
    std::fs::rename(out, old.path()).map_err(err)?;
    if let Err(e) = std::fs::rename(staging.path(), out) {
        let _ = std::fs::rename(old.path(), out);
        return Err(err(e));
    }
    let _ = staging.keep();
    // `old` now holds the previous render; dropping the guard removes it.
    drop(old);
    Ok(())
}

/// May `out` be replaced? Returns whether it exists.
fn check_target(out: &Path, force: bool) -> Result<bool, RenderError> {
    let unsafe_target = |why| RenderError::UnsafeTarget {
        path: out.to_path_buf(),
        why,
    };
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(RenderError::Write {
                path: out.to_path_buf(),
                source,
            })
        }
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_target(
            "it is a symbolic link, and the link, not its target, would be replaced",
        ));
    }
    if !meta.is_dir() {
        return Err(RenderError::NotAFolder {
            path: out.to_path_buf(),
        });
    }
    let real = std::fs::canonicalize(out).map_err(|source| RenderError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    if real.components().count() <= 2 {
        return Err(unsafe_target(
            "it is the root folder or a folder right under it",
        ));
    }
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize) {
        if cwd.starts_with(&real) {
            return Err(unsafe_target("it is the working folder or holds it"));
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if home.and_then(|h| std::fs::canonicalize(h).ok()).as_deref() == Some(real.as_path()) {
        return Err(unsafe_target("it is the home folder"));
    }
    let mut entries = std::fs::read_dir(out).map_err(|source| RenderError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let empty = entries.next().is_none();
    if !empty && !force && !out.join(MARKER).is_file() {
        return Err(RenderError::NotHalabs {
            path: out.to_path_buf(),
        });
    }
    Ok(true)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// The templates, compiled; the embedded ones once per process (compiling
/// them costs more than rendering a lab).
fn load_templates(
    dir: Option<&Path>,
) -> Result<std::borrow::Cow<'static, tera::Tera>, RenderError> {
    static EMBEDDED: std::sync::OnceLock<tera::Tera> = std::sync::OnceLock::new();
    if dir.is_none() {
        if let Some(t) = EMBEDDED.get() {
            return Ok(std::borrow::Cow::Borrowed(t));
        }
        let t = compile_templates(None)?;
        return Ok(std::borrow::Cow::Borrowed(EMBEDDED.get_or_init(|| t)));
    }
    compile_templates(dir).map(std::borrow::Cow::Owned)
}

/// Largest template halab reads from a `--templates` folder (the built-in
/// ones are a few KiB); above the largest page, which is judged on what a
/// template renders ([`MAX_PAGE_BYTES`]).
const TEMPLATE_MAX_BYTES: u64 = 4 << 20;

fn compile_templates(dir: Option<&Path>) -> Result<tera::Tera, RenderError> {
    let mut tera = tera::Tera::default();
    // Escape HTML only: the configs and scripts must come out verbatim.
    tera.autoescape_on(vec![".html"]);
    for (name, embedded) in TEMPLATES {
        let text = match dir {
            None => embedded.to_string(),
            Some(dir) => {
                let path = dir.join(name);
                match crate::textfile::read(&path, TEMPLATE_MAX_BYTES).map_err(|e| e.into_io()) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(RenderError::MissingTemplate {
                            dir: dir.to_path_buf(),
                            name: name.to_string(),
                        })
                    }
                    Err(source) => return Err(RenderError::ReadTemplate { path, source }),
                }
            }
        };
        tera.add_raw_template(name, &text)
            .map_err(|e| template_error(name, &e))?;
    }
    Ok(tera)
}

/// Tera's top error says little ("Failed to render 'x'"); the cause chain
/// says which variable or filter.
fn template_error(name: &str, e: &tera::Error) -> RenderError {
    RenderError::Template {
        name: name.to_string(),
        message: crate::ui::one_line(e),
    }
}

/// Seconds as keepalived reads them: `1`, `0.1`, `0.02` (10 ms steps; VRRPv2
/// takes whole seconds, which validation enforces).
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        return (ms / 1000).to_string();
    }
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    s.trim_end_matches('0').to_string()
}

/// Whole milliseconds, as HAProxy reads times (validation keeps them within
/// its 32-bit limit; saturating only so that no input can panic here).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// keepalived's `vrrp_script interval` takes whole seconds from 1 (it
/// refuses `0.5`); a fraction is rounded up rather than dropped.
fn whole_seconds(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// What every template sees. Values are precomputed here so that the
/// templates hold layout only.
#[derive(Debug, Serialize)]
struct LabCtx {
    lab: LabInfo,
    vrrp: VrrpCtx,
    check: CheckCtx,
    nodes: Vec<NodeCtx>,
    proxy: ProxyCtx,
    backends: BackendsCtx,
    /// Check scripts this lab's nodes run (file names under /etc/halab/).
    scripts: Vec<String>,
}

#[derive(Debug, Serialize)]
struct LabInfo {
    name: String,
    base_image: String,
    image: String,
    /// Network key inside the lab (compose's network name).
    network_key: String,
    /// Docker network name.
    network: String,
    subnet: String,
    vip: String,
    vip_prefix: u8,
    /// The production shape: nodes run HAProxy over `backends`.
    lb_pair: bool,
    /// The response header naming the LB that carried a request.
    lb_header: &'static str,
}

#[derive(Debug, Serialize)]
struct VrrpCtx {
    version: u8,
    virtual_router_id: u16,
    advert_int: String,
    interface: String,
    unicast: bool,
    auth_pass: Option<String>,
    preempt: bool,
    garp_master_delay: Option<u16>,
}

#[derive(Debug, Serialize)]
struct CheckCtx {
    /// `pidof`, `http`, `tcp` or `icmp`.
    kind: &'static str,
    /// The `vrrp_script`'s name: `chk_<service the node runs>`.
    name: &'static str,
    /// Script file for the `vrrp_script` kinds.
    script: Option<&'static str>,
    /// `http`/`tcp`: the port of the service the node runs (HAProxy's
    /// `listen` on a load balancer, nginx's 80 on a seed node).
    port: u16,
    /// `icmp`: what is pinged.
    address: Option<String>,
    interval: u64,
    fall: u32,
    rise: u32,
    weight: i32,
}

#[derive(Debug, Clone, Serialize)]
struct NodeCtx {
    name: String,
    container: String,
    ip: String,
    state: &'static str,
    priority: u16,
    page: String,
    /// The other nodes' addresses (unicast peers).
    peers: Vec<String>,
    nginx: bool,
    haproxy: bool,
}

#[derive(Debug, Serialize)]
struct BackendsCtx {
    port: u16,
    check: BackendCheckCtx,
    servers: Vec<WebCtx>,
}

#[derive(Debug, Serialize)]
struct BackendCheckCtx {
    /// `http` (layer 7) or `tcp` (layer 4).
    kind: &'static str,
    inter_ms: u64,
    rise: u32,
    fall: u32,
    path: String,
    expect_status: u16,
}

#[derive(Debug, Clone, Serialize)]
struct WebCtx {
    name: String,
    container: String,
    ip: String,
    page: String,
}

#[derive(Debug, Serialize)]
struct ProxyCtx {
    /// A front proxy container exists (the seed's shape).
    front: bool,
    name: String,
    container: String,
    /// Always fixed (`Lab::proxy_ip`), so the engine never hands it the VIP.
    ip: String,
    listen: u16,
    port: u16,
    maxconn: u32,
    retries: u32,
    retry_on: Vec<String>,
    /// `http-reuse` keyword; absent: HAProxy's default.
    http_reuse: Option<&'static str>,
    timeout_connect_ms: u64,
    timeout_client_ms: u64,
    timeout_server_ms: u64,
    check: Option<ServerCheckCtx>,
}

#[derive(Debug, Serialize)]
struct ServerCheckCtx {
    inter_ms: u64,
    rise: u32,
    fall: u32,
}

impl LabCtx {
    fn new(lab: &Lab) -> LabCtx {
        let spec = lab.spec();
        let vrrp = &spec.vrrp;
        let hc = &spec.health_check;
        // Validation makes every node run the same one service.
        let lb_pair = lab.shape() == Shape::LbPair;
        let (kind, script) = match (hc.kind, lb_pair) {
            (CheckKind::Pidof, false) => ("pidof", "check_nginx.sh"),
            (CheckKind::Pidof, true) => ("pidof", "check_haproxy.sh"),
            (CheckKind::Http, _) => ("http", "check_http.sh"),
            (CheckKind::Tcp, _) => ("tcp", "check_tcp.sh"),
            (CheckKind::Icmp, _) => ("icmp", "check_icmp.sh"),
        };
        let script = Some(script);
        let p = &spec.proxy;
        let nodes = spec
            .nodes
            .iter()
            .map(|n| NodeCtx {
                name: n.name.clone(),
                container: lab.container_name(&n.name),
                ip: n.ip.to_string(),
                // Without preemption every node starts BACKUP (`nopreempt`
                // is only honoured there); priority still elects the master.
                state: match (vrrp.preempt, n.state) {
                    (true, VrrpState::Master) => "MASTER",
                    _ => "BACKUP",
                },
                priority: n.priority,
                page: n.page.clone(),
                peers: spec
                    .nodes
                    .iter()
                    .filter(|p| p.name != n.name)
                    .map(|p| p.ip.to_string())
                    .collect(),
                nginx: n.runs_nginx(),
                haproxy: n.runs_haproxy(),
            })
            .collect();
        let b = &spec.backends;
        let backends = BackendsCtx {
            port: b.port,
            check: BackendCheckCtx {
                kind: match b.check.kind {
                    BackendCheckKind::Http => "http",
                    BackendCheckKind::Tcp => "tcp",
                },
                inter_ms: millis(b.check.inter),
                rise: b.check.rise,
                fall: b.check.fall,
                path: b.check.path.clone(),
                expect_status: b.check.expect_status,
            },
            servers: b
                .servers
                .iter()
                .map(|w| WebCtx {
                    name: w.name.clone(),
                    container: lab.container_name(&w.name),
                    ip: w.ip.to_string(),
                    page: w.page.clone(),
                })
                .collect(),
        };
        LabCtx {
            lab: LabInfo {
                name: spec.name.clone(),
                base_image: spec.image.base.clone(),
                image: image_tag(lab),
                network_key: spec.network.name.clone(),
                network: lab.network_name(),
                subnet: spec.network.subnet.to_string(),
                vip: spec.vip.addr().to_string(),
                vip_prefix: spec.vip.prefix_len(),
                lb_pair,
                lb_header: crate::lab::LB_HEADER,
            },
            vrrp: VrrpCtx {
                version: vrrp.version,
                virtual_router_id: vrrp.virtual_router_id,
                advert_int: seconds(vrrp.advert_int),
                interface: vrrp.interface.clone(),
                unicast: vrrp.unicast,
                auth_pass: vrrp.auth_pass.clone(),
                preempt: vrrp.preempt,
                garp_master_delay: vrrp.garp_master_delay,
            },
            check: CheckCtx {
                kind,
                name: if lb_pair { "chk_haproxy" } else { "chk_nginx" },
                script,
                port: if lb_pair { p.listen } else { 80 },
                address: hc.address.map(|a| a.to_string()),
                interval: whole_seconds(hc.interval),
                fall: hc.fall,
                rise: hc.rise,
                weight: hc.weight,
            },
            nodes,
            backends,
            proxy: ProxyCtx {
                front: p.front,
                name: p.name.clone(),
                container: lab.container_name(&p.name),
                ip: lab.proxy_ip().to_string(),
                listen: p.listen,
                port: p.port,
                maxconn: p.maxconn,
                retries: p.retries,
                retry_on: p.retry_on.clone(),
                http_reuse: p.http_reuse.map(|r| r.as_str()),
                timeout_connect_ms: millis(p.timeouts.connect),
                timeout_client_ms: millis(p.timeouts.client),
                timeout_server_ms: millis(p.timeouts.server),
                check: p.check.as_ref().map(|c| ServerCheckCtx {
                    inter_ms: millis(c.inter),
                    rise: c.rise,
                    fall: c.fall,
                }),
            },
            scripts: script.into_iter().map(String::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::net::Ipv4Addr;

    fn labs_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("labs")
    }

    /// Every shipped lab, by file stem, sorted.
    fn shipped_labs() -> Vec<(String, Lab)> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(labs_dir())
            .expect("labs/ exists")
            .map(|e| e.expect("readable entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 3, "the shipped labs are in labs/");
        paths
            .into_iter()
            .map(|p| {
                let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                let lab = crate::lab::load(&p).unwrap_or_else(|e| panic!("{e}"));
                (stem, lab)
            })
            .collect()
    }

    /// The seed lab with `edit` applied to its YAML text.
    fn seed_with(edit: impl Fn(String) -> String) -> Lab {
        let path = labs_dir().join("nginx-keepalived.yaml");
        let text = edit(std::fs::read_to_string(&path).unwrap());
        Lab::from_yaml(&text, &path).unwrap_or_else(|e| panic!("{e}"))
    }

    fn file<'a>(r: &'a Rendered, path: &str) -> &'a str {
        r.files
            .get(Path::new(path))
            .unwrap_or_else(|| panic!("`{path}` not rendered; have {:?}", r.files.keys()))
    }

    #[test]
    fn every_file_of_every_shipped_lab_matches_its_snapshot() {
        for (stem, lab) in shipped_labs() {
            let r = render(&lab, None).unwrap();
            for (path, text) in &r.files {
                let name = format!("{stem}__{}", path.display()).replace('/', "__");
                insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
                    insta::assert_snapshot!(name, text);
                });
            }
        }
    }

    #[test]
    fn a_lab_renders_its_image_compose_proxy_and_every_node() {
        let lab = seed_with(|t| t);
        let r = render(&lab, None).unwrap();
        let names: Vec<String> = r.files.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "check_nginx.sh",
                "docker-compose.yml",
                "entrypoint.sh",
                "haproxy.cfg",
                "nodes/nginx_master/index.html",
                "nodes/nginx_master/keepalived.conf",
                "nodes/nginx_slave/index.html",
                "nodes/nginx_slave/keepalived.conf",
            ]
        );
    }

    #[test]
    fn rendering_twice_gives_identical_output() {
        for (_, lab) in shipped_labs() {
            assert_eq!(render(&lab, None).unwrap(), render(&lab, None).unwrap());
        }
    }

    fn copy_embedded_templates(dir: &Path) {
        for (name, text) in TEMPLATES {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    #[test]
    fn a_templates_dir_replaces_the_embedded_templates() {
        let dir = tempfile::tempdir().unwrap();
        copy_embedded_templates(dir.path());
        let embedded = TEMPLATES.iter().find(|(n, _)| *n == "haproxy.cfg").unwrap();
        let custom = format!("# custom\n{}", embedded.1);
        std::fs::write(dir.path().join("haproxy.cfg"), custom).unwrap();
        let lab = seed_with(|t| t);
        let r = render(&lab, Some(dir.path())).unwrap();
        assert!(file(&r, "haproxy.cfg")
            .starts_with("# custom\n# haproxy.cfg of lab `nginx-keepalived`"));
        // The untouched copies render exactly as the embedded ones.
        assert_eq!(
            file(&r, "Dockerfile"),
            file(&render(&lab, None).unwrap(), "Dockerfile")
        );
    }

    #[test]
    fn a_template_missing_from_the_dir_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        copy_embedded_templates(dir.path());
        std::fs::remove_file(dir.path().join("keepalived.conf")).unwrap();
        let err = render(&seed_with(|t| t), Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, RenderError::MissingTemplate { name, dir: d } if name == "keepalived.conf" && d == dir.path()),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("template `keepalived.conf` is missing from `"),
            "{msg}"
        );
        assert!(msg.contains("fix: "), "{msg}");
    }

    #[test]
    fn a_broken_template_is_an_error_naming_it_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        copy_embedded_templates(dir.path());
        std::fs::write(dir.path().join("haproxy.cfg"), "{{ proxy.no_such_field }}").unwrap();
        let err = render(&seed_with(|t| t), Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("template `haproxy.cfg`: "), "{msg}");
        assert!(msg.contains("no_such_field"), "{msg}");
    }

    #[test]
    fn page_text_is_html_escaped_in_the_page_only() {
        let lab = seed_with(|t| t.replace("page: 主机", "page: \"<b>&主机\""));
        let r = render(&lab, None).unwrap();
        let page = file(&r, "nodes/nginx_master/index.html");
        assert!(page.contains("<title>&lt;b&gt;&amp;主机</title>"), "{page}");
        assert!(
            page.contains("<div id=\"box\">&lt;b&gt;&amp;主机</div>"),
            "{page}"
        );
        assert!(!page.contains("<b>"), "{page}");
        // Not escaped elsewhere: configs must come out verbatim.
        assert!(file(&r, "haproxy.cfg").contains("server vip 172.20.128.4:80 check"));
    }

    #[test]
    fn the_page_carries_its_text_plainly_for_the_probe() {
        let r = render(&seed_with(|t| t), None).unwrap();
        assert!(file(&r, "nodes/nginx_master/index.html").contains(">主机<"));
        assert!(file(&r, "nodes/nginx_slave/index.html").contains(">从机<"));
    }

    #[test]
    fn page_markers_are_what_the_rendered_pages_carry() {
        let lab = seed_with(|t| t.replace("page: 主机", "page: \"A/B & <主机>\""));
        let r = render(&lab, None).unwrap();
        let markers = page_markers(&lab);
        let page = file(&r, "nodes/nginx_master/index.html");
        assert_eq!(markers[0].0, "nginx_master");
        assert!(
            page.contains(&markers[0].1),
            "{} not in {page}",
            markers[0].1
        );
        let pages = crate::probe::Pages::new(&markers);
        assert_eq!(pages.node_of(page), Some("nginx_master"));
        let slave = file(&r, "nodes/nginx_slave/index.html");
        assert_eq!(pages.node_of(slave), Some("nginx_slave"));
    }

    #[test]
    fn no_rendered_file_holds_a_seed_trap() {
        for (stem, lab) in shipped_labs() {
            for (path, text) in &render(&lab, None).unwrap().files {
                // nginx's own foreground switch on a web server is no trap.
                let text = text.replace("-g 'daemon off;'", "");
                for bad in ["nbproc", "daemon", "virtual_server", "172.16."] {
                    assert!(
                        !text.contains(bad),
                        "{stem}/{}: contains `{bad}`",
                        path.display()
                    );
                }
            }
        }
    }

    /// Every dotted quad in the configs: inside the lab's subnet, or the
    /// loopback the proxy port is published on.
    #[test]
    fn every_address_rendered_is_in_the_lab_subnet_or_loopback() {
        for (stem, lab) in shipped_labs() {
            let subnet = lab.spec().network.subnet;
            for (path, text) in &render(&lab, None).unwrap().files {
                for token in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
                    let Ok(ip) = token.trim_matches('.').parse::<Ipv4Addr>() else {
                        continue;
                    };
                    assert!(
                        subnet.contains(&ip) || ip == Ipv4Addr::LOCALHOST,
                        "{stem}/{}: {ip} is outside {subnet}",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn pidof_check_runs_the_wrapper_script_not_bare_pidof() {
        let r = render(&seed_with(|t| t), None).unwrap();
        for node in ["nginx_master", "nginx_slave"] {
            let conf = file(&r, &format!("nodes/{node}/keepalived.conf"));
            assert!(
                conf.contains("script \"/etc/halab/check_nginx.sh\""),
                "{conf}"
            );
            assert!(!conf.contains("\"pidof"), "{conf}");
            assert!(
                conf.contains("track_script {\n        chk_nginx\n    }"),
                "{conf}"
            );
        }
        assert_eq!(
            file(&r, "check_nginx.sh"),
            TEMPLATES
                .iter()
                .find(|(n, _)| *n == "check_nginx.sh")
                .unwrap()
                .1
        );
        assert!(file(&r, "check_nginx.sh").starts_with("#!/bin/sh\n"));
        assert!(file(&r, "Dockerfile")
            .contains("COPY entrypoint.sh haproxy.cfg check_nginx.sh /etc/halab/"));
    }

    #[test]
    fn http_check_runs_curl_through_a_script() {
        let lab = seed_with(|t| t.replace("kind: pidof", "kind: http"));
        let r = render(&lab, None).unwrap();
        assert!(file(&r, "check_http.sh").contains("curl -fsS -m 1 -o /dev/null http://127.0.0.1/"));
        assert!(!r.files.contains_key(Path::new("check_nginx.sh")));
        assert!(file(&r, "nodes/nginx_master/keepalived.conf")
            .contains("script \"/etc/halab/check_http.sh\""));
    }

    #[test]
    fn without_preemption_every_node_starts_backup_with_nopreempt() {
        let lab = seed_with(|t| t.replace("unicast: true", "unicast: true\n  preempt: false"));
        let r = render(&lab, None).unwrap();
        for node in ["nginx_master", "nginx_slave"] {
            let conf = file(&r, &format!("nodes/{node}/keepalived.conf"));
            assert!(conf.contains("    state BACKUP\n    nopreempt\n"), "{conf}");
        }
        // Priority still picks the first master.
        assert!(file(&r, "nodes/nginx_master/keepalived.conf").contains("priority 200"));
    }

    #[test]
    fn vrrp_v3_sets_the_version_and_decimal_adverts_without_auth() {
        let lab = seed_with(|t| {
            t.replace("version: 2", "version: 3")
                .replace("advert_int: 1s", "advert_int: 20ms")
                .replace("  auth_pass: letmein\n", "")
        });
        let conf = file(
            &render(&lab, None).unwrap(),
            "nodes/nginx_slave/keepalived.conf",
        )
        .to_string();
        assert!(conf.contains("    vrrp_version 3\n}"), "{conf}");
        assert!(conf.contains("    advert_int 0.02\n"), "{conf}");
        assert!(!conf.contains("authentication"), "{conf}");
    }

    #[test]
    fn multicast_and_garp_delay_are_rendered_as_asked() {
        let lab =
            seed_with(|t| t.replace("unicast: true", "unicast: false\n  garp_master_delay: 1"));
        let conf = file(
            &render(&lab, None).unwrap(),
            "nodes/nginx_master/keepalived.conf",
        )
        .to_string();
        assert!(!conf.contains("unicast"), "{conf}");
        assert!(conf.contains("    garp_master_delay 1\n"), "{conf}");
    }

    #[test]
    fn the_compose_file_is_a_whole_project() {
        let lab = seed_with(|t| t.replace("  listen: 6301", "  listen: 6301\n  ip: 172.20.128.10"));
        let r = render(&lab, None).unwrap();
        let y: serde_yaml::Value = serde_yaml::from_str(file(&r, "docker-compose.yml")).unwrap();
        let services = y["services"].as_mapping().unwrap();
        assert_eq!(services.len(), 3);
        let master = &y["services"]["nginx_master"];
        assert_eq!(master["build"]["context"], ".");
        assert_eq!(master["image"], "halab-nginx-keepalived:rendered");
        assert_eq!(master["environment"]["HALAB_ROLE"], "node");
        assert_eq!(master["environment"]["HALAB_NODE"], "nginx_master");
        assert_eq!(master["cap_add"][0], "NET_ADMIN");
        assert_eq!(
            master["networks"]["static-network"]["ipv4_address"],
            "172.20.128.2"
        );
        assert_eq!(master["labels"]["halab.lab"], "nginx-keepalived");
        assert_eq!(master["labels"]["halab.role"], "node");
        let proxy = &y["services"]["proxy"];
        assert_eq!(proxy["environment"]["HALAB_ROLE"], "proxy");
        assert_eq!(proxy["ports"][0], "127.0.0.1:8000:6301");
        assert_eq!(
            proxy["networks"]["static-network"]["ipv4_address"],
            "172.20.128.10"
        );
        assert_eq!(proxy["labels"]["halab.role"], "proxy");
        let net = &y["networks"]["static-network"];
        assert_eq!(net["name"], "nginx-keepalived-static-network");
        assert_eq!(net["ipam"]["config"][0]["subnet"], "172.20.0.0/16");
        assert_eq!(net["labels"]["halab.lab"], "nginx-keepalived");
    }

    #[test]
    fn haproxy_renders_timeouts_in_ms_retry_on_and_no_check_when_unset() {
        let path = labs_dir().join("fast-failover.yaml");
        let cfg = file(
            &render(&crate::lab::load(&path).unwrap(), None).unwrap(),
            "haproxy.cfg",
        )
        .to_string();
        assert!(
            cfg.contains(
                "    timeout connect 20ms\n    timeout client 5000ms\n    timeout server 50ms\n"
            ),
            "{cfg}"
        );
        assert!(
            cfg.contains(
                "    http-reuse never\n    retries 20\n    retry-on conn-failure empty-response response-timeout\n"
            ),
            "{cfg}"
        );
        assert!(cfg.contains("    server vip 172.21.128.4:80\n"), "{cfg}");
        assert!(cfg.contains("    bind *:6301\n"), "{cfg}");
    }

    #[test]
    fn http_reuse_is_rendered_only_when_the_lab_sets_it() {
        let cfg = |yaml_edit: fn(String) -> String| {
            file(&render(&seed_with(yaml_edit), None).unwrap(), "haproxy.cfg").to_string()
        };
        assert!(!cfg(|t| t).contains("http-reuse"));
        let set = cfg(|t| t.replace("  retries: 2\n", "  retries: 2\n  http_reuse: always\n"));
        assert!(
            set.contains("    option redispatch\n    http-reuse always\n    retries 2\n"),
            "{set}"
        );
    }

    #[test]
    fn durations_render_as_keepalived_reads_them() {
        let ms = Duration::from_millis;
        assert_eq!(seconds(ms(1000)), "1");
        assert_eq!(seconds(ms(3000)), "3");
        assert_eq!(seconds(ms(100)), "0.1");
        assert_eq!(seconds(ms(20)), "0.02");
        assert_eq!(seconds(ms(1500)), "1.5");
        assert_eq!(whole_seconds(ms(2000)), 2);
        assert_eq!(whole_seconds(ms(1500)), 2);
        assert_eq!(whole_seconds(ms(200)), 1);
        assert_eq!(whole_seconds(ms(0)), 1);
    }

    #[test]
    fn write_creates_the_tree_with_executable_scripts() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("deep/lab");
        let r = render(&seed_with(|t| t), None).unwrap();
        let written = write(&r, &target, false).unwrap();
        let expected: Vec<PathBuf> = r.files.keys().map(|p| target.join(p)).collect();
        assert_eq!(written, expected);
        for (rel, text) in &r.files {
            assert_eq!(&std::fs::read_to_string(target.join(rel)).unwrap(), text);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                std::fs::metadata(target.join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("entrypoint.sh"), 0o755);
            assert_eq!(mode("check_nginx.sh"), 0o755);
            assert_eq!(mode("haproxy.cfg"), 0o644);
            assert_eq!(mode("nodes/nginx_master/keepalived.conf"), 0o644);
        }
        // Writing again replaces the files and leaves no temp files behind,
        // neither in the folder nor beside it.
        write(&r, &target, false).unwrap();
        let count = std::fs::read_dir(&target).unwrap().count();
        assert_eq!(count, 7, "5 files, nodes/ and the marker");
        assert!(target.join(MARKER).is_file());
        assert_eq!(names_in(&out.path().join("deep")), ["lab"]);
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_where_the_folder_must_go_is_an_error_and_nothing_is_written() {
        let out = tempfile::tempdir().unwrap();
        let blocker = out.path().join("file");
        std::fs::write(&blocker, "mine").unwrap();
        let r = render(&seed_with(|t| t), None).unwrap();
        let err = write(&r, &blocker, true).unwrap_err();
        assert!(
            matches!(&err, RenderError::NotAFolder { path } if path == &blocker),
            "{err:?}"
        );
        // A file on the way to the folder: the same, before any file is made.
        let err = write(&r, &blocker.join("lab"), false).unwrap_err();
        assert!(
            matches!(&err, RenderError::Write { path, .. } if path.starts_with(&blocker)),
            "{err:?}"
        );
        assert_eq!(names_in(out.path()), ["file"]);
        assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "mine");
    }

    #[test]
    fn a_new_render_leaves_no_folder_of_a_renamed_node() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("lab");
        write(&render(&seed_with(|t| t), None).unwrap(), &target, false).unwrap();
        let renamed = seed_with(|t| t.replace("nginx_slave", "nginx_backup"));
        write(&render(&renamed, None).unwrap(), &target, false).unwrap();
        assert_eq!(
            names_in(&target.join("nodes")),
            ["nginx_backup", "nginx_master"]
        );
        assert_eq!(names_in(out.path()), ["lab"], "no staging folder left");
    }

    #[test]
    fn a_folder_halab_did_not_write_is_replaced_only_with_force() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("project");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let r = render(&seed_with(|t| t), None).unwrap();
        let err = write(&r, &target, false).unwrap_err();
        assert!(matches!(&err, RenderError::NotHalabs { .. }), "{err:?}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(names_in(&target), ["notes.txt"]);
        write(&r, &target, true).unwrap();
        assert!(!target.join("notes.txt").exists());
        assert!(target.join(MARKER).is_file());
        // An empty folder needs no force.
        let empty = out.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write(&r, &empty, false).unwrap();
    }

    #[test]
    fn dangerous_targets_are_refused_even_with_force() {
        let r = render(&seed_with(|t| t), None).unwrap();
        for target in ["/", "/tmp", "."] {
            let err = write(&r, Path::new(target), true).unwrap_err();
            assert!(
                matches!(&err, RenderError::UnsafeTarget { .. }),
                "{target}: {err:?}"
            );
        }
        let cwd = std::env::current_dir().unwrap();
        let err = write(&r, cwd.parent().unwrap(), true).unwrap_err();
        assert!(matches!(&err, RenderError::UnsafeTarget { .. }), "{err:?}");
        #[cfg(unix)]
        {
            let out = tempfile::tempdir().unwrap();
            let link = out.path().join("link");
            std::os::unix::fs::symlink(out.path(), &link).unwrap();
            let err = write(&r, &link, true).unwrap_err();
            assert!(matches!(&err, RenderError::UnsafeTarget { .. }), "{err:?}");
        }
    }

    #[test]
    fn a_page_text_found_in_the_page_template_is_refused() {
        let lab = seed_with(|t| t.replace("page: 从机", "page: background-color"));
        let err = render(&lab, None).unwrap_err();
        assert!(
            matches!(&err, RenderError::AmbiguousPage { node, credited: Some((other, _)), .. } if node == "nginx_master" && other == "nginx_slave"),
            "{err:?}"
        );
        // A page text inside another one is fine: the longer one is looked
        // for first (the shipped three-node lab has `从机` and `从机二`).
        let lab = seed_with(|t| t.replace("page: 从机", "page: 主机二"));
        render(&lab, None).unwrap();
    }

    #[test]
    fn a_page_template_without_the_page_text_or_too_large_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        copy_embedded_templates(dir.path());
        std::fs::write(dir.path().join("index.html"), "<p>no text</p>").unwrap();
        let err = render(&seed_with(|t| t), Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, RenderError::AmbiguousPage { credited: None, .. }),
            "{err:?}"
        );
        let big = format!("{}{{{{ node.page }}}}", "x".repeat(MAX_PAGE_BYTES));
        std::fs::write(dir.path().join("index.html"), big).unwrap();
        let err = render(&seed_with(|t| t), Some(dir.path())).unwrap_err();
        assert!(matches!(&err, RenderError::PageTooLarge { .. }), "{err:?}");
    }

    #[test]
    fn default_out_is_under_dot_halab() {
        let lab = seed_with(|t| t);
        assert_eq!(default_out(&lab), Path::new(".halab/nginx-keepalived"));
        assert_eq!(image_tag(&lab), "halab-nginx-keepalived:rendered");
    }

    /// The shipped load-balancer pair with `edit` applied to its YAML text.
    fn pair_with(edit: impl Fn(String) -> String) -> Lab {
        let path = labs_dir().join("lb-pair.yaml");
        let text = edit(std::fs::read_to_string(&path).unwrap());
        Lab::from_yaml(&text, &path).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_pair_renders_each_lb_s_haproxy_each_web_page_and_no_front_proxy() {
        let r = render(&pair_with(|t| t), None).unwrap();
        let names: Vec<String> = r.files.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "check_haproxy.sh",
                "docker-compose.yml",
                "entrypoint.sh",
                "halab-haproxy.sh",
                "nodes/lb1/haproxy.cfg",
                "nodes/lb1/keepalived.conf",
                "nodes/lb2/haproxy.cfg",
                "nodes/lb2/keepalived.conf",
                "web/web1/index.html",
                "web/web2/index.html",
                "web/web3/index.html",
            ]
        );
        let y: serde_yaml::Value = serde_yaml::from_str(file(&r, "docker-compose.yml")).unwrap();
        let services: Vec<&str> = y["services"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(services, ["lb1", "lb2", "web1", "web2", "web3"]);
        assert_eq!(y["services"]["web2"]["environment"]["HALAB_ROLE"], "web");
        assert!(y["services"]["web2"]["cap_add"].is_null());
        assert!(
            y["services"]["lb1"]["ports"].is_null(),
            "clients use the VIP"
        );
        // Each LB names itself; the page tells the web servers apart.
        assert!(
            file(&r, "nodes/lb2/haproxy.cfg").contains("http-response set-header X-Halab-LB lb2\n")
        );
        let markers = page_markers(&pair_with(|t| t));
        assert_eq!(markers[0], ("web1".to_string(), "web-one".to_string()));
        assert_eq!(
            lb_markers(&pair_with(|t| t))[1],
            ("lb2".to_string(), "lb2".to_string())
        );
    }

    #[test]
    fn haproxy_checks_the_web_servers_at_layer_7_or_layer_4() {
        let l7 = file(
            &render(&pair_with(|t| t), None).unwrap(),
            "nodes/lb1/haproxy.cfg",
        )
        .to_string();
        assert!(
            l7.contains("    option httpchk GET /\n    http-check expect status 200\n"),
            "{l7}"
        );
        assert!(
            l7.contains("    server web1 172.24.128.11:80 check inter 100 rise 2 fall 2\n"),
            "{l7}"
        );
        assert!(l7.contains("    option redispatch\n    retries 3\n    retry-on conn-failure empty-response response-timeout\n"), "{l7}");
        assert!(
            l7.contains("    stats uri /stats\n") && l7.contains("bind 127.0.0.1:8404"),
            "{l7}"
        );
        let l4 = pair_with(|t| t.replace("kind: http, inter: 100ms", "kind: tcp, inter: 100ms"));
        let l4 = file(&render(&l4, None).unwrap(), "nodes/lb1/haproxy.cfg").to_string();
        assert!(
            !l4.contains("httpchk") && !l4.contains("http-check"),
            "{l4}"
        );
        assert!(
            l4.contains("    server web3 172.24.128.13:80 check inter 100 rise 2 fall 2\n"),
            "{l4}"
        );
        // Web servers on another port: HAProxy dials it, nginx listens on it.
        let other = pair_with(|t| t.replace("\n  port: 80\n", "\n  port: 8080\n"));
        let r = render(&other, None).unwrap();
        let cfg = file(&r, "nodes/lb2/haproxy.cfg");
        assert!(
            cfg.contains("    server web2 172.24.128.12:8080 check inter 100 rise 2 fall 2\n"),
            "{cfg}"
        );
        assert!(file(&r, "entrypoint.sh").contains(
            "sed -i 's/\\b80 default_server/8080 default_server/' /etc/nginx/sites-enabled/default"
        ));
        assert!(
            !file(&render(&pair_with(|t| t), None).unwrap(), "entrypoint.sh")
                .contains("default_server/")
        );
    }

    #[test]
    fn keepalived_tracks_the_service_the_node_runs_by_each_check_kind() {
        let track = |lab: &Lab, script: &str| {
            let r = render(lab, None).unwrap();
            let conf = r
                .files
                .iter()
                .find(|(p, _)| p.ends_with("keepalived.conf"))
                .unwrap()
                .1
                .clone();
            assert!(
                conf.contains(&format!("script \"/etc/halab/{script}\"")),
                "{conf}"
            );
            assert!(file(&r, "Dockerfile").contains(script));
            file(&r, script).to_string()
        };
        let pidof = track(&pair_with(|t| t), "check_haproxy.sh");
        assert!(pidof.ends_with("pidof haproxy >/dev/null\n"), "{pidof}");
        let http = track(
            &pair_with(|t| t.replace("kind: pidof", "kind: http")),
            "check_http.sh",
        );
        assert!(
            http.contains("curl -fsS -m 1 -o /dev/null http://127.0.0.1/\n"),
            "{http}"
        );
        let tcp = track(
            &pair_with(|t| {
                t.replace("kind: pidof", "kind: tcp")
                    .replace("listen: 80", "listen: 8080")
            }),
            "check_tcp.sh",
        );
        assert!(tcp.contains("/dev/tcp/127.0.0.1/8080"), "{tcp}");
        let seed_tcp = track(
            &seed_with(|t| t.replace("kind: pidof", "kind: tcp")),
            "check_tcp.sh",
        );
        assert!(
            seed_tcp.contains("/dev/tcp/127.0.0.1/80'"),
            "nginx's port on a seed node: {seed_tcp}"
        );
        let icmp = track(
            &pair_with(|t| t.replace("kind: pidof", "kind: icmp\n  address: 172.24.128.11")),
            "check_icmp.sh",
        );
        assert!(
            icmp.contains("SOCK_RAW") && icmp.ends_with("' 172.24.128.11\n"),
            "{icmp}"
        );
        let seed = file(
            &render(&seed_with(|t| t), None).unwrap(),
            "nodes/nginx_master/keepalived.conf",
        )
        .to_string();
        assert!(seed.contains("vrrp_script chk_nginx {"), "{seed}");
    }
}
