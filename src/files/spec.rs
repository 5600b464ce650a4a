//! What each generated file type is, in one place: where its rows come from,
//! its column layout, how its file is named, whether identical requests
//! share a cached file, whether a submission validates it (and where its
//! award rows go), and whether its status answer carries dates.
//!
//! Adding a file type: a `FileType` variant, its `FileSpec` here (the match
//! in [`spec`] will not compile without it), its layout CSV, its query in
//! `worker::write` if it needs a new `Source`, and its tests.

use super::layouts::{Column, Layout, layout};
use crate::base::domain::FileType;

/// Where a file's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rows of `table` for an agency (awarding or funding) whose action date
    /// lies in the requested range, oldest first.
    AgencyDateRange {
        table: &'static str,
        /// Breaks ties between rows of one date.
        id_column: &'static str,
        /// Only rows with `is_active = 1`.
        active_only: bool,
    },
    /// The latest SAM row of each recipient UEI of the submission's award rows.
    SubmissionRecipients,
    /// Sub-contracts of the submission's D1 awards, sub-grants of its D2 awards.
    SubmissionSubawards,
    /// The agency's SF-133 lines of a fiscal period summed per TAS (File A).
    GtasBudgetary,
    /// GTAS object-class balances of a fiscal period against the agency's
    /// published File B of that period (BOC comparison).
    GtasBocComparison,
}

/// Where a validated file's rows are loaded for E and F to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwardLoad {
    pub table: &'static str,
    /// The layout column holding the recipient UEI.
    pub uei_source: &'static str,
}

/// What must be finished (with no errors) before a submission's file of
/// this type may be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    /// The jobs of these uploaded files (A, B, C for D files).
    Files(&'static [&'static str]),
    /// The cross-file validation job.
    CrossFileValidation,
    /// Nothing (files generated only detached).
    None,
}

/// How a file is named (see `files::names`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `..._{start}_{end}_{agency_type}_{ts}.{csv|txt}`: D files.
    DateRange,
    /// `SubID-{id}_File-{type}_{FYP}_{ts}.csv`: files of a submission only.
    SubmissionPeriod,
    /// `File-A_{FYP}_{ts}.csv`: a detached file of a fiscal period.
    FiscalPeriod,
    /// `GTAS-Comparison-Report_{FYP}_{CGAC-097|FREC-1601}_{ts}.csv`.
    GtasComparison,
}

/// The specification of one generated file type.
#[derive(Debug)]
pub struct FileSpec {
    pub file_type: FileType,
    pub source: Source,
    pub layout: Layout,
    pub naming: Naming,
    /// Generated inside a submission (`generate_file`).
    pub in_submission: bool,
    /// Generated for an agency without a submission (`generate_detached_file`).
    pub detached: bool,
    /// Identical requests share one generation (`file_generation`).
    pub cached: bool,
    /// A finished cached file serves later identical requests; otherwise
    /// identical requests share a generation only while it is in progress
    /// (the source data has no load date to tell a stale file by).
    pub reuse_finished: bool,
    /// Inside a submission, a csv_record_validation job checks the file and
    /// loads its award rows here.
    pub validation: Option<AwardLoad>,
    /// Requests carry `start`/`end` dates, and status answers show them.
    pub dated: bool,
    /// Requests carry a fiscal `year` and `period` (2-12) instead of dates.
    pub by_period: bool,
    /// `file_format` may be `txt` (pipe-delimited); otherwise always CSV.
    pub txt_allowed: bool,
    /// What a submission must have finished first.
    pub prerequisite: Prerequisite,
    /// A cached file older than the last FPDS load is made again.
    pub refreshed_by_fpds_load: bool,
}

const D1: FileSpec = FileSpec {
    file_type: FileType::D1,
    source: Source::AgencyDateRange {
        table: "detached_award_procurement",
        id_column: "detached_award_procurement_id",
        active_only: false,
    },
    layout: Layout::D1,
    naming: Naming::DateRange,
    in_submission: true,
    detached: true,
    cached: true,
    reuse_finished: true,
    validation: Some(AwardLoad {
        table: "award_procurement",
        uei_source: "awardee_or_recipient_uei",
    }),
    dated: true,
    by_period: false,
    txt_allowed: true,
    prerequisite: Prerequisite::Files(&["A", "B", "C"]),
    refreshed_by_fpds_load: true,
};

/// D1's rules, with FABS rows (active ones only) and its own award table.
const D2: FileSpec = FileSpec {
    file_type: FileType::D2,
    source: Source::AgencyDateRange {
        table: "published_fabs",
        id_column: "published_fabs_id",
        active_only: true,
    },
    layout: Layout::D2,
    validation: Some(AwardLoad {
        table: "award_financial_assistance",
        uei_source: "uei",
    }),
    refreshed_by_fpds_load: false,
    ..D1
};

const E: FileSpec = FileSpec {
    file_type: FileType::E,
    source: Source::SubmissionRecipients,
    layout: Layout::E,
    naming: Naming::SubmissionPeriod,
    in_submission: true,
    detached: false,
    cached: false,
    reuse_finished: false,
    validation: None,
    dated: false,
    by_period: false,
    txt_allowed: false,
    prerequisite: Prerequisite::CrossFileValidation,
    refreshed_by_fpds_load: false,
};

/// Like E (same naming, prerequisite and rules); only its rows and layout differ.
const F: FileSpec = FileSpec {
    file_type: FileType::F,
    source: Source::SubmissionSubawards,
    layout: Layout::F,
    ..E
};

const A: FileSpec = FileSpec {
    file_type: FileType::A,
    source: Source::GtasBudgetary,
    layout: Layout::A,
    naming: Naming::FiscalPeriod,
    in_submission: false,
    detached: true,
    cached: true,
    reuse_finished: false,
    validation: None,
    dated: false,
    by_period: true,
    txt_allowed: false,
    prerequisite: Prerequisite::None,
    refreshed_by_fpds_load: false,
};

/// Requested and cached like File A; only its rows, layout and name differ.
const BOC: FileSpec = FileSpec {
    file_type: FileType::Boc,
    source: Source::GtasBocComparison,
    layout: Layout::Boc,
    naming: Naming::GtasComparison,
    ..A
};

/// The specification of a file type.
pub fn spec(file_type: FileType) -> &'static FileSpec {
    match file_type {
        FileType::D1 => &D1,
        FileType::D2 => &D2,
        FileType::E => &E,
        FileType::F => &F,
        FileType::A => &A,
        FileType::Boc => &BOC,
    }
}

impl FileSpec {
    /// The columns of the file, in order.
    pub fn columns(&self) -> &'static [Column] {
        layout(self.layout)
    }

    /// The file types a route offers, in the order of `FileType::ALL`.
    pub fn types_where(pick: fn(&FileSpec) -> bool) -> impl Iterator<Item = FileType> {
        FileType::ALL
            .iter()
            .copied()
            .filter(move |t| pick(spec(*t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::in_memory;

    fn table_columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .unwrap();
        stmt.query_map([table], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn every_type_has_its_own_spec() {
        for t in FileType::ALL {
            assert_eq!(spec(*t).file_type, *t);
        }
    }

    #[test]
    fn source_and_award_tables_carry_every_column_the_specs_name() {
        let conn = in_memory();
        for t in FileType::ALL {
            let s = spec(*t);
            if let Source::AgencyDateRange {
                table, id_column, ..
            } = s.source
            {
                let have = table_columns(&conn, table);
                for col in s.columns() {
                    assert!(have.contains(&col.source), "{table} lacks {}", col.source);
                }
                for needed in [
                    id_column,
                    "action_date",
                    "awarding_agency_code",
                    "funding_agency_code",
                ] {
                    assert!(have.iter().any(|c| c == needed), "{table}.{needed}");
                }
            }
            if let Some(load) = s.validation {
                let have = table_columns(&conn, load.table);
                for needed in [
                    "submission_id",
                    "unique_award_key",
                    "awardee_or_recipient_uei",
                ] {
                    assert!(have.iter().any(|c| c == needed), "{}.{needed}", load.table);
                }
                assert!(s.columns().iter().any(|c| c.source == load.uei_source));
                assert!(s.columns().iter().any(|c| c.source == "unique_award_key"));
            }
        }
        let sam = table_columns(&conn, "sam_recipient");
        for col in spec(FileType::E).columns() {
            assert!(
                sam.contains(&col.source),
                "sam_recipient lacks {}",
                col.source
            );
        }
        let subaward = table_columns(&conn, "subaward");
        for col in spec(FileType::F).columns() {
            assert!(
                subaward.contains(&col.source),
                "subaward lacks {}",
                col.source
            );
        }
        let published = table_columns(&conn, "published_fabs");
        assert!(published.iter().any(|c| c == "is_active"));
    }
}
