//! Passwords: Argon2id hashes, and their checking with bounded cost. At most
//! [`SLOTS`] checks run at once, each in a memory block that is allocated
//! once and reused, and at most [`MAX_WAITING`] more wait for a slot; beyond
//! that a login is answered "busy" at once. A flood of logins can therefore
//! neither grow memory (19 MiB per check with the default parameters) nor
//! take the handler threads the other routes need.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Condvar, Mutex, OnceLock};

/// Password checks running at once.
pub const SLOTS: usize = 2;
/// Logins waiting for a slot at most; more are answered "busy".
pub const MAX_WAITING: usize = 2;

/// Hashes a password (Argon2id, PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match,
    NoMatch,
    /// Too many checks running and waiting: try again shortly.
    Busy,
}

struct Slots {
    free: Vec<Vec<Block>>,
    waiting: usize,
}

/// Checks passwords against stored hashes within the bounds above.
pub struct PasswordChecker {
    slots: Mutex<Slots>,
    freed: Condvar,
}

impl Default for PasswordChecker {
    fn default() -> Self {
        PasswordChecker {
            slots: Mutex::new(Slots {
                free: (0..SLOTS).map(|_| Vec::new()).collect(),
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }
}

impl PasswordChecker {
    /// Checks a password against a stored hash. With no hash, a check of a
    /// dummy hash still runs, so unknown users take as long as wrong passwords.
    pub fn verify(&self, hash: Option<&str>, password: &str) -> Verdict {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let Some(mut blocks) = self.take_slot() else {
            return Verdict::Busy;
        };
        let dummy = DUMMY.get_or_init(|| hash_password("broker-lite dummy").unwrap_or_default());
        let matches = check(hash.unwrap_or(dummy), password.as_bytes(), &mut blocks);
        self.give_back(blocks);
        if matches && hash.is_some() {
            Verdict::Match
        } else {
            Verdict::NoMatch
        }
    }

    fn take_slot(&self) -> Option<Vec<Block>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.free.is_empty() {
            if slots.waiting >= MAX_WAITING {
                return None;
            }
            slots.waiting += 1;
            while slots.free.is_empty() {
                slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
            }
            slots.waiting -= 1;
        }
        slots.free.pop()
    }

    fn give_back(&self, blocks: Vec<Block>) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free
            .push(blocks);
        self.freed.notify_one();
    }
}

/// Recomputes the hash of `password` with the stored hash's parameters and
/// salt in `blocks`, and compares in constant time.
fn check(stored: &str, password: &[u8], blocks: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    // Only ever grows to the largest parameters seen (the default's 19 MiB).
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let count = params.block_count();
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..count])
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let checker = PasswordChecker::default();
        let hash = hash_password("correct horse").unwrap();
        assert_eq!(checker.verify(Some(&hash), "correct horse"), Verdict::Match);
        assert_eq!(checker.verify(Some(&hash), "wrong"), Verdict::NoMatch);
        assert_eq!(checker.verify(None, "correct horse"), Verdict::NoMatch);
        assert_eq!(checker.verify(Some("not a hash"), "x"), Verdict::NoMatch);
    }

    #[test]
    fn checks_beyond_the_slots_and_waiters_are_busy() {
        let checker = PasswordChecker::default();
        let hash = hash_password("pw").unwrap();
        // Hold every slot, fill the waiting room, then one more is busy.
        let held: Vec<_> = (0..SLOTS).map(|_| checker.take_slot().unwrap()).collect();
        std::thread::scope(|s| {
            let waiters: Vec<_> = (0..MAX_WAITING)
                .map(|_| s.spawn(|| checker.verify(Some(&hash), "pw")))
                .collect();
            while checker.slots.lock().unwrap().waiting < MAX_WAITING {
                std::thread::yield_now();
            }
            assert_eq!(checker.verify(Some(&hash), "pw"), Verdict::Busy);
            for blocks in held {
                checker.give_back(blocks);
            }
            for w in waiters {
                assert_eq!(w.join().unwrap(), Verdict::Match);
            }
        });
    }
}
