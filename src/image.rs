//! Images: the base image (found, bootstrapped offline with mmdebstrap, or
//! pulled) and the lab's one image, built from the rendered files.
//!
//! The lab image's tag carries a hash of the base image id and every
//! rendered file, so an unchanged lab is never rebuilt and a changed one
//! always is.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::{
    BuildOutput, Engine, EngineError, ImageInfo, Labels, LABEL_HASH, LABEL_LAB, LABEL_LAB_FILE,
    LABEL_ROLE, ROLE_BASE, ROLE_IMAGE,
};
use crate::lab::{Lab, DEFAULT_BASE_IMAGE};
use crate::render::Rendered;

/// What the default base image carries (DESIGN.md §2: iptables for
/// VRRP partitions, procps for pgrep, curl for the HTTP check).
pub const BASE_PACKAGES: [&str; 8] = [
    "nginx-light",
    "keepalived",
    "haproxy",
    "iproute2",
    "procps",
    "curl",
    "ca-certificates",
    "iptables",
];

/// The Debian release of the default base image.
pub const BASE_SUITE: &str = "bookworm";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("base image `{image}` is not in the engine, no registry answered ({pull}), and `mmdebstrap` is not installed to build it offline\n  fix: apt-get install mmdebstrap")]
    NoMmdebstrap { image: String, pull: String },
    #[error("mmdebstrap could not build base image `{image}` ({status}); its last lines:\n{stderr}\n  fix: check that Debian's package mirror is reachable, then run `halab image build` again")]
    Bootstrap {
        image: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run mmdebstrap")]
    RunMmdebstrap {
        #[source]
        source: io::Error,
    },
    #[error("base image `{image}` is not in the engine and could not be pulled\n  fix: load or build `{image}` into the engine, or remove `image.base` from the lab to use `{DEFAULT_BASE_IMAGE}`, which halab builds itself")]
    NoBase {
        image: String,
        #[source]
        source: EngineError,
    },
    #[error("cannot make a temporary folder for the base image")]
    TempDir {
        #[source]
        source: io::Error,
    },
    #[error("cannot pack `{}` into the build context", path.display())]
    Context {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Make sure `base` is in the engine and return it. `force` rebuilds the
/// default base even when it exists. `log` receives progress lines.
pub async fn ensure_base(
    engine: &dyn Engine,
    base: &str,
    force: bool,
    log: &BuildOutput<'_>,
) -> Result<ImageInfo, ImageError> {
    let bootstrappable = base == DEFAULT_BASE_IMAGE;
    if !(force && bootstrappable) {
        if let Some(found) = engine.image(base).await? {
            return Ok(found);
        }
    }
    if !bootstrappable {
        return match engine.pull_image(base).await {
            Ok(()) => engine.image(base).await?.ok_or_else(|| ImageError::NoBase {
                image: base.to_string(),
                source: EngineError::InspectImage {
                    image: base.to_string(),
                    source: crate::engine::Failure::new(None, "pulled, yet not in the engine"),
                },
            }),
            Err(source) => Err(ImageError::NoBase {
                image: base.to_string(),
                source,
            }),
        };
    }
    let Some(mmdebstrap) = find_program("mmdebstrap") else {
        // Without mmdebstrap the only other source is a registry.
        return match engine.pull_image(base).await {
            Ok(()) => Ok(engine
                .image(base)
                .await?
                .ok_or_else(|| ImageError::NoMmdebstrap {
                    image: base.to_string(),
                    pull: "pulled, yet not in the engine".into(),
                })?),
            Err(e) => Err(ImageError::NoMmdebstrap {
                image: base.to_string(),
                pull: e.failure().to_string(),
            }),
        };
    };
    let dir = tempfile::tempdir().map_err(|source| ImageError::TempDir { source })?;
    let tarball = dir.path().join("base.tar");
    log(&format!(
        "building {base} with mmdebstrap ({BASE_SUITE}: {})",
        BASE_PACKAGES.join(", ")
    ));
    bootstrap(&mmdebstrap, &tarball, base).await?;
    log(&format!("importing {} into the engine", tarball.display()));
    let labels = Labels::from([(LABEL_ROLE.to_string(), ROLE_BASE.to_string())]);
    Ok(engine.import_image(&tarball, base, &labels).await?)
}

/// Run mmdebstrap into `tarball`.
async fn bootstrap(mmdebstrap: &Path, tarball: &Path, image: &str) -> Result<(), ImageError> {
    let out = tokio::process::Command::new(mmdebstrap)
        .arg("--variant=apt")
        .arg(format!("--include={}", BASE_PACKAGES.join(",")))
        .arg(BASE_SUITE)
        .arg(tarball)
        .stdin(std::process::Stdio::null())
        // Ctrl-C during `up` drops this future: the bootstrap stops with it
        // rather than write on into a temp dir that is gone.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| ImageError::RunMmdebstrap { source })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(ImageError::Bootstrap {
        image: image.to_string(),
        status: out.status.to_string(),
        stderr: tail
            .into_iter()
            .rev()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The lab's image as `up` uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabImage {
    /// `halab-<lab>:<hash12>`.
    pub tag: String,
    /// sha256 (hex) of the base image id and every rendered file.
    pub hash: String,
    /// False when an image with this tag already existed.
    pub built: bool,
}

/// sha256 of the base image id and every file the image is built from.
pub fn content_hash(base_id: &str, rendered: &Rendered) -> String {
    let mut h = Sha256::new();
    h.update(base_id.as_bytes());
    h.update([0]);
    for (path, text) in rendered.image_files() {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    format!("{:x}", h.finalize())
}

/// `halab-<lab>:<first 12 hex digits of hash>` (image names are lowercase).
pub fn lab_image_tag(lab_name: &str, hash: &str) -> String {
    format!(
        "halab-{}:{}",
        lab_name.to_lowercase(),
        &hash[..12.min(hash.len())]
    )
}

/// The build context: a tar of the rendered files, scripts (`*.sh`) 0755,
/// everything else 0644, times zeroed so that equal files give equal bytes.
pub fn build_context(rendered: &Rendered) -> Result<Vec<u8>, ImageError> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, text) in rendered.image_files() {
        let err = |source| ImageError::Context {
            path: path.clone(),
            source,
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(if Rendered::is_executable(path) {
            0o755
        } else {
            0o644
        });
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, text.as_bytes())
            .map_err(err)?;
    }
    tar.into_inner().map_err(|source| ImageError::Context {
        path: PathBuf::from("."),
        source,
    })
}

/// Labels of the lab's image (and the base of its `halab.lab` selector).
pub fn lab_image_labels(lab: &Lab, hash: &str) -> Labels {
    Labels::from([
        (LABEL_LAB.to_string(), lab.name().to_string()),
        (LABEL_ROLE.to_string(), ROLE_IMAGE.to_string()),
        (LABEL_HASH.to_string(), hash.to_string()),
        (
            LABEL_LAB_FILE.to_string(),
            lab.source().display().to_string(),
        ),
    ])
}

/// Build the lab's image from `rendered` on top of `base`, unless an image
/// with the same content hash is already there.
pub async fn ensure_lab_image(
    engine: &dyn Engine,
    lab: &Lab,
    rendered: &Rendered,
    base: &ImageInfo,
    log: &BuildOutput<'_>,
) -> Result<LabImage, ImageError> {
    let hash = content_hash(&base.id, rendered);
    let tag = lab_image_tag(lab.name(), &hash);
    if engine.image(&tag).await?.is_some() {
        return Ok(LabImage {
            tag,
            hash,
            built: false,
        });
    }
    let context = build_context(rendered)?;
    engine
        .build_image(
            context,
            &tag,
            &lab_image_labels(lab, &hash),
            &Default::default(),
            log,
        )
        .await?;
    Ok(LabImage {
        tag,
        hash,
        built: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FakeEngine;
    use std::collections::BTreeMap;
    use std::io::Read;

    fn lab() -> Lab {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        crate::lab::load(&path).unwrap()
    }

    #[test]
    fn another_port_keeps_the_image_another_page_does_not() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let hash = |text: &str, port: Option<u16>| {
            let o = crate::lab::Overrides {
                port,
                ..Default::default()
            };
            let lab = Lab::from_yaml_with(text, &path, &o).unwrap();
            content_hash("sha256:base", &crate::render::render(&lab, None).unwrap())
        };
        let seed = hash(&text, None);
        assert_eq!(seed, hash(&text, Some(18123)));
        assert_ne!(seed, hash(&text.replace("page: 主机", "page: 主机2"), None));
    }

    fn rendered() -> Rendered {
        Rendered {
            files: BTreeMap::from([
                (
                    PathBuf::from("Dockerfile"),
                    "FROM halab-base:bookworm\n".into(),
                ),
                (PathBuf::from("entrypoint.sh"), "#!/bin/sh\n".into()),
                (PathBuf::from("nodes/a/index.html"), "主机\n".into()),
            ]),
        }
    }

    fn quiet(_: &str) {}

    #[test]
    fn context_holds_every_file_with_script_modes() {
        let bytes = build_context(&rendered()).unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mode = e.header().mode().unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            seen.push((path, mode, text));
        }
        assert_eq!(
            seen,
            vec![
                (
                    "Dockerfile".into(),
                    0o644,
                    "FROM halab-base:bookworm\n".into()
                ),
                ("entrypoint.sh".into(), 0o755, "#!/bin/sh\n".into()),
                ("nodes/a/index.html".into(), 0o644, "主机\n".into()),
            ]
        );
        assert_eq!(bytes, build_context(&rendered()).unwrap(), "deterministic");
    }

    #[test]
    fn hash_changes_with_base_path_or_content() {
        let r = rendered();
        let h = content_hash("sha256:1", &r);
        assert_eq!(h.len(), 64);
        assert_ne!(h, content_hash("sha256:2", &r));
        let mut moved = r.clone();
        let text = moved.files.remove(Path::new("entrypoint.sh")).unwrap();
        moved.files.insert(PathBuf::from("entry.sh"), text);
        assert_ne!(h, content_hash("sha256:1", &moved));
        let mut edited = r.clone();
        edited
            .files
            .insert(PathBuf::from("entrypoint.sh"), "#!/bin/sh \n".into());
        assert_ne!(h, content_hash("sha256:1", &edited));
        assert_eq!(
            lab_image_tag("Lab1", &h),
            format!("halab-lab1:{}", &h[..12])
        );
    }

    #[tokio::test]
    async fn lab_image_is_built_once_per_content() {
        let engine = FakeEngine::new();
        engine.add_image(DEFAULT_BASE_IMAGE, Labels::new());
        let lab = lab();
        let base = ensure_base(&engine, DEFAULT_BASE_IMAGE, false, &quiet)
            .await
            .unwrap();
        let first = ensure_lab_image(&engine, &lab, &rendered(), &base, &quiet)
            .await
            .unwrap();
        assert!(first.built);
        let again = ensure_lab_image(&engine, &lab, &rendered(), &base, &quiet)
            .await
            .unwrap();
        assert!(!again.built);
        assert_eq!(first.tag, again.tag);
        assert_eq!(engine.builds().len(), 1);
        let img = engine.image(&first.tag).await.unwrap().unwrap();
        assert_eq!(img.labels[LABEL_LAB], "nginx-keepalived");
        assert_eq!(img.labels[LABEL_ROLE], "image");
        assert_eq!(img.labels[LABEL_HASH], first.hash);
    }

    #[tokio::test]
    async fn a_missing_custom_base_is_pulled_then_explained() {
        let engine = FakeEngine::new();
        let e = ensure_base(&engine, "example/base:1", false, &quiet)
            .await
            .unwrap_err();
        assert_eq!(engine.calls(), vec!["pull_image example/base:1"]);
        let msg = e.to_string();
        assert!(
            msg.contains("`example/base:1` is not in the engine"),
            "{msg}"
        );
        assert!(msg.contains(DEFAULT_BASE_IMAGE), "{msg}");
    }

    #[tokio::test]
    async fn an_existing_base_is_used_as_is() {
        let engine = FakeEngine::new();
        engine.add_image(DEFAULT_BASE_IMAGE, Labels::new());
        ensure_base(&engine, DEFAULT_BASE_IMAGE, false, &quiet)
            .await
            .unwrap();
        assert!(engine.calls().is_empty(), "{:?}", engine.calls());
    }
}
