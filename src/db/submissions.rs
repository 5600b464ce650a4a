//! Queries on `submissions`.

use crate::base::domain::{PublishStatus, column_enum};
use crate::base::ids::{SubmissionId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// The fields of a submission the routes need.
#[derive(Debug, Clone)]
pub struct Submission {
    pub submission_id: SubmissionId,
    pub user_id: Option<UserId>,
    pub cgac_code: Option<String>,
    pub frec_code: Option<String>,
    pub reporting_fiscal_year: Option<i64>,
    pub reporting_fiscal_period: Option<i64>,
    pub is_quarter_format: bool,
    pub is_fabs: bool,
    pub publish_status: PublishStatus,
}

impl Submission {
    /// The agency its D files are generated for: FREC, else CGAC.
    pub fn agency_code(&self) -> Option<&str> {
        self.frec_code.as_deref().or(self.cgac_code.as_deref())
    }
}

pub fn find_submission(
    conn: &Connection,
    submission_id: SubmissionId,
) -> rusqlite::Result<Option<Submission>> {
    conn.prepare_cached(
        "SELECT submission_id, user_id, cgac_code, frec_code, reporting_fiscal_year,
                reporting_fiscal_period, is_quarter_format, is_fabs, publish_status
         FROM submissions WHERE submission_id = ?1",
    )?
    .query_row(params![submission_id], |row| {
        Ok(Submission {
            submission_id: row.get("submission_id")?,
            user_id: row.get("user_id")?,
            cgac_code: row.get("cgac_code")?,
            frec_code: row.get("frec_code")?,
            reporting_fiscal_year: row.get("reporting_fiscal_year")?,
            reporting_fiscal_period: row.get("reporting_fiscal_period")?,
            is_quarter_format: row.get("is_quarter_format")?,
            is_fabs: row.get("is_fabs")?,
            publish_status: column_enum(row, "publish_status", PublishStatus::parse)?,
        })
    })
    .optional()
}

/// A published submission whose files change becomes `updated`.
pub fn mark_updated_if_published(
    conn: &Connection,
    submission_id: SubmissionId,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE submissions SET publish_status = 'updated', publishable = 0
         WHERE submission_id = ?1 AND publish_status = 'published'",
    )?
    .execute(params![submission_id])?;
    Ok(())
}
