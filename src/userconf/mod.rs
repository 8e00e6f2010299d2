//! Readers for configs people already have — keepalived.conf, haproxy.cfg and a
//! docker-compose project — into typed models, and the lint rules over them.
//!
//! Everything here only reads: no module writes to the user's folder. Every
//! value keeps the file and line it came from, so findings and errors can
//! point at it.

pub mod compose;
pub mod haproxy;
pub mod keepalived;
pub mod lint;

use std::fmt;
use std::path::{Path, PathBuf};

/// Files larger than this are refused: a config is a few kilobytes, and a
/// bound keeps a wrong path (a log, a disk image) from being read whole.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where a value came from: a file and a 1-based line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
}

impl Loc {
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Loc {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A value with the place it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub at: Loc,
}

impl<T> Spanned<T> {
    pub fn new(value: T, at: Loc) -> Self {
        Spanned { value, at }
    }
}

/// Why a user's file could not be read into a model. Each message says
/// where, what, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    #[error("cannot read `{}`\n  fix: check the path and that the file is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is {size} bytes, more than the {limit} bytes a config file may have here\n  fix: point at the config file itself", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("`{}` is not UTF-8 text\n  fix: point at the config file itself, saved as UTF-8", path.display())]
    NotText { path: PathBuf },
    #[error("{at}: {what}\n  fix: {fix}")]
    Syntax { at: Loc, what: String, fix: String },
    #[error("{at}: `{keyword} {value}`: {expected}\n  fix: write {expected}")]
    BadValue {
        at: Loc,
        keyword: String,
        value: String,
        expected: String,
    },
    #[error("{at}: `{keyword}` has no value\n  fix: write `{keyword} {example}`")]
    MissingValue {
        at: Loc,
        keyword: String,
        example: String,
    },
    #[error(
        "{at}: includes nest deeper than {limit} files\n  fix: include the files from fewer levels"
    )]
    IncludeDepth { at: Loc, limit: usize },
    #[error("{at}: `{}` includes itself (through {})\n  fix: remove the include that closes the loop", path.display(), chain.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(" → "))]
    IncludeCycle {
        at: Loc,
        path: PathBuf,
        chain: Vec<PathBuf>,
    },
    #[error("{at}: `include {pattern}`: no such file\n  fix: correct the path (it is relative to the including file's folder)")]
    IncludeMissing { at: Loc, pattern: String },
    #[error("`{}` has no vrrp_instance\n  fix: point at the keepalived.conf that defines the VRRP instance", file.display())]
    NoInstance { file: PathBuf },
    #[error("{}", instance_choice_message(.file, .wanted.as_deref(), .available))]
    InstanceChoice {
        file: PathBuf,
        wanted: Option<String>,
        available: Vec<String>,
    },
    #[error("{}{}: {message}\n  fix: correct the compose file (docs.docker.com/compose/compose-file)", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Compose {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

fn instance_choice_message(file: &Path, wanted: Option<&str>, available: &[String]) -> String {
    let list = available
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match wanted {
        None => format!(
            "`{}` has {} vrrp_instances: {list}\n  fix: choose one with `--instance NAME`",
            file.display(),
            available.len()
        ),
        Some(w) => {
            let hint = crate::suggest::did_you_mean(w, available.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            format!(
                "`{}` has no vrrp_instance `{w}`{hint}; it has {list}\n  fix: choose one of them with `--instance NAME`",
                file.display()
            )
        }
    }
}

/// Reads a whole text file, refusing anything over [`MAX_FILE_BYTES`] or not UTF-8.
pub fn read_text(path: &Path) -> Result<String, ConfError> {
    use crate::textfile::TextError;
    crate::textfile::read(path, MAX_FILE_BYTES).map_err(|e| match e {
        TextError::Io(source) => ConfError::Read {
            path: path.to_path_buf(),
            source,
        },
        TextError::TooLarge { size } => ConfError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        },
        TextError::NotUtf8 { .. } => ConfError::NotText {
            path: path.to_path_buf(),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Lines of config-like text, drawn from a fixed pseudo-random sequence
    /// (xorshift): every reader must answer with a model or an error.
    #[test]
    fn no_reader_panics_on_scrambled_input() {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "\"",
            "'",
            "\\",
            "#",
            "!",
            "\n",
            " ",
            ":",
            "/",
            "[",
            "]",
            "&",
            ";",
            "vrrp_instance",
            "vrrp_script",
            "virtual_server",
            "real_server",
            "global_defs",
            "virtual_ipaddress",
            "unicast_peer",
            "track_script",
            "authentication",
            "priority",
            "advert_int",
            "state",
            "MASTER",
            "nopreempt",
            "auth_pass",
            "script",
            "interval",
            "weight",
            "1",
            "0.5",
            "-3",
            "255",
            "300",
            "10.0.0.1",
            "10.0.0.1/24",
            "dev",
            "label",
            "global",
            "backend",
            "server",
            "bind",
            "*:80",
            "check",
            "inter",
            "services:",
            "  a:",
            "    ports:",
            "      - ",
            "8000:80",
            "volumes:",
            "./k:/k",
            "networks:",
            "ipv4_address:",
            "ipam:",
            "- subnet:",
            "x",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        // How many inputs each reader took: the sequence must reach the
        // model code, not stop at the first syntax error every time.
        let mut read = [0usize; 3];
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
                if seed % 3 == 0 {
                    text.push(' ');
                }
            }
            let path = Path::new("/nonexistent/fuzz.conf");
            if let Ok(c) = super::keepalived::parse(&text, path) {
                read[0] += 1;
                if let Ok(i) = c.instance(None) {
                    let node = super::lint::Node {
                        name: "n",
                        conf: &c,
                        instance: i,
                    };
                    let _ = super::lint::keepalived_node(&node, "10.0.0.0/8".parse().ok());
                }
            }
            if let Ok(c) = super::haproxy::parse(&text, path) {
                read[1] += 1;
                let _ = super::lint::haproxy(&c, "10.0.0.0/8".parse().ok());
            }
            read[2] += usize::from(super::compose::parse(&text, path).is_ok());
            let _ = super::lint::start_script(path, &text);
        }
        assert!(
            read.iter().all(|&n| n > 0),
            "inputs read per reader: {read:?}"
        );
    }
}
