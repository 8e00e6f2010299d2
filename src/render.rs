//! Rendering: a `Lab` through Tera templates into the files of a lab.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::lab::Lab;

/// Every rendered file, keyed by its path relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub files: BTreeMap<PathBuf, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template `{name}`: {message}")]
    Template { name: String, message: String },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Render every artifact of `lab`; `templates` replaces the embedded ones.
pub fn render(_lab: &Lab, _templates: Option<&Path>) -> Result<Rendered, RenderError> {
    Ok(Rendered {
        files: BTreeMap::new(),
    })
}
