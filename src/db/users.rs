//! Queries on `users` and `user_affiliations`.

use super::columns::col;
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
/// [`USER_COLUMNS`] as a list, for reading by position (a test keeps them equal).
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

/// The columns of an affiliation, after the user's in [`find_session_user`].
const AFFILIATION_FIELDS: [&str; 4] = ["cgac_code", "frec_code", "agency_name", "permission"];

/// An affiliation read from `AFFILIATION_FIELDS` starting at column `at`;
/// `None` for the row of a user without affiliations.
fn affiliation_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Affiliation>> {
    let permission = at + col!(AFFILIATION_FIELDS, "permission");
    if row.get_ref(permission)? == rusqlite::types::ValueRef::Null {
        return Ok(None);
    }
    Ok(Some(Affiliation {
        cgac_code: row.get(at + col!(AFFILIATION_FIELDS, "cgac_code"))?,
        frec_code: row.get(at + col!(AFFILIATION_FIELDS, "frec_code"))?,
        agency_name: row.get(at + col!(AFFILIATION_FIELDS, "agency_name"))?,
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
    let mut stmt = conn.prepare_cached(
        "SELECT u.user_id, u.email, u.name, u.title, u.website_admin, u.password_hash, u.skip_guide,
                a.cgac_code, a.frec_code, COALESCE(c.agency_name, f.agency_name, '') AS agency_name,
                a.permission
         FROM users u
         LEFT JOIN user_affiliations a ON a.user_id = u.user_id
         LEFT JOIN cgac c ON c.cgac_code = a.cgac_code
         LEFT JOIN frec f ON f.frec_code = a.frec_code
         WHERE u.user_id = ?1 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?2)
         ORDER BY a.user_affiliation_id",
    )?;
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
    let mut rows = stmt.query(params![user_id])?;
    let mut affiliations = Vec::new();
    while let Some(row) = rows.next()? {
        affiliations.extend(affiliation_at(row, 0)?);
    }
    Ok(affiliations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_list_and_its_array_agree() {
        assert_eq!(USER_FIELDS.join(", "), USER_COLUMNS);
    }
}
