//! Values as Postgres prints them, so that generated files are the broker's
//! byte for byte: `numeric` (its own scale, no leading zeros, no exponent),
//! `integer`, and the date part of a timestamp.

/// Largest exponent accepted in a numeric literal. Postgres takes more, but
/// no amount in these files comes near it, and it bounds the output size.
const MAX_EXPONENT: i64 = 1000;

/// A numeric literal (`1234.50`, `007.10`, `-.5`, `1e6`, `NaN`) printed as
/// Postgres prints a `numeric`: the value's own scale, no leading zeros, no
/// exponent, no negative zero. `None` when Postgres would refuse the text.
pub fn numeric(text: &str) -> Option<String> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.eq_ignore_ascii_case("nan") {
        return Some("NaN".into());
    }
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], parse_exponent(&rest[at + 1..])?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    // The digits with the decimal point `point` places from the left.
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let point = int_part.len() as i64 + exponent;
    let scale = (frac_part.len() as i64 - exponent).max(0) as usize;
    let digit_at = |i: i64| {
        if i >= 0 && (i as usize) < digits.len() {
            digits[i as usize]
        } else {
            b'0'
        }
    };
    let mut whole: Vec<u8> = (0..point.max(0)).map(digit_at).collect();
    let first_nonzero = whole.iter().position(|&d| d != b'0');
    whole.drain(..first_nonzero.unwrap_or(whole.len()));
    if whole.is_empty() {
        whole.push(b'0');
    }
    let fraction: Vec<u8> = (0..scale as i64).map(|i| digit_at(point + i)).collect();
    let is_zero = whole == b"0" && fraction.iter().all(|&d| d == b'0');
    let mut out = String::with_capacity(whole.len() + scale + 2);
    if negative && !is_zero {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&whole).ok()?);
    if scale > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(&fraction).ok()?);
    }
    Some(out)
}

fn parse_exponent(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = text.parse().ok()?;
    (value.abs() <= MAX_EXPONENT).then_some(value)
}

/// An `integer` literal (`007`, `+5`, ` -3 `) as Postgres prints it; `None`
/// when it is not a 32-bit integer.
pub fn integer(text: &str) -> Option<String> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = text.trim_start_matches('+').parse().ok()?;
    i32::try_from(value).ok().map(|v| v.to_string())
}

/// The date part of a stored date or timestamp (`2019-11-04`,
/// `2019-11-04 09:12:34`, `2019-11-04T09:12:34.5`), as bytes of `YYYY-MM-DD`;
/// `None` for anything else.
pub fn date_part(text: &[u8]) -> Option<&[u8]> {
    let date = text.get(..10)?;
    let shape_ok = date.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        _ => b.is_ascii_digit(),
    });
    let rest_ok = matches!(text.get(10), None | Some(b' ') | Some(b'T'));
    (shape_ok && rest_ok).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_print_like_postgres() {
        let cases = [
            ("1234.50", "1234.50"),
            ("007.10", "7.10"),
            ("-0.01", "-0.01"),
            ("1e6", "1000000"),
            ("1E+6", "1000000"),
            ("1.5e-3", "0.0015"),
            ("1.50e2", "150"),
            ("1.500e2", "150.0"),
            ("-0.00", "0.00"),
            ("-0", "0"),
            ("+5", "5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("000", "0"),
            (" 12.3 ", "12.3"),
            ("nan", "NaN"),
            ("12345678901234567890.123", "12345678901234567890.123"),
            ("1e-2", "0.01"),
            ("0.0e5", "0"),
        ];
        for (input, expected) in cases {
            assert_eq!(numeric(input).as_deref(), Some(expected), "{input}");
        }
        for bad in [
            "", "-", ".", "1.2.3", "abc", "1e", "1e1001", "12a", "0x10", "1 000",
        ] {
            assert_eq!(numeric(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn integers_print_like_postgres() {
        assert_eq!(integer("007").as_deref(), Some("7"));
        assert_eq!(integer("+5").as_deref(), Some("5"));
        assert_eq!(integer("-0").as_deref(), Some("0"));
        assert_eq!(integer(" -12 ").as_deref(), Some("-12"));
        for bad in ["", "1.0", "2147483648", "x", "1e3"] {
            assert_eq!(integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn date_parts_of_dates_and_timestamps() {
        assert_eq!(date_part(b"2019-11-04"), Some(&b"2019-11-04"[..]));
        assert_eq!(date_part(b"2019-11-04 09:12:34"), Some(&b"2019-11-04"[..]));
        assert_eq!(
            date_part(b"2019-11-04T09:12:34.5"),
            Some(&b"2019-11-04"[..])
        );
        assert_eq!(date_part(b"2019-11-4"), None);
        assert_eq!(date_part(b"20191104"), None);
        assert_eq!(date_part(b"2019-11-04x"), None);
    }
}
