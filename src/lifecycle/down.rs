//! `down`: everything labelled with the lab's name goes, and nothing else.

use futures_util::future::join_all;
use serde::Serialize;

use super::up::remove_quietly;
use super::LifecycleError;
use crate::engine::{lab_selector, Engine};

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownReport {
    pub lab: String,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub images: Vec<String>,
}

impl DownReport {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.images.is_empty()
    }
}

/// Remove every container and network labelled `halab.lab=<lab>` (and its
/// images with `images`; never the base). Nothing there is success.
pub async fn down(
    engine: &dyn Engine,
    lab: &str,
    images: bool,
) -> Result<DownReport, LifecycleError> {
    let sel = lab_selector(lab);
    let mut report = DownReport {
        lab: lab.to_string(),
        ..Default::default()
    };
    // All at once: each removal is a stop and a delete in the engine.
    let containers = engine.list_containers(&sel).await?;
    let removed = join_all(containers.iter().map(|c| remove_quietly(engine, &c.name))).await;
    for (c, r) in containers.into_iter().zip(removed) {
        r?;
        report.containers.push(c.name);
    }
    for n in engine.list_networks(&sel).await? {
        match engine.remove_network(&n.name).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => report.networks.push(n.name),
        }
    }
    if images {
        for i in engine.list_images(&sel).await? {
            let name = i.tags.first().cloned().unwrap_or(i.id.clone());
            match engine.remove_image(&i.id, true).await {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => report.images.push(name),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Labels;
    use crate::lab::DEFAULT_BASE_IMAGE;
    use crate::lifecycle::testkit::*;
    use crate::lifecycle::{container_specs, up};
    use std::time::Duration;

    #[tokio::test]
    async fn down_selects_by_lab_label_only() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        // Someone else's container and network, same image, other label.
        e.add_network(
            "other-net",
            "10.99.0.0/24".parse().unwrap(),
            lab_selector("other"),
        );
        let mut other = container_specs(&lab, DEFAULT_BASE_IMAGE)[0].clone();
        other.name = "not-ours".into();
        other.network = "other-net".into();
        other.labels = lab_selector("other");
        e.create_container(&other).await.unwrap();

        let r = down(e.as_ref(), "nginx-keepalived", true).await.unwrap();
        assert_eq!(r.containers.len(), 3);
        assert_eq!(r.networks, vec!["nginx-keepalived-static-network"]);
        assert_eq!(r.images.len(), 1, "the lab image, not the base");
        assert!(e.container("not-ours").is_some());
        assert_eq!(e.network_names(), vec!["other-net"]);
        assert_eq!(e.image_tags(), vec![DEFAULT_BASE_IMAGE]);
        // Nothing left: still a success.
        assert!(down(e.as_ref(), "nginx-keepalived", true)
            .await
            .unwrap()
            .is_empty());
    }

    /// A build container of the lab's image (it carries the image's labels)
    /// that the engine's builder is removing when `down` runs, as when
    /// Ctrl-C lands during a build: `down` waits for it, it does not fail.
    #[tokio::test(start_paused = true)]
    async fn down_waits_for_a_removal_the_engine_has_in_progress() {
        let lab = lab_on(free_port());
        let e = std::sync::Arc::new(crate::engine::FakeEngine::new());
        let mut build = container_specs(&lab, DEFAULT_BASE_IMAGE)[0].clone();
        build.name = "quizzical_bartik".into();
        e.add_image(DEFAULT_BASE_IMAGE, Labels::new());
        e.add_network(
            &build.network,
            "10.231.0.0/16".parse().unwrap(),
            Labels::new(),
        );
        e.create_container(&build).await.unwrap();
        e.fail_status(
            "remove quizzical_bartik",
            409,
            "removal of container quizzical_bartik is already in progress",
        );
        let builder = {
            let e = e.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(700)).await;
                e.vanish("quizzical_bartik");
            })
        };
        let r = down(e.as_ref(), lab.name(), false).await.unwrap();
        assert_eq!(r.containers, vec!["quizzical_bartik"]);
        builder.await.unwrap();

        // One that never goes: the engine's answer, after a bounded wait.
        e.create_container(&build).await.unwrap();
        let started = tokio::time::Instant::now();
        let err = down(e.as_ref(), lab.name(), false).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(10));
        assert!(err.to_string().contains("quizzical_bartik"), "{err}");
    }
}
