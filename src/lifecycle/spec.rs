//! What `up` makes: one container definition per member of the lab, each
//! labelled with the lab, its role, its member name and the hash of its
//! own definition (so `up` can tell a changed container from a kept one).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::{
    ContainerSpec, Labels, PublishedPort, LABEL_HASH, LABEL_LAB, LABEL_LAB_FILE, LABEL_NODE,
    LABEL_ROLE,
};
use crate::lab::Lab;

/// Set on the proxy: the host port it publishes, so that `up` knows before
/// building anything whether a taken port is held by the lab's own proxy.
pub(super) const LABEL_PORT: &str = "halab.port";

/// Labels of one object of `lab`.
pub(super) fn labels(lab: &Lab, role: &str, node: Option<&str>, hash: &str) -> Labels {
    let mut l = Labels::from([
        (LABEL_LAB.to_string(), lab.name().to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (
            LABEL_LAB_FILE.to_string(),
            lab.source().display().to_string(),
        ),
        (LABEL_HASH.to_string(), hash.to_string()),
    ]);
    if let Some(n) = node {
        l.insert(LABEL_NODE.to_string(), n.to_string());
    }
    l
}

/// The lab's hash: its image's content hash and every setting that shapes
/// its containers (addresses, ports). Reported by `up`; the containers each
/// carry their own [`container_hash`].
pub fn lab_hash(lab: &Lab, image_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(image_hash.as_bytes());
    h.update(serde_json::to_vec(lab.spec()).expect("a lab serialises"));
    format!("{:x}", h.finalize())
}

/// The hash of one container's definition, its `halab.hash` label: `up`
/// keeps a container whose label matches and recreates one whose does not.
/// Labels are left out (they carry the hash, and the lab file's path is no
/// reason to recreate anything); the image tag stands for the image's
/// content (it carries the content hash).
pub fn container_hash(spec: &ContainerSpec) -> String {
    #[derive(Serialize)]
    struct Definition<'a> {
        name: &'a str,
        image: &'a str,
        env: &'a BTreeMap<String, String>,
        network: &'a str,
        ip: Option<Ipv4Addr>,
        cap_add: &'a [String],
        publish: Option<(Ipv4Addr, u16, u16)>,
    }
    let d = Definition {
        name: &spec.name,
        image: &spec.image,
        env: &spec.env,
        network: &spec.network,
        ip: spec.ip,
        cap_add: &spec.cap_add,
        publish: spec
            .publish
            .map(|p| (p.host_ip, p.host_port, p.container_port)),
    };
    let json = serde_json::to_vec(&d).expect("a container definition serialises");
    format!("{:x}", Sha256::digest(json))
}

/// The labels of the lab's network: carrying the hash of its name and
/// subnet.
pub(super) fn network_labels(lab: &Lab) -> Labels {
    let hash = Sha256::digest(format!("{} {}", lab.network_name(), subnet(lab)));
    labels(lab, "network", None, &format!("{hash:x}"))
}

fn subnet(lab: &Lab) -> Ipv4Net {
    lab.spec().network.subnet
}

/// The containers `up` makes: every node, every web server, then the
/// front proxy when the lab has one, each labelled with its role, its
/// member name and its own [`container_hash`].
pub fn container_specs(lab: &Lab, image: &str) -> Vec<ContainerSpec> {
    let spec = lab.spec();
    let network = lab.network_name();
    let member = |role: &str, name: &str, ip: Ipv4Addr| ContainerSpec {
        name: lab.container_name(name),
        image: image.to_string(),
        env: BTreeMap::from([
            ("HALAB_ROLE".to_string(), role.to_string()),
            ("HALAB_NODE".to_string(), name.to_string()),
        ]),
        labels: Labels::new(),
        network: network.clone(),
        ip: Some(ip),
        cap_add: vec![],
        publish: None,
    };
    let mut members: Vec<(&str, &str)> = Vec::new();
    let mut out: Vec<ContainerSpec> = Vec::new();
    for n in &spec.nodes {
        let mut s = member("node", &n.name, n.ip);
        // keepalived adds and removes the VIP.
        s.cap_add = vec!["NET_ADMIN".to_string()];
        out.push(s);
        members.push(("node", &n.name));
    }
    for w in lab.backends() {
        out.push(member("web", &w.name, w.ip));
        members.push(("web", &w.name));
    }
    if lab.has_front_proxy() {
        let mut s = member("proxy", &spec.proxy.name, lab.proxy_ip());
        s.publish = Some(PublishedPort {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: spec.proxy.port,
            container_port: spec.proxy.listen,
        });
        out.push(s);
        members.push(("proxy", &spec.proxy.name));
    }
    for (s, (role, member)) in out.iter_mut().zip(members) {
        s.labels = labels(lab, role, Some(member), &container_hash(s));
        if let Some(p) = s.publish {
            s.labels
                .insert(LABEL_PORT.to_string(), p.host_port.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::testkit::lab_on;

    /// `down` tells the engine's build steps (which inherit an image's
    /// role) from members by role: no member may carry an image's role.
    #[test]
    fn no_member_of_a_shipped_lab_looks_like_a_build_step() {
        for shipped in crate::shipped::SHIPPED {
            let lab = Lab::from_yaml(shipped.text, std::path::Path::new(shipped.file)).unwrap();
            for spec in container_specs(&lab, "halab-x:1") {
                let info = crate::engine::ContainerInfo {
                    id: String::new(),
                    name: spec.name.clone(),
                    state: crate::engine::ContainerState::Created,
                    labels: spec.labels.clone(),
                    ip: None,
                };
                assert!(!info.is_build_step(), "{}: {:?}", spec.name, spec.labels);
            }
        }
    }

    #[test]
    fn a_container_s_hash_follows_its_definition_not_its_labels() {
        let specs = container_specs(&lab_on(18000), "halab-x:1");
        let mut s = specs[0].clone();
        let h = container_hash(&s);
        assert_eq!(s.labels[LABEL_HASH], h);
        s.labels
            .insert(LABEL_LAB_FILE.into(), "elsewhere.yaml".into());
        assert_eq!(container_hash(&s), h, "labels are no part of it");
        s.ip = Some(Ipv4Addr::new(10, 231, 128, 9));
        assert_ne!(container_hash(&s), h);
        // Another port moves the proxy's hash only.
        let moved = container_specs(&lab_on(18001), "halab-x:1");
        let hashes = |v: &[ContainerSpec]| -> Vec<String> {
            v.iter().map(|s| s.labels[LABEL_HASH].clone()).collect()
        };
        let (a, b) = (hashes(&specs), hashes(&moved));
        assert_eq!(a[..2], b[..2]);
        assert_ne!(a[2], b[2]);
        assert_eq!(moved[2].labels[LABEL_PORT], "18001");
    }

    #[test]
    fn a_pair_s_members_are_its_nodes_and_web_servers_with_no_port_published() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/lb-pair.yaml");
        let lab = crate::lab::load(&path).unwrap();
        let specs = container_specs(&lab, "halab-x:1");
        let got: Vec<(&str, &str, &str)> = specs
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.labels[LABEL_ROLE].as_str(),
                    s.env["HALAB_ROLE"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("lb-pair-lb1", "node", "node"),
                ("lb-pair-lb2", "node", "node"),
                ("lb-pair-web1", "web", "web"),
                ("lb-pair-web2", "web", "web"),
                ("lb-pair-web3", "web", "web"),
            ]
        );
        assert!(specs.iter().all(|s| s.publish.is_none()));
        assert_eq!(specs[2].ip, Some(Ipv4Addr::new(172, 24, 128, 11)));
        assert!(specs[2].cap_add.is_empty() && specs[0].cap_add == ["NET_ADMIN"]);
    }
}
