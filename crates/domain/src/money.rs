//! Money: integer fen (分), never a float. Parsed from text such as
//! `1234.5`, `¥1,234.50` or `1234`.

use std::fmt;

use serde::Serialize;

use crate::Issue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Money(i64);

/// Upper bound of one amount: 10 billion yuan.
const MAX_FEN: i64 = 1_000_000_000_000;

impl Money {
    pub fn from_fen(fen: i64) -> Self {
        Self(fen)
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    /// A non-negative amount in yuan with at most two decimals.
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let s: String =
            raw.trim().trim_start_matches(['¥', '￥']).chars().filter(|c| *c != ',' && *c != '，').collect();
        let s = s.trim();
        if s.is_empty() {
            return Err(Issue::Required);
        }
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || (!frac.is_empty() && !digits(frac)) || frac.len() > 2 || s.ends_with('.') {
            return Err(Issue::InvalidAmount);
        }
        let yuan: i64 = whole.parse().map_err(|_| Issue::OutOfRange)?;
        let mut fen_part: i64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| Issue::InvalidAmount)? };
        if frac.len() == 1 {
            fen_part *= 10;
        }
        let fen = yuan.checked_mul(100).and_then(|y| y.checked_add(fen_part)).ok_or(Issue::OutOfRange)?;
        if fen > MAX_FEN {
            return Err(Issue::OutOfRange);
        }
        Ok(Self(fen))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
}

impl fmt::Display for Money {
    /// `1,234.50`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let yuan = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, ch) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_spellings() {
        assert_eq!(Money::parse("1234").unwrap().fen(), 123_400);
        assert_eq!(Money::parse("1234.5").unwrap().fen(), 123_450);
        assert_eq!(Money::parse("¥1,234.05").unwrap().fen(), 123_405);
        assert_eq!(Money::parse("0.01").unwrap().fen(), 1);
        for bad in ["", "abc", "1.234", "-5", "1.", ".5", "1e5", "12 34"] {
            assert!(Money::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Money::parse("99999999999999"), Err(Issue::OutOfRange));
    }

    #[test]
    fn displays_with_grouping() {
        assert_eq!(Money::from_fen(123_456_789).to_string(), "1,234,567.89");
        assert_eq!(Money::from_fen(5).to_string(), "0.05");
        assert_eq!(Money::from_fen(10_000_000).to_string(), "100,000.00");
    }

    proptest! {
        #[test]
        fn display_parses_back(fen in 0i64..MAX_FEN) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        }
    }
}
