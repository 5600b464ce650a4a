//! Queries on `submissions`.

use super::columns::{col, select_list};
use crate::base::domain::{PublishStatus, column_enum, is_cgac_code};
use crate::base::ids::{SubmissionId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::LazyLock;

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

/// The columns of a submission, in the order rows are read (`col!` positions).
const SUBMISSION_FIELDS: [&str; 9] = [
    "submission_id",
    "user_id",
    "cgac_code",
    "frec_code",
    "reporting_fiscal_year",
    "reporting_fiscal_period",
    "is_quarter_format",
    "is_fabs",
    "publish_status",
];

pub fn find_submission(
    conn: &Connection,
    submission_id: SubmissionId,
) -> rusqlite::Result<Option<Submission>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM submissions WHERE submission_id = ?1",
            select_list(&SUBMISSION_FIELDS, "")
        )
    });
    conn.prepare_cached(&SQL)?
        .query_row(params![submission_id], |row| {
            Ok(Submission {
                submission_id: row.get(col!(SUBMISSION_FIELDS, "submission_id"))?,
                user_id: row.get(col!(SUBMISSION_FIELDS, "user_id"))?,
                cgac_code: row.get(col!(SUBMISSION_FIELDS, "cgac_code"))?,
                frec_code: row.get(col!(SUBMISSION_FIELDS, "frec_code"))?,
                reporting_fiscal_year: row.get(col!(SUBMISSION_FIELDS, "reporting_fiscal_year"))?,
                reporting_fiscal_period: row
                    .get(col!(SUBMISSION_FIELDS, "reporting_fiscal_period"))?,
                is_quarter_format: row.get(col!(SUBMISSION_FIELDS, "is_quarter_format"))?,
                is_fabs: row.get(col!(SUBMISSION_FIELDS, "is_fabs"))?,
                publish_status: column_enum(
                    row,
                    col!(SUBMISSION_FIELDS, "publish_status"),
                    PublishStatus::parse,
                )?,
            })
        })
        .optional()
}

/// What `submission_metadata` reports beyond [`Submission`].
#[derive(Debug, Clone)]
pub struct SubmissionMetadata {
    pub reporting_start_date: Option<String>,
    pub reporting_end_date: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub number_of_errors: i64,
    pub number_of_warnings: i64,
    pub test_submission: bool,
    pub certified: bool,
    /// Rows of all its jobs' files, not counting each file's header.
    pub number_of_rows: i64,
    /// Bytes of all its jobs' files.
    pub total_size: i64,
}

pub fn find_metadata(
    conn: &Connection,
    submission_id: SubmissionId,
) -> rusqlite::Result<Option<SubmissionMetadata>> {
    conn.prepare_cached(
        "SELECT s.reporting_start_date, s.reporting_end_date, s.created_at, s.updated_at,
                s.number_of_errors, s.number_of_warnings, s.test_submission, s.certified,
                (SELECT COALESCE(SUM(CASE WHEN number_of_rows > 0 THEN number_of_rows - 1 ELSE 0 END), 0)
                   FROM jobs WHERE submission_id = s.submission_id) AS number_of_rows,
                (SELECT COALESCE(SUM(file_size), 0) FROM jobs WHERE submission_id = s.submission_id)
                   AS total_size
         FROM submissions s WHERE s.submission_id = ?1",
    )?
    .query_row(params![submission_id], |row| {
        Ok(SubmissionMetadata {
            reporting_start_date: row.get("reporting_start_date")?,
            reporting_end_date: row.get("reporting_end_date")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            number_of_errors: row.get("number_of_errors")?,
            number_of_warnings: row.get("number_of_warnings")?,
            test_submission: row.get("test_submission")?,
            certified: row.get("certified")?,
            number_of_rows: row.get("number_of_rows")?,
            total_size: row.get("total_size")?,
        })
    })
    .optional()
}

/// The published (or updated) submission of an agency for a fiscal year
/// and period, as the BOC comparison picks it: by CGAC code when the code
/// has 3 characters, else by FREC code; the lowest id when there are several.
pub fn published_for_period(
    conn: &Connection,
    agency_code: &str,
    year: i64,
    period: i64,
) -> rusqlite::Result<Option<SubmissionId>> {
    let column = if is_cgac_code(agency_code) {
        "cgac_code"
    } else {
        "frec_code"
    };
    conn.prepare_cached(&format!(
        "SELECT submission_id FROM submissions
         WHERE reporting_fiscal_year = ?1 AND reporting_fiscal_period = ?2
           AND publish_status IN ('published', 'updated') AND {column} = ?3
         ORDER BY submission_id LIMIT 1"
    ))?
    .query_row(params![year, period, agency_code], |r| r.get(0))
    .optional()
}

/// Published DABS submissions of the same agency and year in the same
/// period, or quarter for quarterly ones, other than `sub` itself, newest
/// first (the broker's `get_submissions_in_period`).
pub fn published_in_period(
    conn: &Connection,
    sub: &Submission,
) -> rusqlite::Result<Vec<SubmissionId>> {
    let (Some(year), Some(period)) = (sub.reporting_fiscal_year, sub.reporting_fiscal_period)
    else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT submission_id FROM submissions
         WHERE (CASE WHEN ?1 IS NOT NULL THEN cgac_code = ?1 ELSE frec_code = ?2 END)
           AND reporting_fiscal_year = ?3 AND is_fabs = 0 AND publish_status <> 'unpublished'
           AND submission_id <> ?6
           AND ((is_quarter_format = 1 AND (reporting_fiscal_period + 2) / 3 = (?4 + 2) / 3)
             OR (is_quarter_format = 0 AND
                 (CASE WHEN ?5 THEN (reporting_fiscal_period + 2) / 3 = (?4 + 2) / 3
                       ELSE reporting_fiscal_period = ?4 END)))
         ORDER BY created_at DESC, submission_id DESC",
    )?;
    stmt.query_map(
        params![
            sub.cgac_code,
            sub.frec_code,
            year,
            period,
            sub.is_quarter_format,
            sub.submission_id
        ],
        |r| r.get(0),
    )?
    .collect()
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
