//! Passwords: Argon2id hashes, and their checking with bounded cost. At most
//! [`SLOTS`] checks run at once, each in a memory block that is allocated
//! once and reused, and at most [`MAX_WAITING`] more wait for a slot; beyond
//! that a login is answered "busy" at once. A flood of logins can therefore
//! neither grow memory (19 MiB per check with the default parameters) nor
//! take the handler threads the other routes need.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::sync::{Condvar, Mutex};

/// Password checks running at once.
pub const SLOTS: usize = 2;
/// Logins waiting for a slot at most; more are answered "busy".
pub const MAX_WAITING: usize = 2;

/// A hash of a random password nobody knows, with the default parameters:
/// checked when a user does not exist, so that costs the same as a user with
/// a wrong password (and needs no hashing, or memory, at start).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$UwYO9fqGhTbi8OqIhRiuWw$Pm34qTTyPVjjyY6etFhT6k1VgK2H4S6VSfDoMJpfvHE";

/// Hashes a password (Argon2id with the default parameters, PHC string).
/// The memory block is kept per thread and reused: loading a fixture hashes
/// every user's password, and a fresh 19 MiB block each time would make the
/// allocator keep that memory for good.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    thread_local! {
        static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let params = Params::default();
    let count = params.block_count();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    BLOCKS
        .with_borrow_mut(|blocks| {
            if blocks.len() < count {
                blocks.resize(count, Block::default());
            }
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    &salt,
                    &mut out,
                    &mut blocks[..count],
                )
        })
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
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
        let Some(mut blocks) = self.take_slot() else {
            return Verdict::Busy;
        };
        let matches = check(hash.unwrap_or(DUMMY_HASH), password.as_bytes(), &mut blocks);
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
    fn hashes_are_standard_phc_strings_with_the_default_parameters() {
        use argon2::password_hash::PasswordVerifier;
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        assert_ne!(
            hash,
            hash_password("correct horse").unwrap(),
            "a fresh salt each time"
        );
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

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
