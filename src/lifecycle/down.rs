//! `down`: everything labelled with the lab's name goes, and nothing else.

use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;
use tokio::time::Instant;

use super::up::remove_quietly;
use super::LifecycleError;
use crate::engine::{lab_selector, Engine, ImageInfo};

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
///
/// An image build under way for the lab (Ctrl-C during `up`) is waited out:
/// the engine's builder finishes the step it is on after its client has
/// gone (measured: a layer committed a second later), each step in a
/// container carrying the lab's label. Its untagged layers go too, with or
/// without `images`: `up` finds images by tag only, so nothing reuses them.
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
    let (steps, members): (Vec<_>, Vec<_>) = engine
        .list_containers(&sel)
        .await?
        .into_iter()
        .partition(|c| c.is_build_step());
    // All at once: each removal is a stop and a delete in the engine.
    let removed = join_all(members.iter().map(|c| remove_quietly(engine, &c.name))).await;
    for (c, r) in members.into_iter().zip(removed) {
        r?;
        report.containers.push(c.name);
    }
    if !steps.is_empty() {
        report.images = wait_out_build(engine, lab).await?;
    }
    for n in engine.list_networks(&sel).await? {
        match engine.remove_network(&n.name).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => report.networks.push(n.name),
        }
    }
    for i in engine.list_images(&sel).await? {
        if images || i.tags.iter().all(|t| t == UNTAGGED) {
            report.images.push(remove_image(engine, &i).await?);
        }
    }
    Ok(report)
}

/// How Docker's API (1.41) lists an image without a tag.
const UNTAGGED: &str = "<none>:<none>";
/// The builder counts as stopped once it made no step for the lab this long.
const BUILD_QUIET: Duration = Duration::from_secs(3);
/// At most this long is waited for it.
const BUILD_WAIT: Duration = Duration::from_secs(15);

/// Remove the builder's step containers and untagged layers for `lab` as
/// they come until none came for [`BUILD_QUIET`] (at most [`BUILD_WAIT`]):
/// a layer can be committed after its step's container is gone. Returns
/// the layers removed.
async fn wait_out_build(engine: &dyn Engine, lab: &str) -> Result<Vec<String>, LifecycleError> {
    let sel = lab_selector(lab);
    let start = Instant::now();
    let mut quiet_since = Instant::now();
    let mut layers = Vec::new();
    while quiet_since.elapsed() < BUILD_QUIET && start.elapsed() < BUILD_WAIT {
        let steps: Vec<_> = engine
            .list_containers(&sel)
            .await?
            .into_iter()
            .filter(|c| c.is_build_step())
            .collect();
        let untagged: Vec<_> = engine
            .list_images(&sel)
            .await?
            .into_iter()
            .filter(|i| i.tags.iter().all(|t| t == UNTAGGED))
            .collect();
        if !steps.is_empty() || !untagged.is_empty() {
            quiet_since = Instant::now();
        }
        for s in steps {
            remove_quietly(engine, &s.name).await?;
        }
        for i in untagged {
            layers.push(remove_image(engine, &i).await?);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(layers)
}

/// Remove `image` (gone already is fine); returns how to name it.
async fn remove_image(engine: &dyn Engine, image: &ImageInfo) -> Result<String, LifecycleError> {
    let name = match image.tags.iter().find(|t| *t != UNTAGGED) {
        Some(t) => t.clone(),
        None => format!("{} (untagged)", short_id(&image.id)),
    };
    match engine.remove_image(&image.id, true).await {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(name),
    }
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..12.min(hex.len())]
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

    /// Ctrl-C during a build: the builder makes one more step and commits
    /// one more layer after `down` began; both go, the lab's tagged image
    /// stays (no `--images`), and no build step is reported as the lab's.
    #[tokio::test(start_paused = true)]
    async fn down_waits_out_an_interrupted_build_and_removes_its_untagged_layers() {
        let lab = lab_on(free_port());
        let e = std::sync::Arc::new(crate::engine::FakeEngine::new());
        e.add_image(DEFAULT_BASE_IMAGE, Labels::new());
        let member = container_specs(&lab, DEFAULT_BASE_IMAGE)[0].clone();
        e.add_network(
            &member.network,
            "10.231.0.0/16".parse().unwrap(),
            lab_selector(lab.name()),
        );
        e.add_image("halab-nginx-keepalived:abc", lab_selector(lab.name()));
        let step = |name: &str| {
            let mut s = member.clone();
            s.name = name.into();
            s.labels
                .insert(crate::engine::LABEL_ROLE.into(), "base".into());
            s
        };
        e.create_container(&member).await.unwrap();
        e.create_container(&step("sleepy_johnson")).await.unwrap();
        let builder = {
            let (e, next) = (e.clone(), step("zen_gould"));
            let lab = lab.name().to_string();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(600)).await;
                e.create_container(&next).await.unwrap();
                e.add_untagged_image(lab_selector(&lab));
            })
        };
        let started = tokio::time::Instant::now();
        let r = down(e.as_ref(), lab.name(), false).await.unwrap();
        builder.await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(600) + BUILD_QUIET);
        assert_eq!(r.containers, vec![member.name.clone()]);
        assert_eq!(r.images.len(), 1, "{r:?}");
        assert!(r.images[0].ends_with(" (untagged)"), "{r:?}");
        assert!(e.container("zen_gould").is_none());
        assert!(e.container("sleepy_johnson").is_none());
        assert_eq!(
            e.image_tags(),
            vec![DEFAULT_BASE_IMAGE, "halab-nginx-keepalived:abc"]
        );
    }
}
