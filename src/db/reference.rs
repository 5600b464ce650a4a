//! Queries on reference tables the web app reads: `cgac`, `frec`, `banner`,
//! `submission_window_schedule` and the GTAS tables.

use rusqlite::{Connection, OptionalExtension, params};

/// An agency: its code and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agency {
    pub code: String,
    pub agency_name: String,
}

fn agencies(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Agency>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map([], |row| {
        Ok(Agency {
            code: row.get("code")?,
            agency_name: row.get("agency_name")?,
        })
    })?
    .collect()
}

/// Every CGAC agency, by code.
pub fn cgac_agencies(conn: &Connection) -> rusqlite::Result<Vec<Agency>> {
    agencies(
        conn,
        "SELECT cgac_code AS code, agency_name FROM cgac ORDER BY cgac_code",
    )
}

/// Every FREC agency, by code.
pub fn frec_agencies(conn: &Connection) -> rusqlite::Result<Vec<Agency>> {
    agencies(
        conn,
        "SELECT frec_code AS code, agency_name FROM frec ORDER BY frec_code",
    )
}

/// The name of a submission's agency: its CGAC's, else its FREC's, else "".
pub fn agency_name(
    conn: &Connection,
    cgac_code: Option<&str>,
    frec_code: Option<&str>,
) -> rusqlite::Result<String> {
    conn.prepare_cached(
        "SELECT COALESCE((SELECT agency_name FROM cgac WHERE cgac_code = ?1),
                         (SELECT agency_name FROM frec WHERE frec_code = ?2), '')",
    )?
    .query_row(params![cgac_code, frec_code], |r| r.get(0))
}

/// A row of `banner`.
#[derive(Debug, Clone)]
pub struct Banner {
    pub start_date: String,
    pub end_date: String,
    pub notice_block: bool,
    pub header: Option<String>,
    pub message: String,
    pub kind: String,
    pub banner_type: String,
}

/// The banners open on `today` (`YYYY-MM-DD`, start and end inclusive):
/// login banners only, or every other kind.
pub fn open_banners(conn: &Connection, today: &str, login: bool) -> rusqlite::Result<Vec<Banner>> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_date, end_date, notice_block, header, message, type, banner_type
         FROM banner
         WHERE start_date <= ?1 AND end_date >= ?1 AND (type = 'login') = ?2
         ORDER BY banner_id",
    )?;
    stmt.query_map(params![today, login], |row| {
        Ok(Banner {
            start_date: row.get("start_date")?,
            end_date: row.get("end_date")?,
            notice_block: row.get("notice_block")?,
            header: row.get("header")?,
            message: row.get("message")?,
            kind: row.get("type")?,
            banner_type: row.get("banner_type")?,
        })
    })?
    .collect()
}

/// The certification deadline of a fiscal year and period, if scheduled.
pub fn certification_deadline(
    conn: &Connection,
    year: i64,
    period: i64,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT certification_deadline FROM submission_window_schedule
         WHERE year = ?1 AND period = ?2 AND certification_deadline IS NOT NULL",
    )?
    .query_row(params![year, period], |r| r.get(0))
    .optional()
}

/// Whether any GTAS BOC balances are loaded for a fiscal year and period.
pub fn boc_data_exists(conn: &Connection, year: i64, period: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM gtas_boc WHERE fiscal_year = ?1 AND period = ?2)",
    )?
    .query_row(params![year, period], |r| r.get(0))
}
