//! Relationship maintenance plans (SPEC M1, M2, M4–M6, 客户关系维护): which
//! maintenance tasks must exist for a customer — for which scenario and
//! occasion, due when, owned by whom and with what goal — decided from the
//! facts the store gathers, the administrator's [`PlanRules`] and
//! `today`/`now`.
//!
//! Each scenario is a function from facts to an optional [`Planned`] task
//! ([`scenarios`]). A task is identified by its customer, scenario and
//! [`Occasion::key`] (one birthday a year, one renewal per contract end,
//! one revisit per cadence window, …), so that generating twice creates
//! nothing twice. Its due date comes as a [`Target`] (a range of days, a day
//! or later, or a deadline), which [`place`] turns into a due instant on a
//! working day of the business calendar and inside the customer's preferred
//! contact window ([`ContactWindow`]).
//!
//! [`record`] is the maintenance record form (M4) that closes a task.

mod occasion;
mod placement;
pub mod record;
mod rules;
pub mod scenarios;
mod window;

pub use occasion::Occasion;
pub use placement::{Due, Target, place};
pub use rules::{
    CareRule, ChurnOwner, ChurnRule, ComplaintRule, FirstFollowUpRule, HOLIDAYS, PlanRules, RenewalRule, RevisitRule,
    SilentRule, TierCadence, holiday_date,
};
pub use scenarios::Planned;
pub use window::ContactWindow;

use crate::Lang;
use crate::customer::vocabulary;
use crate::validation::Issue;

vocabulary!(
    /// A maintenance scenario (维护场景, M1).
    Scenario {
        FirstFollowUp = "first_follow_up", "新客户首次跟进", "New-customer first follow-up";
        Revisit = "revisit", "定期回访", "Periodic revisit";
        DeepInterview = "deep_interview", "深度访谈", "Deep interview";
        ComplaintRepair = "complaint_repair", "投诉修复", "Complaint repair";
        ChurnRecovery = "churn_recovery", "流失挽回", "Churn recovery";
        Renewal = "renewal", "续约", "Renewal";
        Milestone = "milestone", "节点关怀", "Milestone care";
        SilentCare = "silent_care", "沉默客户关怀", "Silent-customer care";
        ContentPush = "content_push", "内容推送", "Content push";
    }
);

impl Scenario {
    /// The scenarios of a customer's one revisit stream: a task of any of
    /// them done restarts the cadence window, and while one is open no
    /// periodic revisit is added (M1: "a revisit done for another reason
    /// restarts the cadence window rather than adding a second call").
    pub const STREAM: &'static [Scenario] =
        &[Scenario::Revisit, Scenario::DeepInterview, Scenario::ComplaintRepair, Scenario::ChurnRecovery];

    pub fn in_stream(self) -> bool {
        Self::STREAM.contains(&self)
    }

    /// Content pushes are sent through outreach (issue 8), not phoned.
    pub fn kind(self) -> TaskKind {
        if self == Scenario::ContentPush { TaskKind::Content } else { TaskKind::Call }
    }

    /// What the task is for (M5: 维护目标).
    pub fn goal(self, lang: Lang) -> &'static str {
        match self {
            Scenario::FirstFollowUp => lang.pick(
                "欢迎新客户，确认首单/开通体验顺利，介绍专属服务与联系方式，建立信任",
                "Welcome the new customer, check the first purchase went well, introduce their service contact",
            ),
            Scenario::Revisit => lang.pick(
                "了解使用体验、收集需求、解答问题，提升满意度与复购",
                "Hear how it is going, collect needs, answer questions: raise satisfaction and repurchase",
            ),
            Scenario::DeepInterview => lang.pick(
                "深度访谈：了解客户业务规划与决策链，挖掘升级与增购机会",
                "Deep interview: learn the customer's plans and decision chain, find upgrade opportunities",
            ),
            Scenario::ComplaintRepair => lang.pick(
                "投诉办结后回访：确认问题已解决、客户满意，修复关系",
                "Revisit after the complaint: confirm it is solved and the customer satisfied, repair trust",
            ),
            Scenario::ChurnRecovery => lang.pick(
                "流失挽回：查明并记录流失原因，提出挽回方案，稳住客户",
                "Win the customer back: find and record why they are leaving, offer a recovery plan",
            ),
            Scenario::Renewal => lang.pick(
                "合同到期前确认续约意向，解决顾虑，推进续约",
                "Before the contract ends: confirm the intent to renew, remove doubts, move the renewal on",
            ),
            Scenario::Milestone => lang.pick(
                "节点关怀：送上个性化祝福（可附小礼品或优惠券），增进感情",
                "Milestone care: a personal greeting (optionally a small gift or coupon) to strengthen the bond",
            ),
            Scenario::SilentCare => lang.pick(
                "唤醒沉默客户：问候近况，了解停购原因，重新激活",
                "Wake a silent customer: ask how they are and why they stopped buying, reactivate them",
            ),
            Scenario::ContentPush => lang.pick(
                "推送个性化内容（行业资讯、产品动态），培育转化（经触达渠道发送）",
                "Send personalised content (industry news, product updates) to nurture conversion (through outreach)",
            ),
        }
    }
}

vocabulary!(
    /// How a task is carried out.
    TaskKind {
        Call = "call", "维护联系", "Contact";
        Content = "content", "内容推送（待触达）", "Content (outreach pending)";
    }
);

vocabulary!(
    /// Where a task stands.
    TaskStatus {
        Open = "open", "待处理", "Open";
        Done = "done", "已完成", "Done";
    }
);

/// Who is to do a task: the customer's owner, or (churn recovery) the
/// supervisor of the owner's group with the owner as collaborator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Owner,
    SupervisorWithOwner,
}

/// Where a task falls for its owner today (the queue's sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    DueToday,
    Upcoming,
}

impl Urgency {
    /// An open task due at `due_at` (on the business date `due_on`).
    pub fn of(
        due_on: jiff::civil::Date,
        due_at: jiff::Timestamp,
        today: jiff::civil::Date,
        now: jiff::Timestamp,
    ) -> Self {
        if due_at < now {
            Urgency::Overdue
        } else if due_on <= today {
            Urgency::DueToday
        } else {
            Urgency::Upcoming
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Urgency::Overdue => "overdue",
            Urgency::DueToday => "due_today",
            Urgency::Upcoming => "upcoming",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Issue> {
        match raw.trim() {
            "overdue" => Ok(Urgency::Overdue),
            "due_today" => Ok(Urgency::DueToday),
            "upcoming" => Ok(Urgency::Upcoming),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Urgency::Overdue => lang.pick("已逾期", "Overdue"),
            Urgency::DueToday => lang.pick("今日到期", "Due today"),
            Urgency::Upcoming => lang.pick("即将到期", "Upcoming"),
        }
    }
}

/// Tasks done on time over tasks due (M6, 维护执行率), with the effect of
/// those done.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ExecutionFigures {
    /// Tasks whose due instant fell in the period (and has passed).
    pub due: i64,
    /// Of those, done by their due instant.
    pub on_time: i64,
    /// Of those, done at all (on time or late).
    pub done: i64,
    /// Records of the period's done tasks whose effect was 达成.
    pub achieved: i64,
    /// Records with an effect evaluation.
    pub evaluated: i64,
    /// Sum and count of the satisfaction scores given.
    pub satisfaction_sum: i64,
    pub satisfaction_count: i64,
}

impl ExecutionFigures {
    /// On time ÷ due, `None` when nothing was due.
    pub fn rate(&self) -> Option<f64> {
        (self.due > 0).then(|| self.on_time as f64 / self.due as f64)
    }

    pub fn achieved_rate(&self) -> Option<f64> {
        (self.evaluated > 0).then(|| self.achieved as f64 / self.evaluated as f64)
    }

    pub fn mean_satisfaction(&self) -> Option<f64> {
        (self.satisfaction_count > 0).then(|| self.satisfaction_sum as f64 / self.satisfaction_count as f64)
    }

    /// Whether the rate meets the target (≥ 95% by default, M6).
    pub fn meets(&self, target_percent: u8) -> bool {
        self.rate().is_none_or(|r| r * 100.0 >= f64::from(target_percent) - 1e-9)
    }
}

/// The execution-rate target of M6, in percent.
pub const RATE_TARGET_PERCENT: u8 = 95;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_stream_and_the_kinds() {
        assert!(Scenario::ComplaintRepair.in_stream());
        assert!(Scenario::DeepInterview.in_stream());
        assert!(!Scenario::Milestone.in_stream());
        assert_eq!(Scenario::ContentPush.kind(), TaskKind::Content);
        assert_eq!(Scenario::Renewal.kind(), TaskKind::Call);
        for s in Scenario::ALL {
            assert!(!s.goal(Lang::Zh).is_empty() && !s.goal(Lang::En).is_empty());
            assert_eq!(Scenario::parse(s.code()), Ok(*s));
        }
    }

    #[test]
    fn urgency_of_an_open_task() {
        let now: jiff::Timestamp = "2025-10-09T02:00:00Z".parse().unwrap();
        let today = date(2025, 10, 9);
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(Urgency::of(date(2025, 10, 8), at("2025-10-08T10:00:00Z"), today, now), Urgency::Overdue);
        assert_eq!(Urgency::of(today, at("2025-10-09T10:00:00Z"), today, now), Urgency::DueToday);
        assert_eq!(Urgency::of(date(2025, 10, 10), at("2025-10-10T10:00:00Z"), today, now), Urgency::Upcoming);
        assert_eq!(Urgency::parse("due_today"), Ok(Urgency::DueToday));
    }

    #[test]
    fn rates() {
        let f = ExecutionFigures {
            due: 20,
            on_time: 19,
            done: 20,
            achieved: 3,
            evaluated: 4,
            satisfaction_sum: 18,
            satisfaction_count: 4,
        };
        assert_eq!(f.rate(), Some(0.95));
        assert!(f.meets(95));
        assert!(!ExecutionFigures { on_time: 18, ..f }.meets(95));
        assert_eq!(f.achieved_rate(), Some(0.75));
        assert_eq!(f.mean_satisfaction(), Some(4.5));
        assert_eq!(ExecutionFigures::default().rate(), None);
    }
}
