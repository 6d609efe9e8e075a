//! Tickets (SPEC T1–T6, 工单与服务流程): the ticket's closed vocabularies,
//! the parse of a create input into a valid [`TicketDraft`], the priority
//! matrix (T5) and the repeat-inquiry rule (T6). Attachments are checked in
//! [`attachment`]. The status flow is in
//! [`lifecycle`], the SLA clocks in [`sla`], routing in [`routing`] and
//! escalation paths in [`escalation`].

pub mod attachment;
pub mod escalation;
pub mod lifecycle;
pub mod need;
pub mod routing;
pub mod sla;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::customer::{Channel, vocabulary};
use crate::validation::{self, Issue, ValidationErrors};

vocabulary!(
    /// What the customer wants (T1).
    TicketType {
        Consultation = "consultation", "咨询", "Consultation";
        Complaint = "complaint", "投诉", "Complaint";
        Suggestion = "suggestion", "建议", "Suggestion";
        Feedback = "feedback", "反馈", "Feedback";
        Need = "need", "需求", "Need / feature request";
    }
);

vocabulary!(
    /// What the matter is about (T1; the categories of the complaint review, P7).
    Category {
        Product = "product", "产品类", "Product";
        Service = "service", "服务类", "Service";
        Communication = "communication", "沟通类", "Communication";
        Logistics = "logistics", "物流类", "Logistics";
        Other = "other", "其他", "Other";
    }
);

vocabulary!(
    /// How soon it must be handled; chooses the SLA targets (T2).
    Priority {
        Urgent = "urgent", "紧急", "Urgent";
        High = "high", "高", "High";
        Normal = "normal", "普通", "Normal";
        Low = "low", "低", "Low";
    }
);

impl Priority {
    /// One step more urgent (high-value customers, SPEC G1); urgent stays urgent.
    pub fn raised(self) -> Self {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }

    /// The priority matrix (T5): urgent and important is the green channel
    /// (专项小组, a plan within 2 h); important but not urgent goes to the
    /// weekly/monthly plan; urgent but not important is handled soon; the
    /// rest is low.
    pub fn from_matrix(urgent: bool, important: bool) -> Self {
        match (urgent, important) {
            (true, true) => Priority::Urgent,
            (true, false) => Priority::High,
            (false, true) => Priority::Normal,
            (false, false) => Priority::Low,
        }
    }

    /// The matrix quadrant's name, shown beside the priority.
    pub fn track(self, lang: crate::Lang) -> &'static str {
        match self {
            Priority::Urgent => {
                lang.pick("绿色通道：专项小组，2 小时内出方案", "Green channel: task force, plan within 2 h")
            }
            Priority::High => lang.pick("紧急不重要：尽快处理", "Urgent, not important: handle soon"),
            Priority::Normal => lang.pick("重要不紧急：纳入周/月计划", "Important, not urgent: weekly/monthly plan"),
            Priority::Low => lang.pick("不紧急不重要：常规处理", "Neither: routine"),
        }
    }
}

vocabulary!(
    /// Where the ticket is in its flow (T1); see [`lifecycle`].
    Status {
        New = "new", "新建", "New";
        Accepted = "accepted", "已受理", "Accepted";
        InProgress = "in_progress", "处理中", "In progress";
        WaitingCustomer = "waiting_customer", "待客户反馈", "Waiting for customer";
        Resolved = "resolved", "已解决", "Resolved";
        Closed = "closed", "已归档", "Closed (archived)";
    }
);

impl Status {
    /// Still in the queues: everything but archived tickets (a resolved
    /// ticket waits for its revisit and archiving).
    pub fn is_active(self) -> bool {
        self != Status::Closed
    }

    /// Work in hand: counts towards the assignee's load (routing).
    pub fn is_workload(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed)
    }
}

/// What each role may do with tickets (asked by handlers, never compared by name).
impl crate::user::Role {
    /// Creating tickets: everyone but collaborating departments, who see
    /// only what is escalated to them.
    pub fn can_create_tickets(self) -> bool {
        self != crate::user::Role::Collaborator
    }

    /// Sees every ticket and the team queues of every group.
    pub fn sees_all_tickets(self) -> bool {
        matches!(self, crate::user::Role::Supervisor | crate::user::Role::Admin)
    }

    /// Assigns tickets to others and changes their group.
    pub fn can_assign_tickets(self) -> bool {
        matches!(self, crate::user::Role::Supervisor | crate::user::Role::Admin)
    }

    /// Takes routed tickets (agents and dedicated advisors).
    pub fn takes_tickets(self) -> bool {
        matches!(self, crate::user::Role::Agent | crate::user::Role::Advisor)
    }

    pub fn ticket_permissions(self) -> lifecycle::Permissions {
        lifecycle::Permissions {
            may_change_status: self != crate::user::Role::Collaborator,
            may_reopen_archived: matches!(self, crate::user::Role::Supervisor | crate::user::Role::Admin),
        }
    }

    /// Edits SLA policies, routing rules, escalation paths and group settings.
    pub fn can_configure_service(self) -> bool {
        self == crate::user::Role::Admin
    }
}

/// The longest subject and description.
pub const MAX_SUBJECT: usize = 200;
pub const MAX_DESCRIPTION: usize = 5_000;
pub const MAX_MESSAGE: usize = 5_000;
/// How far back an integrating system may date a ticket's receipt.
pub const MAX_RECEIVED_AGE: SignedDuration = SignedDuration::from_hours(24 * 30);

/// Raw input to create a ticket (API body or form).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct TicketInput {
    /// `consultation`, `complaint`, `suggestion`, `feedback` or `need`.
    #[serde(rename = "type")]
    pub ticket_type: String,
    /// `phone`, `wechat`, `wecom`, `email`, `sms`, `online_chat` or `visit`.
    pub channel: String,
    /// `product`, `service`, `communication`, `logistics` or `other`.
    pub category: String,
    /// `urgent`, `high`, `normal` or `low`; when absent, from `urgent` ×
    /// `important` (the priority matrix), else `normal`.
    pub priority: Option<String>,
    pub urgent: Option<bool>,
    pub important: Option<bool>,
    /// The customer, by id or by code (`KH000123`).
    pub customer_id: Option<i64>,
    pub customer_code: Option<String>,
    /// At most 200 characters.
    pub subject: String,
    /// At most 5,000 characters.
    pub description: String,
    /// A group chosen by hand; routing rules choose one otherwise.
    pub group_id: Option<i64>,
    /// An assignee chosen by hand; routing chooses one otherwise.
    pub assignee_id: Option<i64>,
    /// When the customer's request arrived, RFC 3339, at most 30 days ago
    /// (for tickets created by other systems); the SLA clocks start there.
    pub received_at: Option<String>,
    /// The ticket's id in the system that sent it; unique.
    pub external_id: Option<String>,
}

/// Which customer a ticket is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRef {
    Id(i64),
    Code(String),
}

/// A valid new ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketDraft {
    pub ticket_type: TicketType,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub customer: CustomerRef,
    pub subject: String,
    pub description: String,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub received_at: Timestamp,
    pub external_id: Option<String>,
}

fn required_code<T>(
    e: &mut ValidationErrors,
    field: &str,
    raw: &str,
    parse: fn(&str) -> Result<T, Issue>,
) -> Option<T> {
    if raw.trim().is_empty() {
        e.add(field, Issue::Required);
        None
    } else {
        e.check(field, parse(raw))
    }
}

impl TicketDraft {
    /// Checks every field; errors name them. `now` bounds `received_at`.
    pub fn parse(input: &TicketInput, now: Timestamp, tz: &TimeZone) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let ticket_type = required_code(&mut e, "type", &input.ticket_type, TicketType::parse);
        let channel = required_code(&mut e, "channel", &input.channel, Channel::parse);
        let category = required_code(&mut e, "category", &input.category, Category::parse);
        let priority = match input.priority.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => e.check("priority", Priority::parse(p)),
            None => Some(match (input.urgent, input.important) {
                (None, None) => Priority::Normal,
                (u, i) => Priority::from_matrix(u.unwrap_or(false), i.unwrap_or(false)),
            }),
        };
        let customer =
            match (input.customer_id, input.customer_code.as_deref().map(str::trim).filter(|c| !c.is_empty())) {
                (Some(id), _) if id > 0 => Some(CustomerRef::Id(id)),
                (Some(_), _) => {
                    e.add("customer_id", Issue::Unknown);
                    None
                }
                (None, Some(code)) => e
                    .check("customer_code", crate::customer::CustomerCode::parse(code))
                    .map(|c| CustomerRef::Code(c.as_str().to_string())),
                (None, None) => {
                    e.add("customer_id", Issue::Required);
                    None
                }
            };
        let subject = e.check("subject", validation::required_text(&input.subject, MAX_SUBJECT));
        let description = e.check("description", validation::text(&input.description, MAX_DESCRIPTION, true));
        if matches!(input.group_id, Some(id) if id <= 0) {
            e.add("group_id", Issue::Unknown);
        }
        if matches!(input.assignee_id, Some(id) if id <= 0) {
            e.add("assignee_id", Issue::Unknown);
        }
        let received_at = match input.received_at.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            None => Some(now),
            Some(raw) => e.check("received_at", parse_received(raw, now, tz)),
        };
        let external_id = e.check("external_id", validation::optional_text(input.external_id.as_deref(), 64, false));
        match (ticket_type, channel, category, priority, customer, subject, description, received_at, external_id) {
            (
                Some(ticket_type),
                Some(channel),
                Some(category),
                Some(priority),
                Some(customer),
                Some(subject),
                Some(description),
                Some(received_at),
                Some(external_id),
            ) if e.is_empty() => Ok(TicketDraft {
                ticket_type,
                channel,
                category,
                priority,
                customer,
                subject,
                description,
                group_id: input.group_id,
                assignee_id: input.assignee_id,
                received_at,
                external_id,
            }),
            _ => Err(e),
        }
    }
}

/// When a request arrived: not after `now` (a minute of clock skew
/// allowed) and at most [`MAX_RECEIVED_AGE`] before it.
fn parse_received(raw: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, Issue> {
    let at = crate::communication::parse_datetime(raw, tz)?;
    if at > now + SignedDuration::from_mins(1) {
        return Err(Issue::InFuture);
    }
    if at < now - MAX_RECEIVED_AGE {
        return Err(Issue::OutOfRange);
    }
    Ok(at.min(now))
}

/// A ticket number: `GD` + the business date + a daily sequence of at
/// least four digits, e.g. `GD202611230042`.
pub fn ticket_number(date: jiff::civil::Date, seq: i64) -> String {
    format!("GD{}{seq:04}", date.strftime("%Y%m%d"))
}

/// The repeat-inquiry window (T6): the same customer with the same category
/// within this many days is a repeat.
pub const REPEAT_WINDOW_DAYS: i64 = 7;

/// Since when an earlier ticket makes a new one a repeat inquiry.
pub fn repeat_window_start(received_at: Timestamp, days: i64) -> Timestamp {
    received_at - SignedDuration::from_hours(24 * days)
}

/// A reply or note on a ticket: 1–5,000 characters, line breaks kept.
pub fn parse_message(raw: &str) -> Result<String, Issue> {
    let t = validation::text(raw, MAX_MESSAGE, true)?;
    if t.is_empty() { Err(Issue::Required) } else { Ok(t) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn input() -> TicketInput {
        TicketInput {
            ticket_type: "consultation".into(),
            channel: "phone".into(),
            category: "product".into(),
            customer_id: Some(7),
            subject: " 发票开错了 ".into(),
            description: "客户来电说发票抬头错误".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_input_parses() {
        let d = TicketDraft::parse(&input(), now(), &tz()).unwrap();
        assert_eq!(d.subject, "发票开错了");
        assert_eq!(d.priority, Priority::Normal);
        assert_eq!(d.received_at, now());
        assert_eq!(d.customer, CustomerRef::Id(7));
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = TicketInput {
            ticket_type: "rant".into(),
            channel: "".into(),
            category: "x".into(),
            priority: Some("asap".into()),
            subject: "  ".into(),
            description: "a\u{0}".into(),
            received_at: Some("2026-12-01T00:00:00Z".into()),
            ..Default::default()
        };
        let e = TicketDraft::parse(&bad, now(), &tz()).unwrap_err();
        assert_eq!(
            e.fields(),
            vec!["type", "channel", "category", "priority", "customer_id", "subject", "description", "received_at"]
        );
        assert_eq!(e.get("channel"), Some(&Issue::Required));
        assert_eq!(e.get("received_at"), Some(&Issue::InFuture));
        let old = TicketInput { received_at: Some("2026-10-01T00:00:00Z".into()), ..input() };
        assert_eq!(TicketDraft::parse(&old, now(), &tz()).unwrap_err().get("received_at"), Some(&Issue::OutOfRange));
        let code = TicketInput { customer_id: None, customer_code: Some("kh000042".into()), ..input() };
        assert_eq!(TicketDraft::parse(&code, now(), &tz()).unwrap().customer, CustomerRef::Code("KH000042".into()));
    }

    #[test]
    fn the_priority_matrix() {
        let p = |u, i| {
            TicketDraft::parse(&TicketInput { urgent: Some(u), important: Some(i), ..input() }, now(), &tz())
                .unwrap()
                .priority
        };
        assert_eq!(p(true, true), Priority::Urgent);
        assert_eq!(p(true, false), Priority::High);
        assert_eq!(p(false, true), Priority::Normal);
        assert_eq!(p(false, false), Priority::Low);
        // An explicit priority wins over the matrix.
        let d = TicketInput { priority: Some("high".into()), urgent: Some(false), ..input() };
        assert_eq!(TicketDraft::parse(&d, now(), &tz()).unwrap().priority, Priority::High);
        assert_eq!(Priority::Low.raised(), Priority::Normal);
        assert_eq!(Priority::Urgent.raised(), Priority::Urgent);
    }

    #[test]
    fn numbers_carry_the_date_and_a_sequence() {
        assert_eq!(ticket_number(jiff::civil::date(2026, 11, 23), 42), "GD202611230042");
        assert_eq!(ticket_number(jiff::civil::date(2026, 11, 23), 123_456), "GD20261123123456");
    }
}
