//! `halab lint`: the lint rules of `userconf::lint` over a lab's configs —
//! the user's own files where the lab names them (read as written, with
//! their lines), else the files halab renders.

use std::path::Path;

use ipnet::IpNet;

use crate::lab::Lab;
use crate::render::Rendered;
use crate::userconf::lint::{self, Finding, Severity};
use crate::userconf::{haproxy, keepalived, ConfError};

/// Every finding of the lab's configs, errors first, then by place.
/// `rendered_dir` names the rendered files in findings about them.
pub fn lab(lab: &Lab, rendered: &Rendered, rendered_dir: &Path) -> Result<Vec<Finding>, ConfError> {
    let user = lab.user_files();
    let subnet = Some(IpNet::V4(lab.spec().network.subnet));
    let mut confs = Vec::new();
    for node in &lab.spec().nodes {
        let rel = Path::new("nodes").join(&node.name).join("keepalived.conf");
        let conf = match user
            .nodes
            .get(&node.name)
            .and_then(|f| f.keepalived.as_ref())
        {
            Some(file) => keepalived::parse(&file.as_read, &file.path)?,
            None => {
                let text = rendered.files.get(&rel).map(String::as_str).unwrap_or("");
                keepalived::parse(text, &rendered_dir.join(&rel))?
            }
        };
        confs.push((node, conf));
    }
    let mut nodes = Vec::new();
    for (node, conf) in &confs {
        nodes.push(lint::Node {
            name: &node.name,
            conf,
            instance: conf.instance(node.instance.as_deref())?,
        });
    }
    let mut out: Vec<Finding> = nodes
        .iter()
        .flat_map(|n| lint::keepalived_node(n, subnet))
        .collect();
    out.extend(lint::between_nodes(&nodes));
    let cfg = match &user.haproxy {
        Some(file) => haproxy::parse(&file.as_read, &file.path)?,
        None => {
            let text = rendered
                .files
                .get(Path::new("haproxy.cfg"))
                .map(String::as_str)
                .unwrap_or("");
            haproxy::parse(text, &rendered_dir.join("haproxy.cfg"))?
        }
    };
    out.extend(lint::haproxy(&cfg, subnet));
    sort(&mut out);
    Ok(out)
}

/// Errors first, then by file and line.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (a.severity, &a.at).cmp(&(b.severity, &b.at)));
}

/// How many errors and warnings.
pub fn counts(findings: &[Finding]) -> (usize, usize) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    (errors, findings.len() - errors)
}

/// The findings, one block each, and a closing count.
pub fn text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&f.to_string());
        out.push('\n');
    }
    let (e, w) = counts(findings);
    out.push_str(&format!(
        "{e} error{}, {w} warning{}\n",
        if e == 1 { "" } else { "s" },
        if w == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_lab_lints_clean() {
        for l in crate::shipped::SHIPPED {
            let (file, lab) = (l.file, Lab::from_yaml(l.text, Path::new(l.file)).unwrap());
            let rendered = crate::render::render(&lab, None).unwrap();
            let findings = lab_findings(&lab, &rendered);
            assert!(findings.is_empty(), "{file}:\n{}", text(&findings));
        }
    }

    fn lab_findings(lab: &Lab, rendered: &Rendered) -> Vec<Finding> {
        super::lab(lab, rendered, Path::new(".halab/x")).unwrap()
    }
}
