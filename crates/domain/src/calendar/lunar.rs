//! The traditional festivals of the Chinese lunisolar calendar (农历), computed
//! for any Gregorian year from 1950 to 2100.
//!
//! The conversion is ICU4X's (`icu_calendar`): its China rules are those of
//! the national standard GB/T 33661-2017 (《农历的编算和颁行》), with the
//! years 1912–2102 precomputed, so no month table of our own has to be kept
//! right. Festivals are names on days, not days off: whether a day is worked
//! is decided by the statutory data and the schedule (see [`super`]).

use icu_calendar::Date as IcuDate;
use icu_calendar::Iso;
use icu_calendar::types::Month;
use jiff::ToSpan;
use jiff::civil::Date;

/// The Gregorian years whose festivals are computed.
pub const YEARS: std::ops::RangeInclusive<i16> = 1950..=2100;

/// A traditional festival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Festival {
    /// 正月初一.
    SpringFestival,
    /// 正月十五.
    Lantern,
    /// 五月初五.
    DragonBoat,
    /// 七月初七.
    Qixi,
    /// 八月十五.
    MidAutumn,
    /// 九月初九.
    DoubleNinth,
    /// 腊月初八.
    Laba,
    /// The last day of the twelfth month (腊月廿九 or 三十).
    NewYearsEve,
}

impl Festival {
    pub const ALL: &'static [Festival] = &[
        Festival::SpringFestival,
        Festival::Lantern,
        Festival::DragonBoat,
        Festival::Qixi,
        Festival::MidAutumn,
        Festival::DoubleNinth,
        Festival::Laba,
        Festival::NewYearsEve,
    ];

    /// The festival's Chinese name, as shown on every calendar.
    pub fn name(self) -> &'static str {
        match self {
            Festival::SpringFestival => "春节",
            Festival::Lantern => "元宵节",
            Festival::DragonBoat => "端午节",
            Festival::Qixi => "七夕节",
            Festival::MidAutumn => "中秋节",
            Festival::DoubleNinth => "重阳节",
            Festival::Laba => "腊八节",
            Festival::NewYearsEve => "除夕",
        }
    }

    pub fn english(self) -> &'static str {
        match self {
            Festival::SpringFestival => "Spring Festival",
            Festival::Lantern => "Lantern Festival",
            Festival::DragonBoat => "Dragon Boat Festival",
            Festival::Qixi => "Qixi Festival",
            Festival::MidAutumn => "Mid-Autumn Festival",
            Festival::DoubleNinth => "Double Ninth Festival",
            Festival::Laba => "Laba Festival",
            Festival::NewYearsEve => "New Year's Eve (lunar)",
        }
    }

    /// Its lunar month and day; `None` for New Year's Eve, which is the day
    /// before the next Spring Festival.
    fn lunar_day(self) -> Option<(u8, u8)> {
        match self {
            Festival::SpringFestival => Some((1, 1)),
            Festival::Lantern => Some((1, 15)),
            Festival::DragonBoat => Some((5, 5)),
            Festival::Qixi => Some((7, 7)),
            Festival::MidAutumn => Some((8, 15)),
            Festival::DoubleNinth => Some((9, 9)),
            Festival::Laba => Some((12, 8)),
            Festival::NewYearsEve => None,
        }
    }
}

/// The Gregorian date of a lunar month (never a leap month) and day in the
/// lunar year that starts in Gregorian year `year`.
fn gregorian(year: i32, month: u8, day: u8) -> Option<Date> {
    let lunar = IcuDate::try_new_chinese_traditional(year, Month::new(month), day).ok()?;
    let iso = lunar.to_calendar(Iso);
    let (m, d) = (i8::try_from(iso.month().ordinal).ok()?, i8::try_from(iso.day_of_month().0).ok()?);
    Date::new(i16::try_from(iso.year().extended_year()).ok()?, m, d).ok()
}

/// The festivals of the lunar year that starts in Gregorian year `year`,
/// in date order (those of the twelfth month fall in January or February of
/// the next Gregorian year).
fn of_lunar_year(year: i16) -> Vec<(Date, Festival)> {
    let y = i32::from(year);
    let mut out: Vec<(Date, Festival)> = Festival::ALL
        .iter()
        .filter_map(|f| match f.lunar_day() {
            Some((m, d)) => gregorian(y, m, d).map(|date| (date, *f)),
            None => gregorian(y + 1, 1, 1).and_then(|next| next.checked_sub(1.day()).ok()).map(|date| (date, *f)),
        })
        .collect();
    out.sort();
    out
}

/// The festivals falling in Gregorian year `year` (empty outside [`YEARS`]),
/// in date order.
pub fn festivals_in(year: i16) -> Vec<(Date, Festival)> {
    if !YEARS.contains(&year) {
        return Vec::new();
    }
    let mut out: Vec<(Date, Festival)> =
        of_lunar_year(year - 1).into_iter().chain(of_lunar_year(year)).filter(|(d, _)| d.year() == year).collect();
    out.sort();
    out
}

/// The festival on a date, if any.
pub fn festival_on(date: Date) -> Option<Festival> {
    festivals_in(date.year()).into_iter().find(|(d, _)| *d == date).map(|(_, f)| f)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn on(year: i16, f: Festival) -> Date {
        festivals_in(year).into_iter().find(|(_, x)| *x == f).map(|(d, _)| d).unwrap()
    }

    #[test]
    fn spring_festivals_from_the_almanac() {
        for (y, m, d) in [
            (1950, 2, 17),
            (1966, 1, 21),
            (1985, 2, 20),
            (2000, 2, 5),
            (2020, 1, 25),
            (2023, 1, 22),
            (2024, 2, 10),
            (2025, 1, 29),
            (2026, 2, 17),
            (2027, 2, 6),
            (2050, 1, 23),
            (2100, 2, 9),
        ] {
            assert_eq!(on(y, Festival::SpringFestival), date(y, m, d), "春节 {y}");
        }
    }

    #[test]
    fn other_festivals_of_known_years() {
        // 2025 has a leap sixth month (闰六月): 中秋 falls late.
        assert_eq!(on(2025, Festival::MidAutumn), date(2025, 10, 6));
        assert_eq!(on(2026, Festival::MidAutumn), date(2026, 9, 25));
        assert_eq!(on(2024, Festival::MidAutumn), date(2024, 9, 17));
        // 2020 has a leap fourth month: 端午 is in the ordinary fifth.
        assert_eq!(on(2020, Festival::DragonBoat), date(2020, 6, 25));
        assert_eq!(on(2026, Festival::DragonBoat), date(2026, 6, 19));
        assert_eq!(on(2026, Festival::Lantern), date(2026, 3, 3));
        assert_eq!(on(2025, Festival::Qixi), date(2025, 8, 29));
        assert_eq!(on(2025, Festival::DoubleNinth), date(2025, 10, 29));
        // 腊八 of the lunar year 2025 falls in January 2026.
        assert_eq!(on(2026, Festival::Laba), date(2026, 1, 26));
    }

    #[test]
    fn new_years_eve_is_the_last_day_of_the_twelfth_month() {
        // 2025: the twelfth month of 甲辰 has 29 days — 除夕 is 腊月廿九.
        assert_eq!(on(2025, Festival::NewYearsEve), date(2025, 1, 28));
        assert_eq!(on(2026, Festival::NewYearsEve), date(2026, 2, 16));
        assert_eq!(on(2024, Festival::NewYearsEve), date(2024, 2, 9));
        // The eve of 1950's Spring Festival is still in range.
        assert_eq!(on(1950, Festival::NewYearsEve), date(1950, 2, 16));
        assert_eq!(festival_on(date(2026, 2, 16)), Some(Festival::NewYearsEve));
        assert_eq!(festival_on(date(2026, 2, 18)), None);
    }

    #[test]
    fn every_year_in_range_has_each_festival_once() {
        for y in YEARS {
            let all = festivals_in(y);
            for f in Festival::ALL {
                let n = all.iter().filter(|(_, x)| x == f).count();
                // 腊八 of two lunar years can both fall in one Gregorian
                // year (January and late December), or neither; the rest
                // exactly once.
                if *f == Festival::Laba {
                    assert!(n <= 2, "{y} {f:?}");
                } else {
                    assert_eq!(n, 1, "{y} {f:?}");
                }
            }
            let spring = on(y, Festival::SpringFestival);
            assert!((date(y, 1, 21)..=date(y, 2, 20)).contains(&spring), "{y}: {spring}");
        }
        assert!(festivals_in(1949).is_empty());
        assert!(festivals_in(2101).is_empty());
    }
}
