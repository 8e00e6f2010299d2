//! The labs shipped inside the binary, so `halab up` works from any folder
//! after `cargo install` — not only from a checkout that has `labs/`.
//!
//! `--lab` takes a path or one of these names; the default names the seed
//! lab. A file on disk always wins over a name (`./seed` is a path).

use std::path::{Path, PathBuf};

/// One lab carried in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippedLab {
    /// What `--lab` accepts.
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// The file it came from in the source tree (and is shown as).
    pub file: &'static str,
    pub text: &'static str,
    pub about: &'static str,
}

pub const SHIPPED: &[ShippedLab] = &[
    ShippedLab {
        name: "nginx-keepalived",
        aliases: &["seed"],
        file: "labs/nginx-keepalived.yaml",
        text: include_str!("../labs/nginx-keepalived.yaml"),
        about: "the seed tutorial: VRRPv2, 1 s adverts, HAProxy on port 8000",
    },
    ShippedLab {
        name: "fast-failover",
        aliases: &["fast"],
        file: "labs/fast-failover.yaml",
        text: include_str!("../labs/fast-failover.yaml"),
        about: "the same topology tuned to the floor: VRRPv3, 20 ms adverts, port 8001",
    },
    ShippedLab {
        name: "three-node",
        aliases: &[],
        file: "labs/three-node.yaml",
        text: include_str!("../labs/three-node.yaml"),
        about: "one master, two backups (port 8002)",
    },
    ShippedLab {
        name: "lb-pair",
        aliases: &[],
        file: "labs/lb-pair.yaml",
        text: include_str!("../labs/lb-pair.yaml"),
        about: "the production shape: keepalived + HAProxy pair over three web servers, clients on http://172.24.128.100/",
    },
];

/// The lab `--lab` means when it is not given.
pub const DEFAULT: &str = "seed";

/// The shipped lab called `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static ShippedLab> {
    SHIPPED
        .iter()
        .find(|l| l.name == name || l.aliases.contains(&name))
}

/// Every name `--lab` accepts besides a path, for messages and help:
/// each lab's name, its aliases in parentheses.
pub fn names() -> String {
    SHIPPED
        .iter()
        .map(|l| match l.aliases {
            [] => format!("`{}`", l.name),
            a => format!("`{}` (or `{}`)", l.name, a.join("`, `")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `halab init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("no lab shipped with halab is called `{name}`{}\n  fix: name one of {}", hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default(), names())]
    Unknown { name: String, hint: Option<String> },
    #[error("`{}` already exists; halab init never overwrites a file\n  fix: edit it, remove it, or pass `--out OTHER.yaml`", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write `{}`: {cause}\n  fix: pass `--out FILE` in a folder you can write", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Writes the shipped lab `name` to `out` (default `<name>.yaml` here), for
/// a person to edit; never replaces a file. Returns the path written.
pub fn init(name: &str, out: Option<&Path>) -> Result<PathBuf, InitError> {
    let lab = find(name).ok_or_else(|| InitError::Unknown {
        name: name.into(),
        hint: crate::suggest::did_you_mean(
            name,
            SHIPPED
                .iter()
                .flat_map(|l| std::iter::once(l.name).chain(l.aliases.iter().copied())),
        )
        .map(str::to_string),
    })?;
    let path = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{}.yaml", lab.name)));
    // `create_new` makes the check and the write one step: no race with
    // another writer between "does it exist?" and "write".
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(InitError::Exists { path })
        }
        Err(cause) => return Err(InitError::Write { path, cause }),
    };
    std::io::Write::write_all(&mut file, lab.text.as_bytes()).map_err(|cause| {
        InitError::Write {
            path: path.clone(),
            cause,
        }
    })?;
    Ok(path)
}

/// Where a lab's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabSource {
    File(PathBuf),
    Shipped(&'static ShippedLab),
}

/// What `--lab ARG` names: an existing file first, then a shipped lab, else
/// the path (whose read error then says what to pass).
pub fn resolve(arg: &Path) -> LabSource {
    if arg.exists() {
        return LabSource::File(arg.to_path_buf());
    }
    if let Some(lab) = arg.to_str().and_then(find) {
        return LabSource::Shipped(lab);
    }
    LabSource::File(arg.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_find_their_lab() {
        assert_eq!(find("seed").unwrap().file, "labs/nginx-keepalived.yaml");
        assert_eq!(find("nginx-keepalived").unwrap().name, "nginx-keepalived");
        assert_eq!(find("fast").unwrap().name, "fast-failover");
        assert!(find("labs/seed.yaml").is_none());
    }

    #[test]
    fn a_file_on_disk_wins_over_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        std::fs::write(&path, "name: x\n").unwrap();
        assert_eq!(resolve(&path), LabSource::File(path.clone()));
        assert_eq!(
            resolve(Path::new("seed")),
            LabSource::Shipped(find("seed").unwrap())
        );
        assert_eq!(
            resolve(Path::new("no/such.yaml")),
            LabSource::File("no/such.yaml".into())
        );
    }

    #[test]
    fn init_writes_a_shipped_lab_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mine.yaml");
        assert_eq!(init("fast", Some(&out)).unwrap(), out);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            find("fast-failover").unwrap().text
        );
        std::fs::write(&out, "edited").unwrap();
        let err = init("seed", Some(&out)).unwrap_err();
        assert!(matches!(err, InitError::Exists { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "edited");
        let err = init("sed", Some(&dir.path().join("x.yaml"))).unwrap_err();
        assert!(matches!(err, InitError::Unknown { .. }), "{err}");
    }

    #[test]
    fn every_shipped_lab_parses_and_validates() {
        for l in SHIPPED {
            crate::lab::Lab::from_yaml(l.text, Path::new(l.file))
                .unwrap_or_else(|e| panic!("{}: {e}", l.name));
        }
    }
}
