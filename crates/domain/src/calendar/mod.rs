//! The business calendar (SPEC M3, 工作日历): which days are worked and in
//! which hours, and the working-time arithmetic every deadline rests on
//! ("a revisit within 3 working days", "2 working hours after").
//!
//! A day's status is decided, first to last: an administrator's
//! [`DayOverride`]; the State Council's notice for the year
//! ([`statutory`]: holidays and the weekend days worked instead, 调休上班);
//! the weekly schedule ([`hours`]). A schedule that does not observe
//! holidays (online chat 7×24) only looks at the weekday. Traditional
//! festivals ([`lunar`]) only name days; they never decide whether a day is
//! worked.
//!
//! Everything is computed in the business time zone given to
//! [`BusinessCalendar::new`]; instants are UTC [`jiff::Timestamp`]s and
//! `now` is always an argument.

mod arithmetic;
pub mod hours;
pub mod lunar;
pub mod statutory;

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;

pub use hours::{ClockTime, Interval, ScheduleHours, WeeklySchedule};
pub use lunar::Festival;

use crate::Lang;
use crate::validation::{Issue, ValidationErrors};

/// The dates the calendar answers for: those whose festivals are computed.
pub const YEARS: std::ops::RangeInclusive<i16> = lunar::YEARS;

/// The longest name an administrator may give a day.
pub const MAX_NAME: usize = 20;

/// A calendar date in [`YEARS`], as `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Result<Date, Issue> {
    let d = crate::customer::parse_date(raw)?;
    if YEARS.contains(&d.year()) { Ok(d) } else { Err(Issue::OutOfRange) }
}

/// The most days one range query may cover (a leap year).
pub const MAX_RANGE_DAYS: u32 = 366;

/// A date range `from ..= to` of at most [`MAX_RANGE_DAYS`] days; errors
/// name `from` and `to`.
pub fn parse_range(from: Option<&str>, to: Option<&str>) -> Result<(Date, Date), ValidationErrors> {
    let mut e = ValidationErrors::new();
    let mut one = |field: &str, raw: Option<&str>| {
        let raw = raw.map(str::trim).filter(|r| !r.is_empty());
        e.check(field, raw.ok_or(Issue::Required).and_then(parse_date))
    };
    let (from, to) = (one("from", from), one("to", to));
    if let (Some(f), Some(t)) = (from, to) {
        let days = (t - f).get_days();
        if days < 0 {
            e.add("to", Issue::BeforeStart);
        } else if days >= i32::try_from(MAX_RANGE_DAYS).unwrap_or(i32::MAX) {
            e.add("to", Issue::RangeTooLong { max_days: MAX_RANGE_DAYS });
        }
    }
    match (from, to) {
        (Some(f), Some(t)) if e.is_empty() => Ok((f, t)),
        _ => Err(e),
    }
}

/// An administrator's decision about one day. It wins over the shipped
/// statutory data: a company holiday, a day the notice has not reached yet,
/// or a 调休 the company does not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOverride {
    pub date: Date,
    pub working: bool,
    /// Shown instead of the statutory name (e.g. 公司年会).
    pub name: Option<String>,
}

impl DayOverride {
    /// Reads an override; errors name `date`, `working` and `name`.
    pub fn parse(date: &str, working: Option<bool>, name: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let date = e.check("date", parse_date(date));
        let working = e.check("working", working.ok_or(Issue::Required));
        let name = e.check("name", crate::validation::optional_text(name, MAX_NAME, false));
        match (date, working, name) {
            (Some(date), Some(working), Some(name)) if e.is_empty() => Ok(Self { date, working, name }),
            _ => Err(e),
        }
    }
}

/// How a day is worked, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A working day of the weekly schedule.
    Workday,
    /// A day off of the weekly schedule (a weekend).
    RestDay,
    /// A day off by the statutory notice or an override.
    Holiday,
    /// A day the schedule has off, worked by the notice or an override (调休上班).
    AdjustedWorkday,
}

impl DayKind {
    pub fn code(self) -> &'static str {
        match self {
            DayKind::Workday => "workday",
            DayKind::RestDay => "rest_day",
            DayKind::Holiday => "holiday",
            DayKind::AdjustedWorkday => "adjusted_workday",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            DayKind::Workday => lang.pick("工作日", "Working day"),
            DayKind::RestDay => lang.pick("休息日", "Day off"),
            DayKind::Holiday => lang.pick("节假日", "Holiday"),
            DayKind::AdjustedWorkday => lang.pick("调休上班", "Make-up working day"),
        }
    }
}

/// One day as the calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: Date,
    pub working: bool,
    pub kind: DayKind,
    /// The holiday or adjusted working day's name, and the festival's,
    /// joined (春节、除夕); `None` for an ordinary day.
    pub name: Option<String>,
    pub festival: Option<Festival>,
    /// An administrator's override decided the day.
    pub overridden: bool,
}

/// The calendar of one schedule: the weekly hours, the administrator's
/// overrides and the shipped statutory data, in the business time zone.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    schedule: WeeklySchedule,
    overrides: BTreeMap<Date, DayOverride>,
    tz: TimeZone,
}

/// `base、festival`, unless the base name already says it (春节 on 春节,
/// 国庆节、中秋节 on 中秋节).
fn join_names(base: Option<String>, festival: Option<Festival>) -> Option<String> {
    match (base, festival) {
        (Some(b), Some(f)) if b.contains(f.name()) => Some(b),
        (Some(b), Some(f)) => Some(format!("{b}、{}", f.name())),
        (Some(b), None) => Some(b),
        (None, f) => f.map(|f| f.name().to_string()),
    }
}

impl BusinessCalendar {
    pub fn new(schedule: WeeklySchedule, overrides: impl IntoIterator<Item = DayOverride>, tz: TimeZone) -> Self {
        let overrides = overrides.into_iter().map(|o| (o.date, o)).collect();
        Self { schedule, overrides, tz }
    }

    pub fn schedule(&self) -> &WeeklySchedule {
        &self.schedule
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Whether the override or the notice decides the day: `Some(working)`.
    fn decided(&self, date: Date) -> Option<bool> {
        if !self.schedule.observes_holidays {
            return None;
        }
        match self.overrides.get(&date) {
            Some(o) => Some(o.working),
            None => statutory::on(date).map(|s| s.working),
        }
    }

    /// The working hours of a date (empty on a day off).
    pub fn hours_on(&self, date: Date) -> &[Interval] {
        let weekly = self.schedule.on(date.weekday());
        match self.decided(date) {
            None => weekly,
            Some(false) => &[],
            Some(true) if weekly.is_empty() => self.schedule.make_up_hours(),
            Some(true) => weekly,
        }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        !self.hours_on(date).is_empty()
    }

    fn day_with(&self, date: Date, festival: Option<Festival>) -> CalendarDay {
        let working = self.is_working_day(date);
        let weekly = !self.schedule.on(date.weekday()).is_empty();
        let kind = match self.decided(date) {
            Some(false) => DayKind::Holiday,
            Some(true) if !weekly => DayKind::AdjustedWorkday,
            _ if working => DayKind::Workday,
            _ => DayKind::RestDay,
        };
        let over = self.overrides.get(&date);
        let base = match over {
            Some(o) => o.name.clone(),
            None => statutory::on(date).map(|s| s.name()),
        };
        CalendarDay { date, working, kind, name: join_names(base, festival), festival, overridden: over.is_some() }
    }

    /// One day: whether it is worked, how, and its name.
    pub fn day(&self, date: Date) -> CalendarDay {
        self.day_with(date, lunar::festival_on(date))
    }

    /// Every day from `from` to `to`, both included.
    pub fn days(&self, from: Date, to: Date) -> Vec<CalendarDay> {
        let mut festivals: BTreeMap<Date, Festival> = BTreeMap::new();
        for y in from.year()..=to.year() {
            festivals.extend(lunar::festivals_in(y));
        }
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            out.push(self.day_with(d, festivals.get(&d).copied()));
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn standard() -> BusinessCalendar {
        BusinessCalendar::new(WeeklySchedule::standard(), [], shanghai())
    }

    #[test]
    fn days_are_named_and_decided_by_the_notice() {
        let cal = standard();
        let day = |y, m, d| cal.day(date(y, m, d));
        let spring = day(2026, 2, 17);
        assert_eq!((spring.working, spring.kind, spring.name.as_deref()), (false, DayKind::Holiday, Some("春节")));
        assert_eq!(spring.festival, Some(Festival::SpringFestival));
        assert_eq!(day(2026, 2, 16).name.as_deref(), Some("春节、除夕"));
        let makeup = day(2026, 2, 14);
        assert_eq!(
            (makeup.working, makeup.kind, makeup.name.as_deref()),
            (true, DayKind::AdjustedWorkday, Some("春节调休上班"))
        );
        let weekend = day(2026, 3, 7);
        assert_eq!((weekend.working, weekend.kind, weekend.name), (false, DayKind::RestDay, None));
        let ordinary = day(2026, 3, 4);
        assert_eq!((ordinary.working, ordinary.kind, ordinary.name), (true, DayKind::Workday, None));
        // Festivals name days without closing them.
        assert_eq!((day(2026, 3, 3).working, day(2026, 3, 3).name.as_deref()), (true, Some("元宵节")));
        assert_eq!((day(2024, 2, 9).working, day(2024, 2, 9).name.as_deref()), (true, Some("除夕")));
        assert_eq!(day(2026, 9, 25).name.as_deref(), Some("中秋节"));
        assert_eq!(day(2025, 10, 6).name.as_deref(), Some("国庆节、中秋节"));
        // A statutory holiday on a Saturday is a holiday, not just a weekend.
        assert_eq!(day(2026, 1, 3).kind, DayKind::Holiday);
        assert_eq!(cal.days(date(2026, 2, 1), date(2026, 2, 28)).len(), 28);
        assert_eq!(cal.days(date(2026, 2, 14), date(2026, 2, 17))[3], spring);
    }

    #[test]
    fn overrides_win_over_the_shipped_data() {
        let cal = BusinessCalendar::new(
            WeeklySchedule::standard(),
            [
                DayOverride { date: date(2026, 2, 14), working: false, name: Some("公司年会".into()) },
                DayOverride { date: date(2027, 2, 5), working: false, name: None },
                DayOverride { date: date(2026, 3, 7), working: true, name: None },
            ],
            shanghai(),
        );
        let d = cal.day(date(2026, 2, 14));
        assert_eq!(
            (d.working, d.kind, d.name.as_deref(), d.overridden),
            (false, DayKind::Holiday, Some("公司年会"), true)
        );
        assert!(!cal.is_working_day(date(2027, 2, 5)));
        let sat = cal.day(date(2026, 3, 7));
        assert_eq!((sat.working, sat.kind), (true, DayKind::AdjustedWorkday));
        assert_eq!(cal.hours_on(date(2026, 3, 7)).len(), 2, "a make-up day has the weekday's hours");
    }

    #[test]
    fn round_the_clock_schedules_ignore_holidays() {
        let cal = BusinessCalendar::new(WeeklySchedule::around_the_clock(), [], shanghai());
        let d = cal.day(date(2026, 2, 17));
        assert_eq!((d.working, d.kind, d.name.as_deref()), (true, DayKind::Workday, Some("春节")));
    }

    #[test]
    fn ranges_are_bounded_and_ordered() {
        assert_eq!(parse_range(Some("2024-01-01"), Some("2024-12-31")), Ok((date(2024, 1, 1), date(2024, 12, 31))));
        let e = parse_range(Some("2024-01-01"), Some("2025-01-01")).unwrap_err();
        assert_eq!(e.get("to"), Some(&Issue::RangeTooLong { max_days: 366 }));
        assert_eq!(
            parse_range(Some("2026-02-02"), Some("2026-02-01")).unwrap_err().get("to"),
            Some(&Issue::BeforeStart)
        );
        let e = parse_range(None, Some("2026-13-01")).unwrap_err();
        assert_eq!((e.get("from"), e.get("to")), (Some(&Issue::Required), Some(&Issue::InvalidDate)));
        assert_eq!(parse_range(Some("1949-12-31"), Some("1950-01-01")).unwrap_err().fields(), vec!["from"]);
    }

    #[test]
    fn overrides_are_parsed_with_named_fields() {
        let o = DayOverride::parse("2026-02-14", Some(false), Some(" 公司年会 ")).unwrap();
        assert_eq!(o.name.as_deref(), Some("公司年会"));
        assert_eq!(DayOverride::parse("2026-02-14", Some(true), Some("")).unwrap().name, None);
        let e = DayOverride::parse("2026-02-30", None, Some(&"长".repeat(21))).unwrap_err();
        assert_eq!(e.fields(), vec!["date", "working", "name"]);
        assert_eq!(
            DayOverride::parse("2101-01-01", Some(true), None).unwrap_err().get("date"),
            Some(&Issue::OutOfRange)
        );
    }
}
