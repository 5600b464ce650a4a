//! Queries on `users` and `user_affiliations`.

use super::columns::{col, select_list};
use crate::base::domain::{Permission, column_enum};
use crate::base::ids::UserId;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::LazyLock;

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

/// The columns of a user, in the order rows are read (`col!` positions).
const USER_FIELDS: [&str; 7] = [
    "user_id",
    "email",
    "name",
    "title",
    "website_admin",
    "password_hash",
    "skip_guide",
];

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        user_id: row.get(col!(USER_FIELDS, "user_id"))?,
        email: row.get(col!(USER_FIELDS, "email"))?,
        name: row.get(col!(USER_FIELDS, "name"))?,
        title: row.get(col!(USER_FIELDS, "title"))?,
        website_admin: row.get(col!(USER_FIELDS, "website_admin"))?,
        password_hash: row.get(col!(USER_FIELDS, "password_hash"))?,
        skip_guide: row.get(col!(USER_FIELDS, "skip_guide"))?,
    })
}

/// The select list of an affiliation (`a`, with its agency's name).
const AFFILIATION_SELECT: [&str; 4] = [
    "a.cgac_code",
    "a.frec_code",
    "COALESCE(c.agency_name, f.agency_name, '') AS agency_name",
    "a.permission",
];

/// How an affiliation finds its agency's name.
const AGENCY_JOINS: &str = "LEFT JOIN cgac c ON c.cgac_code = a.cgac_code
     LEFT JOIN frec f ON f.frec_code = a.frec_code";

/// An affiliation read from [`AFFILIATION_SELECT`] starting at column `at`;
/// `None` for the row of a user without affiliations.
fn affiliation_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Affiliation>> {
    let permission = at + col!(AFFILIATION_SELECT, "a.permission");
    if row.get_ref(permission)? == rusqlite::types::ValueRef::Null {
        return Ok(None);
    }
    Ok(Some(Affiliation {
        cgac_code: row.get(at + col!(AFFILIATION_SELECT, "a.cgac_code"))?,
        frec_code: row.get(at + col!(AFFILIATION_SELECT, "a.frec_code"))?,
        agency_name: row.get(
            at + col!(
                AFFILIATION_SELECT,
                "COALESCE(c.agency_name, f.agency_name, '') AS agency_name"
            ),
        )?,
        permission: column_enum(row, permission, Permission::parse)?,
    }))
}

/// The user of a session token with their affiliations, unless the token
/// was revoked: one query on the hot path of every protected route.
pub fn find_session_user(
    conn: &Connection,
    user_id: UserId,
    jti: &str,
) -> rusqlite::Result<Option<(User, Vec<Affiliation>)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, {} FROM users u
             LEFT JOIN user_affiliations a ON a.user_id = u.user_id
             {AGENCY_JOINS}
             WHERE u.user_id = ?1 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?2)
             ORDER BY a.user_affiliation_id",
            select_list(&USER_FIELDS, "u"),
            AFFILIATION_SELECT.join(", ")
        )
    });
    let mut stmt = conn.prepare_cached(&SQL)?;
    let mut rows = stmt.query(params![user_id, jti])?;
    let mut found: Option<(User, Vec<Affiliation>)> = None;
    while let Some(row) = rows.next()? {
        let (_, affiliations) = match &mut found {
            Some(found) => found,
            None => found.insert((user_from_row(row)?, Vec::new())),
        };
        affiliations.extend(affiliation_at(row, USER_FIELDS.len())?);
    }
    Ok(found)
}

/// Emails compare case-insensitively, as in the broker.
pub fn find_user_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<User>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM users WHERE email = ?1",
            select_list(&USER_FIELDS, "")
        )
    });
    conn.prepare_cached(&SQL)?
        .query_row(params![email], user_from_row)
        .optional()
}

pub fn find_affiliations(conn: &Connection, user_id: UserId) -> rusqlite::Result<Vec<Affiliation>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM user_affiliations a {AGENCY_JOINS}
             WHERE a.user_id = ?1 ORDER BY a.user_affiliation_id",
            AFFILIATION_SELECT.join(", ")
        )
    });
    let mut stmt = conn.prepare_cached(&SQL)?;
    let mut rows = stmt.query(params![user_id])?;
    let mut affiliations = Vec::new();
    while let Some(row) = rows.next()? {
        affiliations.extend(affiliation_at(row, 0)?);
    }
    Ok(affiliations)
}
