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

/// The containers `up` makes: every node, then the proxy, each labelled
/// with its own [`container_hash`].
pub fn container_specs(lab: &Lab, image: &str) -> Vec<ContainerSpec> {
    let spec = lab.spec();
    let network = lab.network_name();
    let mut out: Vec<ContainerSpec> = spec
        .nodes
        .iter()
        .map(|n| ContainerSpec {
            name: lab.container_name(&n.name),
            image: image.to_string(),
            env: BTreeMap::from([
                ("HALAB_ROLE".to_string(), "node".to_string()),
                ("HALAB_NODE".to_string(), n.name.clone()),
            ]),
            labels: Labels::new(),
            network: network.clone(),
            ip: Some(n.ip),
            // keepalived adds and removes the VIP.
            cap_add: vec!["NET_ADMIN".to_string()],
            publish: None,
        })
        .collect();
    out.push(ContainerSpec {
        name: lab.container_name(&spec.proxy.name),
        image: image.to_string(),
        env: BTreeMap::from([
            ("HALAB_ROLE".to_string(), "proxy".to_string()),
            ("HALAB_NODE".to_string(), spec.proxy.name.clone()),
        ]),
        labels: Labels::new(),
        network,
        ip: Some(lab.proxy_ip()),
        cap_add: vec![],
        publish: Some(PublishedPort {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: spec.proxy.port,
            container_port: spec.proxy.listen,
        }),
    });
    let members = spec
        .nodes
        .iter()
        .map(|n| ("node", n.name.as_str()))
        .chain([("proxy", spec.proxy.name.as_str())]);
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
}
