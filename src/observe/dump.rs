//! keepalived's own account of itself, read from the files it writes on a
//! signal: `keepalived --signum=DATA` → `/tmp/keepalived.data` (state, the
//! master it hears) and `--signum=STATS` → `/tmp/keepalived.stats`
//! (adverts received, authentication and packet errors). These are the
//! evidence behind "every backup hears the master": keepalived only knows
//! a master router once an advert from it passed every check.

use std::net::Ipv4Addr;

use crate::timeline::VrrpState;

/// One `VRRP Instance` block of the data dump.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceData {
    pub name: String,
    pub state: Option<VrrpState>,
    /// The master whose adverts this instance accepts (backups only).
    pub master_router: Option<Ipv4Addr>,
    pub master_priority: Option<u8>,
    pub virtual_router_id: Option<u8>,
    pub priority: Option<u8>,
    pub effective_priority: Option<u8>,
}

/// One `VRRP Instance:` block of the stats dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceStats {
    pub name: String,
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub became_master: u64,
    pub released_master: u64,
    /// Every packet keepalived refused: wrong length, TTL, type, advert
    /// interval, address list, authentication.
    pub packet_errors: u64,
    pub auth_errors: u64,
    pub interval_errors: u64,
    pub address_list_errors: u64,
}

/// The instances of a data dump, in file order.
pub fn parse_data(text: &str) -> Vec<InstanceData> {
    let mut out: Vec<InstanceData> = Vec::new();
    let mut in_topology = false;
    for line in text.lines() {
        if line.starts_with("------<") {
            in_topology = line.contains("VRRP Topology");
            continue;
        }
        if !in_topology {
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        if key == "VRRP Instance" {
            out.push(InstanceData {
                name: value.to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(inst) = out.last_mut() else { continue };
        match key {
            "State" if inst.state.is_none() => inst.state = value.parse().ok(),
            "Master router" => inst.master_router = value.parse().ok(),
            "Master priority" => inst.master_priority = value.parse().ok(),
            "Virtual Router ID" => inst.virtual_router_id = value.parse().ok(),
            "Priority" => inst.priority = value.parse().ok(),
            "Effective priority" => inst.effective_priority = value.parse().ok(),
            _ => {}
        }
    }
    out
}

/// The instances of a stats dump, in file order.
pub fn parse_stats(text: &str) -> Vec<InstanceStats> {
    let mut out: Vec<InstanceStats> = Vec::new();
    // The section a counter belongs to: "Received" is counted under both
    // "Advertisements" and "Priority Zero".
    let mut section = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("VRRP Instance:") {
            out.push(InstanceStats {
                name: name.trim().to_string(),
                ..Default::default()
            });
            section.clear();
            continue;
        }
        let Some(inst) = out.last_mut() else { continue };
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        if value.is_empty() {
            section = key.to_string();
            continue;
        }
        let Ok(n) = value.parse::<u64>() else {
            continue;
        };
        match (section.as_str(), key) {
            ("Advertisements", "Received") => inst.adverts_received = n,
            ("Advertisements", "Sent") => inst.adverts_sent = n,
            (_, "Became master") => inst.became_master = n,
            (_, "Released master") => inst.released_master = n,
            ("Packet Errors", k) => {
                inst.packet_errors += n;
                match k {
                    "Advertisement Interval" => inst.interval_errors = n,
                    "Address List" => inst.address_list_errors = n,
                    _ => {}
                }
            }
            ("Authentication Errors", _) => {
                inst.auth_errors += n;
                inst.packet_errors += n;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Trimmed from keepalived 2.2.7 in halab's image (seed lab, backup).
    const DATA_BACKUP: &str = "------< Global definitions >------
 Network namespace = (default)
 Router ID = nginx_slave
------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   State = BACKUP
   Master router = 10.99.128.2
   Master priority = 200
   Flags:
     Using unicast
   Wantstate = BACKUP
   Last transition = 1795775567.660742 (Fri Nov 27 10:32:47.660742 2026)
   Interface = eth0
   Virtual Router ID = 33
   Priority = 100
   Effective priority = 100
   Virtual IP (1):
     10.99.128.4/24 dev eth0 scope global
   Unicast Peer :
     10.99.128.2 min_ttl 0 max_ttl 255
------< VRRP Sockpool >------
 fd_in 12 fd_out = 13
   Interface = eth0
   State = UP, RUNNING
";

    const STATS_WRONG_PASS: &str = "VRRP Instance: VI_1
  Advertisements:
    Received: 0
    Sent: 6
  Became master: 1
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 5
  Priority Zero:
    Received: 2
    Sent: 0
";

    #[test]
    fn a_backup_names_the_master_it_hears() {
        let d = parse_data(DATA_BACKUP);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0],
            InstanceData {
                name: "VI_1".into(),
                state: Some(VrrpState::Backup),
                master_router: Some(Ipv4Addr::new(10, 99, 128, 2)),
                master_priority: Some(200),
                virtual_router_id: Some(33),
                priority: Some(100),
                effective_priority: Some(100),
            }
        );
    }

    #[test]
    fn sockpool_state_lines_are_not_the_instance_state() {
        let text = DATA_BACKUP.replace("   State = BACKUP\n", "");
        assert_eq!(parse_data(&text)[0].state, None);
    }

    #[test]
    fn stats_count_adverts_and_refused_packets() {
        let s = parse_stats(STATS_WRONG_PASS);
        assert_eq!(
            s,
            vec![InstanceStats {
                name: "VI_1".into(),
                adverts_received: 0,
                adverts_sent: 6,
                became_master: 1,
                released_master: 0,
                packet_errors: 5,
                auth_errors: 5,
                interval_errors: 0,
                address_list_errors: 0,
            }]
        );
    }

    #[test]
    fn garbage_gives_no_instances() {
        assert!(parse_data("State = MASTER\n\u{0}\n").is_empty());
        assert!(parse_stats("Received: 5\n").is_empty());
    }
}
