//! Small helpers several layers need: random tokens and the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source does not fail on supported platforms.
    getrandom::fill(&mut buf).expect("the OS random source failed");
    hex::encode(buf)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
