//! Sign-in backoff: failed sign-ins are counted per account name and per
//! client address; past a few free failures each one locks that name (or
//! address) out for twice as long as the one before, up to
//! [`MAX_LOCK`]. A success clears both. A guess a second is then
//! impossible, while a person who mistyped waits seconds.
//!
//! Counts live in memory, per shore instance (a restart forgets them;
//! several instances each count their own share). Behind a reverse proxy
//! every client has the proxy's address: the per-name count still holds.
//! Bounded: at most [`MAX_KEYS`] names and addresses are tracked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one name before it waits.
pub const FREE_BY_NAME: u32 = 5;
/// Failures from one address before it waits (an office behind one NAT
/// holds many people).
pub const FREE_BY_IP: u32 = 20;
/// The longest wait.
pub const MAX_LOCK: Duration = Duration::from_secs(300);
/// Failures this old, with no lock in force, are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Names and addresses tracked at most.
pub const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Name(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Failures>>,
}

/// How long the `count`-th failure locks out, when more than `free`.
fn lock_for(count: u32, free: u32) -> Option<Duration> {
    let over = count.checked_sub(free)?.checked_sub(1)?;
    Some(Duration::from_secs(1u64 << over.min(16)).min(MAX_LOCK))
}

fn keys(name: &str, ip: IpAddr) -> [(Key, u32); 2] {
    [
        (Key::Name(name.to_ascii_lowercase()), FREE_BY_NAME),
        (Key::Ip(ip), FREE_BY_IP),
    ]
}

impl Throttle {
    /// How long `name` from `ip` must wait before trying again (`None`:
    /// it may try now).
    pub fn wait(&self, name: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys(name, ip)
            .iter()
            .filter_map(|(k, _)| map.get(k)?.until)
            .filter_map(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
            .max()
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, name: &str, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() + 2 > MAX_KEYS {
            map.retain(|_, f| {
                f.until.is_some_and(|u| u > now) || now.duration_since(f.last) < FORGET_AFTER
            });
        }
        for (key, free) in keys(name, ip) {
            if !map.contains_key(&key) && map.len() >= MAX_KEYS {
                continue;
            }
            let f = map.entry(key).or_insert(Failures {
                count: 0,
                last: now,
                until: None,
            });
            let locked = f.until.is_some_and(|u| u > now);
            if !locked && now.duration_since(f.last) >= FORGET_AFTER {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            f.until = lock_for(f.count, free).map(|d| now + d);
        }
    }

    /// A good sign-in: `name` and `ip` start afresh.
    pub fn succeeded(&self, name: &str, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in keys(name, ip) {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_name_waits_longer_after_each_failure_past_the_free_ones() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_BY_NAME {
            assert_eq!(t.wait("ops", A, t0), None);
            t.failed("ops", A, t0);
        }
        assert_eq!(t.wait("ops", A, t0), None, "the free ones");
        t.failed("ops", A, t0);
        assert_eq!(
            t.wait("OPS", B, t0),
            Some(Duration::from_secs(1)),
            "by name, any address"
        );
        assert_eq!(
            t.wait("other", A, t0),
            None,
            "the address is under its limit"
        );
        t.failed("ops", A, t0);
        assert_eq!(t.wait("ops", A, t0), Some(Duration::from_secs(2)));
        assert_eq!(t.wait("ops", A, t0 + Duration::from_secs(2)), None);
        for _ in 0..20 {
            t.failed("ops", A, t0);
        }
        assert_eq!(t.wait("ops", A, t0), Some(MAX_LOCK));
        t.succeeded("ops", A);
        assert_eq!(t.wait("ops", A, t0), None);
    }

    #[test]
    fn an_address_guessing_many_names_waits_too() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..=FREE_BY_IP {
            t.failed(&format!("name{i}"), A, t0);
        }
        assert_eq!(t.wait("fresh", A, t0), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("fresh", B, t0), None);
    }

    #[test]
    fn old_failures_are_forgotten_and_the_map_is_bounded() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_BY_NAME {
            t.failed("ops", A, t0);
        }
        let later = t0 + FORGET_AFTER;
        t.failed("ops", A, later);
        assert_eq!(t.wait("ops", A, later), None, "counting started again");
        for i in 0..MAX_KEYS + 10 {
            t.failed(&format!("n{i}"), B, t0);
        }
        assert!(t.failures.lock().unwrap().len() <= MAX_KEYS);
    }
}
