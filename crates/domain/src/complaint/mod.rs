//! Complaint handling (SPEC P1–P7, 投诉处理专项流程). A complaint is a
//! ticket of type complaint with its own workflow on top: the complaint
//! number and demand type (P1), urgency grading in [`grading`] (P2), the
//! states from registration to archive in [`workflow`] (P3–P5), and the
//! deadlines every step runs against, counted on business time.

pub mod compensation;
pub mod grading;
pub mod review;
pub mod workflow;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::BusinessCalendar;
use crate::customer::vocabulary;
use crate::validation::Issue;

vocabulary!(
    /// What the customer asks for (诉求类型, P1).
    DemandType {
        Refund = "refund", "退款", "Refund";
        Exchange = "exchange", "换货", "Exchange";
        Repair = "repair", "维修", "Repair";
        Apology = "apology", "道歉", "Apology";
        Compensation = "compensation", "补偿", "Compensation";
        Other = "other", "其他", "Other";
    }
);

vocabulary!(
    /// How soon the complaint must be answered (紧急程度, P2).
    Urgency {
        Urgent = "urgent", "紧急", "Urgent";
        General = "general", "一般", "General";
        Routine = "routine", "常规", "Routine";
    }
);

impl Urgency {
    /// The response target in working hours: 2, 4 and 24.
    pub fn respond_within(self) -> SignedDuration {
        SignedDuration::from_hours(match self {
            Urgency::Urgent => 2,
            Urgency::General => 4,
            Urgency::Routine => 24,
        })
    }

    /// One step more urgent.
    pub fn raised(self) -> Self {
        match self {
            Urgency::Routine => Urgency::General,
            Urgency::General | Urgency::Urgent => Urgency::Urgent,
        }
    }
}

vocabulary!(
    /// Who caused the problem (责任方, P3).
    ResponsibleParty {
        Company = "company", "公司", "The company";
        CustomerMisunderstanding = "customer_misunderstanding", "客户误解", "Customer misunderstanding";
        ThirdParty = "third_party", "第三方（如物流）", "Third party (e.g. logistics)";
    }
);

/// A complaint number: `CP` + the local date + a daily sequence of at
/// least three digits (`CP20231011001`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ComplaintNumber(String);

impl ComplaintNumber {
    pub fn new(date: Date, seq: i64) -> Self {
        ComplaintNumber(format!("CP{}{seq:03}", date.strftime("%Y%m%d")))
    }

    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let raw = raw.trim();
        let digits = raw.strip_prefix("CP").ok_or(Issue::NotAllowed)?;
        if digits.len() < 11 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(Issue::NotAllowed);
        }
        Date::strptime("%Y%m%d", &digits[..8]).map_err(|_| Issue::NotAllowed)?;
        Ok(ComplaintNumber(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The counter of a day's complaint numbers.
pub fn counter_name(date: Date) -> String {
    format!("complaint:{}", date.strftime("%Y%m%d"))
}

vocabulary!(
    /// The deadlines of a complaint (each an SLA clock on business time).
    DeadlineKind {
        Registration = "registration", "登记（1 小时内）", "Registration (1 h)";
        Investigation = "investigation", "核查（24 小时内）", "Investigation (24 h)";
        Solution = "solution", "方案达成（48 小时内）", "Solution agreed (48 h)";
        Execution = "execution", "按承诺时间执行", "Execution by the promise";
        Notification = "notification", "执行后通知客户（1 小时内）", "Customer told (1 h after execution)";
    }
);

/// Default targets in working time.
pub const REGISTRATION_WITHIN: SignedDuration = SignedDuration::from_hours(1);
pub const INVESTIGATION_WITHIN: SignedDuration = SignedDuration::from_hours(24);
pub const SOLUTION_WITHIN: SignedDuration = SignedDuration::from_hours(48);
pub const NOTIFICATION_WITHIN: SignedDuration = SignedDuration::from_hours(1);

/// One deadline of a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    pub due_at: Timestamp,
    /// When its obligation was met.
    pub met_at: Option<Timestamp>,
    /// When the scheduler found it missed (reported once).
    pub missed_at: Option<Timestamp>,
    /// Since when it waits for the customer (its clock stands still).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<Timestamp>,
}

impl Deadline {
    pub fn is_open(&self) -> bool {
        self.met_at.is_none()
    }

    /// Met after its time, or missed while open.
    pub fn is_late(&self) -> bool {
        self.missed_at.is_some() || self.met_at.is_some_and(|m| m > self.due_at)
    }

    /// `open`, `paused`, `overdue`, `met` or `late`.
    pub fn state(&self, now: Timestamp) -> &'static str {
        match (self.met_at, self.is_late()) {
            (Some(_), true) => "late",
            (Some(_), false) => "met",
            (None, false) if self.paused_at.is_some() => "paused",
            (None, _) if now > self.due_at || self.missed_at.is_some() => "overdue",
            (None, _) => "open",
        }
    }
}

/// Every deadline of a complaint, at most one per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Deadlines(pub Vec<Deadline>);

impl Deadlines {
    pub fn get(&self, kind: DeadlineKind) -> Option<&Deadline> {
        self.0.iter().find(|d| d.kind == kind)
    }

    /// Sets (or sets anew) a deadline `within` working time of `from`.
    pub fn start(&mut self, kind: DeadlineKind, from: Timestamp, within: SignedDuration, cal: &BusinessCalendar) {
        let due = cal.add_working_duration(from, within).unwrap_or(from);
        self.set(kind, due);
    }

    /// Sets a deadline at an instant (a promised execution date).
    pub fn set(&mut self, kind: DeadlineKind, due_at: Timestamp) {
        let d = Deadline { kind, due_at, met_at: None, missed_at: None, paused_at: None };
        match self.0.iter_mut().find(|d| d.kind == kind) {
            Some(old) => *old = d,
            None => self.0.push(d),
        }
    }

    /// The obligation of `kind` is met at `at`; true when it was open.
    pub fn meet(&mut self, kind: DeadlineKind, at: Timestamp) -> bool {
        match self.0.iter_mut().find(|d| d.kind == kind && d.met_at.is_none()) {
            Some(d) => {
                d.met_at = Some(at);
                true
            }
            None => false,
        }
    }

    /// Whether the complaint waits for the customer (its open deadlines stand still).
    pub fn is_paused(&self) -> bool {
        self.0.iter().any(|d| d.paused_at.is_some())
    }

    /// Waiting for the customer from `at`: every open deadline not yet
    /// missed stands still (as a ticket's SLA clocks do); true when one did.
    pub fn pause(&mut self, at: Timestamp) -> bool {
        let mut any = false;
        for d in self.0.iter_mut().filter(|d| d.met_at.is_none() && d.missed_at.is_none() && d.paused_at.is_none()) {
            d.paused_at = Some(at);
            any = true;
        }
        any
    }

    /// The customer answered at `at`: each paused deadline moves on by the
    /// working time it stood still; true when one was paused.
    pub fn resume(&mut self, at: Timestamp, cal: &BusinessCalendar) -> bool {
        let mut any = false;
        for d in &mut self.0 {
            if let Some(since) = d.paused_at.take() {
                let stood = cal.working_duration_between(since, at);
                d.due_at = cal.add_working_duration(d.due_at, stood).unwrap_or(d.due_at);
                any = true;
            }
        }
        any
    }

    /// The open deadlines passed by `now` and not yet reported; marks them.
    pub fn newly_missed(&mut self, now: Timestamp) -> Vec<DeadlineKind> {
        let mut out = Vec::new();
        for d in &mut self.0 {
            if d.met_at.is_none() && d.missed_at.is_none() && d.paused_at.is_none() && d.due_at <= now {
                d.missed_at = Some(now);
                out.push(d.kind);
            }
        }
        out
    }

    /// When the scheduler must look next: the nearest open, unreported deadline.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.0
            .iter()
            .filter(|d| d.met_at.is_none() && d.missed_at.is_none() && d.paused_at.is_none())
            .map(|d| d.due_at)
            .min()
    }

    /// Whether any deadline was missed or met late (超时).
    pub fn any_late(&self) -> bool {
        self.0.iter().any(Deadline::is_late)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::calendar::WeeklySchedule;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn numbers_are_cp_the_date_and_a_three_digit_sequence() {
        let d = jiff::civil::date(2023, 10, 11);
        assert_eq!(ComplaintNumber::new(d, 1).as_str(), "CP20231011001");
        assert_eq!(ComplaintNumber::new(d, 1234).as_str(), "CP202310111234");
        assert!(ComplaintNumber::parse("CP20231011001").is_ok());
        for bad in ["GD20231011001", "CP2023101101", "CP20231311001", "CP2023101100x"] {
            assert!(ComplaintNumber::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_number_parses_back(y in 2000i16..2100, m in 1i8..=12, d in 1i8..=28, seq in 1i64..100_000) {
            let n = ComplaintNumber::new(jiff::civil::date(y, m, d), seq);
            prop_assert_eq!(ComplaintNumber::parse(n.as_str()).unwrap(), n.clone());
            prop_assert!(n.as_str().len() >= 13);
        }
    }

    #[test]
    fn deadlines_count_working_time_and_report_a_miss_once() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let cal = BusinessCalendar::new(WeeklySchedule::standard(), [], tz.clone());
        let at = |s: &str| {
            jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s).unwrap().to_zoned(tz.clone()).unwrap().timestamp()
        };
        let mut d = Deadlines::default();
        // Friday 17:30: one working hour ends Monday 09:30.
        d.start(DeadlineKind::Registration, at("2026-11-27 17:30"), REGISTRATION_WITHIN, &cal);
        assert_eq!(d.get(DeadlineKind::Registration).unwrap().due_at, at("2026-11-30 09:30"));
        assert_eq!(d.next_due(), Some(at("2026-11-30 09:30")));
        assert!(d.newly_missed(at("2026-11-30 09:00")).is_empty());
        assert_eq!(d.newly_missed(at("2026-11-30 09:31")), vec![DeadlineKind::Registration]);
        assert!(d.newly_missed(at("2026-11-30 10:00")).is_empty());
        assert_eq!(d.next_due(), None);
        assert!(d.any_late());
    }

    #[test]
    fn waiting_for_the_customer_stops_the_deadlines_for_the_working_time_waited() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let cal = BusinessCalendar::new(WeeklySchedule::standard(), [], tz.clone());
        let at = |s: &str| {
            jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s).unwrap().to_zoned(tz.clone()).unwrap().timestamp()
        };
        let mut d = Deadlines::default();
        // Monday 10:00 + 24 working hours (8 a day, 09:00–18:00 with lunch) is Thursday 10:00.
        d.start(DeadlineKind::Investigation, at("2026-11-23 10:00"), INVESTIGATION_WITHIN, &cal);
        let due = d.get(DeadlineKind::Investigation).unwrap().due_at;
        assert!(d.pause(at("2026-11-23 11:00")));
        assert!(d.is_paused());
        assert_eq!(d.next_due(), None, "a paused deadline is not watched");
        assert!(d.newly_missed(due.checked_add(jiff::SignedDuration::from_hours(100)).unwrap()).is_empty());
        // Waited from Monday 11:00 to Tuesday 11:00: one working day.
        assert!(d.resume(at("2026-11-24 11:00"), &cal));
        assert!(!d.is_paused());
        let moved = d.get(DeadlineKind::Investigation).unwrap().due_at;
        assert_eq!(
            moved,
            cal.add_working_duration(due, cal.working_duration_between(at("2026-11-23 11:00"), at("2026-11-24 11:00")))
                .unwrap()
        );
        assert!(moved > due);
        assert!(!d.resume(at("2026-11-24 12:00"), &cal), "nothing to resume twice");
    }
}
