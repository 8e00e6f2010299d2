//! Which line of a lab file a field path (`nodes[1].priority`) was written
//! on, so that a validation problem can point at it.
//!
//! serde_yaml keeps no positions once a value is parsed, so this is a light
//! scan of block-style YAML: keys and `- ` items by indentation. A field
//! inside a one-line flow collection (`{a: 1}`) gets the line of the nearest
//! enclosing field the scan saw; a path it cannot place gets no line.

use std::collections::HashMap;

/// Field path → 1-based line of its first occurrence.
#[derive(Debug, Default)]
pub struct Lines {
    at: HashMap<String, usize>,
}

struct Open {
    indent: usize,
    /// The path up to and including this key or item.
    path: String,
    is_item: bool,
    /// Items seen under this key so far.
    items: usize,
}

impl Lines {
    pub fn scan(text: &str) -> Lines {
        let mut at = HashMap::new();
        let mut stack: Vec<Open> = Vec::new();
        // Indentation a block scalar's lines must exceed to belong to it.
        let mut block_scalar: Option<usize> = None;
        for (no, line) in text.lines().enumerate() {
            let body = line.trim_start_matches(' ');
            let mut indent = line.len() - body.len();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if let Some(min) = block_scalar {
                if indent > min {
                    continue;
                }
                block_scalar = None;
            }
            let mut rest = body;
            while let Some(after) =
                rest.strip_prefix("- ")
                    .or(if rest == "-" { Some("") } else { None })
            {
                while stack
                    .last()
                    .is_some_and(|o| o.indent > indent || (o.indent == indent && o.is_item))
                {
                    stack.pop();
                }
                let Some(parent) = stack.last_mut() else {
                    break;
                };
                let path = format!("{}[{}]", parent.path, parent.items);
                parent.items += 1;
                at.entry(path.clone()).or_insert(no + 1);
                stack.push(Open {
                    indent,
                    path,
                    is_item: true,
                    items: 0,
                });
                let trimmed = after.trim_start_matches(' ');
                indent += 2 + (after.len() - trimmed.len());
                rest = trimmed;
            }
            let Some((key, value)) = split_key(rest) else {
                continue;
            };
            while stack.last().is_some_and(|o| o.indent >= indent) {
                stack.pop();
            }
            let path = match stack.last() {
                Some(parent) => format!("{}.{key}", parent.path),
                None => key.to_string(),
            };
            at.entry(path.clone()).or_insert(no + 1);
            let value = value.trim();
            if value.starts_with('|') || value.starts_with('>') {
                block_scalar = Some(indent);
            }
            stack.push(Open {
                indent,
                path,
                is_item: false,
                items: 0,
            });
        }
        Lines { at }
    }

    /// The line of `field` itself, when the scan saw it.
    pub fn exact(&self, field: &str) -> Option<usize> {
        self.at.get(field).copied()
    }

    /// The line of `field`, or of the nearest enclosing field the scan saw.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        let mut path = field;
        loop {
            if let Some(&line) = self.at.get(path) {
                return Some(line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// `key: value` or `key:` → (key without quotes, value); None for others.
fn split_key(s: &str) -> Option<(&str, &str)> {
    let (key, value) = if let Some(q) = s.strip_prefix('"').or_else(|| s.strip_prefix('\'')) {
        let end = q.find(['"', '\''])?;
        let after = q[end + 1..].strip_prefix(':')?;
        (&q[..end], after)
    } else {
        let i = s
            .char_indices()
            .find(|&(i, c)| c == ':' && matches!(s[i + 1..].chars().next(), None | Some(' ')))?
            .0;
        (&s[..i], &s[i + 1..])
    };
    if key.is_empty() || key.starts_with(['{', '[', '#']) {
        return None;
    }
    Some((key.trim_end(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "\
name: t
network:
  subnet: 10.9.0.0/16
description: |
  text: not a key
nodes:
  - name: a
    priority: 200
  - {name: b, priority: 100}
proxy:
  retry_on:
  - conn-failure
  - 503
  timeouts: {connect: 1s}
scenarios:
  kill-master:
    observe: 3s
";

    #[test]
    fn fields_map_to_the_line_they_are_written_on() {
        let l = Lines::scan(LAB);
        assert_eq!(l.line_of("name"), Some(1));
        assert_eq!(l.line_of("network.subnet"), Some(3));
        assert_eq!(l.line_of("nodes[0].name"), Some(7));
        assert_eq!(l.line_of("nodes[0].priority"), Some(8));
        // Inside a flow mapping: the item's line.
        assert_eq!(l.line_of("nodes[1].priority"), Some(9));
        assert_eq!(l.line_of("proxy.retry_on[1]"), Some(13));
        assert_eq!(l.line_of("proxy.timeouts.connect"), Some(14));
        assert_eq!(l.line_of("scenarios.kill-master.observe"), Some(17));
        // Block scalar lines are text, not keys.
        assert_eq!(l.line_of("description.text"), Some(4));
        assert_eq!(l.line_of("vip"), None);
    }
}
