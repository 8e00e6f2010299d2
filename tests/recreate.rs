//! `up` on a lab that is already up, through the binary on the real engine:
//! unchanged it does nothing, a new port recreates only the proxy, a
//! stopped member is started in place (same container).

mod common;

use std::process::Command;
use std::time::Duration;

#[test]
fn up_keeps_what_is_unchanged_and_recreates_only_what_changed() {
    if !common::engine_or_skip("up_keeps_what_is_unchanged_and_recreates_only_what_changed") {
        return;
    }
    let mut lab = common::Lab::seed("itest-recreate", "10.230.0.0/16");
    let (master, slave, proxy) = (
        "itest-recreate-nginx_master",
        "itest-recreate-nginx_slave",
        "itest-recreate-proxy",
    );
    lab.up();
    let first = common::container_ids(&lab.name);
    assert_eq!(first.len(), 3, "{first:?}");

    let out = lab.up();
    assert!(out.stdout.contains("is already up"), "{}", out.all());
    assert_eq!(
        common::container_ids(&lab.name),
        first,
        "an unchanged lab was touched"
    );

    // A new port: the image is the same, only the proxy publishes elsewhere.
    let old_port = lab.port;
    lab.port = common::free_port();
    let out = lab.up();
    assert!(
        out.stdout
            .contains(&format!("recreated: {proxy}\n  kept: {master}, {slave}\n")),
        "{}",
        out.all()
    );
    let second = common::container_ids(&lab.name);
    assert_eq!(second[master], first[master]);
    assert_eq!(second[slave], first[slave]);
    assert_ne!(second[proxy], first[proxy]);
    let (status, body) = common::get(lab.port, Duration::from_secs(2)).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("主机"), "{body}");
    assert!(common::get(old_port, Duration::from_secs(1)).is_err());

    // A stopped master (as `chaos stop-master --no-heal` leaves it) is
    // started, not recreated, and takes the VIP back.
    let stop = Command::new("docker")
        .args(["stop", "-t", "1", master])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{stop:?}");
    let out = lab.up();
    assert!(
        out.stdout
            .contains(&format!("started: {master}\n  kept: {slave}, {proxy}\n")),
        "{}",
        out.all()
    );
    assert_eq!(common::container_ids(&lab.name), second);
    let s = lab.status();
    assert_eq!(s["nodes"][0]["holds_vip"], true, "{s}");
}
