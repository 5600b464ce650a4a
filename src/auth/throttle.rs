//! Back-off after failed logins, per account and per client address: a few
//! free attempts, then each failure locks the key for twice as long as the
//! last (1 s, 2 s, 4 s ... 5 min). A locked login is refused before any
//! database read or password hash, with the broker's message, so guessing
//! costs the server next to nothing. Memory is bounded: old records are
//! forgotten, and the tables never hold more than [`MAX_RECORDS`] keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first lock.
pub const FREE_FAILURES: u32 = 5;
/// Longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(300);
/// A key with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Keys per table at most.
pub const MAX_RECORDS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

struct Table<K>(Mutex<HashMap<K, Record>>);

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table(Mutex::new(HashMap::new()))
    }

    fn locked_for(&self, key: &K, now: Instant) -> Option<Duration> {
        let table = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let until = table.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&self, key: &K, now: Instant) {
        let mut table = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= MAX_RECORDS && !table.contains_key(key) {
            table.retain(|_, r| {
                now.duration_since(r.last_failure) < FORGET_AFTER
                    || r.locked_until.is_some_and(|u| u > now)
            });
            if table.len() >= MAX_RECORDS {
                // Still full of fresh records: keep the locked ones only.
                table.retain(|_, r| r.locked_until.is_some_and(|u| u > now));
            }
        }
        let record = table.entry(key.clone()).or_insert(Record {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now.duration_since(record.last_failure) >= FORGET_AFTER {
            record.failures = 0;
        }
        record.failures += 1;
        record.last_failure = now;
        if record.failures > FREE_FAILURES {
            let doublings = (record.failures - FREE_FAILURES - 1).min(16);
            let lock = Duration::from_secs(1u64 << doublings).min(MAX_LOCK);
            record.locked_until = Some(now + lock);
        }
    }

    fn clear(&self, key: &K) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Failed-login records per account (email, case-insensitive) and address.
pub struct LoginThrottle {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            accounts: Table::new(),
            addresses: Table::new(),
        }
    }
}

fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl LoginThrottle {
    /// `Err(wait)` while the account or the address is locked.
    pub fn check(&self, email: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let wait = [
            self.accounts.locked_for(&account_key(email), now),
            self.addresses.locked_for(&addr, now),
        ]
        .into_iter()
        .flatten()
        .max();
        wait.map_or(Ok(()), Err)
    }

    pub fn failed(&self, email: &str, addr: IpAddr, now: Instant) {
        self.accounts.fail(&account_key(email), now);
        self.addresses.fail(&addr, now);
    }

    pub fn succeeded(&self, email: &str, addr: IpAddr) {
        self.accounts.clear(&account_key(email));
        self.addresses.clear(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn failures_lock_the_account_and_the_address_for_doubling_times() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.check("u@x", A, now), Ok(()));
            t.failed("u@x", A, now);
        }
        assert_eq!(t.check("u@x", A, now), Ok(()));
        t.failed("U@X ", A, now);
        assert_eq!(t.check("u@x", A, now), Err(Duration::from_secs(1)));
        // The account is locked from any address, the address for any account.
        assert!(t.check("u@x", B, now).is_err());
        assert!(t.check("other@x", A, now).is_err());
        assert_eq!(t.check("other@x", B, now), Ok(()));
        let later = now + Duration::from_secs(1);
        assert_eq!(t.check("u@x", A, later), Ok(()));
        t.failed("u@x", A, later);
        assert_eq!(t.check("u@x", A, later), Err(Duration::from_secs(2)));
        t.succeeded("u@x", A);
        assert_eq!(t.check("u@x", A, later), Ok(()));
    }

    #[test]
    fn locks_are_capped_and_old_failures_forgotten() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..40 {
            t.failed("u@x", A, now);
        }
        assert_eq!(t.check("u@x", A, now), Err(MAX_LOCK));
        let much_later = now + FORGET_AFTER + MAX_LOCK;
        t.failed("u@x", A, much_later);
        assert_eq!(t.check("u@x", A, much_later), Ok(()));
    }

    #[test]
    fn the_tables_stay_bounded() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_RECORDS + 500) {
            t.failed(&format!("user{i}@x"), A, now);
        }
        assert!(t.accounts.len() <= MAX_RECORDS);
    }
}
