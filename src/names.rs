//! File names of generated files, as the broker names them.

use crate::db::generation::DRequest;
use crate::db::submissions::Submission;
use crate::domain::FileType;

/// `FY{yy}Q{n}` for quarterly submissions, `FY{yy}P{mm}` for monthly ones
/// (`P01-P02` for periods 1 and 2, which the broker reports together).
pub fn fiscal_period(sub: &Submission) -> String {
    let year = sub.reporting_fiscal_year.unwrap_or(0).rem_euclid(100);
    let period = sub.reporting_fiscal_period.unwrap_or(0);
    if sub.is_quarter_format {
        format!("FY{year:02}Q{}", (period + 2) / 3)
    } else if period <= 2 {
        format!("FY{year:02}P01-P02")
    } else {
        format!("FY{year:02}P{period:02}")
    }
}

/// `{start}_{end}_{agency_type}_{unix_ts}.{ext}` of a D file, dates as
/// `YYYYMMDD` (the request holds them as `YYYY-MM-DD`).
fn d_file_tail(req: &DRequest, unix_ts: u64) -> String {
    format!(
        "{}_{}_{}_{unix_ts}.{}",
        req.start.replace('-', ""),
        req.end.replace('-', ""),
        req.agency_type,
        req.file_format
    )
}

/// A D1/D2 file generated for a submission.
pub fn submission_d_file(sub: &Submission, req: &DRequest, unix_ts: u64) -> String {
    format!(
        "SubID-{}_File-{}_{}_{}",
        sub.submission_id,
        req.file_type,
        fiscal_period(sub),
        d_file_tail(req, unix_ts)
    )
}

/// A detached D1/D2 file.
pub fn detached_d_file(req: &DRequest, unix_ts: u64) -> String {
    format!("File-{}_{}", req.file_type, d_file_tail(req, unix_ts))
}

/// An E or F file generated for a submission.
pub fn submission_ef_file(sub: &Submission, file_type: FileType, unix_ts: u64) -> String {
    format!(
        "SubID-{}_File-{file_type}_{}_{unix_ts}.csv",
        sub.submission_id,
        fiscal_period(sub)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgencyType, FileFormat, PublishStatus};

    fn sub(quarter: bool, period: i64) -> Submission {
        Submission {
            submission_id: 7,
            user_id: None,
            cgac_code: None,
            frec_code: None,
            reporting_fiscal_year: Some(2020),
            reporting_fiscal_period: Some(period),
            is_quarter_format: quarter,
            is_fabs: false,
            publish_status: PublishStatus::Unpublished,
        }
    }

    fn request(file_type: FileType, agency_type: AgencyType, file_format: FileFormat) -> DRequest {
        DRequest {
            file_type,
            start: "2019-10-01".into(),
            end: "2019-12-31".into(),
            agency_code: "097".into(),
            agency_type,
            file_format,
            element_numbers: false,
        }
    }

    #[test]
    fn names_follow_the_broker() {
        assert_eq!(fiscal_period(&sub(true, 3)), "FY20Q1");
        assert_eq!(fiscal_period(&sub(true, 12)), "FY20Q4");
        assert_eq!(fiscal_period(&sub(false, 2)), "FY20P01-P02");
        assert_eq!(fiscal_period(&sub(false, 7)), "FY20P07");
        let d1 = request(FileType::D1, AgencyType::Awarding, FileFormat::Csv);
        assert_eq!(
            submission_d_file(&sub(true, 3), &d1, 1577000000),
            "SubID-7_File-D1_FY20Q1_20191001_20191231_awarding_1577000000.csv"
        );
        assert_eq!(
            submission_ef_file(&sub(false, 7), FileType::E, 5),
            "SubID-7_File-E_FY20P07_5.csv"
        );
        let d2 = request(FileType::D2, AgencyType::Funding, FileFormat::Txt);
        assert_eq!(
            detached_d_file(&d2, 9),
            "File-D2_20191001_20191231_funding_9.txt"
        );
    }
}
