//! The one source of "now". Production uses [`SystemClock`]; tests use
//! [`TestClock`], which they set and advance so that days pass in
//! milliseconds.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// Reads the operating system's clock. The only place allowed to.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct TestClock {
    now: Mutex<Timestamp>,
}

impl TestClock {
    pub fn new(start: Timestamp) -> Self {
        Self { now: Mutex::new(start) }
    }

    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The business time zone's calendar date of an instant.
pub fn local_date(at: Timestamp, tz: &TimeZone) -> jiff::civil::Date {
    at.to_zoned(tz.clone()).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = TestClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_hours(48));
        assert_eq!(clock.now().to_string(), "2026-01-03T00:00:00Z");
    }

    #[test]
    fn local_date_uses_business_zone() {
        let at: Timestamp = "2026-01-01T17:00:00Z".parse().unwrap();
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(local_date(at, &tz).to_string(), "2026-01-02");
    }
}
