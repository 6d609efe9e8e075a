//! Outreach rules (SPEC O1–O4): the channels a message can leave by, the
//! scenarios of message templates and the variables each may use, quiet
//! hours (a message due inside them waits for the window to open), and
//! survey scores.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Issue;
use crate::customer::vocabulary;

vocabulary!(
    /// How a message leaves (SPEC O2): email over SMTP; the rest are
    /// signed HTTP webhooks (an SMS gateway, a WeCom group robot, any system).
    OutChannel {
        Email = "email", "邮件", "Email";
        Sms = "sms", "短信", "SMS";
        Wecom = "wecom", "企业微信机器人", "WeCom robot";
        Webhook = "webhook", "通用 Webhook", "Generic webhook";
    }
);

vocabulary!(
    /// What a message is for (SPEC O1); each scenario has its variables.
    Scenario {
        Greeting = "greeting", "问候", "Greeting";
        RevisitReminder = "revisit_reminder", "回访预约提醒", "Revisit reminder";
        ProgressUpdate = "progress_update", "进度通知", "Progress update";
        HolidayGreeting = "holiday_greeting", "节日祝福", "Holiday greeting";
        Coupon = "coupon", "优惠券", "Coupon";
        Survey = "survey", "满意度调查", "Survey";
        ImportantNotice = "important_notice", "重要变更通知", "Important notice";
        NeedOutcome = "need_outcome", "需求结果告知", "Need outcome";
        FeedbackResolved = "feedback_resolved", "反馈处理结果告知", "Feedback resolved";
    }
);

impl Scenario {
    /// The variables a template of this scenario may use; anything else is
    /// refused when the template is saved (never a blank in front of a customer).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Scenario::Greeting => &["customer_name", "agent_name"],
            Scenario::RevisitReminder => &["customer_name", "agent_name", "revisit_time"],
            Scenario::ProgressUpdate => &["customer_name", "ticket_number", "subject", "status"],
            Scenario::HolidayGreeting => &["customer_name", "festival"],
            Scenario::Coupon => &["customer_name", "coupon_code", "expires_on"],
            Scenario::Survey => &["customer_name", "survey_link", "subject"],
            Scenario::ImportantNotice => &["customer_name", "notice"],
            Scenario::NeedOutcome => &["customer_name", "ticket_number", "subject", "outcome"],
            Scenario::FeedbackResolved => &["customer_name", "ticket_number", "subject"],
        }
    }

    /// Marketing messages need the customer's consent (SPEC O3, S2).
    pub fn is_marketing(self) -> bool {
        matches!(self, Scenario::Greeting | Scenario::HolidayGreeting | Scenario::Coupon)
    }

    /// Important changes go out on two channels (双渠道确认).
    pub fn is_important(self) -> bool {
        matches!(self, Scenario::ImportantNotice)
    }
}

/// The daily window in which no message is sent to customers, in the
/// business time zone; it may wrap midnight (21:00–09:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM`; equal ends mean no quiet hours at all, so are refused.
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let (a, b) = raw.trim().split_once('-').ok_or(Issue::InvalidTimeRange)?;
        let t = |s: &str| Time::strptime("%H:%M", s.trim()).map_err(|_| Issue::InvalidTimeRange);
        let (start, end) = (t(a)?, t(b)?);
        if start == end {
            return Err(Issue::InvalidTimeRange);
        }
        Ok(Self { start, end })
    }

    pub fn contains(&self, t: Time) -> bool {
        if self.start < self.end { t >= self.start && t < self.end } else { t >= self.start || t < self.end }
    }

    /// When a message due at `now` may go: `now` outside the window, else
    /// the instant the window ends (the next local `end`).
    pub fn release_at(&self, now: Timestamp, tz: &TimeZone) -> Timestamp {
        let local = now.to_zoned(tz.clone());
        if !self.contains(local.time()) {
            return now;
        }
        let today_end = local.date().to_datetime(self.end);
        let end = if local.time() < self.end { today_end } else { today_end + SignedDuration::from_hours(24) };
        // A gap in local time (DST) cannot hold the end; fall back to now.
        end.to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or(now)
    }

    pub fn render(&self) -> String {
        format!("{}-{}", self.start.strftime("%H:%M"), self.end.strftime("%H:%M"))
    }
}

vocabulary!(
    /// The question a survey asks (SPEC O4).
    SurveyKind {
        Csat = "csat", "满意度（1–5 分）", "Satisfaction (1–5)";
        Nps = "nps", "推荐意愿（0–10 分）", "Net promoter (0–10)";
    }
);

impl SurveyKind {
    pub fn range(self) -> (i64, i64) {
        match self {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
        }
    }

    /// A score this survey accepts.
    pub fn score(self, raw: i64) -> Result<i64, Issue> {
        let (lo, hi) = self.range();
        if (lo..=hi).contains(&raw) { Ok(raw) } else { Err(Issue::OutOfRange) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC)
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours::parse("21:00-09:00").unwrap_or(QuietHours { start: Time::MIN, end: Time::MAX });
        // 2026-11-23 23:30 in Shanghai is 15:30 UTC: held until 09:00 the next morning.
        let at: Timestamp = "2026-11-23T15:30:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(q.release_at(at, &shanghai()).to_string(), "2026-11-24T01:00:00Z");
        // 07:00 local: until 09:00 the same day.
        let at: Timestamp = "2026-11-23T23:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(q.release_at(at, &shanghai()).to_string(), "2026-11-24T01:00:00Z");
        // 10:00 local: now.
        let at: Timestamp = "2026-11-24T02:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(q.release_at(at, &shanghai()), at);
        assert_eq!(QuietHours::parse("09:00-09:00"), Err(Issue::InvalidTimeRange));
        assert_eq!(QuietHours::parse("9-10"), Err(Issue::InvalidTimeRange));
    }

    #[test]
    fn scores_are_bounded() {
        assert_eq!(SurveyKind::Csat.score(0), Err(Issue::OutOfRange));
        assert_eq!(SurveyKind::Csat.score(5), Ok(5));
        assert_eq!(SurveyKind::Nps.score(0), Ok(0));
        assert_eq!(SurveyKind::Nps.score(11), Err(Issue::OutOfRange));
    }

    proptest! {
        /// The release instant is never earlier than now, never inside the
        /// quiet window, and less than a day away.
        #[test]
        fn release_is_outside_the_window(start in 0i8..24, end in 0i8..24, secs in 0i64..(400 * 86_400)) {
            prop_assume!(start != end);
            let q = QuietHours {
                start: Time::constant(start, 0, 0, 0),
                end: Time::constant(end, 0, 0, 0),
            };
            let now = Timestamp::from_second(1_767_225_600 + secs).unwrap_or(Timestamp::UNIX_EPOCH);
            let at = q.release_at(now, &shanghai());
            prop_assert!(at >= now);
            prop_assert!(at.duration_since(now) <= SignedDuration::from_hours(24));
            prop_assert!(!q.contains(at.to_zoned(shanghai()).time()));
        }
    }
}
