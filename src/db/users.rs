//! Queries on `users` and `user_affiliations`.

use crate::base::domain::{Permission, column_enum};
use crate::base::ids::UserId;
use rusqlite::{Connection, OptionalExtension, params};

/// A row of `users`.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub website_admin: bool,
    pub password_hash: Option<String>,
    /// The web app skips its DABS guide for this user.
    pub skip_guide: bool,
}

/// A user's permission on one agency (CGAC or FREC).
#[derive(Debug, Clone)]
pub struct Affiliation {
    pub cgac_code: Option<String>,
    pub frec_code: Option<String>,
    pub agency_name: String,
    pub permission: Permission,
}

const USER_COLUMNS: &str = "user_id, email, name, title, website_admin, password_hash, skip_guide";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        user_id: row.get("user_id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        title: row.get("title")?,
        website_admin: row.get("website_admin")?,
        password_hash: row.get("password_hash")?,
        skip_guide: row.get("skip_guide")?,
    })
}

/// The user of a session token, unless the token was revoked (one query on
/// the hot path of every protected route).
pub fn find_session_user(
    conn: &Connection,
    user_id: UserId,
    jti: &str,
) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users
         WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?2)"
    ))?
    .query_row(params![user_id, jti], user_from_row)
    .optional()
}

/// Emails compare case-insensitively, as in the broker.
pub fn find_user_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = ?1"
    ))?
    .query_row(params![email], user_from_row)
    .optional()
}

pub fn find_affiliations(conn: &Connection, user_id: UserId) -> rusqlite::Result<Vec<Affiliation>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.cgac_code, a.frec_code, COALESCE(c.agency_name, f.agency_name, '') AS agency_name,
                a.permission
         FROM user_affiliations a
         LEFT JOIN cgac c ON c.cgac_code = a.cgac_code
         LEFT JOIN frec f ON f.frec_code = a.frec_code
         WHERE a.user_id = ?1
         ORDER BY a.user_affiliation_id",
    )?;
    stmt.query_map(params![user_id], |row| {
        Ok(Affiliation {
            cgac_code: row.get("cgac_code")?,
            frec_code: row.get("frec_code")?,
            agency_name: row.get("agency_name")?,
            permission: column_enum(row, "permission", Permission::parse)?,
        })
    })?
    .collect()
}
