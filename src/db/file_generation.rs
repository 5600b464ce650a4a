//! Queries on `file_generation`: cached generations that identical requests
//! share (D files).

use crate::base::domain::{AgencyType, FileFormat, FileType, column_enum};
use crate::base::fiscal::FiscalPeriod;
use crate::base::ids::FileGenerationId;
use crate::base::timefmt::parse_iso_date;
use rusqlite::{Connection, OptionalExtension, params};

/// The parameters that make two requests for a cached file type identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRequest {
    pub file_type: FileType,
    /// `YYYY-MM-DD`.
    pub start: String,
    pub end: String,
    pub agency_code: String,
    pub agency_type: AgencyType,
    pub file_format: FileFormat,
    pub element_numbers: bool,
}

impl GenerationRequest {
    /// The fiscal period of a request for one (A, BOC): the month of its
    /// dates, which are that period's first and last day.
    pub fn fiscal_period(&self) -> anyhow::Result<FiscalPeriod> {
        parse_iso_date(&self.end)
            .map(FiscalPeriod::of_date)
            .ok_or_else(|| anyhow::anyhow!("bad end date {:?}", self.end))
    }
}

/// A row of `file_generation`.
#[derive(Debug, Clone)]
pub struct FileGeneration {
    pub file_generation_id: FileGenerationId,
    pub request: GenerationRequest,
    pub request_date: String,
    pub requested_at: Option<String>,
    pub file_path: Option<String>,
    pub file_size: Option<i64>,
    pub number_of_rows: Option<i64>,
}

const FG_COLUMNS: &str = "file_generation_id, file_type, start_date, end_date, agency_code, \
     agency_type, file_format, element_numbers, request_date, requested_at, file_path, file_size, \
     number_of_rows";

fn fg_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FileGeneration> {
    Ok(FileGeneration {
        file_generation_id: row.get("file_generation_id")?,
        request: GenerationRequest {
            file_type: column_enum(row, "file_type", FileType::parse)?,
            start: row.get("start_date")?,
            end: row.get("end_date")?,
            agency_code: row.get("agency_code")?,
            agency_type: column_enum(row, "agency_type", AgencyType::parse)?,
            file_format: column_enum(row, "file_format", FileFormat::parse)?,
            element_numbers: row.get("element_numbers")?,
        },
        request_date: row.get("request_date")?,
        requested_at: row.get("requested_at")?,
        file_path: row.get("file_path")?,
        file_size: row.get("file_size")?,
        number_of_rows: row.get("number_of_rows")?,
    })
}

pub fn find_file_generation(
    conn: &Connection,
    id: FileGenerationId,
) -> rusqlite::Result<Option<FileGeneration>> {
    conn.prepare_cached(&format!(
        "SELECT {FG_COLUMNS} FROM file_generation WHERE file_generation_id = ?1"
    ))?
    .query_row(params![id], fg_from_row)
    .optional()
}

/// The cached generation for identical parameters, if any.
pub fn find_cached(
    conn: &Connection,
    req: &GenerationRequest,
) -> rusqlite::Result<Option<FileGeneration>> {
    conn.prepare_cached(&format!(
        "SELECT {FG_COLUMNS} FROM file_generation
         WHERE is_cached_file = 1 AND file_type = ?1 AND start_date = ?2 AND end_date = ?3
           AND agency_code = ?4 AND agency_type = ?5 AND file_format = ?6 AND element_numbers = ?7
         ORDER BY file_generation_id DESC LIMIT 1"
    ))?
    .query_row(
        params![
            req.file_type.as_str(),
            req.start,
            req.end,
            req.agency_code,
            req.agency_type.as_str(),
            req.file_format.as_str(),
            req.element_numbers
        ],
        fg_from_row,
    )
    .optional()
}

/// Starts a new cached generation.
pub fn insert_file_generation(
    conn: &Connection,
    req: &GenerationRequest,
    now: &str,
) -> rusqlite::Result<FileGenerationId> {
    conn.prepare_cached(
        "INSERT INTO file_generation (request_date, requested_at, start_date, end_date, agency_code,
             agency_type, file_type, file_format, is_cached_file, element_numbers)
         VALUES (substr(?1, 1, 10), ?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
    )?
    .execute(params![
        now,
        req.start,
        req.end,
        req.agency_code,
        req.agency_type.as_str(),
        req.file_type.as_str(),
        req.file_format.as_str(),
        req.element_numbers
    ])?;
    Ok(FileGenerationId(conn.last_insert_rowid()))
}

/// Takes a generation out of the cache (stale or failed).
pub fn uncache(conn: &Connection, id: FileGenerationId) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE file_generation SET is_cached_file = 0 WHERE file_generation_id = ?1",
    )?
    .execute(params![id])?;
    Ok(())
}

/// Records the stored file of a finished generation.
pub fn record_file(
    conn: &Connection,
    id: FileGenerationId,
    key: &str,
    size: i64,
    rows: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE file_generation SET file_path = ?2, file_size = ?3, number_of_rows = ?4
         WHERE file_generation_id = ?1",
    )?
    .execute(params![id, key, size, rows])?;
    Ok(())
}

/// Start of the last FPDS load, if one is recorded.
pub fn last_fpds_load(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT MAX(last_load_date_start) FROM external_data_load_date WHERE external_data_type = 'fpds'",
    )?
    .query_row([], |r| r.get(0))
}
