//! Against the real Docker engine: the bollard adapter, the base image
//! bootstrap, and a whole lab brought up and down.
//!
//! Under CI=true an unreachable engine fails the test; elsewhere it prints
//! a skip line. Every object is labelled with its own test lab name and
//! removed through `lifecycle::down`, by label.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use halab::engine::{
    lab_selector, ContainerSpec, ContainerState, DockerEngine, Engine, EngineError, PublishedPort,
    LABEL_ROLE,
};
use halab::image;
use halab::lab::{Lab, Overrides, DEFAULT_BASE_IMAGE};
use halab::lifecycle::{self, UpOptions};
use halab::render::Rendered;
use halab::timeline::VrrpState;

async fn engine() -> Option<DockerEngine> {
    match DockerEngine::connect().await {
        Ok(e) => Some(e),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and no engine: {e}")
        }
        Err(e) => {
            eprintln!("SKIP: no Docker engine ({e})");
            None
        }
    }
}

fn print(line: &str) {
    eprintln!("  | {line}");
}

#[tokio::test]
async fn engine_adapter_round_trip() {
    let Some(e) = engine().await else { return };
    let lab = "itest-engine";
    // Left over from an earlier, interrupted run.
    lifecycle::down(&e, lab, true).await.unwrap();

    // Negotiated down to what the engine speaks (1.41 on engine 20.10).
    let v = e.version().await.unwrap();
    let (major, minor) = v.split_once('.').unwrap();
    assert_eq!(major, "1");
    assert!(minor.parse::<u32>().unwrap() <= 53, "{v}");

    // A fresh machine has no images: this bootstraps the base (≈30 s).
    // HALAB_TEST_REBUILD_BASE=1 forces the bootstrap where the base exists.
    let force = std::env::var("HALAB_TEST_REBUILD_BASE").is_ok_and(|v| v == "1");
    let t = Instant::now();
    let base = image::ensure_base(&e, DEFAULT_BASE_IMAGE, force, &print)
        .await
        .unwrap();
    eprintln!("base image ready in {:.1?}: {}", t.elapsed(), base.id);
    if force {
        assert_eq!(base.labels[LABEL_ROLE], "base");
    }

    // A hand-made build context on top of it.
    let rendered = Rendered {
        files: BTreeMap::from([
            (
                PathBuf::from("Dockerfile"),
                format!(
                    "FROM {DEFAULT_BASE_IMAGE}\nCOPY hello.sh /hello.sh\nCMD [\"/hello.sh\"]\n"
                ),
            ),
            (
                PathBuf::from("hello.sh"),
                "#!/bin/sh\necho hello-from-itest\nexec nginx -g 'daemon off;'\n".to_string(),
            ),
        ]),
    };
    let lines = std::sync::Mutex::new(Vec::new());
    let tag = format!("halab-{lab}:test");
    let img = e
        .build_image(
            image::build_context(&rendered).unwrap(),
            &tag,
            &lab_selector(lab),
            &BTreeMap::new(),
            &|l: &str| lines.lock().unwrap().push(l.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(img.labels["halab.lab"], lab);
    assert!(
        lines.lock().unwrap().iter().any(|l| l.contains("COPY")),
        "{lines:?}"
    );

    // A broken Dockerfile: the error shows the engine's lines.
    let bad = Rendered {
        files: BTreeMap::from([(
            PathBuf::from("Dockerfile"),
            format!("FROM {DEFAULT_BASE_IMAGE}\nRUN exit 7\n"),
        )]),
    };
    let err = e
        .build_image(
            image::build_context(&bad).unwrap(),
            &format!("halab-{lab}:bad"),
            &lab_selector(lab),
            &BTreeMap::new(),
            &|_: &str| {},
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("RUN exit 7"), "{msg}");

    let subnet = "172.30.0.0/24".parse().unwrap();
    let net = format!("{lab}-net");
    e.create_network(&net, subnet, &lab_selector(lab))
        .await
        .unwrap();
    let nets = e.list_networks(&lab_selector(lab)).await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].subnets, vec![subnet]);

    let port = common::free_port();
    let name = format!("{lab}-box");
    let spec = ContainerSpec {
        name: name.clone(),
        image: tag.clone(),
        env: BTreeMap::from([("HALAB_ROLE".into(), "node".into())]),
        // A role of its own, as every container halab makes has: without
        // one it would inherit the image's, and `down` would take it for
        // one of the image builder's steps.
        labels: lab_selector(lab)
            .into_iter()
            .chain([(LABEL_ROLE.to_string(), "node".to_string())])
            .collect(),
        network: net.clone(),
        ip: Some("172.30.0.10".parse().unwrap()),
        cap_add: vec!["NET_ADMIN".into()],
        publish: Some(PublishedPort {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: port,
            container_port: 80,
        }),
    };
    e.create_container(&spec).await.unwrap();
    e.start(&name).await.unwrap();
    let listed = e.list_containers(&lab_selector(lab)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, name);
    assert_eq!(listed[0].state, ContainerState::Running);
    assert_eq!(listed[0].ip, spec.ip);

    let out = e
        .exec(&name, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        .await
        .unwrap();
    assert!(out.stdout.contains("inet 172.30.0.10/24"), "{out:?}");
    let out = e
        .exec(&name, &["sh", "-c", "echo oops >&2; exit 3"])
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stderr.as_str()), (3, "oops\n"));
    assert_eq!(
        e.exec(&name, &["sh", "-c", "echo $HALAB_ROLE"])
            .await
            .unwrap()
            .stdout,
        "node\n"
    );

    // The published port answers from nginx inside.
    let mut answered = false;
    for _ in 0..50 {
        if let Ok(r) = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
        {
            answered = r.status().as_u16() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "nginx behind 127.0.0.1:{port} did not answer 200");

    // A streamed command: lines as they come; dropping it ends the command.
    let mut s = e
        .exec_lines(&name, &["sh", "-c", "echo one; echo two; exec sleep 1000"])
        .await
        .unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), "one");
    assert_eq!(s.next().await.unwrap().unwrap(), "two");
    drop(s);
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !e
            .exec(&name, &["pgrep", "-x", "sleep"])
            .await
            .unwrap()
            .success()
        {
            gone = true;
            break;
        }
    }
    assert!(gone, "the streamed command outlived its stream");

    let logs: Vec<String> = e
        .logs(&name, Some(50), false)
        .await
        .unwrap()
        .map(|l| l.unwrap())
        .collect()
        .await;
    assert!(logs.iter().any(|l| l == "hello-from-itest"), "{logs:?}");

    e.pause(&name).await.unwrap();
    let state = |e: &DockerEngine| {
        let e = e.clone();
        let lab = lab.to_string();
        async move { e.list_containers(&lab_selector(&lab)).await.unwrap()[0].state }
    };
    assert_eq!(state(&e).await, ContainerState::Paused);
    e.unpause(&name).await.unwrap();
    e.kill(&name, "SIGKILL").await.unwrap();
    assert_eq!(state(&e).await, ContainerState::Exited);
    e.start(&name).await.unwrap();
    e.stop(&name, Duration::from_secs(2)).await.unwrap();
    assert_eq!(state(&e).await, ContainerState::Exited);
    let err = e.stop("itest-engine-no-such", Duration::from_secs(1)).await;
    assert!(matches!(&err, Err(EngineError::Stop { .. })), "{err:?}");
    assert!(err.unwrap_err().is_not_found());

    // No registry here: a pull fails, and fast.
    let t = Instant::now();
    let err = e
        .pull_image("halab-itest-does-not-exist:never")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::PullImage { .. }), "{err}");
    eprintln!("pull failed in {:.1?}: {err}", t.elapsed());

    let report = lifecycle::down(&e, lab, true).await.unwrap();
    assert_eq!(report.containers, vec![name]);
    assert_eq!(report.networks, vec![net]);
    assert!(report.images.contains(&tag), "{report:?}");
    assert!(e
        .list_containers(&lab_selector(lab))
        .await
        .unwrap()
        .is_empty());
    assert!(e
        .list_networks(&lab_selector(lab))
        .await
        .unwrap()
        .is_empty());
    assert!(e.image(&tag).await.unwrap().is_none());
    assert!(
        e.image(DEFAULT_BASE_IMAGE).await.unwrap().is_some(),
        "down never removes the base image"
    );
}

fn seed_lab(name: &str, port: u16, subnet: &str) -> Lab {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let o = Overrides {
        name: Some(name.into()),
        port: Some(port),
        subnet: Some(subnet.parse().unwrap()),
    };
    Lab::from_yaml_with(&text, &path, &o).unwrap()
}

#[tokio::test]
async fn seed_lab_comes_up_serves_the_master_page_and_goes_down() {
    let Some(e) = engine().await else { return };
    let lab = seed_lab("itest-seed", common::free_port(), "172.29.0.0/16");
    lifecycle::down(&e, lab.name(), true).await.unwrap();
    let rendered = halab::render::render(&lab, None).unwrap();
    let opts = UpOptions {
        timeout: Duration::from_secs(60),
        quiet: true,
        ..UpOptions::default()
    };

    let r = lifecycle::up(&e, &lab, &rendered, &opts).await;
    let r = match r {
        Ok(r) => r,
        Err(err) => {
            let _ = lifecycle::down(&e, lab.name(), true).await;
            panic!("up failed: {err}");
        }
    };
    eprintln!(
        "up in {:.1?} (steady {:.1?} after start): {}",
        r.elapsed,
        r.steady_after.unwrap(),
        r.answer
    );
    assert!(!r.already_up);
    assert_eq!(r.answer.status, Some(200));
    assert_eq!(r.answer.node.as_deref(), Some("nginx_master"));

    let again = lifecycle::up(&e, &lab, &rendered, &opts).await.unwrap();
    assert!(again.already_up);
    assert!(again.created.is_empty());

    let s = lifecycle::status(&e, &lab).await.unwrap();
    eprintln!("{}", lifecycle::status_table(&s));
    assert_eq!(s.nodes[0].holds_vip, Some(true));
    assert_eq!(s.nodes[1].holds_vip, Some(false));
    assert_eq!(s.nodes[0].nginx_alive, Some(true));
    assert_eq!(s.nodes[0].vrrp, Some(VrrpState::Master));
    assert_eq!(s.nodes[1].vrrp, Some(VrrpState::Backup));
    assert_eq!(s.answer.node.as_deref(), Some("nginx_master"));

    let mut out = Vec::new();
    lifecycle::logs(&e, &lab, Some("nginx_master"), false, Some(20), &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.lines().all(|l| l.starts_with("nginx_master | ")),
        "{out}"
    );
    assert!(out.contains("Entering MASTER STATE"), "{out}");

    let d = lifecycle::down(&e, lab.name(), true).await.unwrap();
    assert_eq!(d.containers.len(), 3, "{d:?}");
    assert_eq!(d.networks, vec!["itest-seed-static-network"]);
    assert_eq!(d.images.len(), 1, "{d:?}");
    assert!(matches!(
        lifecycle::status(&e, &lab).await.unwrap_err(),
        lifecycle::LifecycleError::NotUp { .. }
    ));
}
