//! The maintenance record (客户关系维护记录表, SPEC M4): what an agent fills
//! when doing a task. The customer snapshot (code, name, industry,
//! cooperation length, last cooperation, tags, contact person) is taken by
//! the server when the record is saved; the agent gives the rest: time,
//! channel, owner, summary, customer feedback, needs as explicit or
//! implicit, the revisit checklist of three parts, action items (what /
//! who / by when, C6), completion status, satisfaction 1–5, notes and the
//! effect evaluation (达成 / 部分达成 / 未达成) with a note. It may also
//! change tags, record the churn reason (churn recovery, G4) and the gift
//! of a milestone greeting.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::Scenario;
use crate::communication::{ActionItemInput, CommunicationDraft, CommunicationInput};
use crate::customer::{Tag, vocabulary};
use crate::segment::ChurnReason;
use crate::validation::{self, Issue, ValidationErrors};

vocabulary!(
    /// 完成情况: how far the task got.
    Completion {
        Completed = "completed", "已完成", "Completed";
        Partial = "partial", "部分完成（需后续跟进）", "Partly done (follow-up needed)";
        Unreachable = "unreachable", "未联系上客户", "Customer not reached";
    }
);

vocabulary!(
    /// 本次维护是否达成: the effect evaluation.
    Effect {
        Achieved = "achieved", "达成", "Achieved";
        Partial = "partial", "部分达成", "Partly achieved";
        NotAchieved = "not_achieved", "未达成", "Not achieved";
    }
);

vocabulary!(
    /// The three parts of a revisit (回访清单).
    ChecklistPart {
        Usage = "usage", "使用体验", "Usage experience";
        Needs = "needs", "需求收集", "Needs collected";
        Questions = "questions", "问题解答", "Questions answered";
    }
);

/// Raw input of a maintenance record, from the form or the API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RecordInput {
    /// 联系人: the contact person spoken to (one of the customer's contacts).
    pub contact_id: Option<i64>,
    /// 维护时间: `YYYY-MM-DD HH:MM` (business time zone) or RFC 3339; default now. Not in the future.
    pub occurred_at: Option<String>,
    /// 维护渠道: `phone`, `wechat`, `wecom`, `email`, `sms`, `online_chat`, `visit`. Required.
    pub channel: String,
    /// 负责人; default the task's owner.
    pub owner_id: Option<i64>,
    /// 维护内容摘要, 1–2000 characters. Required.
    pub summary: String,
    /// 客户反馈, up to 1000 characters.
    pub feedback: Option<String>,
    /// 显性需求 (what the customer asked for), up to 500 characters.
    pub needs_explicit: Option<String>,
    /// 隐性需求 (what the agent inferred), up to 500 characters.
    pub needs_implicit: Option<String>,
    /// The revisit checklist parts covered: `usage` (使用体验), `needs` (需求收集), `questions` (问题解答).
    pub checklist: Vec<String>,
    /// 后续行动项: each names what, who (`owner_id`) and by when (`due`); all three required.
    pub action_items: Vec<ActionItemInput>,
    /// 完成情况: `completed`, `partial` or `unreachable`. Required.
    pub completion: String,
    /// 满意度 1–5.
    pub satisfaction: Option<i64>,
    /// 备注, up to 2000 characters.
    pub notes: Option<String>,
    /// 本次维护是否达成: `achieved`, `partial` or `not_achieved`. Required.
    pub effect: String,
    /// 达成情况说明, up to 500 characters.
    pub effect_note: Option<String>,
    /// Tags to give the customer.
    pub add_tags: Vec<String>,
    /// Tags to take away.
    pub remove_tags: Vec<String>,
    /// 流失原因 (`service`, `needs`, `competitor`, `price`, `business`, `other`): required for churn recovery when the customer was reached.
    pub churn_reason: Option<String>,
    /// 礼品/优惠券 given with a milestone greeting, up to 200 characters.
    pub gift: Option<String>,
    /// The suggested script used (one of the task's scenario), for its effect (M6).
    pub script_id: Option<i64>,
}

/// A valid record: the communication it also is (C5, with its action
/// items) and the fields only a maintenance record has.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDraft {
    pub communication: CommunicationDraft,
    pub needs_explicit: Option<String>,
    pub needs_implicit: Option<String>,
    pub checklist: Vec<ChecklistPart>,
    pub completion: Completion,
    pub effect: Effect,
    pub effect_note: Option<String>,
    pub add_tags: Vec<Tag>,
    pub remove_tags: Vec<Tag>,
    pub churn_reason: Option<ChurnReason>,
    pub gift: Option<String>,
}

const MAX_TAG_CHANGES: usize = 20;

fn tags(raw: &[String], field: &str, e: &mut ValidationErrors) -> Vec<Tag> {
    let mut out = Vec::new();
    for t in raw.iter().filter(|t| !t.trim().is_empty()) {
        match Tag::parse(t) {
            Ok(t) => out.push(t),
            Err(issue) => {
                if e.get(field).is_none() {
                    e.add(field, issue);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_TAG_CHANGES {
        e.add(field, Issue::TooMany { max: MAX_TAG_CHANGES });
    }
    out
}

fn choice<T>(raw: &str, parse: impl Fn(&str) -> Result<T, Issue>) -> Result<T, Issue> {
    if raw.trim().is_empty() { Err(Issue::Required) } else { parse(raw) }
}

impl RecordDraft {
    /// Checks every field at once. Errors name the fields as the input does
    /// (`channel`, `action_items[0].owner_id`, `effect`, …).
    pub fn parse(
        input: &RecordInput,
        scenario: Scenario,
        now: Timestamp,
        tz: &TimeZone,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        // The fields a communication record shares are checked by its own parser.
        let comm = CommunicationInput {
            contact_id: input.contact_id,
            occurred_at: input.occurred_at.clone(),
            channel: input.channel.clone(),
            direction: None,
            purpose: scenario.label(crate::Lang::Zh).to_string(),
            summary: input.summary.clone(),
            feedback: None,
            result: None,
            owner_id: input.owner_id,
            satisfaction: input.satisfaction,
            notes: input.notes.clone(),
            action_items: input.action_items.clone(),
        };
        let communication = CommunicationDraft::parse(&comm, now, tz).map_err(|x| e.0.extend(x.0)).ok();
        let feedback = e.check("feedback", validation::optional_text(input.feedback.as_deref(), 1000, true));
        let explicit = e.check("needs_explicit", validation::optional_text(input.needs_explicit.as_deref(), 500, true));
        let implicit = e.check("needs_implicit", validation::optional_text(input.needs_implicit.as_deref(), 500, true));
        let mut checklist = Vec::new();
        for part in &input.checklist {
            match ChecklistPart::parse(part) {
                Ok(p) if !checklist.contains(&p) => checklist.push(p),
                Ok(_) => {}
                Err(issue) => {
                    if e.get("checklist").is_none() {
                        e.add("checklist", issue);
                    }
                }
            }
        }
        checklist.sort_by_key(|p| ChecklistPart::ALL.iter().position(|x| x == p));
        let completion = e.check("completion", choice(&input.completion, Completion::parse));
        let effect = e.check("effect", choice(&input.effect, Effect::parse));
        let effect_note = e.check("effect_note", validation::optional_text(input.effect_note.as_deref(), 500, true));
        let add_tags = tags(&input.add_tags, "add_tags", &mut e);
        let remove_tags = tags(&input.remove_tags, "remove_tags", &mut e);
        let reason = match input.churn_reason.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(r) => e.check("churn_reason", ChurnReason::parse(r)),
            None => {
                // Churn recovery records why the customer is leaving (G4),
                // unless nobody could be reached.
                if scenario == Scenario::ChurnRecovery && completion.is_some_and(|c| c != Completion::Unreachable) {
                    e.add("churn_reason", Issue::Required);
                }
                None
            }
        };
        let gift = e.check("gift", validation::optional_text(input.gift.as_deref(), 200, false));
        match (communication, feedback, explicit, implicit, completion, effect, effect_note, gift) {
            (
                Some(mut communication),
                Some(feedback),
                Some(needs_explicit),
                Some(needs_implicit),
                Some(completion),
                Some(effect),
                Some(effect_note),
                Some(gift),
            ) if e.is_empty() => {
                communication.feedback = feedback;
                communication.result =
                    Some(format!("{}；{}", completion.label(crate::Lang::Zh), effect.label(crate::Lang::Zh)));
                Ok(RecordDraft {
                    communication,
                    needs_explicit,
                    needs_implicit,
                    checklist,
                    completion,
                    effect,
                    effect_note,
                    add_tags,
                    remove_tags,
                    churn_reason: reason,
                    gift,
                })
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn now() -> Timestamp {
        "2025-10-11T06:00:00Z".parse().unwrap()
    }

    fn good() -> RecordInput {
        RecordInput {
            channel: "phone".into(),
            summary: "回访投诉处理结果，客户表示满意".into(),
            feedback: Some("物流已改善".into()),
            needs_explicit: Some("希望增加发货提醒".into()),
            needs_implicit: Some("可能需要更高级的服务套餐".into()),
            checklist: vec!["questions".into(), "usage".into()],
            completion: "completed".into(),
            effect: "achieved".into(),
            satisfaction: Some(5),
            action_items: vec![ActionItemInput {
                content: "两个工作日内发送发货提醒设置说明".into(),
                owner_id: Some(3),
                due: Some("2025-10-14".into()),
            }],
            add_tags: vec!["对功能有需求".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_record() {
        let d = RecordDraft::parse(&good(), Scenario::ComplaintRepair, now(), &tz()).unwrap();
        assert_eq!(d.checklist, vec![ChecklistPart::Usage, ChecklistPart::Questions]);
        assert_eq!(d.communication.purpose, "投诉修复");
        assert_eq!(d.communication.feedback.as_deref(), Some("物流已改善"));
        assert_eq!(d.communication.action_items.len(), 1);
        assert_eq!(d.effect, Effect::Achieved);
        assert_eq!(d.add_tags.len(), 1);
    }

    #[test]
    fn an_action_item_without_owner_or_due_is_refused() {
        let mut input = good();
        input.action_items = vec![
            ActionItemInput { content: "寄送新品样册".into(), owner_id: None, due: Some("2025-10-15".into()) },
            ActionItemInput { content: "安排技术回访".into(), owner_id: Some(3), due: None },
        ];
        let e = RecordDraft::parse(&input, Scenario::Revisit, now(), &tz()).unwrap_err();
        assert_eq!(e.fields(), vec!["action_items[0].owner_id", "action_items[1].due"]);
        assert_eq!(e.get("action_items[0].owner_id"), Some(&Issue::Required));
    }

    #[test]
    fn every_required_field_is_named() {
        let input = RecordInput {
            checklist: vec!["gossip".into()],
            satisfaction: Some(0),
            add_tags: vec!["a,b".into()],
            ..Default::default()
        };
        let e = RecordDraft::parse(&input, Scenario::ChurnRecovery, now(), &tz()).unwrap_err();
        assert_eq!(
            e.fields(),
            vec!["channel", "summary", "satisfaction", "checklist", "completion", "effect", "add_tags"]
        );
        // The churn reason is asked for once the customer was reached.
        let mut reached = good();
        reached.churn_reason = None;
        let e = RecordDraft::parse(&reached, Scenario::ChurnRecovery, now(), &tz()).unwrap_err();
        assert_eq!(e.fields(), vec!["churn_reason"]);
        reached.completion = "unreachable".into();
        assert!(RecordDraft::parse(&reached, Scenario::ChurnRecovery, now(), &tz()).is_ok());
    }
}
