//! File names of generated files, as the broker names them, by the file
//! type's `Naming`.

use super::spec::{Naming, spec};
use crate::base::domain::{FileType, is_cgac_code};
use crate::db::file_generation::GenerationRequest;
use crate::db::submissions::Submission;

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

/// `{start}_{end}_{agency_type}_{unix_ts}.{ext}`, dates as `YYYYMMDD` (the
/// request holds them as `YYYY-MM-DD`).
fn date_range_tail(req: &GenerationRequest, unix_ts: u64) -> String {
    format!(
        "{}_{}_{}_{unix_ts}.{}",
        req.start.replace('-', ""),
        req.end.replace('-', ""),
        req.agency_type,
        req.file_format
    )
}

/// `FY{yy}P{mm}` of a request for a fiscal period (its dates are the
/// period's month).
fn period_label(req: &GenerationRequest) -> anyhow::Result<String> {
    Ok(req.fiscal_period()?.file_label())
}

/// `CGAC-097` or `FREC-1601`: a 3-character code is a CGAC, as the broker
/// decides. Characters other than letters and digits (no real code has
/// any) become `_`, so the name stays one path segment.
fn agency_label(code: &str) -> String {
    let kind = if is_cgac_code(code) { "CGAC" } else { "FREC" };
    let safe: String = code
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{kind}-{safe}")
}

/// The name of a file generated for a submission (`sub`) or detached
/// (`None`); `req` is the generation request of a date-range file.
pub fn file_name(
    file_type: FileType,
    sub: Option<&Submission>,
    req: Option<&GenerationRequest>,
    unix_ts: u64,
) -> anyhow::Result<String> {
    let prefix = match sub {
        Some(sub) => format!(
            "SubID-{}_File-{file_type}_{}",
            sub.submission_id,
            fiscal_period(sub)
        ),
        None => format!("File-{file_type}"),
    };
    match (spec(file_type).naming, req, sub) {
        (Naming::DateRange, Some(req), _) => {
            Ok(format!("{prefix}_{}", date_range_tail(req, unix_ts)))
        }
        (Naming::SubmissionPeriod, _, Some(_)) => Ok(format!("{prefix}_{unix_ts}.csv")),
        (Naming::FiscalPeriod, Some(req), None) => {
            Ok(format!("{prefix}_{}_{unix_ts}.csv", period_label(req)?))
        }
        (Naming::GtasComparison, Some(req), None) => Ok(format!(
            "GTAS-Comparison-Report_{}_{}_{unix_ts}.csv",
            period_label(req)?,
            agency_label(&req.agency_code)
        )),
        (naming, _, _) => {
            anyhow::bail!("a {file_type} file ({naming:?}) cannot be named from this request")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::domain::{AgencyType, FileFormat, PublishStatus};
    use crate::base::ids::{SubmissionId, UserId};

    fn sub(quarter: bool, period: i64) -> Submission {
        Submission {
            submission_id: SubmissionId(7),
            user_id: None::<UserId>,
            cgac_code: None,
            frec_code: None,
            reporting_fiscal_year: Some(2020),
            reporting_fiscal_period: Some(period),
            is_quarter_format: quarter,
            is_fabs: false,
            publish_status: PublishStatus::Unpublished,
        }
    }

    fn request(
        file_type: FileType,
        agency_type: AgencyType,
        file_format: FileFormat,
    ) -> GenerationRequest {
        GenerationRequest {
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
            file_name(FileType::D1, Some(&sub(true, 3)), Some(&d1), 1577000000).unwrap(),
            "SubID-7_File-D1_FY20Q1_20191001_20191231_awarding_1577000000.csv"
        );
        assert_eq!(
            file_name(FileType::E, Some(&sub(false, 7)), None, 5).unwrap(),
            "SubID-7_File-E_FY20P07_5.csv"
        );
        let d2 = request(FileType::D2, AgencyType::Funding, FileFormat::Txt);
        assert_eq!(
            file_name(FileType::D2, None, Some(&d2), 9).unwrap(),
            "File-D2_20191001_20191231_funding_9.txt"
        );
        assert!(file_name(FileType::E, None, None, 9).is_err());
        let mut a = request(FileType::A, AgencyType::Awarding, FileFormat::Csv);
        (a.start, a.end) = ("2019-11-01".into(), "2019-11-30".into());
        assert_eq!(
            file_name(FileType::A, None, Some(&a), 12).unwrap(),
            "File-A_FY20P01-P02_12.csv"
        );
        let mut boc = request(FileType::Boc, AgencyType::Awarding, FileFormat::Csv);
        (boc.start, boc.end, boc.agency_code) =
            ("2021-06-01".into(), "2021-06-30".into(), "1601".into());
        assert_eq!(
            file_name(FileType::Boc, None, Some(&boc), 12).unwrap(),
            "GTAS-Comparison-Report_FY21P09_FREC-1601_12.csv"
        );
        boc.agency_code = "../".into();
        assert_eq!(
            file_name(FileType::Boc, None, Some(&boc), 12).unwrap(),
            "GTAS-Comparison-Report_FY21P09_CGAC-____12.csv"
        );
        assert!(file_name(FileType::D1, Some(&sub(true, 3)), None, 9).is_err());
    }
}
