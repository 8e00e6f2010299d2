//! keepalived's log lines, as the node's container log carries them, e.g.
//! `Fri Nov 27 10:34:54 2026: (VI_1) Entering MASTER STATE`.
//!
//! Read into [`Said`]: the lines that tell where a node's VRRP instance is
//! and why (state transitions, check scripts, failures). Everything else
//! keepalived writes (gratuitous ARPs, start-up chatter) tells nothing.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::timeline::VrrpState;

/// keepalived's names of its states; the same words as the timeline's
/// serialized form (a test holds the two together).
const STATE_WORDS: [(VrrpState, &str); 5] = [
    (VrrpState::Init, "INIT"),
    (VrrpState::Backup, "BACKUP"),
    (VrrpState::Master, "MASTER"),
    (VrrpState::Fault, "FAULT"),
    (VrrpState::Stop, "STOP"),
];

impl fmt::Display for VrrpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = STATE_WORDS
            .iter()
            .find(|(s, _)| s == self)
            .map_or("?", |(_, w)| w);
        f.write_str(word)
    }
}

impl FromStr for VrrpState {
    type Err = ();

    fn from_str(word: &str) -> Result<VrrpState, ()> {
        STATE_WORDS
            .iter()
            .find(|(_, w)| *w == word)
            .map(|(s, _)| *s)
            .ok_or(())
    }
}

/// What one log line tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// `(VI_1) Entering MASTER STATE`: the instance changed state.
    Entered { instance: String, state: VrrpState },
    /// `VRRP_Script(chk_nginx) failed (exited with status 1)` or
    /// `… succeeded`: a tracked check changed result.
    Script { name: String, ok: bool },
    /// Another line that reports a failure or a fault.
    Trouble,
}

/// One log line of keepalived, split into its time stamp and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// keepalived's own time, `Fri Nov 27 10:34:54 2026` (second
    /// resolution, local time of the node).
    pub stamp: Option<&'a str>,
    pub text: &'a str,
    pub said: Option<Said>,
}

impl<'a> LogLine<'a> {
    pub fn parse(line: &'a str) -> LogLine<'a> {
        let (stamp, text) = split_stamp(line.trim_end());
        LogLine {
            stamp,
            text,
            said: said(text),
        }
    }
}

/// `Fri Nov 27 10:34:54 2026: text` → (stamp, text). The stamp is
/// `ctime`'s 24 characters, ending in a four-digit year.
fn split_stamp(line: &str) -> (Option<&str>, &str) {
    let stamp = line.get(..24).filter(|s| {
        s.get(20..)
            .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
    });
    match (stamp, line.get(24..).and_then(|r| r.strip_prefix(": "))) {
        (Some(s), Some(text)) => (Some(s), text),
        _ => (None, line),
    }
}

fn said(text: &str) -> Option<Said> {
    if let Some(state) = entered(text) {
        let instance = text
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map_or("", |(i, _)| i)
            .to_string();
        return Some(Said::Entered { instance, state });
    }
    if let Some((_, rest)) = text.split_once("VRRP_Script(") {
        let (name, result) = rest.split_once(')')?;
        return Some(Said::Script {
            name: name.to_string(),
            ok: !result.contains("failed"),
        });
    }
    (text.contains("failed") || text.contains("FAULT") || meaning(text).is_some())
        .then_some(Said::Trouble)
}

/// What a keepalived line means for the lab, when it names a mis-wiring
/// between the nodes (seen here: another `auth_pass` gives "received an
/// invalid passwd!" on both nodes).
pub fn meaning(line: &str) -> Option<&'static str> {
    if line.contains("invalid passwd") {
        Some("the nodes do not share `auth_pass`")
    } else if line.contains("interval mismatch") {
        Some("the nodes do not share `advert_int`")
    } else {
        None
    }
}

/// `… Entering <STATE> STATE …` → the state.
fn entered(text: &str) -> Option<VrrpState> {
    let rest = &text[text.find("Entering ")? + "Entering ".len()..];
    let mut words = rest.split_whitespace();
    let state = words.next()?.parse().ok()?;
    (words.next() == Some("STATE")).then_some(state)
}

/// The state keepalived entered according to `line`, if it says so.
pub fn vrrp_state(line: &str) -> Option<VrrpState> {
    match LogLine::parse(line).said? {
        Said::Entered { state, .. } => Some(state),
        _ => None,
    }
}

/// A line as read with the engine's stamps (`docker logs -t`,
/// [`Engine::logs_stamped`](crate::engine::Engine::logs_stamped)), e.g.
/// `2026-11-27T10:32:50.603316002Z Fri Nov 27 10:32:50 2026: (VI_1)
/// Entering MASTER STATE` → (the engine's time of the write, the rest).
/// keepalived's own stamp has whole seconds only; the engine's is when the
/// line left keepalived's stdout. A line with no such stamp is all text.
pub fn engine_stamp(line: &str) -> (Option<SystemTime>, &str) {
    line.split_once(' ')
        .and_then(|(first, rest)| Some((humantime::parse_rfc3339(first).ok()?, rest)))
        .map_or((None, line), |(t, rest)| (Some(t), rest))
}

/// The state keepalived entered according to a stamped `line` (see
/// [`engine_stamp`]) and when the engine received the line.
pub fn vrrp_state_at(line: &str) -> Option<(VrrpState, Option<SystemTime>)> {
    let (at, text) = engine_stamp(line);
    Some((vrrp_state(text)?, at))
}

/// The last state keepalived entered in `lines` (a log, oldest first).
pub fn last_state(lines: &[String]) -> Option<VrrpState> {
    lines.iter().rev().find_map(|l| vrrp_state(l))
}

/// The lines of `lines` that tell something (see [`Said`]), oldest first.
pub fn telling(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(String::as_str)
        .filter(|l| LogLine::parse(l).said.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_that_name_a_miswiring_tell_what_differs() {
        let pass = "Fri Nov 27 10:34:42 2026: (VI_1) received an invalid passwd!";
        assert_eq!(meaning(pass), Some("the nodes do not share `auth_pass`"));
        assert_eq!(LogLine::parse(pass).said, Some(Said::Trouble));
        assert_eq!(
            meaning("(VI_1) advertisement interval mismatch mine=1000000 rcv'd=2000000"),
            Some("the nodes do not share `advert_int`")
        );
        assert_eq!(meaning("(VI_1) Entering MASTER STATE"), None);
    }

    use super::*;

    // A node of the fast lab coming up (keepalived 2.2.7, bookworm).
    const START: [&str; 8] = [
        "Fri Nov 27 10:34:54 2026: Startup complete",
        "Fri Nov 27 10:34:54 2026: VRRP_Script(chk_nginx) succeeded",
        "Fri Nov 27 10:34:54 2026: (VI_1) Entering BACKUP STATE",
        "Fri Nov 27 10:34:54 2026: VI_1: sending gratuitous ARP for 10.219.128.2",
        "Fri Nov 27 10:34:54 2026: (VI_1) Receive advertisement timeout",
        "Fri Nov 27 10:34:54 2026: (VI_1) Entering MASTER STATE",
        "Fri Nov 27 10:34:54 2026: (VI_1) setting VIPs.",
        "Fri Nov 27 10:34:54 2026: Sending gratuitous ARP on eth0 for 10.219.128.4",
    ];

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_line_is_split_into_stamp_and_text() {
        let l = LogLine::parse(START[2]);
        assert_eq!(l.stamp, Some("Fri Nov 27 10:34:54 2026"));
        assert_eq!(l.text, "(VI_1) Entering BACKUP STATE");
        assert_eq!(
            l.said,
            Some(Said::Entered {
                instance: "VI_1".into(),
                state: VrrpState::Backup
            })
        );
        let bare = LogLine::parse("(VI_1) Entering FAULT STATE");
        assert_eq!(bare.stamp, None);
        assert_eq!(vrrp_state(bare.text), Some(VrrpState::Fault));
    }

    #[test]
    fn states_transitions_and_checks_are_told_apart() {
        assert_eq!(vrrp_state(START[5]), Some(VrrpState::Master));
        assert_eq!(
            vrrp_state("(VI_1) Entering BACKUP STATE (init)"),
            Some(VrrpState::Backup)
        );
        assert_eq!(vrrp_state(START[4]), None);
        assert_eq!(
            vrrp_state("(VI_1) received lower priority (100) advert"),
            None
        );
        assert_eq!(vrrp_state("Entering MAINTENANCE STATE"), None);
        assert_eq!(
            LogLine::parse(
                "Fri Nov 27 10:35:01 2026: VRRP_Script(chk_nginx) failed (exited with status 1)"
            )
            .said,
            Some(Said::Script {
                name: "chk_nginx".into(),
                ok: false
            })
        );
        assert_eq!(
            LogLine::parse(START[1]).said,
            Some(Said::Script {
                name: "chk_nginx".into(),
                ok: true
            })
        );
        assert_eq!(LogLine::parse(START[7]).said, None);
    }

    #[test]
    fn the_last_state_and_the_telling_lines_of_a_log() {
        let log = lines(&START);
        assert_eq!(last_state(&log), Some(VrrpState::Master));
        assert_eq!(last_state(&log[..3]), Some(VrrpState::Backup));
        assert_eq!(last_state(&log[..2]), None);
        assert_eq!(telling(&log), vec![START[1], START[2], START[5]]);
    }

    #[test]
    fn the_engine_s_stamp_is_read_to_the_nanosecond() {
        // `docker logs -t` of a seed node as it took over.
        let line =
            "2026-11-27T10:32:50.603316002Z Fri Nov 27 10:32:50 2026: (VI_1) Entering MASTER STATE";
        let at = humantime::parse_rfc3339("2026-11-27T10:32:50.603316002Z").unwrap();
        assert_eq!(
            engine_stamp(line),
            (
                Some(at),
                "Fri Nov 27 10:32:50 2026: (VI_1) Entering MASTER STATE"
            )
        );
        assert_eq!(vrrp_state_at(line), Some((VrrpState::Master, Some(at))));
        // Unstamped (plain `logs`): the state, no time.
        assert_eq!(vrrp_state_at(START[2]), Some((VrrpState::Backup, None)));
        assert_eq!(engine_stamp(START[2]), (None, START[2]));
        let told = "2026-11-27T10:32:50.603316002Z Fri Nov 27 10:32:50 2026: (VI_1) Receive advertisement timeout";
        assert_eq!(vrrp_state_at(told), None);
        for odd in ["", " ", "2026-11-27T10:32:50Z", "2026-13-45T99:00:00Z x"] {
            assert_eq!(engine_stamp(odd), (None, odd), "{odd:?}");
        }
    }

    #[test]
    fn odd_lines_do_not_panic() {
        for l in [
            "",
            "Entering ",
            "VRRP_Script(",
            "(",
            "Fri Nov 27 10:34:54 2026:",
            "日本語のログ行です、長い長い長い行",
        ] {
            let _ = LogLine::parse(l);
            assert_eq!(vrrp_state(l), None, "{l:?}");
        }
    }

    #[test]
    fn the_state_words_are_the_timeline_s() {
        for (state, word) in STATE_WORDS {
            assert_eq!(state.to_string(), word);
            assert_eq!(word.parse::<VrrpState>(), Ok(state));
            assert_eq!(serde_json::to_value(state).unwrap(), word);
        }
    }
}
