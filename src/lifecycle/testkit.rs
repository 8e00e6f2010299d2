//! What the lifecycle tests share: the seed lab on a free port, a fake
//! engine whose lab comes up healthy, and the engine calls that make or
//! remove something.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::UpOptions;
use crate::engine::{ExecOutput, FakeEngine, Labels};
use crate::lab::{Lab, Overrides, DEFAULT_BASE_IMAGE};
use crate::observe::look_output;
use crate::render::Rendered;
use crate::timeline::VrrpState;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn lab_on(port: u16) -> Lab {
    edited_lab(port, "10.231.0.0/16", |t| t)
}

/// The seed lab with its file edited by `edit`, on `port` and `subnet`.
pub fn edited_lab(port: u16, subnet: &str, edit: impl Fn(String) -> String) -> Lab {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
    let text = edit(std::fs::read_to_string(&path).unwrap());
    let o = Overrides {
        port: Some(port),
        subnet: Some(subnet.parse().unwrap()),
        ..Default::default()
    };
    Lab::from_yaml_with(&text, &path, &o).unwrap()
}

pub fn rendered() -> Rendered {
    Rendered {
        files: BTreeMap::from([(
            PathBuf::from("Dockerfile"),
            "FROM halab-base:bookworm\n".into(),
        )]),
    }
}

/// An HTTP server on 127.0.0.1:`port` that answers every request with
/// `page`, like the proxy would.
fn serve(port: u16, page: String) -> tokio::task::JoinHandle<()> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    })
}

/// A fake engine whose master holds the VIP and whose proxy, once
/// started, serves the master's page.
pub fn healthy_engine(lab: &Lab) -> Arc<FakeEngine> {
    let e = Arc::new(FakeEngine::new());
    e.add_image(DEFAULT_BASE_IMAGE, Labels::new());
    vip_on_master(&e, lab);
    let proxy = lab.container_name(&lab.spec().proxy.name);
    let page = format!("<div>{}</div>", lab.master().page);
    // The port is held while the proxy container exists, as Docker does.
    let server = Arc::new(std::sync::Mutex::new(None::<tokio::task::JoinHandle<()>>));
    let (p, s) = (proxy.clone(), server.clone());
    e.on_start(move |spec| {
        if spec.name == p {
            let mut s = s.lock().unwrap();
            if s.is_none() {
                *s = Some(serve(spec.publish.unwrap().host_port, page.clone()));
            }
        }
    });
    e.on_remove(move |spec| {
        if spec.name == proxy {
            if let Some(h) = server.lock().unwrap().take() {
                h.abort();
            }
        }
    });
    e
}

/// `ip addr` in `lab`'s master lists the VIP; keepalived's dumps say the
/// master is MASTER and every backup a BACKUP hearing it.
pub fn vip_on_master(e: &FakeEngine, lab: &Lab) {
    let master = lab.container_name(&lab.master().name);
    let master_ip = lab.master().ip;
    let vip = lab.vip_addr();
    e.set_exec(move |c, argv| {
        let addrs = if c == master {
            format!("2: eth0    inet {vip}/24 scope global eth0\n")
        } else {
            String::new()
        };
        let stdout = match argv[0] {
            "ip" => addrs,
            // observe's one-exec look at a node.
            "sh" if c == master => look_output(&addrs, VrrpState::Master, None),
            "sh" => look_output(&addrs, VrrpState::Backup, Some(master_ip)),
            _ => String::new(),
        };
        ExecOutput {
            exit_code: 0,
            stdout,
            stderr: String::new(),
        }
    });
}

pub fn quick() -> UpOptions {
    UpOptions {
        timeout: Duration::from_secs(5),
        quiet: true,
        ..UpOptions::default()
    }
}

pub fn creating(calls: &[String]) -> Vec<&str> {
    calls
        .iter()
        .map(String::as_str)
        .filter(|c| {
            ["build_image", "create_", "start", "remove"]
                .iter()
                .any(|p| c.starts_with(p))
        })
        .collect()
}

/// The seed lab's containers in the lab's order.
pub fn members() -> Vec<String> {
    ["nginx_master", "nginx_slave", "proxy"]
        .map(|m| format!("nginx-keepalived-{m}"))
        .to_vec()
}
