//! Progress lines on the terminal: one line per step, a spinner while it
//! runs, ✓ and its time when done, ✗ when it failed.
//!
//! Steps may run at the same time (`up` creates containers concurrently),
//! so every line belongs to one [`MultiProgress`], which keeps them apart
//! instead of letting two spinners overwrite each other. Hidden under
//! `quiet`, and by indicatif when stderr is not a terminal.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

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
