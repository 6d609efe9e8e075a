//! Communication records (沟通记录, SPEC C5) and their action items
//! (后续行动项, C6): every follow-up names what, who and by when.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::customer::{Channel, vocabulary};
use crate::validation::{self, Issue, ValidationErrors};

vocabulary!(
    /// Who started the contact.
    Direction {
        Inbound = "inbound", "客户来电/来访", "Inbound";
        Outbound = "outbound", "主动联系", "Outbound";
    }
);

vocabulary!(
    /// The state of an action item.
    ActionStatus {
        Open = "open", "进行中", "Open";
        Done = "done", "已完成", "Done";
        WaitingCustomer = "waiting_customer", "待客户确认", "Waiting for customer";
    }
);

/// A local date and time in the business time zone (`2026-11-23 14:30`,
/// `2026-11-23T14:30` as browsers send it), an RFC 3339 instant, or a bare
/// date, which means 18:00 that day (the end of a working day).
pub fn parse_datetime(raw: &str, tz: &TimeZone) -> Result<Timestamp, Issue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Issue::Required);
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let local = if s.len() == 10 {
        let d: jiff::civil::Date = s.parse().map_err(|_| Issue::InvalidDateTime)?;
        d.at(18, 0, 0, 0)
    } else {
        s.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>().map_err(|_| Issue::InvalidDateTime)?
    };
    if local.year() < 1900 || local.year() > 2100 {
        return Err(Issue::OutOfRange);
    }
    local.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|_| Issue::InvalidDateTime)
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ActionItemInput {
    /// What will be done, 1–500 characters.
    pub content: String,
    /// Who does it. Required.
    pub owner_id: Option<i64>,
    /// By when: `YYYY-MM-DD HH:MM` (business time zone), RFC 3339, or a date (18:00 that day). Required.
    pub due: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionItemDraft {
    pub content: String,
    pub owner_id: i64,
    pub due_at: Timestamp,
}

impl ActionItemDraft {
    /// `prefix` names the item in errors, e.g. `action_items[0]`.
    pub fn parse(input: &ActionItemInput, tz: &TimeZone, prefix: &str, e: &mut ValidationErrors) -> Option<Self> {
        let content = e.check(&format!("{prefix}content"), validation::required_text(&input.content, 500));
        let owner_id = match input.owner_id {
            None => {
                e.add(&format!("{prefix}owner_id"), Issue::Required);
                None
            }
            Some(id) if id <= 0 => {
                e.add(&format!("{prefix}owner_id"), Issue::Unknown);
                None
            }
            Some(id) => Some(id),
        };
        let due_at = e.check(&format!("{prefix}due"), parse_datetime(input.due.as_deref().unwrap_or(""), tz));
        Some(ActionItemDraft { content: content?, owner_id: owner_id?, due_at: due_at? })
    }
}

/// Raw input for a communication record, with the seed's 沟通记录表 fields.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CommunicationInput {
    /// The contact person spoken to (one of the customer's contacts).
    pub contact_id: Option<i64>,
    /// When: `YYYY-MM-DD HH:MM` or RFC 3339; default now. Not in the future.
    pub occurred_at: Option<String>,
    /// `phone`, `wechat`, `wecom`, `email`, `sms`, `online_chat`, `visit`. Required.
    pub channel: String,
    /// `inbound` or `outbound` (default).
    pub direction: Option<String>,
    /// 沟通事由, 1–100 characters. Required.
    pub purpose: String,
    /// 沟通内容摘要, 1–2000 characters. Required.
    pub summary: String,
    /// 客户反馈与需求.
    pub feedback: Option<String>,
    /// 处理结果.
    pub result: Option<String>,
    /// 负责人; default the author.
    pub owner_id: Option<i64>,
    /// 满意度 1–5.
    pub satisfaction: Option<i64>,
    pub notes: Option<String>,
    /// 后续行动项.
    pub action_items: Vec<ActionItemInput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommunicationDraft {
    pub contact_id: Option<i64>,
    pub occurred_at: Timestamp,
    pub channel: Channel,
    pub direction: Direction,
    pub purpose: String,
    pub summary: String,
    pub feedback: Option<String>,
    pub result: Option<String>,
    pub owner_id: Option<i64>,
    pub satisfaction: Option<i64>,
    pub notes: Option<String>,
    pub action_items: Vec<ActionItemDraft>,
}

pub const MAX_ACTION_ITEMS: usize = 20;

impl CommunicationDraft {
    pub fn parse(input: &CommunicationInput, now: Timestamp, tz: &TimeZone) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let occurred_at = match input.occurred_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(now),
            Some(s) => e.check(
                "occurred_at",
                parse_datetime(s, tz).and_then(|t| if t > now { Err(Issue::InFuture) } else { Ok(t) }),
            ),
        };
        let channel = if input.channel.trim().is_empty() {
            e.add("channel", Issue::Required);
            None
        } else {
            e.check("channel", Channel::parse(&input.channel))
        };
        let direction = match input.direction.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(Direction::Outbound),
            Some(d) => e.check("direction", Direction::parse(d)),
        };
        let purpose = e.check("purpose", validation::required_text(&input.purpose, 100));
        let summary = e.check(
            "summary",
            validation::text(&input.summary, 2000, true)
                .and_then(|s| if s.is_empty() { Err(Issue::Required) } else { Ok(s) }),
        );
        let feedback = e.check("feedback", validation::optional_text(input.feedback.as_deref(), 2000, true));
        let result = e.check("result", validation::optional_text(input.result.as_deref(), 2000, true));
        let notes = e.check("notes", validation::optional_text(input.notes.as_deref(), 2000, true));
        if let Some(s) = input.satisfaction
            && !(1..=5).contains(&s)
        {
            e.add("satisfaction", Issue::OutOfRange);
        }
        if matches!(input.owner_id, Some(id) if id <= 0) {
            e.add("owner_id", Issue::Unknown);
        }
        if matches!(input.contact_id, Some(id) if id <= 0) {
            e.add("contact_id", Issue::Unknown);
        }
        if input.action_items.len() > MAX_ACTION_ITEMS {
            e.add("action_items", Issue::TooMany { max: MAX_ACTION_ITEMS });
        }
        let items: Vec<Option<ActionItemDraft>> = input
            .action_items
            .iter()
            .enumerate()
            .map(|(i, item)| ActionItemDraft::parse(item, tz, &format!("action_items[{i}]."), &mut e))
            .collect();
        match (occurred_at, channel, direction, purpose, summary, feedback, result, notes) {
            (
                Some(occurred_at),
                Some(channel),
                Some(direction),
                Some(purpose),
                Some(summary),
                Some(feedback),
                Some(result),
                Some(notes),
            ) if e.is_empty() => Ok(CommunicationDraft {
                contact_id: input.contact_id,
                occurred_at,
                channel,
                direction,
                purpose,
                summary,
                feedback,
                result,
                owner_id: input.owner_id,
                satisfaction: input.satisfaction,
                notes,
                action_items: items.into_iter().flatten().collect(),
            }),
            _ => Err(e),
        }
    }
}

/// Whether an action item is overdue at `now` (done ones never are).
pub fn is_overdue(status: ActionStatus, due_at: Timestamp, now: Timestamp) -> bool {
    status != ActionStatus::Done && due_at < now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-23T06:00:00Z".parse().unwrap()
    }

    #[test]
    fn datetimes_in_business_time() {
        assert_eq!(parse_datetime("2026-11-23 14:30", &tz()).unwrap().to_string(), "2026-11-23T06:30:00Z");
        assert_eq!(parse_datetime("2026-11-23T14:30", &tz()).unwrap().to_string(), "2026-11-23T06:30:00Z");
        assert_eq!(parse_datetime("2026-11-25", &tz()).unwrap().to_string(), "2026-11-25T10:00:00Z");
        assert_eq!(parse_datetime("2026-11-23T06:30:00Z", &tz()).unwrap().to_string(), "2026-11-23T06:30:00Z");
        assert_eq!(parse_datetime("tomorrow", &tz()), Err(Issue::InvalidDateTime));
        assert_eq!(parse_datetime("", &tz()), Err(Issue::Required));
    }

    #[test]
    fn a_record_with_items() {
        let input = CommunicationInput {
            channel: "phone".into(),
            purpose: "季度回访".into(),
            summary: "客户反馈物流偏慢".into(),
            satisfaction: Some(4),
            action_items: vec![ActionItemInput {
                content: "两个工作日内发送物流改进方案".into(),
                owner_id: Some(3),
                due: Some("2026-11-25".into()),
            }],
            ..Default::default()
        };
        let d = CommunicationDraft::parse(&input, now(), &tz()).unwrap();
        assert_eq!(d.occurred_at, now());
        assert_eq!(d.direction, Direction::Outbound);
        assert_eq!(d.action_items.len(), 1);
    }

    #[test]
    fn every_follow_up_names_what_who_and_when() {
        let input = CommunicationInput {
            channel: "pigeon".into(),
            purpose: "".into(),
            summary: " ".into(),
            satisfaction: Some(6),
            occurred_at: Some("2027-01-01 10:00".into()),
            action_items: vec![ActionItemInput { content: "".into(), owner_id: None, due: None }],
            ..Default::default()
        };
        let e = CommunicationDraft::parse(&input, now(), &tz()).unwrap_err();
        assert_eq!(
            e.fields(),
            vec![
                "occurred_at",
                "channel",
                "purpose",
                "summary",
                "satisfaction",
                "action_items[0].content",
                "action_items[0].owner_id",
                "action_items[0].due"
            ]
        );
    }

    #[test]
    fn overdue() {
        let due: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        assert!(is_overdue(ActionStatus::Open, due, now()));
        assert!(is_overdue(ActionStatus::WaitingCustomer, due, now()));
        assert!(!is_overdue(ActionStatus::Done, due, now()));
        assert!(!is_overdue(ActionStatus::Open, now(), now()));
    }
}
