//! Where a lab file's bytes enter halab: a bounded read, a cheap nesting
//! check before the YAML parser sees the text, and parse errors worded for
//! the person who wrote the file rather than in serde's terms.

use std::path::Path;

use super::LabError;

/// Largest lab file halab reads. Real labs are a few KiB; the bound keeps a
/// wrong `--lab` (a log, a disk image) from being read whole.
pub const MAX_LAB_BYTES: u64 = 1 << 20;

/// Deepest nesting of YAML collections (block or flow) halab parses. A lab
/// is four levels deep; the YAML parser needs time quadratic in the depth
/// (a 160 KB file of nested brackets took 35 s), so depth is checked first.
pub const MAX_DEPTH: usize = 32;

/// The text of a lab file, read with a bound and checked to be UTF-8.
pub fn read(path: &Path) -> Result<String, LabError> {
    use crate::textfile::TextError;
    crate::textfile::read(path, MAX_LAB_BYTES).map_err(|e| match e {
        TextError::Io(source) => LabError::Read {
            path: path.to_path_buf(),
            source,
        },
        TextError::TooLarge { .. } => LabError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_LAB_BYTES,
        },
        TextError::NotUtf8 { line, column } => LabError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            column,
        },
    })
}

/// Refuses text the YAML parser should not be given: larger than a lab file
/// may be, or nested deeper than [`MAX_DEPTH`]. One pass, no allocation.
pub fn check_shape(text: &str, path: &Path) -> Result<(), LabError> {
    if text.len() as u64 > MAX_LAB_BYTES {
        return Err(LabError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_LAB_BYTES,
        });
    }
    match deepest(text) {
        Some(line) => Err(LabError::TooDeep {
            path: path.to_path_buf(),
            line,
            limit: MAX_DEPTH,
        }),
        None => Ok(()),
    }
}

/// The line where nesting first goes past [`MAX_DEPTH`], if it does.
///
/// Block nesting is counted as the number of open indentation levels (each
/// `- ` opening one more); flow nesting as open `[`/`{` outside quotes and
/// comments. It over-counts rather than under-counts (block scalars are
/// scanned like the rest), which only matters past the limit.
fn deepest(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        if flow == 0 && !body.is_empty() && !body.starts_with('#') {
            let mut indent = line.len() - body.len();
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            // `- - x` and `- key:` open one level per dash.
            let mut rest = body;
            while let Some(after) = rest.strip_prefix("- ") {
                indent += 2;
                indents.push(indent);
                rest = after.trim_start_matches(' ');
            }
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for ch in line.chars() {
            match (quote, ch) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if prev == ' ' || prev == '\t' => break,
                (None, '"' | '\'') if flow > 0 || matches!(prev, ' ' | ':') => quote = Some(ch),
                (None, '[' | '{') => {
                    flow += 1;
                    if indents.len() + flow > MAX_DEPTH {
                        return Some(i + 1);
                    }
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            prev = ch;
        }
        if indents.len() + flow > MAX_DEPTH {
            return Some(i + 1);
        }
    }
    None
}

/// A serde_yaml message in the words of the lab file, with a fix: `(message, fix)`.
pub fn explain(message: &str, field: &str) -> (String, String) {
    let last = field.rsplit('.').next().unwrap_or(field);
    let docs = "see docs/lab-format.md for every field and its type".to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, known, hint) = name_and_known(rest);
        let fix = if known.is_empty() {
            format!("remove `{name}`")
        } else {
            format!(
                "{hint}remove `{name}` or correct its spelling; known here: {}",
                known.join(", ")
            )
        };
        return (format!("unknown field `{name}`"), fix);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (name, known, hint) = name_and_known(rest);
        return (
            format!("`{name}` is not one of the values this field takes"),
            format!("{hint}write one of {}", known.join(", ")),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return (
            format!("the required field `{name}` is missing"),
            format!("add `{name}:` ({docs})"),
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return (
            format!("`{name}` is written twice"),
            format!("keep one `{name}:`"),
        );
    }
    if message.contains("IPv4 address syntax") {
        return (
            "is not an IPv4 address".into(),
            "write four numbers from 0 to 255, e.g. `172.20.128.2`".into(),
        );
    }
    if message.contains("IP address syntax") {
        return (
            "is not an IPv4 address with a prefix length".into(),
            format!("write it like `172.20.128.4/24` (`{last}` needs the /prefix)"),
        );
    }
    let parsed = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|r| r.rsplit_once(", expected "));
    if let Some((found, expected)) = parsed {
        let (want, fix) = expected_words(expected);
        return (
            format!("expected {want}, found {}", found_words(found)),
            fix.unwrap_or(docs),
        );
    }
    const SYNTAX: [&str; 7] = [
        "found unexpected",
        "did not find expected",
        "could not find expected",
        "not allowed in this context",
        "found character that cannot start",
        "while scanning",
        "while parsing",
    ];
    if SYNTAX.iter().any(|s| message.contains(s)) {
        return (
            format!("this is not valid YAML here ({message})"),
            "check the syntax at that spot: every `key:` needs a value or an indented block, brackets and quotes must be closed, indentation uses spaces".into(),
        );
    }
    if message.starts_with("recursion limit exceeded") {
        return (
            format!("is nested too deeply (more than {MAX_DEPTH} levels)"),
            "a lab file is a few levels deep: remove the extra nesting".into(),
        );
    }
    (message.to_string(), docs)
}

/// From serde's "NAME`, expected `a`, `b` or `c`": the name, the known
/// names, and a "did you mean" hint (empty when none is close).
fn name_and_known(rest: &str) -> (&str, Vec<&str>, String) {
    let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let hint = crate::suggest::did_you_mean(name, known.iter().copied())
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    (name, known, hint)
}

/// serde's "expected" as a person says it, and the fix it implies.
fn expected_words(expected: &str) -> (String, Option<String>) {
    let number = |lo: i64, hi: u64| {
        (
            format!("a whole number from {lo} to {hi}"),
            Some(format!("write a whole number from {lo} to {hi}")),
        )
    };
    match expected {
        "u8" => number(0, u8::MAX.into()),
        "u16" => number(0, u16::MAX.into()),
        "u32" => number(0, u32::MAX.into()),
        "u64" => number(0, u64::MAX),
        "i32" => number(i32::MIN.into(), i32::MAX as u64),
        "a duration" => (
            "a duration".into(),
            Some("write a number and a unit, e.g. `2s`, `100ms` or `1m 30s` (units: us, ms, s, m, h, d)".into()),
        ),
        "a boolean" => ("`true` or `false`".into(), Some("write `true` or `false`".into())),
        "a string" => ("a text".into(), Some("write a text (quote it if it looks like a number or a list)".into())),
        "a sequence" => ("a list".into(), Some("write a list: one `- item` per line".into())),
        "field identifier" => ("a field name".into(), None),
        e if e.starts_with("struct ") || e.starts_with("a map") => (
            "a section of `key: value` lines".into(),
            Some("write the section's fields as indented `key: value` lines".into()),
        ),
        e => (e.to_string(), None),
    }
}

/// serde's "found" (`Unexpected`) as a person says it.
fn found_words(found: &str) -> String {
    if let Some(n) = found.strip_prefix("integer `") {
        let n = n.split('`').next().unwrap_or(n);
        return format!("the number {n}");
    }
    if let Some(n) = found.strip_prefix("floating point `") {
        let n = n.split('`').next().unwrap_or(n);
        return format!("the number {n}");
    }
    if let Some(s) = found.strip_prefix("string ") {
        return format!("the text {s}");
    }
    if let Some(b) = found.strip_prefix("boolean ") {
        return b.to_string();
    }
    match found {
        "unit value" => "nothing (the value is empty)".into(),
        "map" => "a section of `key: value` lines".into(),
        "sequence" => "a list".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_in_flow_and_block_style() {
        assert_eq!(deepest("a: [1, {b: [2]}]\n"), None);
        let flow = format!("a: {}{}\n", "[".repeat(40), "]".repeat(40));
        assert_eq!(deepest(&flow), Some(1));
        let mut block = String::new();
        for d in 0..40 {
            block.push_str(&format!("{}k{d}:\n", " ".repeat(d)));
        }
        assert_eq!(deepest(&block), Some(MAX_DEPTH + 1));
        // Brackets inside quotes and comments are text.
        let quoted = format!("page: \"{}\" # {}\n", "[".repeat(40), "{".repeat(40));
        assert_eq!(deepest(&quoted), None);
    }

    #[test]
    fn a_shipped_lab_is_far_from_the_depth_limit() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/fast-failover.yaml");
        let text = read(&path).unwrap();
        assert_eq!(deepest(&text), None);
    }
}
