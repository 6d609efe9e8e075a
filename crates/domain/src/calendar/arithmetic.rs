//! Working-time arithmetic on a [`BusinessCalendar`]: "N working days
//! after", "N working hours after", the working time between two instants,
//! and the next instant someone is at work.
//!
//! Working time is the union of each working day's ranges, `[start, end)`,
//! placed in the business time zone. A search that finds no working time
//! for [`HORIZON_DAYS`] days in a row gives up (`None`): a calendar an
//! administrator closed for years is a mistake to show, not to loop over.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::BusinessCalendar;
use super::hours::{ClockTime, Interval};

/// How many days without working time a search walks before giving up.
pub const HORIZON_DAYS: u32 = 3 * 366;

impl BusinessCalendar {
    /// The instant of a time of day on a date in the business time zone
    /// (`24:00` is the next midnight).
    fn instant(&self, date: Date, t: ClockTime) -> Option<Timestamp> {
        let (date, time) = match t.to_time() {
            Some(time) => (date, time),
            None => (date.tomorrow().ok()?, jiff::civil::Time::midnight()),
        };
        date.to_datetime(time).to_zoned(self.tz.clone()).ok().map(|z| z.timestamp())
    }

    /// The working ranges of a date as instants, in order.
    fn ranges_on(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        self.hours_on(date)
            .iter()
            .filter_map(|i: &Interval| {
                let (s, e) = (self.instant(date, i.start())?, self.instant(date, i.end())?);
                (s < e).then_some((s, e))
            })
            .collect()
    }

    /// The business date of an instant, one day back: a range of the
    /// previous day may end after the instant only if it ends at midnight,
    /// but starting a day early keeps the walks simple and safe.
    fn walk_start(&self, at: Timestamp) -> Option<Date> {
        at.to_zoned(self.tz.clone()).date().yesterday().ok()
    }

    /// The `n`-th working day after `date` (`date` itself for `n = 0`).
    /// From Tuesday 2025-09-30, 3 working days later is Saturday 2025-10-11:
    /// 1–8 October are the holiday, and that Saturday is worked (调休).
    pub fn add_working_days(&self, date: Date, n: u32) -> Option<Date> {
        let (mut d, mut left, mut idle) = (date, n, 0);
        while left > 0 {
            d = d.tomorrow().ok()?;
            if self.is_working_day(d) {
                left -= 1;
                idle = 0;
            } else {
                idle += 1;
                if idle > HORIZON_DAYS {
                    return None;
                }
            }
        }
        Some(d)
    }

    /// `at` itself when it is working time, else the start of the next
    /// working range.
    pub fn next_working_instant(&self, at: Timestamp) -> Option<Timestamp> {
        let mut d = self.walk_start(at)?;
        for _ in 0..=HORIZON_DAYS + 2 {
            if let Some((s, _)) = self.ranges_on(d).into_iter().find(|(_, e)| *e > at) {
                return Some(s.max(at));
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// The instant `duration` of working time after `from` ("2 working
    /// hours after"). A result at the very end of a range stays there (a
    /// deadline of 18:00 Friday, not 09:00 Monday). `None` for a negative
    /// duration, or when no working time is found within the horizon.
    pub fn add_working_duration(&self, from: Timestamp, duration: SignedDuration) -> Option<Timestamp> {
        if duration.is_negative() {
            return None;
        }
        if duration.is_zero() {
            return Some(from);
        }
        let mut left = duration;
        let mut d = self.walk_start(from)?;
        let mut idle = 0;
        loop {
            let mut worked = false;
            for (s, e) in self.ranges_on(d) {
                if e <= from {
                    continue;
                }
                worked = true;
                let start = s.max(from);
                let available = start.duration_until(e);
                if left <= available {
                    return start.checked_add(left).ok();
                }
                left -= available;
            }
            idle = if worked { 0 } else { idle + 1 };
            if idle > HORIZON_DAYS {
                return None;
            }
            d = d.tomorrow().ok()?;
        }
    }

    /// The working time from `a` to `b` in working days of the schedule
    /// (fractional: 3 working hours on the default 7.5-hour day are 0.4).
    #[allow(clippy::cast_precision_loss)]
    pub fn working_days_between(&self, a: Timestamp, b: Timestamp) -> f64 {
        let day = self.schedule.working_day_minutes().max(1);
        self.working_duration_between(a, b).as_secs_f64() / 60.0 / f64::from(day)
    }

    /// The working time from `a` to `b` (negative when `b` is earlier).
    pub fn working_duration_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        if b < a {
            return -self.working_duration_between(b, a);
        }
        let Some(mut d) = self.walk_start(a) else {
            return SignedDuration::ZERO;
        };
        let last = b.to_zoned(self.tz.clone()).date();
        let mut total = SignedDuration::ZERO;
        while d <= last {
            for (s, e) in self.ranges_on(d) {
                let (s, e) = (s.max(a), e.min(b));
                if s < e {
                    total += s.duration_until(e);
                }
            }
            match d.checked_add(1.day()) {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        total
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::{DayOverride, WeeklySchedule};
    use super::*;
    use jiff::civil::date;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn standard() -> BusinessCalendar {
        BusinessCalendar::new(WeeklySchedule::standard(), [], shanghai())
    }

    fn at(s: &str) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s).unwrap().to_zoned(shanghai()).unwrap().timestamp()
    }

    #[test]
    fn three_working_days_after_the_friday_before_golden_week() {
        let cal = standard();
        // 2025: 国庆节、中秋节 1–8 October off; Sunday 28 September and
        // Saturday 11 October worked.
        let friday = date(2025, 9, 26);
        assert_eq!(cal.add_working_days(friday, 1), Some(date(2025, 9, 28)), "Sunday, worked (调休)");
        assert_eq!(cal.add_working_days(friday, 2), Some(date(2025, 9, 29)));
        assert_eq!(cal.add_working_days(friday, 3), Some(date(2025, 9, 30)));
        assert_eq!(cal.add_working_days(friday, 0), Some(friday));
        // Closed on the last working day before the holiday: the count
        // skips 1–8 October and counts the adjusted Saturday.
        let tuesday = date(2025, 9, 30);
        assert_eq!(cal.add_working_days(tuesday, 1), Some(date(2025, 10, 9)));
        assert_eq!(cal.add_working_days(tuesday, 2), Some(date(2025, 10, 10)));
        assert_eq!(cal.add_working_days(tuesday, 3), Some(date(2025, 10, 11)), "Saturday, worked (调休)");
        // 2026's Spring Festival: closed Friday 13 February, the Saturday
        // before the holiday is worked, then 15–23 February off.
        assert_eq!(cal.add_working_days(date(2026, 2, 13), 1), Some(date(2026, 2, 14)));
        assert_eq!(cal.add_working_days(date(2026, 2, 13), 2), Some(date(2026, 2, 24)));
    }

    #[test]
    fn working_hours_skip_lunch_nights_and_holidays() {
        let cal = standard();
        let h = SignedDuration::from_hours;
        // Two working hours after Friday 17:00: one on Friday, one on the
        // adjusted Sunday.
        assert_eq!(cal.add_working_duration(at("2025-09-26 17:00"), h(2)), Some(at("2025-09-28 10:00")));
        // Over lunch: 11:00 + 2h = 14:30.
        assert_eq!(cal.add_working_duration(at("2026-03-04 11:00"), h(2)), Some(at("2026-03-04 14:30")));
        // Ending exactly at closing time stays on that day.
        assert_eq!(cal.add_working_duration(at("2026-03-04 16:00"), h(2)), Some(at("2026-03-04 18:00")));
        // Saturday night → Monday morning.
        assert_eq!(cal.next_working_instant(at("2026-03-07 22:00")), Some(at("2026-03-09 09:00")));
        assert_eq!(cal.next_working_instant(at("2026-03-09 12:15")), Some(at("2026-03-09 13:30")));
        assert_eq!(cal.next_working_instant(at("2026-03-09 10:00")), Some(at("2026-03-09 10:00")));
        // A working day has 7.5 hours; the Spring Festival week none.
        assert_eq!(
            cal.working_duration_between(at("2026-03-04 00:00"), at("2026-03-05 00:00")),
            h(7) + SignedDuration::from_mins(30)
        );
        assert_eq!(cal.working_duration_between(at("2026-02-15 00:00"), at("2026-02-24 00:00")), SignedDuration::ZERO);
        assert_eq!(
            cal.working_duration_between(at("2026-03-05 00:00"), at("2026-03-04 00:00")),
            -(h(7) + SignedDuration::from_mins(30))
        );
        assert_eq!(cal.add_working_duration(at("2026-03-04 11:00"), h(-1)), None);
        // In working days of 7.5 h: Friday 16:00 before the 2025 golden
        // week to Thursday 9 October 10:30 is 2 h + the adjusted Sunday,
        // Monday, Tuesday (3 days) + 1.5 h: 3.5 h + 3 days.
        let days = cal.working_days_between(at("2025-09-26 16:00"), at("2025-10-09 10:30"));
        assert!((days - (3.0 + 3.5 / 7.5)).abs() < 1e-9, "{days}");
        let round = BusinessCalendar::new(WeeklySchedule::around_the_clock(), [], shanghai());
        assert!((round.working_days_between(at("2026-03-04 06:00"), at("2026-03-05 18:00")) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn a_calendar_closed_for_years_gives_up() {
        let closed: Vec<DayOverride> = (0..4 * 366)
            .map(|k| DayOverride { date: date(2030, 1, 1).checked_add(k.days()).unwrap(), working: false, name: None })
            .collect();
        let cal = BusinessCalendar::new(WeeklySchedule::standard(), closed, shanghai());
        assert_eq!(cal.add_working_days(date(2030, 1, 1), 1), None);
        assert_eq!(cal.add_working_duration(at("2030-01-01 10:00"), SignedDuration::from_hours(1)), None);
        assert_eq!(cal.next_working_instant(at("2030-01-01 10:00")), None);
    }

    fn quarter(q: u16) -> ClockTime {
        ClockTime::new(q / 4, q % 4 * 15).unwrap()
    }

    /// A valid schedule: up to three ranges a day on a quarter-hour grid,
    /// at least one day with hours.
    fn schedules() -> impl Strategy<Value = WeeklySchedule> {
        let day = proptest::collection::btree_set(0u16..=96, 0..=6).prop_map(|points| {
            let v: Vec<u16> = points.into_iter().collect();
            v.chunks_exact(2).map(|p| Interval::new(quarter(p[0]), quarter(p[1])).unwrap()).collect::<Vec<_>>()
        });
        (proptest::array::uniform7(day), any::<bool>())
            .prop_filter_map("a week with hours", |(days, observes)| WeeklySchedule::new(days, observes).ok())
    }

    fn calendars() -> impl Strategy<Value = BusinessCalendar> {
        let overrides = proptest::collection::vec((0i32..900, any::<bool>()), 0..20);
        prop_oneof![Just(WeeklySchedule::standard()), Just(WeeklySchedule::around_the_clock()), schedules(),]
            .prop_flat_map(move |s| (Just(s), overrides.clone(), prop_oneof!["Asia/Shanghai", "Europe/Berlin"]))
            .prop_map(|(s, o, tz)| {
                let o = o.into_iter().map(|(k, working)| DayOverride {
                    date: date(2024, 6, 1).checked_add(k.days()).unwrap(),
                    working,
                    name: None,
                });
                // The business zone is a setting: one with summer time too.
                BusinessCalendar::new(s, o, TimeZone::get(&tz).unwrap())
            })
    }

    /// Instants from 2024 to the end of 2026, to the second.
    fn instants() -> impl Strategy<Value = Timestamp> {
        let (a, b) = (at("2024-01-01 00:00").as_second(), at("2026-12-31 00:00").as_second());
        (a..b).prop_map(|s| Timestamp::from_second(s).unwrap())
    }

    /// Up to 300 working hours, to the second.
    fn durations() -> impl Strategy<Value = SignedDuration> {
        (0i64..300 * 3600).prop_map(SignedDuration::from_secs)
    }

    fn in_range(cal: &BusinessCalendar, t: Timestamp, closed_end: bool) -> bool {
        let d = t.to_zoned(cal.tz.clone()).date();
        [d.yesterday().unwrap(), d]
            .iter()
            .flat_map(|d| cal.ranges_on(*d))
            .any(|(s, e)| if closed_end { s < t && t <= e } else { s <= t && t < e })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn adding_then_measuring_gives_the_duration_back(cal in calendars(), a in instants(), d in durations()) {
            let b = cal.add_working_duration(a, d).unwrap();
            prop_assert!(b >= a);
            prop_assert_eq!(cal.working_duration_between(a, b), d);
        }

        #[test]
        fn results_fall_inside_working_ranges(cal in calendars(), a in instants(), d in durations()) {
            let b = cal.add_working_duration(a, d).unwrap();
            if d.is_positive() {
                prop_assert!(in_range(&cal, b, true), "{} + {:?} = {}", a, d, b);
            }
            let n = cal.next_working_instant(a).unwrap();
            prop_assert!(n >= a && in_range(&cal, n, false));
            prop_assert_eq!(cal.working_duration_between(a, n), SignedDuration::ZERO);
        }

        #[test]
        fn adding_is_monotonic(cal in calendars(), a in instants(), b in instants(), d in durations(), e in durations()) {
            let (a, b) = (a.min(b), a.max(b));
            let (d, e) = (d.min(e), d.max(e));
            prop_assert!(cal.add_working_duration(a, d).unwrap() <= cal.add_working_duration(a, e).unwrap());
            prop_assert!(cal.add_working_duration(a, d).unwrap() <= cal.add_working_duration(b, d).unwrap());
        }

        #[test]
        fn measuring_adds_up(cal in calendars(), a in instants(), b in instants(), c in instants()) {
            let mut v = [a, b, c];
            v.sort();
            let [a, b, c] = v;
            prop_assert_eq!(
                cal.working_duration_between(a, b) + cal.working_duration_between(b, c),
                cal.working_duration_between(a, c)
            );
            prop_assert!(!cal.working_duration_between(a, c).is_negative());
        }

        #[test]
        fn working_days_count_only_working_days(cal in calendars(), k in 0i32..900, n in 0u32..40) {
            let start = date(2024, 6, 1).checked_add(k.days()).unwrap();
            let end = cal.add_working_days(start, n).unwrap();
            let mut count = 0;
            let mut d = start;
            while d < end {
                d = d.tomorrow().unwrap();
                if cal.is_working_day(d) {
                    count += 1;
                }
            }
            prop_assert_eq!(count, n);
            prop_assert!(n == 0 || cal.is_working_day(end));
            prop_assert!(cal.add_working_days(start, n + 1).unwrap() > end);
        }
    }
}
