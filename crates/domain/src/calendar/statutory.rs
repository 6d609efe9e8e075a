//! China's statutory holidays and adjusted working days (调休), shipped as
//! data, exactly as the General Office of the State Council (国务院办公厅)
//! published them in its yearly notice 《国务院办公厅关于 N 年部分节假日安排的通知》.
//! A year is added when its notice is out (usually in November of the year
//! before); until then an administrator enters the days as overrides.
//!
//! Sources (each notice's full text, as reprinted by Xinhua / 人民日报 /
//! 光明网 / 中国政府网 and local government sites):
//! - 2020: 国办发明电〔2019〕16号 (21 Nov 2019), and 国办发明电〔2020〕1号
//!   (26 Jan 2020), which extended the Spring Festival to 2 February — so
//!   Saturday 1 February, first listed as a working day, was not worked;
//! - 2021: 国办发明电〔2020〕27号 (25 Nov 2020);
//! - 2022: 国办发明电〔2021〕11号 (25 Oct 2021);
//! - 2023: 国办发明电〔2022〕16号 (8 Dec 2022; its 元旦 starts 31 Dec 2022);
//! - 2024: 国办发明电〔2023〕7号 (25 Oct 2023; 除夕 only "encouraged", not a
//!   holiday);
//! - 2025: 国办发明电〔2024〕12号 (12 Nov 2024; the first year of the revised
//!   《全国年节及纪念日放假办法》: 除夕 is a holiday, 劳动节 has two days);
//! - 2026: 国办发明电〔2025〕7号 (4 Nov 2025).
//!
//! Holiday names are the notices' own, so the combined National Day and
//! Mid-Autumn holiday is 国庆节、中秋节 (2020, 2025) or 中秋节、国庆节 (2023).

use jiff::civil::{Date, date};

/// One holiday of a notice: the days off, and the weekend days worked
/// instead (上班).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub name: &'static str,
    pub first: Date,
    pub last: Date,
    pub workdays: &'static [Date],
}

/// One year's notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub year: i16,
    /// The document number (文号), e.g. 国办发明电〔2025〕7号.
    pub document: &'static str,
    pub issued: Date,
    pub holidays: &'static [Holiday],
}

const fn h(name: &'static str, first: Date, last: Date, workdays: &'static [Date]) -> Holiday {
    Holiday { name, first, last, workdays }
}

pub const NOTICES: &[Notice] = &[
    Notice {
        year: 2020,
        document: "国办发明电〔2019〕16号；国办发明电〔2020〕1号",
        issued: date(2019, 11, 21),
        holidays: &[
            h("元旦", date(2020, 1, 1), date(2020, 1, 1), &[]),
            // 1月24日至30日, extended to 2月2日 by 国办发明电〔2020〕1号; of
            // the two working days only 1月19日 remained.
            h("春节", date(2020, 1, 24), date(2020, 2, 2), &[date(2020, 1, 19)]),
            h("清明节", date(2020, 4, 4), date(2020, 4, 6), &[]),
            h("劳动节", date(2020, 5, 1), date(2020, 5, 5), &[date(2020, 4, 26), date(2020, 5, 9)]),
            h("端午节", date(2020, 6, 25), date(2020, 6, 27), &[date(2020, 6, 28)]),
            h("国庆节、中秋节", date(2020, 10, 1), date(2020, 10, 8), &[date(2020, 9, 27), date(2020, 10, 10)]),
        ],
    },
    Notice {
        year: 2021,
        document: "国办发明电〔2020〕27号",
        issued: date(2020, 11, 25),
        holidays: &[
            h("元旦", date(2021, 1, 1), date(2021, 1, 3), &[]),
            h("春节", date(2021, 2, 11), date(2021, 2, 17), &[date(2021, 2, 7), date(2021, 2, 20)]),
            h("清明节", date(2021, 4, 3), date(2021, 4, 5), &[]),
            h("劳动节", date(2021, 5, 1), date(2021, 5, 5), &[date(2021, 4, 25), date(2021, 5, 8)]),
            h("端午节", date(2021, 6, 12), date(2021, 6, 14), &[]),
            h("中秋节", date(2021, 9, 19), date(2021, 9, 21), &[date(2021, 9, 18)]),
            h("国庆节", date(2021, 10, 1), date(2021, 10, 7), &[date(2021, 9, 26), date(2021, 10, 9)]),
        ],
    },
    Notice {
        year: 2022,
        document: "国办发明电〔2021〕11号",
        issued: date(2021, 10, 25),
        holidays: &[
            h("元旦", date(2022, 1, 1), date(2022, 1, 3), &[]),
            h("春节", date(2022, 1, 31), date(2022, 2, 6), &[date(2022, 1, 29), date(2022, 1, 30)]),
            h("清明节", date(2022, 4, 3), date(2022, 4, 5), &[date(2022, 4, 2)]),
            h("劳动节", date(2022, 4, 30), date(2022, 5, 4), &[date(2022, 4, 24), date(2022, 5, 7)]),
            h("端午节", date(2022, 6, 3), date(2022, 6, 5), &[]),
            h("中秋节", date(2022, 9, 10), date(2022, 9, 12), &[]),
            h("国庆节", date(2022, 10, 1), date(2022, 10, 7), &[date(2022, 10, 8), date(2022, 10, 9)]),
        ],
    },
    Notice {
        year: 2023,
        document: "国办发明电〔2022〕16号",
        issued: date(2022, 12, 8),
        holidays: &[
            h("元旦", date(2022, 12, 31), date(2023, 1, 2), &[]),
            h("春节", date(2023, 1, 21), date(2023, 1, 27), &[date(2023, 1, 28), date(2023, 1, 29)]),
            h("清明节", date(2023, 4, 5), date(2023, 4, 5), &[]),
            h("劳动节", date(2023, 4, 29), date(2023, 5, 3), &[date(2023, 4, 23), date(2023, 5, 6)]),
            h("端午节", date(2023, 6, 22), date(2023, 6, 24), &[date(2023, 6, 25)]),
            h("中秋节、国庆节", date(2023, 9, 29), date(2023, 10, 6), &[date(2023, 10, 7), date(2023, 10, 8)]),
        ],
    },
    Notice {
        year: 2024,
        document: "国办发明电〔2023〕7号",
        issued: date(2023, 10, 25),
        holidays: &[
            // "1月1日放假，与周末连休": only the 1st is the holiday.
            h("元旦", date(2024, 1, 1), date(2024, 1, 1), &[]),
            h("春节", date(2024, 2, 10), date(2024, 2, 17), &[date(2024, 2, 4), date(2024, 2, 18)]),
            h("清明节", date(2024, 4, 4), date(2024, 4, 6), &[date(2024, 4, 7)]),
            h("劳动节", date(2024, 5, 1), date(2024, 5, 5), &[date(2024, 4, 28), date(2024, 5, 11)]),
            h("端午节", date(2024, 6, 10), date(2024, 6, 10), &[]),
            h("中秋节", date(2024, 9, 15), date(2024, 9, 17), &[date(2024, 9, 14)]),
            h("国庆节", date(2024, 10, 1), date(2024, 10, 7), &[date(2024, 9, 29), date(2024, 10, 12)]),
        ],
    },
    Notice {
        year: 2025,
        document: "国办发明电〔2024〕12号",
        issued: date(2024, 11, 12),
        holidays: &[
            h("元旦", date(2025, 1, 1), date(2025, 1, 1), &[]),
            h("春节", date(2025, 1, 28), date(2025, 2, 4), &[date(2025, 1, 26), date(2025, 2, 8)]),
            h("清明节", date(2025, 4, 4), date(2025, 4, 6), &[]),
            h("劳动节", date(2025, 5, 1), date(2025, 5, 5), &[date(2025, 4, 27)]),
            h("端午节", date(2025, 5, 31), date(2025, 6, 2), &[]),
            h("国庆节、中秋节", date(2025, 10, 1), date(2025, 10, 8), &[date(2025, 9, 28), date(2025, 10, 11)]),
        ],
    },
    Notice {
        year: 2026,
        document: "国办发明电〔2025〕7号",
        issued: date(2025, 11, 4),
        holidays: &[
            h("元旦", date(2026, 1, 1), date(2026, 1, 3), &[date(2026, 1, 4)]),
            h("春节", date(2026, 2, 15), date(2026, 2, 23), &[date(2026, 2, 14), date(2026, 2, 28)]),
            h("清明节", date(2026, 4, 4), date(2026, 4, 6), &[]),
            h("劳动节", date(2026, 5, 1), date(2026, 5, 5), &[date(2026, 5, 9)]),
            h("端午节", date(2026, 6, 19), date(2026, 6, 21), &[]),
            h("中秋节", date(2026, 9, 25), date(2026, 9, 27), &[]),
            h("国庆节", date(2026, 10, 1), date(2026, 10, 7), &[date(2026, 9, 20), date(2026, 10, 10)]),
        ],
    },
];

/// The years whose notices are shipped.
pub fn years() -> std::ops::RangeInclusive<i16> {
    let first = NOTICES.first().map_or(0, |n| n.year);
    let last = NOTICES.last().map_or(0, |n| n.year);
    first..=last
}

/// The notice of a year, if shipped.
pub fn notice(year: i16) -> Option<&'static Notice> {
    NOTICES.iter().find(|n| n.year == year)
}

/// What the notices say of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatutoryDay {
    /// `false`: a day off; `true`: a weekend day worked instead (调休上班).
    pub working: bool,
    /// The holiday it belongs to, e.g. 春节.
    pub holiday: &'static str,
}

impl StatutoryDay {
    /// 春节 for a day off, 春节调休上班 for a day worked instead.
    pub fn name(&self) -> String {
        if self.working { format!("{}调休上班", self.holiday) } else { self.holiday.to_string() }
    }
}

/// The statutory status of a date; `None` for an ordinary day or a year
/// without a shipped notice.
pub fn on(d: Date) -> Option<StatutoryDay> {
    // A notice's days lie in its year, except a 元旦 that starts on
    // 31 December of the year before (2023).
    let candidates = [notice(d.year()), notice(d.year().saturating_add(1))];
    candidates.into_iter().flatten().flat_map(|n| n.holidays.iter()).find_map(|h| {
        if h.first <= d && d <= h.last {
            Some(StatutoryDay { working: false, holiday: h.name })
        } else if h.workdays.contains(&d) {
            Some(StatutoryDay { working: true, holiday: h.name })
        } else {
            None
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use jiff::civil::Weekday;
    use std::collections::BTreeMap;

    /// Every notice, typed again from its text: holiday (first, last, the
    /// "共N天" count) and each adjusted working day with the weekday the
    /// notice gives it. A day not listed here must be ordinary.
    #[allow(clippy::type_complexity)]
    const EXPECTED: &[(i16, &[(&str, &str, &str, i32)], &[(&str, &str, Weekday)])] = &[
        (
            2020,
            &[
                ("元旦", "2020-01-01", "2020-01-01", 1),
                ("春节", "2020-01-24", "2020-02-02", 10), // 7 days, extended to 2 Feb
                ("清明节", "2020-04-04", "2020-04-06", 3),
                ("劳动节", "2020-05-01", "2020-05-05", 5),
                ("端午节", "2020-06-25", "2020-06-27", 3),
                ("国庆节、中秋节", "2020-10-01", "2020-10-08", 8),
            ],
            &[
                ("春节", "2020-01-19", Weekday::Sunday),
                ("劳动节", "2020-04-26", Weekday::Sunday),
                ("劳动节", "2020-05-09", Weekday::Saturday),
                ("端午节", "2020-06-28", Weekday::Sunday),
                ("国庆节、中秋节", "2020-09-27", Weekday::Sunday),
                ("国庆节、中秋节", "2020-10-10", Weekday::Saturday),
            ],
        ),
        (
            2021,
            &[
                ("元旦", "2021-01-01", "2021-01-03", 3),
                ("春节", "2021-02-11", "2021-02-17", 7),
                ("清明节", "2021-04-03", "2021-04-05", 3),
                ("劳动节", "2021-05-01", "2021-05-05", 5),
                ("端午节", "2021-06-12", "2021-06-14", 3),
                ("中秋节", "2021-09-19", "2021-09-21", 3),
                ("国庆节", "2021-10-01", "2021-10-07", 7),
            ],
            &[
                ("春节", "2021-02-07", Weekday::Sunday),
                ("春节", "2021-02-20", Weekday::Saturday),
                ("劳动节", "2021-04-25", Weekday::Sunday),
                ("劳动节", "2021-05-08", Weekday::Saturday),
                ("中秋节", "2021-09-18", Weekday::Saturday),
                ("国庆节", "2021-09-26", Weekday::Sunday),
                ("国庆节", "2021-10-09", Weekday::Saturday),
            ],
        ),
        (
            2022,
            &[
                ("元旦", "2022-01-01", "2022-01-03", 3),
                ("春节", "2022-01-31", "2022-02-06", 7),
                ("清明节", "2022-04-03", "2022-04-05", 3),
                ("劳动节", "2022-04-30", "2022-05-04", 5),
                ("端午节", "2022-06-03", "2022-06-05", 3),
                ("中秋节", "2022-09-10", "2022-09-12", 3),
                ("国庆节", "2022-10-01", "2022-10-07", 7),
            ],
            &[
                ("春节", "2022-01-29", Weekday::Saturday),
                ("春节", "2022-01-30", Weekday::Sunday),
                ("清明节", "2022-04-02", Weekday::Saturday),
                ("劳动节", "2022-04-24", Weekday::Sunday),
                ("劳动节", "2022-05-07", Weekday::Saturday),
                ("国庆节", "2022-10-08", Weekday::Saturday),
                ("国庆节", "2022-10-09", Weekday::Sunday),
            ],
        ),
        (
            2023,
            &[
                ("元旦", "2022-12-31", "2023-01-02", 3),
                ("春节", "2023-01-21", "2023-01-27", 7),
                ("清明节", "2023-04-05", "2023-04-05", 1),
                ("劳动节", "2023-04-29", "2023-05-03", 5),
                ("端午节", "2023-06-22", "2023-06-24", 3),
                ("中秋节、国庆节", "2023-09-29", "2023-10-06", 8),
            ],
            &[
                ("春节", "2023-01-28", Weekday::Saturday),
                ("春节", "2023-01-29", Weekday::Sunday),
                ("劳动节", "2023-04-23", Weekday::Sunday),
                ("劳动节", "2023-05-06", Weekday::Saturday),
                ("端午节", "2023-06-25", Weekday::Sunday),
                ("中秋节、国庆节", "2023-10-07", Weekday::Saturday),
                ("中秋节、国庆节", "2023-10-08", Weekday::Sunday),
            ],
        ),
        (
            2024,
            &[
                ("元旦", "2024-01-01", "2024-01-01", 1),
                ("春节", "2024-02-10", "2024-02-17", 8),
                ("清明节", "2024-04-04", "2024-04-06", 3),
                ("劳动节", "2024-05-01", "2024-05-05", 5),
                ("端午节", "2024-06-10", "2024-06-10", 1),
                ("中秋节", "2024-09-15", "2024-09-17", 3),
                ("国庆节", "2024-10-01", "2024-10-07", 7),
            ],
            &[
                ("春节", "2024-02-04", Weekday::Sunday),
                ("春节", "2024-02-18", Weekday::Sunday),
                ("清明节", "2024-04-07", Weekday::Sunday),
                ("劳动节", "2024-04-28", Weekday::Sunday),
                ("劳动节", "2024-05-11", Weekday::Saturday),
                ("中秋节", "2024-09-14", Weekday::Saturday),
                ("国庆节", "2024-09-29", Weekday::Sunday),
                ("国庆节", "2024-10-12", Weekday::Saturday),
            ],
        ),
        (
            2025,
            &[
                ("元旦", "2025-01-01", "2025-01-01", 1),
                ("春节", "2025-01-28", "2025-02-04", 8),
                ("清明节", "2025-04-04", "2025-04-06", 3),
                ("劳动节", "2025-05-01", "2025-05-05", 5),
                ("端午节", "2025-05-31", "2025-06-02", 3),
                ("国庆节、中秋节", "2025-10-01", "2025-10-08", 8),
            ],
            &[
                ("春节", "2025-01-26", Weekday::Sunday),
                ("春节", "2025-02-08", Weekday::Saturday),
                ("劳动节", "2025-04-27", Weekday::Sunday),
                ("国庆节、中秋节", "2025-09-28", Weekday::Sunday),
                ("国庆节、中秋节", "2025-10-11", Weekday::Saturday),
            ],
        ),
        (
            2026,
            &[
                ("元旦", "2026-01-01", "2026-01-03", 3),
                ("春节", "2026-02-15", "2026-02-23", 9),
                ("清明节", "2026-04-04", "2026-04-06", 3),
                ("劳动节", "2026-05-01", "2026-05-05", 5),
                ("端午节", "2026-06-19", "2026-06-21", 3),
                ("中秋节", "2026-09-25", "2026-09-27", 3),
                ("国庆节", "2026-10-01", "2026-10-07", 7),
            ],
            &[
                ("元旦", "2026-01-04", Weekday::Sunday),
                ("春节", "2026-02-14", Weekday::Saturday),
                ("春节", "2026-02-28", Weekday::Saturday),
                ("劳动节", "2026-05-09", Weekday::Saturday),
                ("国庆节", "2026-09-20", Weekday::Sunday),
                ("国庆节", "2026-10-10", Weekday::Saturday),
            ],
        ),
    ];

    #[test]
    fn shipped_data_matches_every_notice_day_by_day() {
        let mut expected: BTreeMap<Date, (bool, String)> = BTreeMap::new();
        for (year, holidays, workdays) in EXPECTED {
            assert!(notice(*year).is_some(), "{year} shipped");
            for (name, first, last, days) in *holidays {
                let (first, last): (Date, Date) = (first.parse().unwrap(), last.parse().unwrap());
                let mut n = 0;
                let mut d = first;
                while d <= last {
                    assert!(expected.insert(d, (false, (*name).to_string())).is_none(), "{d} twice");
                    d = d.tomorrow().unwrap();
                    n += 1;
                }
                assert_eq!(n, *days, "{year} {name}: 共{days}天");
            }
            for (name, day, weekday) in *workdays {
                let d: Date = day.parse().unwrap();
                assert_eq!(d.weekday(), *weekday, "{d} is a {weekday:?} in the notice");
                assert!(expected.insert(d, (true, format!("{name}调休上班"))).is_none(), "{d} twice");
            }
        }
        assert_eq!(years(), 2020..=2026);
        let mut d = jiff::civil::date(2019, 12, 1);
        while d <= jiff::civil::date(2026, 12, 31) {
            let got = on(d).map(|s| (s.working, s.name()));
            assert_eq!(got, expected.get(&d).cloned(), "{d}");
            d = d.checked_add(1.day()).unwrap();
        }
        assert_eq!(on(jiff::civil::date(2027, 1, 1)), None, "no notice for 2027 is shipped");
    }

    #[test]
    fn the_2025_rules_give_new_years_eve_and_a_second_may_day() {
        // Since 2025 the Spring Festival holiday starts on 除夕 (农历腊月最后一天).
        assert_eq!(on(jiff::civil::date(2025, 1, 28)).unwrap().holiday, "春节");
        assert_eq!(on(jiff::civil::date(2024, 2, 9)), None, "2024: 除夕 only encouraged");
        let may = |y| notice(y).unwrap().holidays.iter().find(|h| h.name == "劳动节").unwrap().workdays.len();
        assert_eq!((may(2024), may(2025), may(2026)), (2, 1, 1), "fewer make-up days for 劳动节");
    }
}
