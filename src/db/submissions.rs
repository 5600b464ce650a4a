//! Queries on `submissions`.

use crate::domain::{PublishStatus, column_enum};
use rusqlite::{Connection, OptionalExtension, params};

/// The fields of a submission the routes need.
#[derive(Debug, Clone)]
pub struct Submission {
    pub submission_id: i64,
    pub user_id: Option<i64>,
    pub cgac_code: Option<String>,
    pub frec_code: Option<String>,
    pub reporting_fiscal_year: Option<i64>,
    pub reporting_fiscal_period: Option<i64>,
    pub is_quarter_format: bool,
    pub is_fabs: bool,
    pub publish_status: PublishStatus,
}

pub fn find_submission(
    conn: &Connection,
    submission_id: i64,
) -> rusqlite::Result<Option<Submission>> {
    conn.prepare_cached(
        "SELECT submission_id, user_id, cgac_code, frec_code, reporting_fiscal_year,
                reporting_fiscal_period, is_quarter_format, is_fabs, publish_status
         FROM submissions WHERE submission_id = ?1",
    )?
    .query_row(params![submission_id], |row| {
        Ok(Submission {
            submission_id: row.get(0)?,
            user_id: row.get(1)?,
            cgac_code: row.get(2)?,
            frec_code: row.get(3)?,
            reporting_fiscal_year: row.get(4)?,
            reporting_fiscal_period: row.get(5)?,
            is_quarter_format: row.get(6)?,
            is_fabs: row.get(7)?,
            publish_status: column_enum(row, 8, PublishStatus::parse)?,
        })
    })
    .optional()
}

/// A published submission whose files change becomes `updated`.
pub fn mark_updated_if_published(conn: &Connection, submission_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE submissions SET publish_status = 'updated', publishable = 0
         WHERE submission_id = ?1 AND publish_status = 'published'",
    )?
    .execute(params![submission_id])?;
    Ok(())
}
