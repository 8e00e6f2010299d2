//! The production shape on the real engine: `labs/lb-pair.yaml` (two
//! keepalived + HAProxy load balancers over three nginx web servers) comes
//! up steady through halab and through docker-compose alone.
//!
//! Labs `hs-*` on 10.231–10.235.0.0/16; clients use http://VIP:80/ on the
//! lab's own bridge (no published port).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{
    engine_or_skip, get_url, labelled_containers, labelled_networks, lb_pair_file, Compose, Lab,
};

/// The VIP of lb-pair.yaml (172.24.128.100) moved into `subnet`'s /16.
fn vip_url(subnet: &str) -> String {
    let prefix: Vec<&str> = subnet.split('.').take(2).collect();
    format!("http://{}.{}.128.100:80/", prefix[0], prefix[1])
}

const PAGES: [(&str, &str); 3] = [
    ("web1", "web-one"),
    ("web2", "web-two"),
    ("web3", "web-three"),
];

/// `n` answers of `url`: (LB header, web server) each; panics on a failure.
fn answers(url: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let (status, lb, body) = get_url(url, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("{url} does not answer: {e}"));
            assert_eq!(status, 200, "{url}: {body}");
            let web = PAGES
                .iter()
                .find(|(_, page)| body.contains(page))
                .unwrap_or_else(|| panic!("no web server's page in {body}"))
                .0;
            (lb.expect("every answer names its LB"), web.to_string())
        })
        .collect()
}

#[test]
fn up_reaches_the_steady_state_one_lb_holds_the_vip_every_web_server_in_its_pool() {
    if !engine_or_skip("lb_pair::up") {
        return;
    }
    let lab = Lab::from_file("hs-up", "10.232.0.0/16", lb_pair_file());
    let t = Instant::now();
    let out = lab.up();
    eprintln!("up: {:.1?}", t.elapsed());
    assert!(
        out.stdout.contains("lab `hs-up` is up")
            && out
                .stdout
                .contains("http://10.232.128.100:80/ answers through lb1 from web"),
        "{}",
        out.all()
    );

    let s = lab.status();
    assert_eq!(s["health"], "steady", "{s:#}");
    assert!(s["proxy"].is_null(), "no front proxy: {s:#}");
    let holders: Vec<&str> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["holds_vip"] == true)
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["lb1"], "{s:#}");
    assert_eq!(s["nodes"][0]["haproxy_alive"], true, "{s:#}");
    assert_eq!(s["pool_of"], "lb1", "{s:#}");
    let web = s["web"].as_array().unwrap();
    assert_eq!(web.len(), 3, "{s:#}");
    for w in web {
        assert_eq!(w["state"], "running", "{s:#}");
        assert_eq!(w["in_pool"], true, "{s:#}");
        assert_eq!(w["pool_status"], "UP", "{s:#}");
    }
    let pool: Vec<&str> = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "pool" && c["ok"] == true)
        .map(|c| c["node"].as_str().unwrap())
        .collect();
    assert_eq!(pool, ["web1", "web2", "web3"], "{s:#}");

    // Clients on the VIP: every answer through the holder, from more than
    // one web server (round robin).
    let got = answers(&vip_url(&lab.subnet), 12);
    assert!(got.iter().all(|(lb, _)| lb == "lb1"), "{got:?}");
    let webs: BTreeSet<&str> = got.iter().map(|(_, w)| w.as_str()).collect();
    assert!(
        webs.len() > 1,
        "one web server answered everything: {got:?}"
    );

    // `down` removes every member, web servers too, by label.
    let out = lab.down();
    assert_eq!(out.code, 0, "{}", out.all());
    for c in ["lb1", "lb2", "web1", "web2", "web3"] {
        assert!(
            out.stdout.contains(&format!("removed container hs-up-{c}")),
            "{}",
            out.all()
        );
    }
    assert_eq!(labelled_containers("hs-up"), Vec::<String>::new());
    assert_eq!(labelled_networks("hs-up"), Vec::<String>::new());
}

#[test]
fn the_rendered_compose_project_passes_config_and_serves_the_vip_on_its_own() {
    if !engine_or_skip("lb_pair::compose") {
        return;
    }
    let lab = Lab::from_file("hs-compose", "10.233.0.0/16", lb_pair_file());
    let out = lab.halab(&["image", "build"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let project = lab.dir.path().join("project");
    let out = lab.halab(&["render"], &["--out", project.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());

    let compose = Compose::new("hs-compose", &project);
    let out = compose.run(&["config", "-q"]);
    assert!(out.status.success(), "{out:?}");

    let out = compose.run(&["up", "-d"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        labelled_containers("hs-compose").len(),
        5,
        "2 LBs, 3 web servers"
    );

    // The VIP serves a web server's page through an LB, in the end through
    // lb1 (the highest priority preempts whichever LB started first).
    let url = vip_url(&lab.subnet);
    let start = Instant::now();
    let mut first = None;
    let mut last = None;
    while start.elapsed() < Duration::from_secs(60) {
        match get_url(&url, Duration::from_secs(1)) {
            Ok((200, Some(lb), body)) if PAGES.iter().any(|(_, p)| body.contains(p)) => {
                first.get_or_insert((lb.clone(), start.elapsed()));
                if lb == "lb1" {
                    break;
                }
                last = Some(lb);
            }
            other => last = Some(format!("{other:?}")),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (lb, after) =
        first.unwrap_or_else(|| panic!("{url} served no web page within 60 s: {last:?}"));
    eprintln!(
        "compose lab served through {lb} {after:.1?} after `up -d`, through lb1 after {:.1?}",
        start.elapsed()
    );
    let got = answers(&url, 6);
    assert!(
        got.iter().all(|(lb, _)| lb == "lb1"),
        "{got:?} (before: {last:?})"
    );

    drop(compose);
    assert_eq!(labelled_containers("hs-compose"), Vec::<String>::new());
    assert_eq!(labelled_networks("hs-compose"), Vec::<String>::new());
}
