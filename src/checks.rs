//! The daemons' own verdict on rendered files: `keepalived -t`, `haproxy -c`
//! and `nginx -t`, run inside the lab image so that paths, versions and
//! scripts are the ones the lab will really use.

use std::collections::BTreeMap;

use crate::engine::{ContainerSpec, Engine, EngineError, Labels, LABEL_LAB, LABEL_ROLE};
use crate::image::{self, ImageError};
use crate::lab::Lab;
use crate::render::Rendered;

/// One checker's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonCheck {
    pub command: String,
    pub passed: bool,
    pub output: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot make interface `{interface}` for keepalived's check: {output}")]
    Interface { interface: String, output: String },
}

/// Runs every checker on `rendered`. `None` when the lab's base image is not
/// in the engine (nothing to check with yet).
pub async fn check_rendered(
    engine: &dyn Engine,
    lab: &Lab,
    rendered: &Rendered,
) -> Result<Option<Vec<DaemonCheck>>, CheckError> {
    let Some(base) = engine.image(&lab.spec().image.base).await? else {
        return Ok(None);
    };
    let built = image::ensure_lab_image(engine, lab, rendered, &base, &|_| {}).await?;
    let name = lab.container_name("validate");
    let _ = engine.remove(&name, true).await;
    let spec = ContainerSpec {
        name: name.clone(),
        image: built.tag.clone(),
        env: BTreeMap::from([("HALAB_ROLE".to_string(), "idle".to_string())]),
        labels: Labels::from([
            (LABEL_LAB.to_string(), lab.name().to_string()),
            (LABEL_ROLE.to_string(), "validate".to_string()),
        ]),
        // No network at all: the checkers need none, and keepalived's
        // interface check is met by a dummy interface below.
        network: "none".to_string(),
        ip: None,
        cap_add: vec!["NET_ADMIN".to_string()],
        publish: None,
    };
    engine.create_container(&spec).await?;
    let result = run_checks(engine, lab, &name).await;
    let _ = engine.remove(&name, true).await;
    Ok(Some(result?))
}

async fn run_checks(
    engine: &dyn Engine,
    lab: &Lab,
    name: &str,
) -> Result<Vec<DaemonCheck>, CheckError> {
    engine.start(name).await?;
    let iface = &lab.spec().vrrp.interface;
    // A lone bridge stands in for the interface (this kernel has no dummy
    // driver); with no ports and no network, nothing can leave through it.
    let script = format!("ip link add {iface} type bridge && ip link set {iface} up");
    let made = engine.exec(name, &["sh", "-c", &script]).await?;
    if !made.success() {
        return Err(CheckError::Interface {
            interface: iface.clone(),
            output: format!("{}{}", made.stdout, made.stderr)
                .trim_end()
                .to_string(),
        });
    }
    let mut commands: Vec<Vec<String>> = lab
        .spec()
        .nodes
        .iter()
        .map(|n| {
            ["keepalived", "-t", "-f"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("/etc/halab/nodes/{}/keepalived.conf", n.name)])
                .collect()
        })
        .collect();
    commands.push(
        ["haproxy", "-c", "-f", "/etc/halab/haproxy.cfg"]
            .map(String::from)
            .to_vec(),
    );
    commands.push(["nginx", "-t"].map(String::from).to_vec());
    let mut out = Vec::new();
    for argv in commands {
        // A node's own files (a user's check scripts) are where its
        // keepalived.conf names them, as on the running node.
        if let Some(node) = argv.last().and_then(|f| f.strip_suffix("/keepalived.conf")) {
            let root = format!("{node}/{}", crate::render::USER_ROOT);
            let copy = format!("if [ -d {root} ]; then cp -R {root}/. /; fi");
            engine.exec(name, &["sh", "-c", &copy]).await?;
        }
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let r = engine.exec(name, &args).await?;
        out.push(DaemonCheck {
            command: argv.join(" "),
            passed: r.success(),
            output: format!("{}{}", r.stdout, r.stderr).trim_end().to_string(),
        });
    }
    Ok(out)
}
