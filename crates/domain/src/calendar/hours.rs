//! Working hours: one or more time ranges per weekday (a lunch break such as
//! 12:00–13:30 is common), gathered in a weekly schedule. The default
//! schedule follows the statutory calendar; round-the-clock schedules (online
//! chat 7×24) ignore it.

use jiff::civil::{Time, Weekday};
use serde::{Deserialize, Serialize};

use crate::validation::{Issue, ValidationErrors};

/// A time of day in whole minutes, `00:00` to `24:00` (the end of the day,
/// so that a range can close it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    pub const END_OF_DAY: ClockTime = ClockTime(24 * 60);

    pub fn new(hour: u16, minute: u16) -> Option<Self> {
        let m = hour.checked_mul(60)?.checked_add(minute)?;
        (minute < 60 && m <= 24 * 60).then_some(ClockTime(m))
    }

    /// `HH:MM` (one-digit hours too, `9:00`); `24:00` is the end of the day.
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let (h, m) = raw.trim().split_once([':', '：']).ok_or(Issue::InvalidTimeRange)?;
        let number = |s: &str, lens: std::ops::RangeInclusive<usize>| {
            let digits = lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
            if digits { s.parse::<u16>().ok() } else { None }
        };
        match (number(h, 1..=2), number(m, 2..=2)) {
            (Some(h), Some(m)) => ClockTime::new(h, m).ok_or(Issue::InvalidTimeRange),
            _ => Err(Issue::InvalidTimeRange),
        }
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    /// As a civil time; `None` for `24:00`.
    pub fn to_time(self) -> Option<Time> {
        let (h, m) = (i8::try_from(self.0 / 60).ok()?, i8::try_from(self.0 % 60).ok()?);
        Time::new(h, m, 0, 0).ok()
    }
}

impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// What may stand between the two times of a range.
const DASHES: [char; 6] = ['-', '–', '—', '~', '～', '至'];

/// A working time range of one day, `[start, end)`, with `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    start: ClockTime,
    end: ClockTime,
}

impl Interval {
    pub fn new(start: ClockTime, end: ClockTime) -> Result<Self, Issue> {
        if start < end { Ok(Self { start, end }) } else { Err(Issue::EndNotAfterStart) }
    }

    /// `09:00-12:00`; the dash may also be `–`, `—`, `~`, `～` or `至`.
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let (a, b) = raw.split_once(DASHES).ok_or(Issue::InvalidTimeRange)?;
        Self::new(ClockTime::parse(a)?, ClockTime::parse(b)?)
    }

    pub fn start(self) -> ClockTime {
        self.start
    }

    pub fn end(self) -> ClockTime {
        self.end
    }

    pub fn minutes(self) -> u16 {
        self.end.0 - self.start.0
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// Parses one day's ranges, sorted; they must not overlap (touching is fine).
pub fn parse_day<S: AsRef<str>>(ranges: &[S]) -> Result<Vec<Interval>, Issue> {
    let mut out = ranges
        .iter()
        .map(|r| r.as_ref().trim())
        .filter(|r| !r.is_empty())
        .map(Interval::parse)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    if out.windows(2).any(|w| w[1].start < w[0].end) {
        return Err(Issue::Overlapping);
    }
    Ok(out)
}

/// One day's ranges typed in one line, `09:00-12:00, 13:30-18:00` (commas,
/// semicolons, Chinese punctuation or spaces between them), as separate texts.
pub fn split_day_text(text: &str) -> Vec<String> {
    // Spaces around a dash belong to the range ("09:00 - 12:00").
    let chars: Vec<char> = text.chars().collect();
    let dash = |c: &char| DASHES.contains(c);
    let next_solid = |i: usize| chars[i..].iter().find(|c| !c.is_whitespace());
    let mut joined = String::with_capacity(text.len());
    for (i, c) in chars.iter().enumerate() {
        let after_dash = chars[..i].iter().rev().find(|c| !c.is_whitespace()).is_some_and(dash);
        if c.is_whitespace() && (after_dash || next_solid(i).is_some_and(dash)) {
            continue;
        }
        joined.push(*c);
    }
    joined
        .split([',', '，', ';', '；', '、', ' ', '\t', '\n', '\r'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// One day's ranges typed in one line (see [`split_day_text`]). Empty: a day off.
pub fn parse_day_text(text: &str) -> Result<Vec<Interval>, Issue> {
    parse_day(&split_day_text(text))
}

/// The weekdays, Monday first, with their codes (`mon` … `sun`) and labels.
pub const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

pub fn weekday_code(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

pub fn weekday_label(w: Weekday, lang: crate::Lang) -> &'static str {
    let (zh, en) = match w {
        Weekday::Monday => ("周一", "Mon"),
        Weekday::Tuesday => ("周二", "Tue"),
        Weekday::Wednesday => ("周三", "Wed"),
        Weekday::Thursday => ("周四", "Thu"),
        Weekday::Friday => ("周五", "Fri"),
        Weekday::Saturday => ("周六", "Sat"),
        Weekday::Sunday => ("周日", "Sun"),
    };
    lang.pick(zh, en)
}

fn index(w: Weekday) -> usize {
    usize::from(w.to_monday_zero_offset().unsigned_abs())
}

/// The working hours of each weekday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklySchedule {
    days: [Vec<Interval>; 7],
    /// Statutory holidays, adjusted working days and the administrator's
    /// day overrides apply (a phone team); `false` for a round-the-clock
    /// service that works whatever the day.
    pub observes_holidays: bool,
}

impl WeeklySchedule {
    /// Builds a schedule from parsed days (Monday first); at least one day
    /// must have working hours, or nothing could ever be due.
    pub fn new(days: [Vec<Interval>; 7], observes_holidays: bool) -> Result<Self, Issue> {
        if days.iter().all(Vec::is_empty) {
            return Err(Issue::Required);
        }
        let mut days = days;
        for d in &mut days {
            d.sort();
            if d.windows(2).any(|w| w[1].start < w[0].end) {
                return Err(Issue::Overlapping);
            }
        }
        Ok(Self { days, observes_holidays })
    }

    /// Parses each weekday's ranges (`mon` … `sun`, Monday first). Errors
    /// name the weekday's code; a week without any hours is refused on `hours`.
    pub fn parse<S: AsRef<str>>(days: &[Vec<S>; 7], observes_holidays: bool) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let parsed: Vec<Vec<Interval>> = WEEKDAYS
            .iter()
            .zip(days.iter())
            .map(|(w, raw)| e.check(weekday_code(*w), parse_day(raw)).unwrap_or_default())
            .collect();
        if !e.is_empty() {
            return Err(e);
        }
        let days: [Vec<Interval>; 7] =
            parsed.try_into().map_err(|_| ValidationErrors::single("hours", Issue::Required))?;
        Self::new(days, observes_holidays).map_err(|i| ValidationErrors::single("hours", i))
    }

    /// The same hours Monday to Friday, weekends off.
    pub fn weekdays(hours: &[Interval], observes_holidays: bool) -> Self {
        let mut days: [Vec<Interval>; 7] = Default::default();
        for d in days.iter_mut().take(5) {
            d.extend_from_slice(hours);
        }
        Self { days, observes_holidays }
    }

    /// The same hours every day of the week.
    pub fn every_day(hours: &[Interval], observes_holidays: bool) -> Self {
        Self { days: std::array::from_fn(|_| hours.to_vec()), observes_holidays }
    }

    /// 09:00–12:00 and 13:30–18:00, Monday to Friday, on the statutory
    /// calendar: the default schedule.
    pub fn standard() -> Self {
        let hm = |h, m| ClockTime::new(h, m).unwrap_or(ClockTime::MIDNIGHT);
        let hours = [Interval { start: hm(9, 0), end: hm(12, 0) }, Interval { start: hm(13, 30), end: hm(18, 0) }];
        Self::weekdays(&hours, true)
    }

    /// Around the clock, every day, holidays included (7×24).
    pub fn around_the_clock() -> Self {
        Self::every_day(&[Interval { start: ClockTime::MIDNIGHT, end: ClockTime::END_OF_DAY }], false)
    }

    /// 09:00–21:00 every day, holidays included (7×12).
    pub fn twelve_hours_daily() -> Self {
        let hm = |h| ClockTime::new(h, 0).unwrap_or(ClockTime::MIDNIGHT);
        Self::every_day(&[Interval { start: hm(9), end: hm(21) }], false)
    }

    /// The hours of a weekday.
    pub fn on(&self, w: Weekday) -> &[Interval] {
        &self.days[index(w)]
    }

    /// The hours of a day worked in place of a weekend day (调休上班, or an
    /// administrator's working-day override on a day off): those of the
    /// first weekday, from Monday, that has hours.
    pub fn make_up_hours(&self) -> &[Interval] {
        self.days.iter().find(|d| !d.is_empty()).map_or(&[], Vec::as_slice)
    }

    /// The working minutes of one working day (those of a make-up day: the
    /// first weekday, from Monday, that has hours). What a "working day" is
    /// when a duration is told in working days (7.5 h on the default schedule).
    pub fn working_day_minutes(&self) -> u32 {
        self.make_up_hours().iter().map(|i| u32::from(i.minutes())).sum()
    }

    /// Each weekday's ranges as text, Monday first.
    pub fn texts(&self) -> [Vec<String>; 7] {
        std::array::from_fn(|i| self.days[i].iter().map(ToString::to_string).collect())
    }
}

/// The stored and API form: `{"mon": ["09:00-12:00", "13:30-18:00"], …,
/// "observes_holidays": true}`; a missing weekday is a day off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleHours {
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
    /// Whether statutory holidays, adjusted working days and day overrides
    /// apply (default `true`).
    #[serde(default = "yes")]
    pub observes_holidays: bool,
}

fn yes() -> bool {
    true
}

impl ScheduleHours {
    pub fn parse(&self) -> Result<WeeklySchedule, ValidationErrors> {
        let days = [&self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun].map(Clone::clone);
        WeeklySchedule::parse(&days, self.observes_holidays)
    }
}

impl From<&WeeklySchedule> for ScheduleHours {
    fn from(s: &WeeklySchedule) -> Self {
        let [mon, tue, wed, thu, fri, sat, sun] = s.texts();
        Self { mon, tue, wed, thu, fri, sat, sun, observes_holidays: s.observes_holidays }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn times_and_ranges_parse() {
        assert_eq!(ClockTime::parse("09:00").unwrap().minutes(), 540);
        assert_eq!(ClockTime::parse("9:30").unwrap().to_string(), "09:30");
        assert_eq!(ClockTime::parse("24:00"), Ok(ClockTime::END_OF_DAY));
        for bad in ["24:01", "9", "09:60", "ab:cd", "-1:00", "09:5", "123:00", ""] {
            assert_eq!(ClockTime::parse(bad), Err(Issue::InvalidTimeRange), "{bad}");
        }
        assert_eq!(Interval::parse("09:00-12:00").unwrap().to_string(), "09:00-12:00");
        assert_eq!(Interval::parse("13:30 ～ 18:00").unwrap().minutes(), 270);
        assert_eq!(Interval::parse("18:00-09:00"), Err(Issue::EndNotAfterStart));
        assert_eq!(Interval::parse("09:00-09:00"), Err(Issue::EndNotAfterStart));
        assert_eq!(Interval::parse("09:00"), Err(Issue::InvalidTimeRange));
    }

    #[test]
    fn a_day_may_not_overlap_itself() {
        assert_eq!(parse_day_text("13:30-18:00，09:00-12:00").unwrap().len(), 2);
        assert_eq!(parse_day_text("09:00-12:00, 12:00-13:00").unwrap().len(), 2, "touching is fine");
        assert_eq!(split_day_text(" 09:00 - 12:00  13:30～ 18:00；\n"), vec!["09:00-12:00", "13:30～18:00"]);
        assert_eq!(parse_day_text("09:00-12:00, 11:00-13:00"), Err(Issue::Overlapping));
        assert_eq!(parse_day_text(""), Ok(vec![]));
    }

    #[test]
    fn schedules_name_the_refused_weekday() {
        let mut days: [Vec<&str>; 7] = Default::default();
        days[0] = vec!["09:00-12:00"];
        days[2] = vec!["9-12"];
        days[4] = vec!["09:00-12:00", "10:00-11:00"];
        let e = WeeklySchedule::parse(&days, true).unwrap_err();
        assert_eq!(e.fields(), vec!["wed", "fri"]);
        assert_eq!(e.get("fri"), Some(&Issue::Overlapping));
        let empty: [Vec<&str>; 7] = Default::default();
        assert_eq!(WeeklySchedule::parse(&empty, true).unwrap_err().fields(), vec!["hours"]);
    }

    #[test]
    fn presets_and_their_stored_form() {
        let s = WeeklySchedule::standard();
        assert_eq!(s.texts()[0], vec!["09:00-12:00", "13:30-18:00"]);
        assert!(s.on(Weekday::Saturday).is_empty());
        assert_eq!(s.make_up_hours().len(), 2);
        let stored = ScheduleHours::from(&s);
        assert_eq!(stored.parse().unwrap(), s);
        let json = serde_json::to_string(&ScheduleHours::from(&WeeklySchedule::around_the_clock())).unwrap();
        assert!(json.contains(r#""sun":["00:00-24:00"]"#), "{json}");
        let back: ScheduleHours = serde_json::from_str(&json).unwrap();
        assert!(!back.parse().unwrap().observes_holidays);
        assert_eq!(WeeklySchedule::twelve_hours_daily().on(Weekday::Sunday)[0].minutes(), 12 * 60);
    }
}
