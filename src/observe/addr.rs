//! Lines of `ip -o addr show` and `ip -o monitor address`: which IPv4
//! addresses an interface has, and which it gained or lost.
//!
//! Both commands print one address per line in the same shape, e.g.
//! `41: eth0    inet 172.20.128.4/24 scope global secondary eth0\ …`;
//! the monitor puts `Deleted ` in front of an address that went away, and
//! with `-ts` a `[timestamp]` in front of everything.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use ipnet::Ipv4Net;

/// One IPv4 address line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrLine {
    /// What `ip -ts` put in front, without the brackets.
    pub stamp: Option<String>,
    /// The monitor reported the address removed.
    pub deleted: bool,
    pub interface: String,
    /// The address with its prefix length.
    pub addr: Ipv4Net,
}

impl AddrLine {
    /// `None` for any line that is not an IPv4 address (inet6, link lines,
    /// continuation lines, noise).
    pub fn parse(line: &str) -> Option<AddrLine> {
        let mut rest = line.trim_start();
        let mut stamp = None;
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            stamp = Some(after[..end].to_string());
            rest = after[end + 1..].trim_start();
        }
        let mut words = rest.split_whitespace().peekable();
        let deleted = words.next_if_eq(&"Deleted").is_some();
        // `41:` — the interface index.
        words.next()?.strip_suffix(':')?.parse::<u32>().ok()?;
        let interface = words.next()?.to_string();
        if words.next()? != "inet" {
            return None;
        }
        let addr = words.next()?.parse::<Ipv4Net>().ok()?;
        Some(AddrLine {
            stamp,
            deleted,
            interface,
            addr,
        })
    }

    /// When the monitor saw the change: `ip -ts` prints the wall clock at
    /// µs with no zone, in the node's local time (UTC in halab's nodes,
    /// whose kernel clock is the host's). `None` without a stamp or with
    /// one that is not a time.
    pub fn time(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339_weak(self.stamp.as_deref()?).ok()
    }

    /// What this line says about `vip`: `Some(true)` it is there (added),
    /// `Some(false)` it went away, `None` the line is about another address.
    pub fn vip(&self, vip: Ipv4Addr) -> Option<bool> {
        (self.addr.addr() == vip).then_some(!self.deleted)
    }
}

/// What one line of `ip -o monitor address` / `ip -o addr show` says
/// about `vip` (see [`AddrLine::vip`]).
pub fn vip_change(line: &str, vip: Ipv4Addr) -> Option<bool> {
    AddrLine::parse(line)?.vip(vip)
}

/// What one line of `ip -ts -o monitor address` says about `vip`, with
/// the time the monitor stamped on it (see [`AddrLine::time`]).
pub fn vip_change_at(line: &str, vip: Ipv4Addr) -> Option<(bool, Option<SystemTime>)> {
    let a = AddrLine::parse(line)?;
    Some((a.vip(vip)?, a.time()))
}

/// Whether the output of `ip -4 -o addr show` lists `vip`.
pub fn lists_vip(output: &str, vip: Ipv4Addr) -> bool {
    output.lines().any(|l| vip_change(l, vip) == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(172, 20, 128, 4);

    // As printed in a node of the fast lab (iproute2 6.1, bookworm), with
    // the lab's subnet put back to 172.20.0.0/16.
    const SHOW: &str = "117: eth0    inet 172.20.128.2/16 brd 172.20.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n117: eth0    inet 172.20.128.4/24 scope global eth0\\       valid_lft forever preferred_lft forever\n";
    const ADDED: &str = "42: eth0    inet 172.20.128.4/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever";
    const DELETED: &str = "Deleted 42: eth0    inet 172.20.128.4/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever";

    #[test]
    fn an_address_line_is_read_whole() {
        assert_eq!(
            AddrLine::parse(ADDED),
            Some(AddrLine {
                stamp: None,
                deleted: false,
                interface: "eth0".into(),
                addr: "172.20.128.4/24".parse().unwrap(),
            })
        );
        let d = AddrLine::parse(DELETED).unwrap();
        assert!(d.deleted);
        assert_eq!(d.addr.prefix_len(), 24);
    }

    #[test]
    fn monitor_lines_say_added_or_deleted() {
        let other = "42: eth0    inet 172.20.128.2/16 brd 172.20.255.255 scope global eth0";
        let longer = "42: eth0    inet 172.20.128.40/24 scope global eth0";
        assert_eq!(vip_change(ADDED, VIP), Some(true));
        assert_eq!(vip_change(DELETED, VIP), Some(false));
        assert_eq!(vip_change(other, VIP), None);
        assert_eq!(vip_change(longer, VIP), None);
    }

    #[test]
    fn a_timestamped_monitor_line_keeps_its_stamp() {
        // `ip -ts -o monitor address` in the backup as the master stopped.
        let line = "[2026-11-27T10:34:55.888212] 119: eth0    inet 172.20.128.4/24 scope global eth0\\       valid_lft forever preferred_lft forever";
        let a = AddrLine::parse(line).unwrap();
        assert_eq!(a.stamp.as_deref(), Some("2026-11-27T10:34:55.888212"));
        assert_eq!(a.vip(VIP), Some(true));
        let gone = AddrLine::parse(&format!("[2026-11-27T10:34:56.000001] {DELETED}")).unwrap();
        assert_eq!(gone.vip(VIP), Some(false));
    }

    #[test]
    fn the_stamp_is_the_wall_clock_at_microseconds() {
        let at = |s: &str| humantime::parse_rfc3339(s).unwrap();
        // Printed by `ip -ts -o monitor address dev eth0` in a seed node.
        let line = "[2026-11-27T10:33:02.950266] 11: eth0    inet 10.99.200.200/32 scope global eth0\\       valid_lft forever preferred_lft forever";
        assert_eq!(
            vip_change_at(line, "10.99.200.200".parse().unwrap()),
            Some((true, Some(at("2026-11-27T10:33:02.950266Z"))))
        );
        let gone = format!("[2026-11-27T10:34:56.000001] {DELETED}");
        assert_eq!(
            vip_change_at(&gone, VIP),
            Some((false, Some(at("2026-11-27T10:34:56.000001Z"))))
        );
        // No stamp, or one that is no time: the change without a time.
        assert_eq!(vip_change_at(ADDED, VIP), Some((true, None)));
        assert_eq!(
            vip_change_at(&format!("[yesterday] {ADDED}"), VIP),
            Some((true, None))
        );
        assert_eq!(vip_change_at(line, VIP), None);
    }

    #[test]
    fn other_lines_are_no_address() {
        for line in [
            "",
            "   ",
            "41: eth0    inet6 fe80::42:acff:fe14:8002/64 scope link \\       valid_lft forever",
            "2: eth0@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP",
            "Deleted",
            "[unterminated 41: eth0 inet 172.20.128.4/24",
            "x: eth0    inet 172.20.128.4/24",
            "41: eth0    inet not-an-address",
            "Error response from daemon: Container a-nginx_master is paused, unpause the container before exec",
        ] {
            assert_eq!(AddrLine::parse(line), None, "{line:?}");
        }
    }

    #[test]
    fn show_output_lists_the_vip_or_not() {
        assert!(lists_vip(SHOW, VIP));
        assert!(!lists_vip(SHOW, "172.20.128.40".parse().unwrap()));
        assert!(!lists_vip("", VIP));
    }
}
