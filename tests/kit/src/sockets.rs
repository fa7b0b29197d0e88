//! Whether a server's port is open, read from the kernel's socket tables
//! (`/proc/<pid>/net/{tcp,tcp6,udp,udp6}`) without connecting: for a server
//! whose first connection is its one client (ffmpeg's `-listen 1`), for one
//! that prints nothing when ready (gpsd under gpsfake), and for ports in
//! another network namespace, seen through a process that lives there.
//! Only reads `/proc`; never opens a socket.

use std::time::Instant;

use anyhow::{Result, bail};

use crate::process::{Child, READY_TIMEOUT};

/// Which socket table to look in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// A TCP socket in the LISTEN state.
    Tcp,
    /// A bound UDP socket.
    Udp,
}

/// Whether a socket of `proto` is open on `port` (any local address) in the
/// network namespace of process `ns_pid` (`None`: this process's).
pub fn is_open(ns_pid: Option<u32>, proto: Proto, port: u16) -> bool {
    let dir = match ns_pid {
        Some(pid) => format!("/proc/{pid}/net"),
        None => "/proc/self/net".to_owned(),
    };
    let (tables, state) = match proto {
        Proto::Tcp => (["tcp", "tcp6"], "0A"), // TCP_LISTEN
        Proto::Udp => (["udp", "udp6"], "07"), // TCP_CLOSE: bound, unconnected
    };
    tables.iter().any(|table| {
        std::fs::read_to_string(format!("{dir}/{table}"))
            .is_ok_and(|text| table_has(&text, port, state))
    })
}

/// Whether a table (`sl local_address rem_address st ...`, addresses as
/// `HEXADDR:HEXPORT`) has a row on `port` in state `state`.
fn table_has(text: &str, port: u16, state: &str) -> bool {
    text.lines().skip(1).any(|row| {
        let mut fields = row.split_whitespace().skip(1);
        let (Some(local), Some(_remote), Some(st)) = (fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        let local_port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        local_port == Some(port) && st == state
    })
}

/// Waits until every one of `ports` is open (in the namespace of `ns_pid`,
/// or ours), polling the tables every 20 ms; fails at once if `child` (the
/// server) exits, with what it said, and after [`READY_TIMEOUT`].
pub fn wait_open(child: &mut Child, ns_pid: Option<u32>, ports: &[(Proto, u16)]) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ports
            .iter()
            .all(|&(proto, port)| is_open(ns_pid, proto, port))
        {
            return Ok(());
        }
        if let Some(status) = child.exited() {
            bail!(
                "{} exited ({status}) before {ports:?} were open; it said:\n{}",
                child.name(),
                child.said()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "{}: {ports:?} not open within {READY_TIMEOUT:?}; it said:\n{}",
                child.name(),
                child.said()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:8AE2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
";

    #[test]
    fn a_listening_row_is_found_and_a_connected_one_is_not() {
        assert!(table_has(TCP, 8080, "0A"));
        assert!(!table_has(TCP, 0x8AE2, "0A"));
        assert!(!table_has(TCP, 8081, "0A"));
    }

    #[test]
    fn a_listener_of_ours_is_seen_without_connecting() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(is_open(None, Proto::Tcp, port));
        drop(l);
        assert!(!is_open(None, Proto::Tcp, port));
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(is_open(None, Proto::Udp, u.local_addr().unwrap().port()));
    }
}
