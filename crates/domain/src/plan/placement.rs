//! Where a task's due instant falls (M2): on a working day of the business
//! calendar, at the end of the customer's preferred contact window on that
//! day (or, without one, at the end of the day's working hours). A task is
//! due by the end of the time in which the customer can be reached that
//! day, so "done on time" (M6) never asks for a call outside it.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::ContactWindow;
use crate::calendar::{BusinessCalendar, ClockTime};

/// When a scenario wants its task done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// On a working day between the two dates, as late as possible (a
    /// deadline such as "within 3 working days", "3 days before the
    /// birthday"); when none of them is worked, the first working day after.
    Within { earliest: Date, latest: Date },
    /// On this date or the first working day after it.
    OnOrAfter(Date),
    /// By an instant: the latest moment the customer can be reached before
    /// `deadline` and after `from`; the deadline itself when there is none
    /// (churn recovery: within 24 hours, whatever the calendar says).
    By { from: Timestamp, deadline: Timestamp },
}

/// A placed due time: the business date and the instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub on: Date,
    pub at: Timestamp,
}

/// How far a search for a working day walks before giving up.
const SEARCH_DAYS: i32 = 400;

fn instant(cal: &BusinessCalendar, date: Date, t: ClockTime) -> Option<Timestamp> {
    let (date, time) = match t.to_time() {
        Some(time) => (date, time),
        None => (date.tomorrow().ok()?, jiff::civil::Time::midnight()),
    };
    date.to_datetime(time).to_zoned(cal.time_zone().clone()).ok().map(|z| z.timestamp())
}

/// The ranges of a date in which the customer may be contacted: the
/// window on a working day, or the day's working hours.
fn reachable(cal: &BusinessCalendar, date: Date, window: Option<ContactWindow>) -> Vec<(Timestamp, Timestamp)> {
    if !cal.is_working_day(date) {
        return Vec::new();
    }
    let ranges: Vec<(ClockTime, ClockTime)> = match window {
        Some(w) => vec![(w.start, w.end)],
        None => cal.hours_on(date).iter().map(|i| (i.start(), i.end())).collect(),
    };
    ranges.into_iter().filter_map(|(s, e)| Some((instant(cal, date, s)?, instant(cal, date, e)?))).collect()
}

/// The end of the last reachable range of a date.
fn end_of_day(cal: &BusinessCalendar, date: Date, window: Option<ContactWindow>) -> Option<Timestamp> {
    reachable(cal, date, window).last().map(|r| r.1)
}

/// 18:00 of a date: the due time when the calendar finds no working day at all.
fn fallback(cal: &BusinessCalendar, date: Date) -> Due {
    let at = ClockTime::new(18, 0).and_then(|t| instant(cal, date, t)).unwrap_or(Timestamp::UNIX_EPOCH);
    Due { on: date, at }
}

fn on_or_after(cal: &BusinessCalendar, date: Date, window: Option<ContactWindow>) -> Due {
    let mut d = date;
    for _ in 0..SEARCH_DAYS {
        if let Some(at) = end_of_day(cal, d, window) {
            return Due { on: d, at };
        }
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    fallback(cal, date)
}

/// Places a target on the calendar and in the contact window.
pub fn place(target: &Target, cal: &BusinessCalendar, window: Option<ContactWindow>) -> Due {
    match *target {
        Target::OnOrAfter(d) => on_or_after(cal, d, window),
        Target::Within { earliest, latest } => {
            let mut d = latest;
            while d >= earliest {
                if let Some(at) = end_of_day(cal, d, window) {
                    return Due { on: d, at };
                }
                match d.yesterday() {
                    Ok(p) => d = p,
                    Err(_) => break,
                }
            }
            on_or_after(cal, latest.tomorrow().unwrap_or(latest), window)
        }
        Target::By { from, deadline } => {
            let tz = cal.time_zone();
            let first = from.to_zoned(tz.clone()).date();
            let mut d = deadline.to_zoned(tz.clone()).date();
            while d >= first {
                let best = reachable(cal, d, window)
                    .into_iter()
                    .filter(|(s, _)| *s < deadline)
                    .map(|(_, e)| e.min(deadline))
                    .filter(|e| *e > from)
                    .max();
                if let Some(at) = best {
                    return Due { on: d, at };
                }
                match d.yesterday() {
                    Ok(p) => d = p,
                    Err(_) => break,
                }
            }
            Due { on: deadline.to_zoned(tz.clone()).date(), at: deadline }
        }
    }
}

/// `n` days after `d` (before, for negative `n`), clamped to the calendar's range.
pub(crate) fn shift(d: Date, n: i64) -> Date {
    d.checked_add(n.days()).unwrap_or(d)
}

/// `t` plus whole hours.
pub(crate) fn plus_hours(t: Timestamp, hours: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_hours(hours)).unwrap_or(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::calendar::WeeklySchedule;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(WeeklySchedule::standard(), [], TimeZone::get("Asia/Shanghai").unwrap())
    }

    fn local(d: &Due) -> String {
        d.at.to_zoned(TimeZone::get("Asia/Shanghai").unwrap()).strftime("%Y-%m-%d %H:%M").to_string()
    }

    #[test]
    fn due_at_the_end_of_the_working_day_or_the_window() {
        let c = cal();
        let due = place(&Target::OnOrAfter(date(2025, 10, 1)), &c, None);
        assert_eq!(local(&due), "2025-10-09 18:00", "after the Golden Week");
        let evening = ContactWindow::parse("晚上8点以后");
        assert_eq!(local(&place(&Target::OnOrAfter(date(2025, 9, 29)), &c, evening)), "2025-09-29 22:00");
    }

    #[test]
    fn within_a_range_as_late_as_possible() {
        let c = cal();
        // Three days before the Mid-Autumn Festival of 2025 (6 October) is
        // a holiday: the Tuesday before the Golden Week.
        let t = Target::Within { earliest: date(2025, 9, 26), latest: date(2025, 10, 3) };
        assert_eq!(local(&place(&t, &c, None)), "2025-09-30 18:00");
        // The adjusted working Saturday counts.
        let t = Target::Within { earliest: date(2025, 10, 11), latest: date(2025, 10, 11) };
        assert_eq!(local(&place(&t, &c, None)), "2025-10-11 18:00");
        // Nothing worked in the range: the first working day after.
        let t = Target::Within { earliest: date(2025, 10, 2), latest: date(2025, 10, 4) };
        assert_eq!(local(&place(&t, &c, None)), "2025-10-09 18:00");
    }

    #[test]
    fn by_a_deadline() {
        let c = cal();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // Raised at 02:00 on a Monday: due by 18:00 that day.
        let t = Target::By { from: at("2025-09-28T18:00:00Z"), deadline: at("2025-09-29T18:00:00Z") };
        assert_eq!(local(&place(&t, &c, None)), "2025-09-29 18:00");
        // Raised at 15:00: 24 hours later is 15:00 the next day, in working time.
        let t = Target::By { from: at("2025-09-29T07:00:00Z"), deadline: at("2025-09-30T07:00:00Z") };
        assert_eq!(local(&place(&t, &c, None)), "2025-09-30 15:00");
        // An evening window: the evening of the day the warning came.
        let t = Target::By { from: at("2025-09-28T18:00:00Z"), deadline: at("2025-09-29T18:00:00Z") };
        assert_eq!(local(&place(&t, &c, ContactWindow::parse("20:00以后"))), "2025-09-29 22:00");
        // Raised on the first day of the holiday: no working time within
        // 24 hours, so the deadline itself.
        let t = Target::By { from: at("2025-09-30T18:00:00Z"), deadline: at("2025-10-01T18:00:00Z") };
        assert_eq!(local(&place(&t, &c, None)), "2025-10-02 02:00");
    }
}
