//! Revoked session tokens (logout), kept until they would have expired.

use rusqlite::{Connection, params};

/// Records a revoked token id and drops revocations that no longer matter.
pub fn revoke(conn: &Connection, jti: &str, expires_at: u64, now: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)")?
        .execute(params![jti, expires_at as i64])?;
    conn.prepare_cached("DELETE FROM revoked_tokens WHERE expires_at < ?1")?
        .execute(params![now as i64])?;
    Ok(())
}
