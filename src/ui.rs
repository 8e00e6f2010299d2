//! Progress lines on the terminal: one line per step, a spinner while it
//! runs, ✓ and its time when done, ✗ when it failed.
//!
//! Steps may run at the same time (`up` creates containers concurrently),
//! so every line belongs to one [`MultiProgress`], which keeps them apart
//! instead of letting two spinners overwrite each other. Hidden under
//! `quiet`, and by indicatif when stderr is not a terminal.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The version of every JSON document halab prints (`status`, `validate`,
/// each run of `report --format json`). Raised when a field changes meaning
/// or goes away; new fields alone do not raise it. docs/json.md lists them.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A document as printed: its fields, with `schema_version` first.
#[derive(serde::Serialize)]
pub struct Versioned<'a, T: serde::Serialize> {
    pub schema_version: u32,
    #[serde(flatten)]
    pub doc: &'a T,
}

impl<'a, T: serde::Serialize> Versioned<'a, T> {
    pub fn new(doc: &'a T) -> Self {
        Versioned {
            schema_version: JSON_SCHEMA_VERSION,
            doc,
        }
    }
}

/// The one printer of an error and its causes. Every error of halab says
/// what failed on its first line and how to fix it on the lines after; a
/// cause is never part of its error's text but chained (`source`). So the
/// first lines are printed as a chain, outermost first, and the rest of
/// every level (fixes, lists) after them:
///
/// ```text
/// cannot read lab file `x.yaml`
///   caused by: No such file or directory (os error 2)
///   fix: pass an existing file …
/// ```
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut heads = Vec::new();
    let mut rests = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
        heads.push(head.to_string());
        if !rest.is_empty() {
            rests.push(rest.to_string());
        }
        cur = e.source();
    }
    let mut out = heads.join("\n  caused by: ");
    for rest in rests {
        out.push('\n');
        out.push_str(&rest);
    }
    out
}

/// A third party's error with its causes on one line (`a: b: c`), for an
/// error of halab's that carries it as text: tera and reqwest say little at
/// the top ("Failed to render", "error sending request") and the reason in
/// their sources.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// Standard output was closed by its reader (`halab validate | head -1`).
/// That is the reader's choice, not a failure: the command stops, nothing is
/// printed, and halab exits 0 (as ripgrep does).
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct StdoutClosed;

/// Standard output, for every command: a write to a closed pipe becomes
/// [`StdoutClosed`] (inside the `io::Error`), which [`stdout_closed`] finds.
pub struct Stdout;

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().lock().write(buf).map_err(closed)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // One lock for the whole text: lines of two writers never interleave.
        std::io::stdout().lock().write_all(buf).map_err(closed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().lock().flush().map_err(closed)
    }
}

fn closed(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

/// Prints `text` and a newline on standard output (`println!` panics on a
/// closed pipe; this returns an error that ends the command quietly).
pub fn print(text: impl std::fmt::Display) -> std::io::Result<()> {
    std::io::Write::write_all(&mut Stdout, format!("{text}\n").as_bytes())
}

/// Whether `err` is, or was caused by, a closed standard output.
pub fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<StdoutClosed>()
            || cause
                .downcast_ref::<std::io::Error>()
                .and_then(|e| e.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

/// The progress lines of one command.
pub struct Progress {
    lines: MultiProgress,
}

/// One step in progress: finish it with [`Step::done`] or [`Step::fail`].
pub struct Step {
    bar: ProgressBar,
    title: String,
    started: Instant,
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this module; a test renders each.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Progress {
            lines: MultiProgress::with_draw_target(target),
        }
    }

    /// Start a step titled `title`.
    pub fn step(&self, title: impl Into<String>) -> Step {
        let bar = self.lines.add(ProgressBar::new_spinner());
        bar.set_style(style("{spinner} {msg}"));
        let title = title.into();
        bar.set_message(title.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        Step {
            bar,
            title,
            started: Instant::now(),
        }
    }
}

impl Step {
    /// A sink for the step's detail lines (build output).
    pub fn detail(&self) -> impl Fn(&str) + Send + Sync {
        let bar = self.bar.clone();
        let title = self.title.clone();
        move |line: &str| bar.set_message(format!("{title}: {}", line.trim()))
    }

    /// ✓ title, `note` when not empty, and the step's time.
    pub fn done(self, note: &str) {
        let line = done_line(&self.title, note, self.started.elapsed());
        self.bar.set_style(style("{msg}"));
        self.bar.finish_with_message(line);
    }

    pub fn fail(self) {
        self.bar.set_style(style("{msg}"));
        self.bar.finish_with_message(format!("✗ {}", self.title));
    }
}

fn done_line(title: &str, note: &str, took: Duration) -> String {
    let note = if note.is_empty() {
        String::new()
    } else {
        format!(" {note}")
    };
    format!("✓ {title}{note} ({took:.1?})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_are_valid() {
        for t in ["{spinner} {msg}", "{msg}"] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn a_done_step_names_its_note_and_time() {
        assert_eq!(
            done_line("lab image", "halab-x:1 (cached)", Duration::from_millis(12)),
            "✓ lab image halab-x:1 (cached) (12.0ms)"
        );
        assert_eq!(
            done_line("start", "", Duration::from_millis(1500)),
            "✓ start (1.5s)"
        );
    }

    #[test]
    fn quiet_steps_are_hidden() {
        let p = Progress::new(true);
        let s = p.step("network");
        assert!(s.bar.is_hidden());
        (s.detail())("a build line");
        assert_eq!(s.bar.message(), "network: a build line");
        s.done("");
    }
}
