//! Exact sums of Postgres `numeric` values, printed as Postgres prints them.
//!
//! File A and the BOC comparison add up stored amounts (text in the form
//! Postgres prints a `numeric`, see `pgtext`). Postgres keeps the scale of
//! what it adds: the sum of `1.50` and `2` is `3.50`, a sum of nothing but
//! the literal `0` is `0`, and `NaN` swallows everything. Floating point
//! would lose cents and print the wrong scale, so sums are kept here as an
//! integer of units of `10^-scale`.

use std::fmt;

/// Largest scale kept; stored amounts have a handful of decimals.
const MAX_SCALE: u32 = 30;

/// A `numeric` value: `units × 10^-scale`, or Postgres's `NaN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decimal {
    Finite { units: i128, scale: u32 },
    NaN,
}

/// A sum left the range this module keeps exactly (about 10^38 units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount is too large to be summed exactly")
    }
}

impl std::error::Error for Overflow {}

impl Decimal {
    /// The integer literal `0` (scale 0), what `ELSE 0` adds.
    pub const ZERO: Decimal = Decimal::Finite { units: 0, scale: 0 };

    /// Reads a stored numeric (`-12.50`, `7`, `NaN`); `None` for other text.
    pub fn parse(text: &str) -> Option<Decimal> {
        if text == "NaN" {
            return Some(Decimal::NaN);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || fraction.len() > MAX_SCALE as usize
        {
            return None;
        }
        let mut units: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            units = units.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Decimal::Finite {
            units: if negative { -units } else { units },
            scale: fraction.len() as u32,
        })
    }

    /// An integer (`1` or `-1` in a `CASE`), scale 0.
    pub fn from_int(value: i64) -> Decimal {
        Decimal::Finite {
            units: i128::from(value),
            scale: 0,
        }
    }

    fn rescaled(units: i128, from: u32, to: u32) -> Result<i128, Overflow> {
        10i128
            .checked_pow(to - from)
            .and_then(|factor| units.checked_mul(factor))
            .ok_or(Overflow)
    }

    /// `self + other` with the larger of the two scales, as Postgres adds.
    pub fn checked_add(self, other: Decimal) -> Result<Decimal, Overflow> {
        match (self, other) {
            (
                Decimal::Finite {
                    units: a,
                    scale: sa,
                },
                Decimal::Finite {
                    units: b,
                    scale: sb,
                },
            ) => {
                let scale = sa.max(sb);
                let sum = Self::rescaled(a, sa, scale)?
                    .checked_add(Self::rescaled(b, sb, scale)?)
                    .ok_or(Overflow)?;
                Ok(Decimal::Finite { units: sum, scale })
            }
            _ => Ok(Decimal::NaN),
        }
    }

    /// `-self`, same scale.
    pub fn negated(self) -> Decimal {
        match self {
            Decimal::Finite { units, scale } => Decimal::Finite {
                units: -units,
                scale,
            },
            Decimal::NaN => Decimal::NaN,
        }
    }

    /// `self - other`, as Postgres subtracts.
    pub fn checked_sub(self, other: Decimal) -> Result<Decimal, Overflow> {
        self.checked_add(other.negated())
    }

    /// Whether the value equals zero (whatever its scale); `NaN` does not.
    pub fn is_zero(self) -> bool {
        matches!(self, Decimal::Finite { units: 0, .. })
    }
}

impl fmt::Display for Decimal {
    /// Postgres's output: every digit of the scale, no exponent, no
    /// negative zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (units, scale) = match *self {
            Decimal::NaN => return f.write_str("NaN"),
            Decimal::Finite { units, scale } => (units, scale as usize),
        };
        let digits = units.unsigned_abs().to_string();
        if units < 0 {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{whole}.{fraction}")
    }
}

/// A running `SUM(...)`: `None` until a non-NULL value arrives (a sum of
/// only NULLs is NULL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum(pub Option<Decimal>);

impl Sum {
    pub fn add(&mut self, value: Decimal) -> Result<(), Overflow> {
        self.0 = Some(match self.0 {
            None => value,
            Some(total) => total.checked_add(value)?,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn sums_keep_the_largest_scale_as_postgres_does() {
        assert_eq!(d("1.50").checked_add(d("2")).unwrap().to_string(), "3.50");
        assert_eq!(
            Decimal::ZERO
                .checked_add(Decimal::ZERO)
                .unwrap()
                .to_string(),
            "0"
        );
        assert_eq!(
            d("0.00").checked_add(Decimal::ZERO).unwrap().to_string(),
            "0.00"
        );
        assert_eq!(
            d("-0.05").checked_add(d("0.05")).unwrap().to_string(),
            "0.00"
        );
        assert_eq!(d("-1.005").to_string(), "-1.005");
        assert_eq!(d("-0.5").to_string(), "-0.5");
        assert_eq!(
            d("12").checked_sub(d("12.345")).unwrap().to_string(),
            "-0.345"
        );
        assert_eq!(d("100").negated().to_string(), "-100");
        assert_eq!(d("NaN").checked_add(d("1")).unwrap(), Decimal::NaN);
        assert!(!Decimal::NaN.is_zero());
        assert!(d("0.000").is_zero());
    }

    #[test]
    fn text_that_is_not_a_stored_numeric_is_refused() {
        for bad in ["", "-", ".", "1e5", "abc", "1.2.3", " 1"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
        assert_eq!(d(".5").to_string(), "0.5");
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let big = d("99999999999999999999999999999999999999");
        assert_eq!(big.checked_add(big), Err(Overflow));
        assert_eq!(big.checked_add(d("0.1")), Err(Overflow));
    }

    #[test]
    fn a_sum_of_nothing_is_null() {
        let mut sum = Sum::default();
        assert_eq!(sum.0, None);
        sum.add(d("1.10")).unwrap();
        sum.add(d("2")).unwrap();
        assert_eq!(sum.0.unwrap().to_string(), "3.10");
    }
}
