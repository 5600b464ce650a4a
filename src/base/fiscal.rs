//! Fiscal years and periods as the broker counts them: period 1 is October
//! of the previous calendar year, period 12 is September.

use time::{Date, Month};

/// A fiscal year and period (1-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiscalPeriod {
    pub year: i32,
    pub period: u8,
}

impl FiscalPeriod {
    /// The calendar month of the period: its first and last day.
    pub fn dates(self) -> Option<(Date, Date)> {
        if !(1..=12).contains(&self.period) {
            return None;
        }
        // Period 4 is January; earlier periods fall in the previous year.
        let (year, month) = match self.period {
            p @ 1..=3 => (self.year - 1, p + 9),
            p => (self.year, p - 3),
        };
        let month = Month::try_from(month).ok()?;
        let first = Date::from_calendar_date(year, month, 1).ok()?;
        let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
        Some((first, last))
    }

    /// The period a month (given by any day of it) belongs to.
    pub fn of_date(day: Date) -> FiscalPeriod {
        let month = u8::from(day.month());
        if month >= 10 {
            FiscalPeriod {
                year: day.year() + 1,
                period: month - 9,
            }
        } else {
            FiscalPeriod {
                year: day.year(),
                period: month + 3,
            }
        }
    }

    /// `FY{yy}P{mm}` as in the broker's file names; periods 1 and 2 are
    /// reported together as `P01-P02`.
    pub fn file_label(self) -> String {
        let yy = self.year.rem_euclid(100);
        if self.period <= 2 {
            format!("FY{yy:02}P01-P02")
        } else {
            format!("FY{yy:02}P{:02}", self.period)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::timefmt::format_iso_date;

    fn dates(year: i32, period: u8) -> (String, String) {
        let (a, b) = FiscalPeriod { year, period }.dates().unwrap();
        (format_iso_date(a), format_iso_date(b))
    }

    #[test]
    fn periods_map_to_their_months_and_back() {
        assert_eq!(dates(2020, 2), ("2019-11-01".into(), "2019-11-30".into()));
        assert_eq!(dates(2020, 3), ("2019-12-01".into(), "2019-12-31".into()));
        assert_eq!(dates(2020, 5), ("2020-02-01".into(), "2020-02-29".into()));
        assert_eq!(dates(2021, 12), ("2021-09-01".into(), "2021-09-30".into()));
        assert_eq!(
            FiscalPeriod {
                year: 2020,
                period: 13
            }
            .dates(),
            None
        );
        for period in 1..=12 {
            let fp = FiscalPeriod { year: 2024, period };
            let (first, last) = fp.dates().unwrap();
            assert_eq!(FiscalPeriod::of_date(first), fp);
            assert_eq!(FiscalPeriod::of_date(last), fp);
        }
        assert_eq!(
            FiscalPeriod {
                year: 2020,
                period: 2
            }
            .file_label(),
            "FY20P01-P02"
        );
        assert_eq!(
            FiscalPeriod {
                year: 2021,
                period: 9
            }
            .file_label(),
            "FY21P09"
        );
    }
}
