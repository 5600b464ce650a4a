//! Date and time formats of the broker's wire format and of the stored rows.
//!
//! Stored dates are `YYYY-MM-DD`; timestamps are stored the way Python's
//! `str(datetime)` prints them (`YYYY-MM-DD HH:MM:SS[.ffffff]`), which is also
//! what the broker sends as `generated_at`.

use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");
const MDY_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[month]/[day]/[year]");

/// Parses a stored `YYYY-MM-DD` date.
pub fn parse_iso_date(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::parse(text, ISO_DATE).ok()
}

/// Parses the wire format `MM/DD/YYYY` (exactly two, two and four digits).
pub fn parse_mdy_date(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::parse(text, MDY_DATE).ok()
}

pub fn format_iso_date(date: Date) -> String {
    date.format(ISO_DATE).unwrap_or_default()
}

pub fn format_mdy_date(date: Date) -> String {
    date.format(MDY_DATE).unwrap_or_default()
}

/// `YYYY-MM-DD` as `MM/DD/YYYY`; anything unparsable becomes "".
pub fn iso_to_mdy(text: &str) -> String {
    parse_iso_date(text)
        .map(format_mdy_date)
        .unwrap_or_default()
}

/// A stored timestamp as `YYYY-MM-DDTHH:MM:SS` (the broker's `strftime`
/// for metadata); "" when it is not a timestamp.
pub fn iso_seconds(stored: &str) -> String {
    match (
        stored.get(..10).and_then(parse_iso_date),
        stored.get(11..19),
    ) {
        (Some(_), Some(clock)) => format!("{}T{clock}", &stored[..10]),
        (Some(_), None) if stored.len() == 10 => format!("{stored}T00:00:00"),
        _ => String::new(),
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    format_iso_date(OffsetDateTime::now_utc().date())
}

/// Python's `str(datetime)`: microseconds only when they are not zero.
pub fn python_timestamp(at: PrimitiveDateTime) -> String {
    let base = format!(
        "{} {:02}:{:02}:{:02}",
        format_iso_date(at.date()),
        at.hour(),
        at.minute(),
        at.second()
    );
    match at.microsecond() {
        0 => base,
        micros => format!("{base}.{micros:06}"),
    }
}

/// The current UTC time as a stored timestamp.
pub fn now_timestamp() -> String {
    let now = OffsetDateTime::now_utc();
    python_timestamp(PrimitiveDateTime::new(now.date(), now.time()))
}

/// Accepts `YYYY-MM-DD[ T]HH:MM:SS[.f…]` (1 to 9 fraction digits) and returns
/// the stored form.
pub fn normalize_timestamp(text: &str) -> Option<String> {
    let (date, rest) = (text.get(..10)?, text.get(10..)?);
    let date = parse_iso_date(date)?;
    let rest = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('T'))?;
    let (clock, fraction) = match rest.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (rest, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let num = |s: &str| s.parse::<u8>().ok();
    let (h, m, s) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse::<u32>().ok()?
        }
        Some(_) => return None,
    };
    let time = time::Time::from_hms_nano(h, m, s, nanos).ok()?;
    Some(python_timestamp(PrimitiveDateTime::new(date, time)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_python() {
        assert_eq!(
            normalize_timestamp("2020-01-15 14:25:40.12345").as_deref(),
            Some("2020-01-15 14:25:40.123450")
        );
        assert_eq!(
            normalize_timestamp("2020-01-15T14:25:40").as_deref(),
            Some("2020-01-15 14:25:40")
        );
        assert_eq!(
            normalize_timestamp("2020-01-15 14:25:40.000000").as_deref(),
            Some("2020-01-15 14:25:40")
        );
        assert_eq!(normalize_timestamp("2020-01-15"), None);
        assert_eq!(normalize_timestamp("2020-13-15 14:25:40"), None);
        assert_eq!(normalize_timestamp("2020-01-15 25:00:00"), None);
        assert_eq!(normalize_timestamp("2020-01-15 14:25:40.x"), None);
    }

    #[test]
    fn stored_timestamps_print_to_the_second_with_a_t() {
        assert_eq!(
            iso_seconds("2020-01-15 14:25:40.123450"),
            "2020-01-15T14:25:40"
        );
        assert_eq!(iso_seconds("2020-01-15 14:25:40"), "2020-01-15T14:25:40");
        assert_eq!(iso_seconds("2020-01-15"), "2020-01-15T00:00:00");
        assert_eq!(iso_seconds("soon"), "");
    }

    #[test]
    fn dates_convert_between_stored_and_wire_forms() {
        assert_eq!(iso_to_mdy("2016-03-31"), "03/31/2016");
        assert_eq!(iso_to_mdy("2016-02-30"), "");
        assert!(parse_mdy_date("3/31/2016").is_none());
        assert!(parse_mdy_date("02/29/2016").is_some());
        assert!(parse_iso_date("2016-1-01").is_none());
    }
}
