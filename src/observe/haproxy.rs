//! HAProxy's server state lines, as a load balancer's container log carries
//! them: `[WARNING]  (8) : Server web/web1 is DOWN, reason: Layer4 timeout,
//! check duration: 2002ms. 2 active and 0 backup servers left. …` on stderr,
//! and the same text after a syslog header where `log stdout` sends it.
//!
//! Read into [`PoolLine`]: a server taken out of the pool or put back, with
//! HAProxy's reason. Everything else HAProxy writes tells nothing here.

use std::time::SystemTime;

use super::engine_stamp;

/// One server state change, as HAProxy words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLine {
    /// The backend (`web` in `web/web1`).
    pub backend: String,
    pub server: String,
    /// In the pool (`UP`, `UP/READY`) or out of it (`DOWN`, and `going
    /// DOWN for maintenance`).
    pub up: bool,
    /// HAProxy's reason, with its `info` where it gives one: `Layer4
    /// connection problem (Connection refused)`, `Layer7 timeout`, `Layer7
    /// check passed`; what follows the state where it gives none (`for
    /// maintenance`).
    pub reason: String,
}

/// The server state change `text` reports, if it reports one.
pub fn pool_change(text: &str) -> Option<PoolLine> {
    // "Server" or "Backup Server", then `backend/server is STATE`.
    let at = text.find("Server ")?;
    let rest = &text[at + "Server ".len()..];
    let (name, rest) = rest.split_once(" is ")?;
    let (backend, server) = name.split_once('/')?;
    if backend.is_empty() || server.is_empty() || server.contains(' ') {
        return None;
    }
    let rest = rest.strip_prefix("going ").unwrap_or(rest);
    let (word, after) = rest
        .split_once([',', ' ', '.'])
        .map_or((rest, ""), |(w, _)| (w, &rest[w.len()..]));
    let up = match word {
        "DOWN" => false,
        "UP" | "UP/READY" => true,
        _ => return None,
    };
    Some(PoolLine {
        backend: backend.to_string(),
        server: server.to_string(),
        up,
        reason: reason(after),
    })
}

/// `, reason: Layer4 connection problem, info: "Connection refused", check
/// duration: 0ms. 1 active …` → `Layer4 connection problem (Connection
/// refused)`; ` for maintenance.` → `for maintenance`.
fn reason(after: &str) -> String {
    let Some(r) = after
        .find("reason: ")
        .map(|i| &after[i + "reason: ".len()..])
    else {
        let plain = after.trim_start_matches([',', ' ']);
        let end = plain.find(['.', ',']).unwrap_or(plain.len());
        return plain[..end].trim().to_string();
    };
    let end = r.find(", ").or_else(|| r.find(". ")).unwrap_or(r.len());
    let mut out = r[..end].trim_end_matches('.').to_string();
    let info = after
        .find("info: \"")
        .map(|i| &after[i + "info: \"".len()..])
        .and_then(|i| i.split_once('"'))
        .map(|(i, _)| i)
        .filter(|i| !i.is_empty());
    if let Some(info) = info {
        out.push_str(&format!(" ({info})"));
    }
    out
}

/// The state change a stamped `line` (see [`engine_stamp`]) reports, and
/// when the engine received the line.
pub fn pool_change_at(line: &str) -> Option<(PoolLine, Option<SystemTime>)> {
    let (at, text) = engine_stamp(line);
    Some((pool_change(text)?, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> (String, String, bool, String) {
        let p = pool_change(line).unwrap_or_else(|| panic!("not read: {line}"));
        (p.backend, p.server, p.up, p.reason)
    }

    fn t(b: &str, s: &str, up: bool, r: &str) -> (String, String, bool, String) {
        (b.into(), s.into(), up, r.into())
    }

    /// HAProxy 2.x's own words (stderr and syslog forms).
    #[test]
    fn server_state_lines_are_read_with_their_reason() {
        assert_eq!(
            parsed("[WARNING]  (8) : Server web/web1 is DOWN, reason: Layer4 timeout, check duration: 2002ms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
            t("web", "web1", false, "Layer4 timeout")
        );
        assert_eq!(
            parsed("<129>Nov 27 14:10:02 haproxy[8]: Server web/web2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
            t("web", "web2", false, "Layer4 connection problem (Connection refused)")
        );
        assert_eq!(
            parsed("[WARNING]  (8) : Server web/web3 is DOWN, reason: Layer7 timeout, check duration: 1001ms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
            t("web", "web3", false, "Layer7 timeout")
        );
        assert_eq!(
            parsed("Server web/web1 is DOWN, reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: 2ms. 1 active and 0 backup servers left."),
            t("web", "web1", false, "Layer7 wrong status (Service Unavailable)")
        );
        assert_eq!(
            parsed("[WARNING]  (8) : Server web/web1 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
            t("web", "web1", true, "Layer7 check passed")
        );
        assert_eq!(
            parsed("Backup Server web/spare is UP, reason: Layer4 check passed, check duration: 0ms. 0 active and 1 backup servers online. Running on backup."),
            t("web", "spare", true, "Layer4 check passed")
        );
        assert_eq!(
            parsed("Server web/web1 is going DOWN for maintenance. 2 active and 0 backup servers left."),
            t("web", "web1", false, "for maintenance")
        );
        assert_eq!(
            parsed("Server web/web1 is UP/READY (leaving forced maintenance)."),
            t("web", "web1", true, "(leaving forced maintenance)")
        );
    }

    #[test]
    fn other_lines_tell_nothing() {
        for line in [
            "[NOTICE]   (1) : New worker (8) forked",
            "[ALERT]    (8) : backend 'web' has no server available!",
            "Proxy web started.",
            "127.0.0.1:41900 [27/Nov/2026:14:10:02.835] front web/web1 0/0/1/1/2 200 212 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"",
            "Server web/web1 is MAYBE",
            "",
        ] {
            assert_eq!(pool_change(line), None, "{line}");
        }
    }

    #[test]
    fn a_stamped_line_keeps_the_engine_s_time() {
        let (p, at) = pool_change_at(
            "2026-11-27T14:10:02.603316002Z [WARNING]  (8) : Server web/web1 is DOWN, reason: Layer4 timeout, check duration: 501ms.",
        )
        .unwrap();
        assert_eq!((p.server.as_str(), p.up), ("web1", false));
        assert_eq!(
            at,
            Some(humantime::parse_rfc3339("2026-11-27T14:10:02.603316002Z").unwrap())
        );
    }
}
