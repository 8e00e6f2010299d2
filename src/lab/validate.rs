//! Semantic checks of a parsed lab: everything a type cannot say.

use std::fmt;

use super::LabSpec;

/// One thing wrong in a lab file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `nodes[1].priority`.
    pub field: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {} (fix: {})", self.field, self.message, self.fix)
    }
}

/// Every problem found in `spec`; empty when the lab is usable.
pub fn validate(spec: &LabSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if spec.nodes.len() < 2 {
        out.push(Problem {
            field: "nodes".into(),
            message: format!("{} node(s); a VRRP lab needs at least two", spec.nodes.len()),
            fix: "add a BACKUP node".into(),
        });
    }
    out
}
