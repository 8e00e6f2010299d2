//! The seed's own project (`../shared/seed/nginx_keepalived`, the first real
//! user input) read and linted: every defect the issue lists is named, with
//! its file and line, and nothing in the user's folder is written to.
//! No Docker needed.

mod common;

use common::seed_project;
use halab::userconf::lint::{self, Finding, Rule, Severity};
use halab::userconf::{compose, keepalived};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Every file of `dir` with its length, modification time and content.
fn state_of(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let content = if meta.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (e.path(), (meta.len(), meta.modified().unwrap(), content))
        })
        .collect()
}

/// (rule, file name:line) of each finding: where each defect was found.
fn places(findings: &[Finding]) -> Vec<(Rule, String)> {
    findings
        .iter()
        .map(|f| {
            let name =
                f.at.file
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
            (f.rule, format!("{name}:{}", f.at.line))
        })
        .collect()
}

#[test]
fn the_seeds_project_is_read_into_nodes_proxy_and_subnet() {
    let Some(dir) = seed_project() else { return };
    let project = compose::load(&dir).unwrap();
    let nodes: Vec<_> = project
        .keepalived_nodes()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(nodes, ["nginx_master", "nginx_slave"]);
    let master = project.service("nginx_master").unwrap();
    assert_eq!(master.addresses[0].1.to_string(), "172.20.128.2");
    assert_eq!(
        master
            .mount_ending("index.html")
            .unwrap()
            .host
            .as_ref()
            .unwrap(),
        &dir.join("index-master.html")
    );
    let proxy = project.proxy().unwrap();
    assert_eq!(
        (proxy.ports[0].host, proxy.ports[0].container),
        (Some(8000), 6301)
    );
    assert_eq!(
        project.subnet("static-network").unwrap().to_string(),
        "172.20.0.0/16"
    );
    let scripts = project.start_scripts(master).unwrap();
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0].host, dir.join("entrypoint.sh"));

    let conf = keepalived::load(&dir.join("keepalived-master.conf")).unwrap();
    let inst = conf.instance(None).unwrap();
    assert_eq!(inst.vips[0].addr.to_string(), "172.20.128.4");
    assert_eq!(inst.vips[0].prefix, Some(24));
    assert_eq!(inst.priority.as_ref().unwrap().value, 200);
    let reals: Vec<_> = conf.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| r.addr.as_str())
        .collect();
    assert_eq!(reals, ["172.16.16.177", "172.16.16.178"]);
}

#[test]
fn linting_the_seeds_project_names_every_defect_and_writes_nothing() {
    let Some(dir) = seed_project() else { return };
    let before = state_of(&dir);

    let project = compose::load(&dir.join("docker-compose.yml")).unwrap();
    let confs = lint::read_project(&project).unwrap();
    let findings = lint::project(&confs, None).unwrap();

    assert_eq!(
        places(&findings),
        [
            (
                Rule::CheckNeverSucceeds,
                "keepalived-master.conf:3".to_string()
            ),
            (
                Rule::LvsVirtualServer,
                "keepalived-master.conf:40".to_string()
            ),
            (Rule::OutsideLab, "keepalived-master.conf:48".to_string()),
            (Rule::OutsideLab, "keepalived-master.conf:58".to_string()),
            (
                Rule::CheckNeverSucceeds,
                "keepalived-slave.conf:2".to_string()
            ),
            (Rule::HaproxyNbproc, "haproxy.cfg:9".to_string()),
            (Rule::HaproxyDaemon, "haproxy.cfg:7".to_string()),
            (Rule::KeepalivedInBackground, "entrypoint.sh:3".to_string()),
        ],
        "{}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let text = findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("real_server 172.16.16.177 is outside the lab subnet 172.20.0.0/16"),
        "{text}"
    );
    assert!(
        text.contains("real_server 172.16.16.178 is outside the lab subnet 172.20.0.0/16"),
        "{text}"
    );
    // The reason follows what this kernel has: IPVS or not.
    let reason = match std::path::Path::new("/proc/net/ip_vs").exists() {
        true => "halab's labs balance with HAProxy, not LVS",
        false => "this kernel has no IPVS (/proc/net/ip_vs is absent)",
    };
    assert!(text.contains(reason), "{text}");
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    assert_eq!(errors, 6);

    assert_eq!(state_of(&dir), before, "the user's folder changed");
}

#[test]
fn every_shipped_lab_renders_configs_that_lint_clean() {
    let labs = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("labs")).unwrap();
    let mut linted = 0;
    for entry in labs {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let lab = halab::lab::load(&path).unwrap();
        let rendered = halab::render::render(&lab, None).unwrap();
        let subnet = Some(ipnet::IpNet::V4(lab.spec().network.subnet));
        let mut confs = Vec::new();
        let mut findings = Vec::new();
        for (file, text) in &rendered.files {
            let name = file.file_name().unwrap().to_string_lossy();
            match name.as_ref() {
                "keepalived.conf" => {
                    let node = file
                        .parent()
                        .unwrap()
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    confs.push((node, keepalived::parse(text, file).unwrap()));
                }
                "haproxy.cfg" => findings.extend(lint::haproxy(
                    &halab::userconf::haproxy::parse(text, file).unwrap(),
                    subnet,
                )),
                "entrypoint.sh" => findings.extend(lint::start_script(file, text)),
                _ => {}
            }
        }
        assert!(
            confs.len() >= 2,
            "{}: no keepalived.conf rendered",
            path.display()
        );
        let nodes: Vec<lint::Node> = confs
            .iter()
            .map(|(name, conf)| lint::Node {
                name,
                conf,
                instance: conf.instance(None).unwrap(),
            })
            .collect();
        for n in &nodes {
            findings.extend(lint::keepalived_node(n, subnet));
        }
        findings.extend(lint::between_nodes(&nodes));
        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert!(
            findings.is_empty(),
            "{}:\n{}",
            path.display(),
            text.join("\n")
        );
        linted += 1;
    }
    assert!(linted >= 3, "only {linted} shipped labs found");
}
