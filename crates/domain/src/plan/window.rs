//! The customer's preferred contact window (SPEC C1, 偏好联系时段), read
//! from the free text agents type ("晚上8点以后，本月出差", "9:30-11:30",
//! "after 20:00", "下午"). Only a time of day is understood; anything else
//! in the text (business trips, weekdays) stays for the agent to read, and
//! a text without a recognisable time gives no window at all.

use crate::calendar::ClockTime;

/// A time-of-day range in which the customer prefers to be contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactWindow {
    pub start: ClockTime,
    pub end: ClockTime,
}

/// The end of an open-ended "after 20:00" window in the evening.
const LATEST: u16 = 22 * 60;
/// The end of an open-ended "after 10:00" window in the day.
const END_OF_DAY: u16 = 18 * 60;
/// Words that make a time one to avoid ("午休12:00-13:30勿扰"), not a window.
const AVOID: &[&str] = &[
    "勿扰",
    "勿打扰",
    "不要",
    "避开",
    "不方便",
    "别打",
    "不接",
    "免打扰",
    "do not",
    "don't",
    "avoid",
    "not before",
    "not after",
];
/// The start of an open-ended "before 11:00" window.
const EARLIEST: u16 = 9 * 60;

/// A time found in the text, in minutes, with where it ended.
#[derive(Debug, Clone, Copy)]
struct Found {
    minutes: u16,
    /// The hour was written without minutes (8点): a 12-hour reading is possible.
    bare: bool,
    at: usize,
    end: usize,
}

fn minutes(m: u16) -> Option<ClockTime> {
    ClockTime::new(m / 60, m % 60)
}

impl ContactWindow {
    fn new(start: u16, end: u16) -> Option<Self> {
        (start < end).then_some(Self { start: minutes(start)?, end: minutes(end)? })
    }

    /// The window a text states, if it states one.
    pub fn parse(text: &str) -> Option<Self> {
        let chars: Vec<char> = text
            .chars()
            .map(|c| match c {
                '：' => ':',
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let s: String = chars.iter().collect();
        let has = |words: &[&str]| words.iter().any(|w| s.contains(w));
        // A time to avoid is not a time to call: better no window than the
        // wrong one (the agent reads the text).
        if has(AVOID) {
            return None;
        }
        let evening = has(&["晚上", "晚间", "傍晚", "夜里", "晚", "evening", "night", "pm"]);
        let afternoon = has(&["下午", "afternoon"]);
        let mut found = times(&chars);
        // 晚上8点 is 20:00; 下午3点 is 15:00.
        for f in &mut found {
            if f.bare && f.minutes < 12 * 60 && (evening || (afternoon && f.minutes <= 7 * 60)) {
                f.minutes += 12 * 60;
            }
        }
        let between = |a: &Found, b: &Found| -> String { chars[a.end..b.at].iter().collect() };
        let after = |f: &Found| -> String { chars[f.end..].iter().take(3).collect() };
        let before = |f: &Found| -> String {
            let from = f.at.saturating_sub(7);
            chars[from..f.at].iter().collect()
        };
        if let [a, b, ..] = found.as_slice() {
            let sep = between(a, b);
            if sep.chars().all(|c| c.is_whitespace() || "-–—~～至到和to".contains(c)) && !sep.trim().is_empty()
            {
                return Self::new(a.minutes, b.minutes);
            }
        }
        if let Some(f) = found.first() {
            let (post, pre) = (after(f), before(f));
            if post.starts_with("以后") || post.starts_with("之后") || post.starts_with('后') || pre.contains("after")
            {
                let end = if f.minutes < 17 * 60 { END_OF_DAY } else { LATEST.max(f.minutes + 60).min(24 * 60) };
                return Self::new(f.minutes, end);
            }
            if post.starts_with("以前") || post.starts_with("之前") || post.starts_with('前') || pre.contains("before")
            {
                return Self::new(EARLIEST.min(f.minutes.saturating_sub(60)), f.minutes);
            }
            // A lone time: an hour from it.
            return Self::new(f.minutes, (f.minutes + 60).min(24 * 60));
        }
        if has(&["上午", "morning"]) {
            Self::new(9 * 60, 12 * 60)
        } else if has(&["中午", "noon"]) {
            Self::new(12 * 60, 14 * 60)
        } else if afternoon {
            Self::new(14 * 60, 18 * 60)
        } else if evening {
            Self::new(19 * 60, 21 * 60)
        } else {
            None
        }
    }
}

/// Every time of day written in the text: `20:00`, `9:30`, `8点`, `8点半`,
/// `8pm`.
fn times(c: &[char]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !c[i].is_ascii_digit() || (i > 0 && c[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        while j < c.len() && c[j].is_ascii_digit() && j - i < 3 {
            j += 1;
        }
        let digits: String = c[i..j].iter().collect();
        let Ok(hour) = digits.parse::<u16>() else {
            i = j;
            continue;
        };
        if j - i > 2 || hour > 24 {
            i = j;
            continue;
        }
        let next = c.get(j).copied();
        if next == Some(':')
            && c.get(j + 1).is_some_and(char::is_ascii_digit)
            && c.get(j + 2).is_some_and(char::is_ascii_digit)
        {
            let m: u16 =
                c[j + 1].to_digit(10).map_or(0, |d| d as u16) * 10 + c[j + 2].to_digit(10).map_or(0, |d| d as u16);
            if m < 60 && hour * 60 + m <= 24 * 60 {
                out.push(Found { minutes: hour * 60 + m, bare: false, at: start, end: j + 3 });
            }
            i = j + 3;
        } else if next == Some('点') || next == Some('时') {
            let half = c.get(j + 1) == Some(&'半');
            let m = if half { 30 } else { 0 };
            out.push(Found { minutes: hour * 60 + m, bare: true, at: start, end: j + 1 + usize::from(half) });
            i = j + 1;
        } else if c.get(j) == Some(&'p') && c.get(j + 1) == Some(&'m') && hour < 12 {
            out.push(Found { minutes: (hour + 12) * 60, bare: false, at: start, end: j + 2 });
            i = j + 2;
        } else if c.get(j) == Some(&'a') && c.get(j + 1) == Some(&'m') && hour <= 12 {
            out.push(Found { minutes: (hour % 12) * 60, bare: false, at: start, end: j + 2 });
            i = j + 2;
        } else {
            i = j;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn w(text: &str) -> Option<String> {
        ContactWindow::parse(text).map(|w| format!("{}-{}", w.start, w.end))
    }

    #[test]
    fn windows_people_write() {
        assert_eq!(w("晚上8点以后，本月出差").as_deref(), Some("20:00-22:00"));
        assert_eq!(w("20:00以后").as_deref(), Some("20:00-22:00"));
        assert_eq!(w("after 20:00, on business trips this month").as_deref(), Some("20:00-22:00"));
        assert_eq!(w("工作日 9:30-11:30").as_deref(), Some("09:30-11:30"));
        assert_eq!(w("14：00～16：30").as_deref(), Some("14:00-16:30"));
        assert_eq!(w("下午3点到5点").as_deref(), Some("15:00-17:00"));
        assert_eq!(w("上午10点前").as_deref(), Some("09:00-10:00"));
        assert_eq!(w("before 11:00").as_deref(), Some("09:00-11:00"));
        assert_eq!(w("下午").as_deref(), Some("14:00-18:00"));
        assert_eq!(w("上午联系").as_deref(), Some("09:00-12:00"));
        assert_eq!(w("晚上").as_deref(), Some("19:00-21:00"));
        assert_eq!(w("8pm").as_deref(), Some("20:00-21:00"));
        assert_eq!(w("周末勿扰"), None);
        assert_eq!(w("午休12:00-13:30勿扰"), None, "a time to avoid is no window");
        assert_eq!(w("don't call before 10:00"), None);
        assert_eq!(w("上午10点后").as_deref(), Some("10:00-18:00"), "after a daytime hour: until the end of the day");
        assert_eq!(w(""), None);
        assert_eq!(w("18:00-09:00"), None, "a window that ends before it starts is not understood");
        assert_eq!(w("2025年3月"), None, "dates are not times");
    }
}
